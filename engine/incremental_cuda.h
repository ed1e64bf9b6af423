// The exact incremental executor on the CUDA backend (METHOD.md §5, issue 5 item 2), the device twin
// of IncrementalProgram (engine/cpu/incremental.h) over the same plan (engine/incremental_plan.h), for
// images and volumes:
// the clean image's activations are computed once on the device; per batch every node runs on one
// crop size per batch (cuDNN / cuBLAS ops built by make_cuda_op at the plan's shapes), its inputs
// gathered on the device from the cache and the changed crops (kernels/cuda/crop.h), with each
// image's window read from device arrays: the host never touches per-image data inside the loop.
// No CUDA header is needed to use it; builds without the backend get stubs that throw.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/cuda_program.h"
#include "engine/incremental_plan.h"
#include "kernels/crop_math.h"

namespace pda {

class CudaIncrementalProgram {
  public:
    virtual ~CudaIncrementalProgram() = default;

    // The (B, C, [D,] H, W) batch buffer: B images equal to the clean image except inside each image's
    // window, filled on the device before run_device().
    virtual TensorView device_input() = 0;
    // Runs the batch on the context's stream; does not wait. win: device int32 arrays of B window
    // front slices (0 for images), top rows and left columns (every window must fit the image: not
    // checked on the device).
    virtual void run_device(const CropWindows& win) = 0;
    // A graph output or kept value of the last run as a full forward gives it, (B, ...), on the
    // device; crop values are assembled over the clean map at the end of run_device().
    virtual ConstTensorView device_value(const std::string& name) const = 0;

    // Host convenience (tests): copies batch (B, C, [D,] H, W) in, the windows too (checked), runs and
    // waits; without slices, an image's windows (slice 0). value() copies a graph output or kept value
    // of the last run to the host.
    virtual void run(const float* batch, const std::vector<int64_t>& slices, const std::vector<int64_t>& rows,
                     const std::vector<int64_t>& cols) = 0;
    void run(const float* batch, const std::vector<int64_t>& rows, const std::vector<int64_t>& cols) {
        run(batch, std::vector<int64_t>(rows.size(), 0), rows, cols);
    }
    virtual ConstTensorView value(const std::string& name) const = 0;

    virtual int64_t batch() const = 0;
    virtual const IncrementalPlan& plan() const = 0;
    virtual Precision precision() const = 0;
    virtual int64_t device_bytes() const = 0;  // values, scratch, clean cache and weights it holds
    virtual void synchronize() = 0;
};

// The program for windows of side k over the clean image clean_x (1, C, H, W) or volume (1, C, D, H, W)
// of graph g's only input,
// batches of `batch` images. opt.keep: values readable besides the graph outputs; opt.precision: the
// ops' (and the clean cache's) precision; opt.time_conv_algorithms as compile_cuda. g and ctx must
// outlive the program. Throws CudaOutOfMemory (kernels/cuda/check.h) when the device is too small.
std::unique_ptr<CudaIncrementalProgram> compile_cuda_incremental(const Graph& g, ConstTensorView clean_x, int64_t k,
                                                                 int64_t batch, CudaContext& ctx,
                                                                 const CudaCompileOptions& opt = {});

// The largest batch whose buffers (engine/incremental_layout.h), clean cache and weights fit in free
// device memory with cuda_max_batch's headroom, every buffer under cuDNN's 2^31 elements. image:
// (1, C, H, W) or (1, C, D, H, W). 0 when not even one image fits.
int64_t cuda_incremental_max_batch(const Graph& g, const Shape& image, int64_t k, CudaContext& ctx,
                                   const std::set<std::string>& keep = {});

struct FittedIncremental {
    std::unique_ptr<CudaIncrementalProgram> program;
    int64_t batch = 0;
    std::string note;  // empty, or why the batch was lowered
};
// compile_cuda_incremental at `batch` (0: cuda_incremental_max_batch), halving the batch while it runs
// out of device memory. Throws when even batch 1 does not fit.
FittedIncremental compile_cuda_incremental_fitting(const Graph& g, ConstTensorView clean_x, int64_t k, int64_t batch,
                                                   CudaContext& ctx, const CudaCompileOptions& opt = {});

}  // namespace pda
