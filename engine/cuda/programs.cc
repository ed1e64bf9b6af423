// CUDA BatchPrograms (programs.h): adapters from the loop's batch of windows to the CUDA executors.
#include "engine/cuda/programs.h"

#include "engine/incremental_cuda.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/crop.h"

namespace pda {
namespace {

class CudaFullBatch : public BatchProgram {
  public:
    explicit CudaFullBatch(FittedProgram f) : f_(std::move(f)) {}
    int64_t batch() const override { return f_.program->batch(); }
    float* input() override { return f_.program->device_input(0).data; }
    void run(const PdaWindows&) override { f_.program->run_device(); }
    const float* value(const std::string& name) const override { return f_.program->device_value(name).data; }

  private:
    FittedProgram f_;
};

class CudaIncrementalBatch : public BatchProgram {
  public:
    CudaIncrementalBatch(FittedIncremental f, CudaContext& ctx)
        : f_(std::move(f)),
          ctx_(ctx),
          slices_(sizeof(int32_t) * static_cast<size_t>(f_.program->batch())),
          rows_(sizeof(int32_t) * static_cast<size_t>(f_.program->batch())),
          cols_(sizeof(int32_t) * static_cast<size_t>(f_.program->batch())) {}
    int64_t batch() const override { return f_.program->batch(); }
    float* input() override { return f_.program->device_input().data; }
    void run(const PdaWindows& block) override {
        int32_t* slices = static_cast<int32_t*>(slices_.data());
        int32_t* rows = static_cast<int32_t*>(rows_.data());
        int32_t* cols = static_cast<int32_t*>(cols_.data());
        cuda::crop_window_positions(slices, rows, cols, batch(), block, ctx_.stream());
        f_.program->run_device({slices, rows, cols});
    }
    const float* value(const std::string& name) const override { return f_.program->device_value(name).data; }

  private:
    FittedIncremental f_;
    CudaContext& ctx_;
    cuda::DeviceBuffer slices_, rows_, cols_;  // each image's window, (batch) int32 on the device
};

}  // namespace

std::unique_ptr<BatchProgram> make_cuda_full_batch(const Graph& g, const Shape& image, int64_t batch, CudaContext& ctx,
                                                   const CudaCompileOptions& opt) {
    return std::make_unique<CudaFullBatch>(compile_cuda_fitting(g, image, batch, ctx, opt));
}

std::unique_ptr<BatchProgram> make_cuda_incremental_batch(const Graph& g, ConstTensorView clean_x, int64_t k,
                                                          int64_t batch, CudaContext& ctx,
                                                          const CudaCompileOptions& opt) {
    return std::make_unique<CudaIncrementalBatch>(compile_cuda_incremental_fitting(g, clean_x, k, batch, ctx, opt),
                                                  ctx);
}

}  // namespace pda
