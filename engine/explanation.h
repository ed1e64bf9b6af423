// The types of an explanation, shared by the PDA loop (engine/explainer.h), its setup and finish
// (engine/explain_common.h) and the application layer: the parameters, what the network outputs, and
// the result — per-pixel maps of weight of evidence per class and activation difference per unit.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/batch_program.h"
#include "kernels/tensor.h"

namespace pda {

struct ExplainParams {
    int64_t k = 10;
    int64_t stride = 1;
    int64_t samples = 10;       // S (the sampler may use fewer, e.g. occlusion uses 1)
    double laplace_n = 100000;  // N of the Laplace correction (training-set size)
    uint64_t seed = 0;
    int64_t batch = 0;               // resampled images per forward batch; 0 = from available memory
    ClassSelection classes;          // top 3 by default; ids are checked against the model
    std::vector<std::string> nodes;  // values explained by activation difference (hidden layers, logits)
    int64_t max_windows = -1;        // explain only the first N windows (benchmarks); −1 = all
    bool fuse = true;                // fold BN/ReLU into Conv/Gemm in a private copy of the graph; values
                                     // named in `nodes` and the output are kept readable (never folded away)
    // Incremental: recompute only what each window changes (exact; engine/cpu/incremental.h,
    // engine/incremental_cuda.h); full: every resampled image in full. Both backends.
    Execution exec = Execution::kIncremental;
};

// What the explained network outputs: the value holding class scores, and whether those are
// probabilities (weight of evidence applies) or logits (softmax first for WE; AD on the raw value).
struct OutputSpec {
    std::string value;
    bool logits = false;
};

struct Explanation {
    std::vector<int64_t> classes;             // explained classes, in map order
    std::vector<float> probabilities;         // p(c|x) of the clean image, all K classes
    Tensor relevance;                         // (M, H, W) mean weight of evidence per pixel, float32
    Tensor counts;                            // (H, W) windows covering each pixel
    int64_t uncovered = 0;                    // pixels no window covers (their maps are 0)
    std::map<std::string, Tensor> node_maps;  // name as requested → (units, H, W) mean activation difference;
                                              // conv-like (N, C, ...) values: one unit per channel
    int64_t num_classes = 0;                  // K
    int64_t windows = 0, samples_per_window = 0;
    int64_t forward_passes = 0;  // resampled images run (padding of a last partial batch not counted)
    int64_t batch = 0;           // images per forward batch (whole windows: ⌊batch / S⌋·S, at least S)
    double seconds_compile = 0, seconds_sampling = 0, seconds_network = 0, seconds_reduce = 0, seconds_total = 0;
};

// Progress callback: (windows done, windows total).
using ProgressFn = std::function<void(int64_t, int64_t)>;

// The explained classes in map order, ids checked against the K classes (an input error names the
// id); top-N needs the clean probabilities.
std::vector<int64_t> resolve_classes(const ClassSelection& sel, const std::vector<float>& probs, int64_t K);

}  // namespace pda
