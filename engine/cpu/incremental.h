// The exact incremental executor on the CPU (METHOD.md §5): the shared plan (engine/incremental_plan.h)
// and buffer layout (engine/incremental_layout.h) that drive the CUDA executor, bound to host memory
// and run with the CPU's ops (engine/cpu/ops.h) at the layout's shapes and the CPU gathers of
// kernels/cpu/crop.h in place of cuDNN and the CUDA kernels — so every CPU test runs the plan, the
// gather decisions and the buffer reuse the GPU runs. Values between oneDNN ops lie in its blocked
// or channels-last layout as in the full program (engine/cpu/layouts.h; their crops gathered 16
// channels, or all channels, at a time);
// with blocked_layouts = false everything is plain, as on the GPU, and the bits are the same
// (tests/test_layouts.cc). The clean image's activations are cached once;
// a batch of resampled images, each differing from the clean image only inside its own k × k window
// (k × k × k in a volume), is run by recomputing every node on a crop of one size per batch. Results
// equal a full forward up to float reordering (tests/test_incremental.cc, test_incremental_volume.cc).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/cpu/layouts.h"
#include "engine/cpu/ops.h"
#include "engine/incremental_layout.h"
#include "engine/incremental_plan.h"
#include "engine/program.h"

namespace pda {

class IncrementalProgram {
  public:
    // g: the graph (one input with 2 or 3 spatial axes); clean_x: the explained image (1, C, H, W) or
    // volume (1, C, D, H, W); k: the window side; batch: images per run; keep: values besides the graph
    // outputs readable after run().
    // g and ctx must outlive the program.
    // blocked_layouts: values between oneDNN ops in its blocked layout as in the full program
    // (engine/cpu/layouts.h), gathered in it; false: everything plain, as the CUDA executor has it.
    IncrementalProgram(const Graph& g, ConstTensorView clean_x, int64_t k, int64_t batch, CpuContext& ctx,
                       const std::set<std::string>& keep = {}, bool blocked_layouts = true);
    ~IncrementalProgram();
    IncrementalProgram(const IncrementalProgram&) = delete;
    IncrementalProgram& operator=(const IncrementalProgram&) = delete;

    // Makes this the program of another clean image of the same shape: its forward is run and cached
    // again; the plan, the layout and the compiled ops stay (a dataset's images share them).
    void set_clean(ConstTensorView clean_x);

    // The (B, C, [D,] H, W) input batch in the program's memory: B images equal to clean_x except
    // inside each image's window, filled before run_windows().
    float* input() { return bind_.input; }
    // Runs the batch in input(); win: B window front slices (0 for images), top rows and left columns
    // (every window must fit the image: not checked).
    void run_windows(const CropWindows& win);
    // Copies batch (B, C, [D,] H, W) into input(), checks the windows and runs (tests). Without
    // slices: an image's windows (slice 0).
    void run(const float* batch, const std::vector<int64_t>& slices, const std::vector<int64_t>& rows,
             const std::vector<int64_t>& cols);
    void run(const float* batch, const std::vector<int64_t>& rows, const std::vector<int64_t>& cols);

    // A graph output or kept value of the last run, (B, ...) as a full forward gives it. Valid until
    // the next run.
    ConstTensorView value(const std::string& name) const;
    const CropPlan& plan() const { return plan_.crops; }
    const IncrementalPlan& incremental_plan() const { return plan_; }
    const IncrementalLayout& layout() const { return layout_; }
    int64_t batch() const { return layout_.batch; }
    // The values that lie in oneDNN's blocked layout, and channels last (engine/cpu/layouts.h).
    const std::set<std::string>& blocked_values() const { return layouts_.blocked; }
    const std::set<std::string>& channels_last_values() const { return layouts_.channels_last; }
    // Bytes of the arena (batch, values, scratch) and the clean cache.
    int64_t memory_bytes() const;

  private:
    Layout layout(const std::string& value) const;

    IncrementalPlan plan_;
    IncrementalLayout layout_;
    std::map<std::string, Shape> shapes_;  // the full forward's, at the batch
    Tensor arena_, clean_;
    LayoutBinding bind_;
    std::vector<std::unique_ptr<CpuOp>> ops_;
    std::unique_ptr<Program> clean_prog_;           // the clean image's forward, every value kept
    CpuLayoutPlan layouts_;                         // values in the blocked or channels-last layout
    std::vector<std::vector<int64_t>> gather_vec_;  // per step and input: floats per gathered element
    bool ran_ = false;
};

}  // namespace pda
