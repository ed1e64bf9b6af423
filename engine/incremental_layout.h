// The memory of both incremental executors (engine/cpu/incremental.h, engine/incremental_cuda.h) at a
// batch size, computed from the shared plan (engine/incremental_plan.h) without a device: which buffer
// every value and every op input uses (buffers reused once their last reader has run), and the floats
// it all takes. Each executor allocates exactly this layout, and the CUDA batch is sized from it
// (cuda_incremental_max_batch); bound to memory (bind_layout), it says what every run gathers and
// computes, which the CUDA program launches and the CPU program runs with its own ops and gathers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/incremental_plan.h"
#include "kernels/crop_math.h"

namespace pda {

// How an op input of a step reaches the op: decided once here for both executors.
enum class InputForm {
    kConstant,   // a graph constant
    kBatch,      // the input batch itself, (B, C, [D,] H, W): a full step reading the graph input
    kValue,      // the source's own buffer: a full value read in full, or a crop of the same size and place
    kBroadcast,  // an unchanged value read in full: its clean value replicated over the batch once
    kGather,     // a crop step's tile (window op input 0) or crop, gathered per image into scratch
    kAssemble,   // a full step reading a crop value: full maps assembled into scratch
};

struct LayoutValue {
    int64_t clean = -1;      // offset in the clean region of the clean (1, ...) value: crop values, and
                             // unchanged values a crop step reads or that are replicated; −1 when none
    int64_t buf = -1;        // arena offset: kCrop (B, C, [cd,] ch, cw), kFull (B, ...); −1 when none
    int64_t broadcast = -1;  // arena offset: an unchanged value read in full or kept, (B, ...)
    int64_t shown = -1;      // arena offset: a kept crop value assembled in full after a run, (B, ...)
};

struct LayoutStep {
    std::vector<InputForm> form;   // per input of the node
    std::vector<int64_t> scratch;  // arena offset per input (kGather, kAssemble), else −1
    std::vector<Shape> in_shapes;  // the shapes the op is built for (IncrementalPlan::input_shapes)
    Shape out_shape;               // (B, C, [cd,] ch, cw) or the full (B, ...)
};

struct IncrementalLayout {
    int64_t batch = 0;
    int64_t input = 0;           // arena offset of the input batch (B, C, [D,] H, W)
    int64_t arena_floats = 0;    // everything that grows with the batch, in one allocation
    int64_t scratch_floats = 0;  // of which the scratch every step reuses: the largest step's inputs
    int64_t clean_floats = 0;    // the clean values kept (a second allocation, batch-independent)
    std::map<std::string, LayoutValue> values;
    std::vector<LayoutStep> steps;         // as plan.steps
    std::set<std::string> kept;            // graph outputs and the values asked for
    std::vector<int64_t> buffer_elements;  // elements of every arena buffer (scratch per input), in order
};

// The layout at `batch` images for graph g and its plan, with `keep` readable after a run besides the
// graph outputs. Offsets are multiples of align_floats. Throws an input error for a kept value that is
// not in the graph, or an unchanged value that must be replicated but has no batch in dimension 0.
IncrementalLayout layout_incremental(const Graph& g, const IncrementalPlan& plan, int64_t batch,
                                     const std::set<std::string>& keep, int64_t align_floats);

// The largest batch at which no buffer of the layout has more than max_elements elements, from the
// layouts at batch 1 and 2 (every buffer is fixed + batch · per_image elements).
int64_t layout_batch_cap(const IncrementalLayout& at1, const IncrementalLayout& at2, int64_t max_elements);

// ---- a layout bound to memory ----------------------------------------------------------------------

// Where a layout lives: device memory for the CUDA program, host memory for the CPU program. The plan's constants, crop
// origin tables (int32) and average-pool factors are looked up by name or step index.
struct LayoutMemory {
    float* arena = nullptr;  // arena_floats
    float* clean = nullptr;  // clean_floats
    std::function<const float*(const std::string&)> constant;
    std::function<const int32_t*(const std::string&, int axis)> table;  // crop values: oz (0), oy (1) or ox (2)
    std::function<const float*(size_t step)> avg_factor;                // steps with an avg_factor
};

struct BoundInput {
    InputForm form = InputForm::kConstant;
    const float* ptr = nullptr;  // what the op reads
    float* scratch = nullptr;    // kGather, kAssemble: gathered there first (ptr == scratch)
    CropTile tile;               // kGather: the op's tile or crop; kAssemble: the whole map
    CropSource source;
};

struct BoundStep {
    std::vector<BoundInput> inputs;  // per input of the node
    float* out = nullptr;
    const float* factor = nullptr;  // an average pool's divisor factors (map_d, map_h, map_w), or null
    CropTile crop;                  // with factor: the output's crops and their tables
    int64_t map_h = 0, map_w = 0;   // with factor: the output's map
};

// Every run: gather, op, scale per step; then each kept crop value gathered whole (assembled).
// Once: each replicated unchanged value broadcast from its clean copy.
struct LayoutBinding {
    std::vector<BoundStep> steps;
    struct Assembly {
        float* out = nullptr;
        CropTile tile;
        CropSource source;
    };
    std::vector<Assembly> shown;
    struct Broadcast {
        float* out = nullptr;
        const float* clean = nullptr;
        int64_t n = 0;  // elements per image
    };
    std::vector<Broadcast> broadcasts;
    float* input = nullptr;                           // the batch (B, C, [D,] H, W)
    std::map<std::string, const float*> kept_values;  // graph outputs and kept values, (B, ...) after a run
};

LayoutBinding bind_layout(const Graph& g, const IncrementalPlan& plan, const IncrementalLayout& l,
                          const LayoutMemory& m);

}  // namespace pda
