// The CPU as a PdaDevice (engine/pda_device.h): host memory, the batch kernels of
// kernels/cpu/pda_batch.h, samples drawn by the sampler itself on the host, wall-clock phase times.
// Everything runs synchronously, so a batch is finished when the loop marks it done.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "engine/backend.h"
#include "engine/cpu/programs.h"
#include "engine/linear_head.h"
#include "engine/memory.h"
#include "engine/pda_device.h"
#include "engine/program.h"
#include "kernels/cpu/context.h"
#include "kernels/cpu/pda_batch.h"

namespace pda {
namespace {

using Clock = std::chrono::steady_clock;

// Resampled images per batch when the caller leaves it to us: a quarter of MemAvailable over the
// memory one image needs, at most this many: on the CPU, batches of a few dozen images run
// 1.5–1.7× faster than 250 (SqueezeNet, AlexNet; larger batches only leave the caches).
constexpr int64_t kMaxAutoBatch = 64;
// A linear first layer's exact update costs k³·C·K multiply-adds per image: large batches amortise
// the loop's per-batch work.
constexpr int64_t kMaxLinearHeadBatch = 8192;

class CpuDevice : public PdaDevice {
  public:
    explicit CpuDevice(CpuContext& ctx) : ctx_(ctx) {}
    std::string name() const override { return "cpu"; }

    BatchLimits batch_limits(const Graph& net, const Shape& image, int64_t k, Execution exec,
                             const std::set<std::string>& keep) override {
        if (exec == Execution::kIncremental) {
            if (const std::optional<LinearHead> head = find_linear_head(net, keep)) {
                // An image is its window's samples and K outputs (and the tail's values, as small).
                const int64_t patch = image[1] * (image.rank == 5 ? k : 1) * k * k;
                BatchLimits b;
                b.image_bytes = static_cast<double>(sizeof(float) * (patch + 4 * head->units));
                b.memory_bytes = static_cast<double>(available_memory_bytes());
                b.most = static_cast<int64_t>(std::min(kUsableMemoryFraction * b.memory_bytes / b.image_bytes, 1e15));
                b.preferred = std::clamp<int64_t>(b.most, 1, kMaxLinearHeadBatch);
                return b;
            }
        }
        CompileOptions opt;
        opt.keep = keep;
        const std::unique_ptr<Program> one = compile_cpu(net, {image}, ctx_, opt);
        BatchLimits b;
        // Scratchpads (Winograd's transform buffers) grow with the batch too.
        b.image_bytes = static_cast<double>(one->activation_bytes() + one->scratchpad_bytes() +
                                            2 * image.numel() * static_cast<int64_t>(sizeof(float)));
        b.memory_bytes = static_cast<double>(available_memory_bytes());
        b.most = static_cast<int64_t>(std::min(kUsableMemoryFraction * b.memory_bytes / b.image_bytes, 1e15));
        b.preferred = std::clamp<int64_t>(static_cast<int64_t>(b.memory_bytes / 4 / b.image_bytes), 1, kMaxAutoBatch);
        b.preferred = std::min(b.preferred, std::max<int64_t>(b.most, 1));
        b.smooth = ctx_.winograd;
        return b;
    }
    std::unique_ptr<BatchProgram> compile(const Graph& net, ConstTensorView x, int64_t k, int64_t batch, Execution exec,
                                          const std::set<std::string>& keep) override {
        return exec == Execution::kIncremental ? make_cpu_incremental_program(net, x, k, batch, ctx_, keep)
                                               : make_cpu_full_program(net, x.shape, batch, ctx_, keep);
    }

    std::shared_ptr<void> allocate(int64_t bytes) override {
        const int64_t floats = (bytes + static_cast<int64_t>(sizeof(float)) - 1) / static_cast<int64_t>(sizeof(float));
        return std::shared_ptr<float>(alloc_floats(floats).release(), AlignedFree{});
    }
    void upload(void* dst, const void* host, int64_t bytes) override { std::memcpy(dst, host, bytes); }
    void download(void* host, const void* src, int64_t bytes) override { std::memcpy(host, src, bytes); }
    void copy(void* dst, const void* src, int64_t bytes) override { std::memcpy(dst, src, bytes); }
    void zero(void* dst, int64_t bytes) override { std::memset(dst, 0, bytes); }

