// CPU BatchPrograms (programs.h): adapters from the loop's batch of windows to the CPU executors.
#include "engine/cpu/programs.h"

#include "engine/cpu/incremental.h"
#include "engine/linear_head.h"
#include "engine/program.h"
#include "kernels/crop_math.h"
#include "kernels/pda_math.h"

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
    bool rebind(ConstTensorView x) override { return batched(x.shape, batch()) == input_.shape(); }

  private:
    Tensor input_;
    std::unique_ptr<Program> prog_;
};

class CpuIncrementalBatch : public BatchProgram {
  public:
    CpuIncrementalBatch(const Graph& g, ConstTensorView clean_x, int64_t k, int64_t batch, CpuContext& ctx,
                        const std::set<std::string>& keep)
        : prog_(g, clean_x, k, batch, ctx, keep),
          slices_(static_cast<size_t>(batch)),
          rows_(static_cast<size_t>(batch)),
          cols_(static_cast<size_t>(batch)) {}
    int64_t batch() const override { return prog_.batch(); }
    float* input() override { return prog_.input(); }
    void run(const PdaWindows& block) override {
        for (int64_t b = 0; b < prog_.batch(); ++b) {
            int64_t slice = 0, row = 0, col = 0;
            crop_image_window(b, block, &slice, &row, &col);
            slices_[b] = static_cast<int32_t>(slice);
            rows_[b] = static_cast<int32_t>(row);
            cols_[b] = static_cast<int32_t>(col);
        }
        prog_.run_windows({slices_.data(), rows_.data(), cols_.data()});
    }
    const float* value(const std::string& name) const override { return prog_.value(name).data; }
    bool rebind(ConstTensorView x) override {
        prog_.set_clean(x);
        return true;
    }

  private:
    IncrementalProgram prog_;
    std::vector<int32_t> slices_, rows_, cols_;  // each image's window
};

// The exact update of a linear first layer (engine/linear_head.h): per image z = z₀ + Wᵀ[window]·Δx,
// summed in double in a fixed order, then the tail of the network on the batch of z. Takes the drawn
// samples directly: no batch of whole images exists.
class CpuLinearHeadBatch : public BatchProgram {
  public:
    CpuLinearHeadBatch(LinearHead head, ConstTensorView clean_x, int64_t batch, CpuContext& ctx,
                       const std::set<std::string>& keep)
        : h_(std::move(head)),
          batch_(batch),
          clean_(clean_x.shape, clean_x.data),
          z_(Shape{batch, h_.units}),
          z0_(static_cast<size_t>(h_.units)) {
        set_z0();
        if (!h_.tail.nodes.empty()) {
            CompileOptions opt;
            for (const std::string& v : keep)
                if (v != h_.z) opt.keep.insert(v);
            h_.tail.inputs[0].shape = Shape{batch, h_.units};
            tail_ = compile_cpu(h_.tail, {Shape{batch, h_.units}}, ctx, opt);
        }
    }
    int64_t batch() const override { return batch_; }
    float* input() override { return nullptr; }
    void run(const PdaWindows& block) override { run_samples(block, nullptr); }
    bool takes_samples() const override { return true; }
    void run_samples(const PdaWindows& block, const float* samples) override {
        const int64_t K = h_.units, patch = block.patch(), drawn = samples ? block.count * block.samples : 0;
        const float* x0 = clean_.data();
#pragma omp parallel
        {
            std::vector<double> z(z0_.size());
#pragma omp for
            for (int64_t b = 0; b < batch_; ++b) {
                std::copy(z0_.begin(), z0_.end(), z.begin());
                if (b < drawn) {
                    const int64_t w = block.image_window(b), slice = block.slice(w), row = block.row(w),
                                  col = block.col(w);
                    const float* x = samples + b * patch;
                    for (int64_t e = 0; e < patch; ++e) {
                        const int64_t o = pda_window_offset(e, block, slice, row, col);
                        const double dx = static_cast<double>(x[e]) - x0[o];
                        const float* wt = h_.wt.data() + o * K;
                        for (int64_t k = 0; k < K; ++k) z[k] += static_cast<double>(wt[k]) * dx;
                    }
                }
                float* out = z_.data() + b * K;
                for (int64_t k = 0; k < K; ++k) out[k] = h_.relu && z[k] < 0 ? 0.f : static_cast<float>(z[k]);
            }
        }
        if (tail_) tail_->run({ConstTensorView(z_.data(), z_.shape())});
    }
    const float* value(const std::string& name) const override {
        return name == h_.z || !tail_ ? z_.data() : tail_->value(name).data;
    }
    bool rebind(ConstTensorView x) override {
        if (x.shape != clean_.shape()) return false;
        std::copy(x.data, x.data + x.numel(), clean_.data());
        set_z0();
        return true;
    }

  private:
    // z₀ = b + Wᵀ·x₀ of the clean image, in double.
    void set_z0() {
        const int64_t K = h_.units;
        for (int64_t k = 0; k < K; ++k) z0_[k] = h_.bias[k];
        for (int64_t o = 0; o < h_.inputs; ++o) {
            const double v = clean_.data()[o];
            const float* w = h_.wt.data() + o * K;
            for (int64_t k = 0; k < K; ++k) z0_[k] += static_cast<double>(w[k]) * v;
        }
    }

    LinearHead h_;
    int64_t batch_;
    Tensor clean_, z_;
    std::vector<double> z0_;
    std::unique_ptr<Program> tail_;
};

}  // namespace

std::unique_ptr<BatchProgram> make_cpu_full_program(const Graph& g, const Shape& image, int64_t batch, CpuContext& ctx,
                                                    const std::set<std::string>& keep) {
    return std::make_unique<CpuFullProgram>(g, image, batch, ctx, keep);
}

std::unique_ptr<BatchProgram> make_cpu_incremental_program(const Graph& g, ConstTensorView clean_x, int64_t k,
                                                           int64_t batch, CpuContext& ctx,
                                                           const std::set<std::string>& keep) {
    if (std::optional<LinearHead> head = find_linear_head(g, keep))
        return std::make_unique<CpuLinearHeadBatch>(std::move(*head), clean_x, batch, ctx, keep);
    return std::make_unique<CpuIncrementalBatch>(g, clean_x, k, batch, ctx, keep);
}

}  // namespace pda
