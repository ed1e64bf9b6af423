// CPU BatchPrograms (programs.h): adapters from the loop's batch of windows to the CPU executors.
#include "engine/cpu/programs.h"

#include "engine/cpu/incremental.h"
#include "engine/program.h"
#include "kernels/crop_math.h"

namespace pda {
namespace {

Shape batched(Shape image, int64_t batch) {  // (1, C, spatial...) → (batch, C, spatial...)
    image[0] = batch;
    return image;
}

class CpuFullProgram : public BatchProgram {
  public:
    CpuFullProgram(const Graph& g, const Shape& image, int64_t batch, CpuContext& ctx,
                   const std::set<std::string>& keep)
        : input_(batched(image, batch)) {
        CompileOptions opt;
        opt.keep = keep;
        prog_ = compile_cpu(g, {input_.shape()}, ctx, opt);
    }
    int64_t batch() const override { return input_.shape()[0]; }
    float* input() override { return input_.data(); }
    void run(const PdaWindows&) override { prog_->run({ConstTensorView(input_.data(), input_.shape())}); }
    const float* value(const std::string& name) const override { return prog_->value(name).data; }

  private:
    Tensor input_;
    std::unique_ptr<Program> prog_;
};

class CpuIncrementalBatch : public BatchProgram {
  public:
    CpuIncrementalBatch(const Graph& g, ConstTensorView clean_x, int64_t k, int64_t batch, CpuContext& ctx,
                        const std::set<std::string>& keep)
        : prog_(g, clean_x, k, batch, ctx, keep),
          rows_(static_cast<size_t>(batch)),
          cols_(static_cast<size_t>(batch)) {}
    int64_t batch() const override { return prog_.batch(); }
    float* input() override { return prog_.input(); }
    void run(const PdaWindows& block) override {
        for (int64_t b = 0; b < prog_.batch(); ++b) {
            int64_t row = 0, col = 0;
            crop_image_window(b, block, &row, &col);
            rows_[b] = static_cast<int32_t>(row);
            cols_[b] = static_cast<int32_t>(col);
        }
        prog_.run_windows(rows_.data(), cols_.data());
    }
    const float* value(const std::string& name) const override { return prog_.value(name).data; }

  private:
    IncrementalProgram prog_;
    std::vector<int32_t> rows_, cols_;  // each image's window
};

}  // namespace

std::unique_ptr<BatchProgram> make_cpu_full_program(const Graph& g, const Shape& image, int64_t batch, CpuContext& ctx,
                                                    const std::set<std::string>& keep) {
    return std::make_unique<CpuFullProgram>(g, image, batch, ctx, keep);
}

std::unique_ptr<BatchProgram> make_cpu_incremental_program(const Graph& g, ConstTensorView clean_x, int64_t k,
                                                           int64_t batch, CpuContext& ctx,
                                                           const std::set<std::string>& keep) {
    return std::make_unique<CpuIncrementalBatch>(g, clean_x, k, batch, ctx, keep);
}

}  // namespace pda
