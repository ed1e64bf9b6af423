// A CUDA GPU as a PdaDevice (engine/pda_device.h): device memory, the batch kernels of
// kernels/cuda/pda_kernels.h on the context's stream, and samples drawn on a stream of their own into
// the slot's buffer, so that batch i + 1 is drawn while batch i runs: conditional (philox normals +
// mean + L·z in the CPU sampler's order, images and volumes alike: a window is di = C·kd·k·k values
// either way) and occlusion (a constant buffer) on the device, any other sampler (marginal) on the
// host and uploaded. Phase times are CUDA events; the programs are
// engine/cuda/programs.cc's.
#include <algorithm>
#include <chrono>
#include <map>

#include "engine/backend.h"
#include "engine/cuda/programs.h"
#include "engine/cuda_program.h"
#include "engine/explainer.h"
#include "engine/incremental_cuda.h"
#include "engine/pda_device.h"
#include "engine/sampler_conditional.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/pda_kernels.h"

namespace pda {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_s(const cuda::Event& a, const cuda::Event& b) {
    float ms = 0.f;
    PDA_CUDA_CHECK(cudaEventElapsedTime(&ms, a.get(), b.get()));
    return ms * 1e-3;
}

// How a batch's samples are made.
enum class DrawMode {
    kConstant,  // occlusion: one constant, the sample buffer filled once
    kGaussian,  // conditional: mean + L·z per window, z from philox on the device
    kHost,      // any other sampler (marginal): Sampler::draw on the host, uploaded per batch
};

class CudaDevice : public PdaDevice {
  public:
    CudaDevice(CudaContext& ctx, Precision precision) : ctx_(ctx), precision_(precision) {
        PDA_CUDA_CHECK(cudaSetDevice(ctx.device));
        draw_stream_ = cuda::make_stream();
        for (Slot& s : slots_) {
            for (cuda::Event& ev : s.ev) ev = cuda::make_event();
            for (cuda::Event& ev : s.draw) ev = cuda::make_event();
        }
    }
    std::string name() const override { return "cuda:" + std::to_string(ctx_.device); }

    BatchLimits batch_limits(const Graph& net, const Shape& image, int64_t k, Execution exec,
                             const std::set<std::string>& keep) override {
        BatchLimits b;
        b.most = exec == Execution::kIncremental ? cuda_incremental_max_batch(net, image, k, ctx_, keep)
                                                 : cuda_max_batch(net, image, ctx_);
        b.preferred = b.most;
        return b;
    }
    std::unique_ptr<BatchProgram> compile(const Graph& net, ConstTensorView x, int64_t k, int64_t batch, Execution exec,
                                          const std::set<std::string>& keep) override {
        CudaCompileOptions opt;
        opt.keep = keep;
        opt.precision = precision_;
        return exec == Execution::kIncremental ? make_cuda_incremental_batch(net, x, k, batch, ctx_, opt)
                                               : make_cuda_full_batch(net, x.shape, batch, ctx_, opt);
    }