    void paste(float* batch, const float* samples, const PdaWindows& b) override { cpu::pda_paste(batch, samples, b); }
    void restore(float* batch, const float* clean, const PdaWindows& b) override { cpu::pda_restore(batch, clean, b); }
    void softmax_rows(const float* in, float* out, int64_t rows, int64_t k) override {
        cpu::pda_softmax_rows(in, out, rows, k);
    }
    void mean_probabilities(const float* p, int64_t k_classes, const PdaWindows& b, double* mean) override {
        cpu::pda_mean_probabilities(p, k_classes, b, mean);
    }
    void weight_of_evidence(const float* p_clean, const double* mean, int64_t k_classes, const int64_t* classes,
                            int64_t maps, double n_train, int64_t count, double* we) override {
        cpu::pda_weight_of_evidence(p_clean, mean, k_classes, classes, maps, n_train, count, we);
    }
    void unit_means(const float* value, int64_t images, int64_t units, int64_t spatial, double* out) override {
        cpu::pda_unit_means(value, images, units, spatial, out);
    }
    void activation_difference(const double* image_means, const double* clean, int64_t units, const PdaWindows& b,
                               double* ad) override {
        cpu::pda_activation_difference(image_means, clean, units, b, ad);
    }
    void accumulate(double* sums, int64_t maps, const double* value, const PdaWindows& b) override {
        cpu::pda_accumulate(sums, maps, value, b);
    }

    void begin_sampling(Sampler& sampler, int64_t, int64_t block_images, int64_t patch, uint64_t) override {
        sampler_ = &sampler;
        for (std::vector<float>& s : samples_) s.resize(static_cast<size_t>(block_images * patch));
    }
    const float* draw(const PdaWindows& b, int slot) override {
        const Clock::time_point t0 = Clock::now();
        float* out = samples_[slot].data();
        sampler_->draw(b.w0, b.w0 + b.count, b.samples, out);
        draw_seconds_[slot] = std::chrono::duration<double>(Clock::now() - t0).count();
        return out;
    }

    void mark(int slot, BatchPhase phase) override { marks_[slot][static_cast<int>(phase)] = Clock::now(); }
    BatchTimes finish(int slot) override {
        auto span = [&](BatchPhase a, BatchPhase b) {
            return std::chrono::duration<double>(marks_[slot][static_cast<int>(b)] - marks_[slot][static_cast<int>(a)])
                .count();
        };
        BatchTimes t;
        t.sampling = draw_seconds_[slot] + span(BatchPhase::kPaste, BatchPhase::kNetwork) +
                     span(BatchPhase::kRestore, BatchPhase::kDone);
        t.network = span(BatchPhase::kNetwork, BatchPhase::kReduce);
        t.reduce = span(BatchPhase::kReduce, BatchPhase::kRestore);
        return t;
    }

  private:
    CpuContext& ctx_;
    Sampler* sampler_ = nullptr;
    std::vector<float> samples_[2];
    double draw_seconds_[2] = {0, 0};
    Clock::time_point marks_[2][5];
};

}  // namespace

std::unique_ptr<PdaDevice> make_cpu_device(CpuContext& ctx) { return std::make_unique<CpuDevice>(ctx); }

namespace {

class CpuBackend final : public Backend {
  public:
    CpuBackend(int threads, Precision precision) {
        ctx_.threads = threads;
        ctx_.bf16 = precision == Precision::kBf16;
        ctx_.winograd = precision == Precision::kWinograd;
        device_ = make_cpu_device(ctx_);
    }
    Device device() const override { return Device::cpu(); }
    Precision precision() const override {
        return ctx_.bf16 ? Precision::kBf16 : ctx_.winograd ? Precision::kWinograd : Precision::kFp32;
    }
    // Programs for every batch size a Model uses share one arena, sized for the largest.
    std::unique_ptr<Program> compile(const Graph& g, const std::vector<Shape>& shapes) override {
        CompileOptions opt;
        opt.arena = &arena_;
        return compile_cpu(g, shapes, ctx_, opt);
    }
    PdaDevice& pda() override { return *device_; }

  private:
    CpuContext ctx_;
    SharedArena arena_;
    std::unique_ptr<PdaDevice> device_;
};

}  // namespace

bool cpu_bf16_supported() { return cpu_has_bf16(); }
bool cpu_winograd_supported() { return cpu_has_winograd(); }

std::unique_ptr<Backend> make_cpu_backend(int threads, Precision precision) {
    if (precision == Precision::kTf32 || precision == Precision::kFp16)
        fail_input(std::string("--precision ") + precision_name(precision) + " runs on CUDA devices only");
    return std::make_unique<CpuBackend>(threads, precision);
}

}  // namespace pda
