// The PDA loop's setup and finish (engine/explainer.cc): argument checks with one set of messages,
// the requested node values, class selection, the fused private copy of the network, and the final
// division of per-pixel sums by counts. Internal to engine/.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "engine/explanation.h"
#include "engine/sampler.h"
#include "networks/graph.h"

namespace pda {

using ExplainClock = std::chrono::steady_clock;
double seconds_since(ExplainClock::time_point t0);

// A value explained by activation difference: per image (units, spatial), one map per unit.
struct NodeTarget {
    std::string name;   // as requested
    std::string value;  // the value read from the program
    int64_t units = 0, spatial = 1;
    std::vector<double> clean;  // (units) summary of the clean image
};

// Everything checked and derived before any heavy work. The sampler has begun the image and drawn
// the first window once (a sampler that cannot serve S samples fails there, early); those samples
// are in first_samples, (S, C, kd, k, k).
struct ExplainSetup {
    int64_t C = 0, D = 1, H = 0, W = 0;  // D = 1: an image (1, C, H, W); more: a volume (1, C, D, H, W)
    WindowGrid grid;
    int64_t n_windows = 0;  // the first n_windows windows are explained
    std::map<std::string, Shape> shapes;
    int64_t K = 0;  // classes
    std::vector<NodeTarget> nodes;
    int64_t S = 0;  // samples per window
    std::vector<float> first_samples;
    // The maps' spatial shape: (H, W) for an image, (D, H, W) for a volume.
    Shape spatial() const { return grid.volume() ? Shape{D, H, W} : Shape{H, W}; }
};

// Validates parameters, graph, image, output, nodes and class ids (top-N is resolved later with the
// clean probabilities), begins the image in the sampler. Adds the sampling time to e.
ExplainSetup prepare_explanation(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                                 const ExplainParams& p, Explanation& e);

// A deep copy of g (constants cloned) with BatchNorm/ReLU fused, in which the output and every
// requested node value stay readable. The caller's graph is never touched.
Graph fused_copy(const Graph& g, const OutputSpec& out, const std::vector<NodeTarget>& nodes);

// (maps, plane) sums over windows → mean per covered pixel, 0 where no window reached; shaped
// (maps, spatial...).
Tensor divide_by_counts(const std::vector<double>& sums, const std::vector<double>& counts, int64_t maps,
                        const Shape& spatial);

// The end of the loop: relevance (M maps) and node maps from their per-pixel sums, the count
// map, uncovered pixels, sizes and the total time.
void finish_explanation(Explanation& e, const ExplainSetup& s, const std::vector<double>& sums,
                        const std::vector<std::vector<double>>& node_sums, const std::vector<double>& counts, int64_t M,
                        int64_t batch, ExplainClock::time_point t_start);

}  // namespace pda