    std::shared_ptr<void> allocate(int64_t bytes) override {
        auto* b = new cuda::DeviceBuffer(static_cast<size_t>(std::max<int64_t>(bytes, 1)));
        return std::shared_ptr<void>(b->data(), [b](void*) { delete b; });
    }
    // Setup only: waits, so that the host data may go away.
    void upload(void* dst, const void* host, int64_t bytes) override {
        PDA_CUDA_CHECK(cudaMemcpyAsync(dst, host, static_cast<size_t>(bytes), cudaMemcpyHostToDevice, stream()));
        ctx_.synchronize();
    }
    void download(void* host, const void* src, int64_t bytes) override {
        PDA_CUDA_CHECK(cudaMemcpyAsync(host, src, static_cast<size_t>(bytes), cudaMemcpyDeviceToHost, stream()));
        ctx_.synchronize();
    }
    void copy(void* dst, const void* src, int64_t bytes) override {
        PDA_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice, stream()));
    }
    void zero(void* dst, int64_t bytes) override {
        PDA_CUDA_CHECK(cudaMemsetAsync(dst, 0, static_cast<size_t>(bytes), stream()));
    }

    void paste(float* batch, const float* samples, const PdaWindows& b) override {
        cuda::pda_paste(batch, samples, b, stream());
    }
    void restore(float* batch, const float* clean, const PdaWindows& b) override {
        cuda::pda_restore(batch, clean, b, stream());
    }
    void softmax_rows(const float* in, float* out, int64_t rows, int64_t k) override {
        cuda::pda_softmax_rows(in, out, rows, k, stream());
    }
    void mean_probabilities(const float* p, int64_t k_classes, const PdaWindows& b, double* mean) override {
        cuda::pda_mean_probabilities(p, k_classes, b, mean, stream());
    }
    void weight_of_evidence(const float* p_clean, const double* mean, int64_t k_classes, const int64_t* classes,
                            int64_t maps, double n_train, int64_t count, double* we) override {
        cuda::pda_weight_of_evidence(p_clean, mean, k_classes, classes, maps, n_train, count, we, stream());
    }
    void unit_means(const float* value, int64_t images, int64_t units, int64_t spatial, double* out) override {
        cuda::pda_unit_means(value, images, units, spatial, out, stream());
    }
    void activation_difference(const double* image_means, const double* clean, int64_t units, const PdaWindows& b,
                               double* ad) override {
        cuda::pda_activation_difference(image_means, clean, units, b, ad, stream());
    }
    void accumulate(double* sums, int64_t maps, const double* value, const PdaWindows& b) override {
        cuda::pda_accumulate(sums, maps, value, b, stream());
    }

    void begin_sampling(Sampler& sampler, int64_t windows, int64_t block_images, int64_t patch, uint64_t seed) override;
    const float* draw(const PdaWindows& b, int slot) override;

    void mark(int slot, BatchPhase phase) override {
        PDA_CUDA_CHECK(cudaEventRecord(slots_[slot].ev[static_cast<int>(phase)].get(), stream()));
    }
    BatchTimes finish(int slot) override {
        Slot& s = slots_[slot];
        auto span = [&](BatchPhase a, BatchPhase b) {
            return elapsed_s(s.ev[static_cast<int>(a)], s.ev[static_cast<int>(b)]);
        };
        PDA_CUDA_CHECK(cudaEventSynchronize(s.ev[static_cast<int>(BatchPhase::kDone)].get()));
        BatchTimes t;
        t.sampling = s.host_draw_seconds + span(BatchPhase::kPaste, BatchPhase::kNetwork) +
                     span(BatchPhase::kRestore, BatchPhase::kDone);
        if (mode_ != DrawMode::kConstant) t.sampling += elapsed_s(s.draw[0], s.draw[1]);
        t.network = span(BatchPhase::kNetwork, BatchPhase::kReduce);
        t.reduce = span(BatchPhase::kReduce, BatchPhase::kRestore);
        return t;
    }

  private:
    cudaStream_t stream() const { return ctx_.stream(); }

    // Per in-flight batch: events at its phases on the main stream and around its draw on the
    // sampling stream; its sample buffer (device) and, for host draws, the host buffer it came from.
    struct Slot {
        cuda::Event ev[5], draw[2];
        DeviceArray<float> samples;
        std::vector<float> host;
        double host_draw_seconds = 0;
    };

    CudaContext& ctx_;
    Precision precision_;
    cuda::Stream draw_stream_;
    Slot slots_[2];
    DrawMode mode_ = DrawMode::kHost;
    Sampler* sampler_ = nullptr;
    uint64_t seed_ = 0;
    // The conditional sampler's per-image state on the device: every window's mean, one L per
    // configuration in use (transposed, (di, di) each), each window's configuration slot, the clip range.
    int64_t di_ = 0;
    bool clip_ = false;
    DeviceArray<float> means_, factors_, lo_, hi_, z_;
    DeviceArray<int32_t> config_slot_;
};

void CudaDevice::begin_sampling(Sampler& sampler, int64_t windows, int64_t block_images, int64_t patch, uint64_t seed) {
    sampler_ = &sampler;
    seed_ = seed;
    di_ = patch;
    // Occlusion draws one constant: the sample buffer is filled once.
    std::vector<float> first(static_cast<size_t>(sampler.samples_per_window(1) * patch));
    mode_ = DrawMode::kHost;
    auto* conditional = dynamic_cast<ConditionalSampler*>(&sampler);
    if (conditional) {
        mode_ = DrawMode::kGaussian;
    } else if (sampler.name() == "occlusion") {
        sampler.draw(0, 1, sampler.samples_per_window(1), first.data());
        if (std::all_of(first.begin(), first.end(), [&](float v) { return v == first[0]; }))
            mode_ = DrawMode::kConstant;
    }
    for (Slot& s : slots_) {
        s.samples =
            device_array<float>(*this, mode_ == DrawMode::kConstant && &s != &slots_[0] ? 0 : block_images * patch);
        s.host.assign(mode_ == DrawMode::kHost ? static_cast<size_t>(block_images * patch) : 0, 0.f);
    }
    if (mode_ == DrawMode::kConstant) cuda::pda_fill(slots_[0].samples.get(), first[0], block_images * patch, stream());
    if (mode_ != DrawMode::kGaussian) return;

    z_ = device_array<float>(*this, block_images * patch);
    means_ = device_upload(*this, conditional->window_mean(0), windows * patch);  // (windows, di), contiguous
    std::map<int64_t, int32_t> slot_of;
    std::vector<int32_t> config_slot(static_cast<size_t>(windows));
    std::vector<float> factors;
    for (int64_t w = 0; w < windows; ++w) {
        const int64_t cfg = conditional->window_config(w);
        auto it = slot_of.find(cfg);
        if (it == slot_of.end()) {
            const std::vector<double>& chol = conditional->config(cfg).chol;
            if (static_cast<int64_t>(chol.size()) != patch * patch)
                fail_internal("conditional sampler: configuration " + std::to_string(cfg) + " has a factor of " +
                              std::to_string(chol.size()) + " values, expected " + std::to_string(patch * patch));
            it = slot_of.emplace(cfg, static_cast<int32_t>(slot_of.size())).first;
            const size_t at = factors.size();
            factors.resize(at + static_cast<size_t>(patch * patch));
            for (int64_t i = 0; i < patch; ++i)  // Lᵀ: factors[q·di + i] = L[i][q]
                for (int64_t q = 0; q < patch; ++q)
                    factors[at + static_cast<size_t>(q * patch + i)] = static_cast<float>(chol[i * patch + q]);
        }
        config_slot[static_cast<size_t>(w)] = it->second;
    }
    factors_ = device_upload(*this, factors.data(), static_cast<int64_t>(factors.size()));
    config_slot_ = device_upload(*this, config_slot.data(), windows);
    clip_ = conditional->options().clip;
    if (clip_) {
        lo_ = device_upload(*this, conditional->model().min.data(),
                            static_cast<int64_t>(conditional->model().min.size()));
        hi_ = device_upload(*this, conditional->model().max.data(),
                            static_cast<int64_t>(conditional->model().max.size()));
    }
}

const float* CudaDevice::draw(const PdaWindows& b, int slot) {
    Slot& s = slots_[slot];
    s.host_draw_seconds = 0;
    if (mode_ == DrawMode::kConstant) return slots_[0].samples.get();
    // The slot's previous batch is finished (PdaDevice::finish), so its buffers are free.
    const cudaStream_t ds = draw_stream_.get();
    if (mode_ == DrawMode::kHost) {  // on the host while the device still runs the other slot's batch
        const Clock::time_point t0 = Clock::now();
        sampler_->draw(b.w0, b.w0 + b.count, b.samples, s.host.data());
        s.host_draw_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    PDA_CUDA_CHECK(cudaEventRecord(s.draw[0].get(), ds));
    if (mode_ == DrawMode::kGaussian) {
        cuda::pda_normals(z_.get(), seed_, di_, b, ds);
        cuda::pda_gaussian_samples(s.samples.get(), z_.get(), means_.get(), factors_.get(), config_slot_.get(), di_, b,
                                   ds);
        if (clip_)
            cuda::pda_clip(s.samples.get(), lo_.get(), hi_.get(), b.count * b.samples, b.channels, b.kd * b.k * b.k,
                           ds);
    } else {
        PDA_CUDA_CHECK(cudaMemcpyAsync(s.samples.get(), s.host.data(),
                                       sizeof(float) * static_cast<size_t>(b.count * b.samples * b.patch()),
                                       cudaMemcpyHostToDevice, ds));
    }
    PDA_CUDA_CHECK(cudaEventRecord(s.draw[1].get(), ds));
    PDA_CUDA_CHECK(cudaStreamWaitEvent(stream(), s.draw[1].get(), 0));  // the paste reads the draw
    return s.samples.get();
}

}  // namespace

std::unique_ptr<PdaDevice> make_cuda_device(CudaContext& ctx, Precision precision) {
    return std::make_unique<CudaDevice>(ctx, precision);
}

namespace {

class CudaBackend final : public Backend {
  public:
    CudaBackend(int device, Precision precision)
        : index_(device),
          precision_(precision),
          ctx_(make_cuda_context(device)),
          device_(make_cuda_device(*ctx_, precision)) {}
    Device device() const override { return Device::cuda(index_); }
    Precision precision() const override { return precision_; }
    std::unique_ptr<Program> compile(const Graph& g, const std::vector<Shape>& shapes) override {
        CudaCompileOptions opt;
        opt.precision = precision_;
        return compile_cuda(g, shapes, *ctx_, opt);
    }
    PdaDevice& pda() override { return *device_; }

  private:
    int index_;
    Precision precision_;
    CudaContextPtr ctx_;
    std::unique_ptr<PdaDevice> device_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device, Precision precision) {
    if (precision == Precision::kWinograd) fail_input("--precision winograd runs on the CPU only");
    return std::make_unique<CudaBackend>(device, precision);
}

Explanation explain_cuda(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                         const ExplainParams& p, CudaContext& ctx, Precision precision, const ProgressFn& progress) {
    const std::unique_ptr<PdaDevice> dev = make_cuda_device(ctx, precision);
    return explain(g, out, x, sampler, p, *dev, progress);
}

}  // namespace pda
