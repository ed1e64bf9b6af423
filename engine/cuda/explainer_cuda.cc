// The PDA loop on the device (engine/explainer_cuda.h), step for step engine/explainer.cc's: per block
// of windows draw (conditional: philox normals + mean + L·z in the CPU sampler's order; occlusion: a
// constant buffer; others: host draw, upload) on a sampling stream into one of two sample buffers, so
// that block i + 1 is drawn while block i runs; then on the main stream paste, run (incremental: each
// image's window written by a kernel from the block, engine/incremental_cuda.h; or full), reduce,
// WE / AD, accumulate, restore. The host only launches, waiting for batch i − 2 while batch i is
// queued (progress, device timings).
#include "engine/explainer_cuda.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "engine/explain_common.h"
#include "engine/incremental_cuda.h"
#include "engine/sampler_conditional.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/crop.h"
#include "kernels/cuda/pda_kernels.h"
#include "kernels/pda_math.h"

namespace pda {
namespace {

using Clock = ExplainClock;

// ---- device memory -------------------------------------------------------------------------------

// n elements of T on the device (at least one element allocated, so that the pointer is valid).
template <class T>
class DeviceArray {
  public:
    DeviceArray() = default;
    explicit DeviceArray(int64_t n) : buf_(sizeof(T) * static_cast<size_t>(std::max<int64_t>(n, 1))), n_(n) {}
    T* get() const { return static_cast<T*>(buf_.data()); }
    int64_t size() const { return n_; }

  private:
    cuda::DeviceBuffer buf_;
    int64_t n_ = 0;
};

// Copies host data to a new device array and waits, so that the host data may go away. Setup only.
template <class T>
DeviceArray<T> upload(const T* host, int64_t n, cudaStream_t stream) {
    DeviceArray<T> d(n);
    if (n > 0) {
        PDA_CUDA_CHECK(
            cudaMemcpyAsync(d.get(), host, sizeof(T) * static_cast<size_t>(n), cudaMemcpyHostToDevice, stream));
        PDA_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    return d;
}

template <class T>
std::vector<T> download(const T* device, int64_t n, cudaStream_t stream) {
    std::vector<T> h(static_cast<size_t>(n));
    if (n > 0) {
        PDA_CUDA_CHECK(
            cudaMemcpyAsync(h.data(), device, sizeof(T) * static_cast<size_t>(n), cudaMemcpyDeviceToHost, stream));
        PDA_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    return h;
}

double elapsed_s(const cuda::Event& a, const cuda::Event& b) {
    float ms = 0.f;
    PDA_CUDA_CHECK(cudaEventElapsedTime(&ms, a.get(), b.get()));
    return ms * 1e-3;
}

// How a batch's samples are made on the device.
enum class DrawMode {
    kConstant,  // occlusion: one constant, the sample buffer filled once
    kGaussian,  // conditional: mean + L·z per window, z from philox on the device
    kHost,      // any other sampler (marginal): Sampler::draw on the host, uploaded per batch
};

// The conditional sampler's per-image state on the device: every window's mean, one (di, di) L per
// configuration in use (transposed, (di, di) each), each window's configuration slot, the clip range.
struct GaussianOnDevice {
    int64_t di = 0;
    bool clip = false;
    DeviceArray<float> means, factors, lo, hi;
    DeviceArray<int32_t> slot;
};

GaussianOnDevice upload_gaussian(ConditionalSampler& s, int64_t n_windows, int64_t di, cudaStream_t stream) {
    GaussianOnDevice g;
    g.di = di;
    g.means = upload(s.window_mean(0), n_windows * di, stream);  // (windows, di), contiguous
    std::map<int64_t, int32_t> slot_of;
    std::vector<int32_t> slot(static_cast<size_t>(n_windows));
    std::vector<float> factors;
    for (int64_t w = 0; w < n_windows; ++w) {
        const int64_t cfg = s.window_config(w);
        auto it = slot_of.find(cfg);
        if (it == slot_of.end()) {
            const std::vector<double>& chol = s.config(cfg).chol;
            if (static_cast<int64_t>(chol.size()) != di * di)
                fail_internal("conditional sampler: configuration " + std::to_string(cfg) + " has a factor of " +
                              std::to_string(chol.size()) + " values, expected " + std::to_string(di * di));
            it = slot_of.emplace(cfg, static_cast<int32_t>(slot_of.size())).first;
            const size_t at = factors.size();
            factors.resize(at + static_cast<size_t>(di * di));
            for (int64_t i = 0; i < di; ++i)  // Lᵀ: factors[q·di + i] = L[i][q]
                for (int64_t q = 0; q < di; ++q)
                    factors[at + static_cast<size_t>(q * di + i)] = static_cast<float>(chol[i * di + q]);
        }
        slot[static_cast<size_t>(w)] = it->second;
    }
    g.factors = upload(factors.data(), static_cast<int64_t>(factors.size()), stream);
    g.slot = upload(slot.data(), n_windows, stream);
    g.clip = s.options().clip;
    if (g.clip) {
        g.lo = upload(s.model().min.data(), static_cast<int64_t>(s.model().min.size()), stream);
        g.hi = upload(s.model().max.data(), static_cast<int64_t>(s.model().max.size()), stream);
    }
    return g;
}

// Per in-flight batch: events around its phases on the main stream (paste | network | reduce |
// restore) and around its draw on the sampling stream (draw[0], draw[1]); `pasted` marks the end of
// the paste that read the batch's sample buffer, before which that buffer is not drawn into again.
struct BatchSlot {
    cuda::Event ev[5], draw[2], pasted;
    int64_t w1 = 0;
    bool pending = false;
};

}  // namespace

Explanation explain_cuda(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                         const ExplainParams& p, CudaContext& ctx, Precision precision, const ProgressFn& progress) {
    const Clock::time_point t_start = Clock::now();
    Explanation e;

    // ---- validate everything before any heavy work (as explain_cpu) -----------------------------
    ExplainSetup s = prepare_explanation(g, out, x, sampler, p, e);
    const int64_t C = s.C, H = s.H, W = s.W, K = s.K, S = s.S, n_windows = s.n_windows;
    const int64_t plane = H * W, image_size = C * H * W;
    const WindowGrid& grid = s.grid;
    std::vector<NodeTarget>& nodes = s.nodes;
    const int64_t patch = C * p.k * p.k;
    std::vector<float> host_samples = std::move(s.first_samples);
    DrawMode mode = DrawMode::kHost;
    auto* conditional = dynamic_cast<ConditionalSampler*>(&sampler);
    const float fill = host_samples[0];
    if (conditional)
        mode = DrawMode::kGaussian;
    else if (sampler.name() == "occlusion" &&
             std::all_of(host_samples.begin(), host_samples.end(), [fill](float v) { return v == fill; }))
        mode = DrawMode::kConstant;

    // ---- the network: a fused private copy where requested values stay readable ------------------
    PDA_CUDA_CHECK(cudaSetDevice(ctx.device));
    const cudaStream_t stream = ctx.stream();
    const Clock::time_point t_compile = Clock::now();
    Graph fused;
    if (p.fuse) fused = fused_copy(g, out, nodes);
    const Graph& net = p.fuse ? fused : g;
    CudaCompileOptions copt;
    copt.keep.insert(out.value);
    for (const NodeTarget& t : nodes) copt.keep.insert(t.value);
    copt.precision = precision;

    // Per-image device state first, so that the batch is sized from what is left.
    DeviceArray<float> x_dev = upload(x.data, image_size, stream);
    GaussianOnDevice gauss;
    if (mode == DrawMode::kGaussian) gauss = upload_gaussian(*conditional, n_windows, patch, stream);

    // Incremental (exact): each node recomputed only on its changed crop; full: every image in full.
    const bool incremental = p.exec == "incremental";
    const int64_t images = p.batch > 0   ? p.batch
                           : incremental ? cuda_incremental_max_batch(net, x.shape, p.k, ctx, copt.keep)
                                         : cuda_max_batch(net, x.shape, ctx);
    if (images < 1) fail_input("graph '" + g.name + "' does not fit in free device memory even for one image");
    int64_t wpb = std::min(n_windows, std::max<int64_t>(1, images / S));  // whole windows per batch
    FittedProgram fitted;
    FittedIncremental fitted_inc;
    if (incremental)
        fitted_inc = compile_cuda_incremental_fitting(net, x, p.k, wpb * S, ctx, copt);
    else
        fitted = compile_cuda_fitting(net, x.shape, wpb * S, ctx, copt);
    const int64_t fitted_batch = incremental ? fitted_inc.batch : fitted.batch;
    if (fitted_batch < wpb * S) wpb = fitted_batch / S;  // lowered on out-of-memory
    if (wpb < 1)
        fail_input("graph '" + g.name + "': " + std::to_string(S) +
                   " images of one window do not fit in device memory");
    CudaProgram* prog = fitted.program.get();
    CudaIncrementalProgram* inc = fitted_inc.program.get();
    const int64_t B = wpb * S, prog_batch = incremental ? inc->batch() : prog->batch();
    // Each image's window (top row, left column) for the incremental program, written on the device.
    DeviceArray<int32_t> image_rows(incremental ? prog_batch : 0), image_cols(incremental ? prog_batch : 0);
    auto run_network = [&] {
        if (incremental)
            inc->run_device(image_rows.get(), image_cols.get());
        else
            prog->run_device();
    };
    auto device_value = [&](const std::string& v) {
        return incremental ? inc->device_value(v).data : prog->device_value(v).data;
    };
    e.seconds_compile = seconds_since(t_compile);

    // ---- device buffers of the loop --------------------------------------------------------------
    float* batch = incremental ? inc->device_input().data : prog->device_input(0).data;  // (prog_batch, C, H, W)
    // Samples are drawn on their own stream into one of two buffers (block nb uses nb & 1), so that
    // drawing block nb + 1 overlaps the network of block nb; occlusion fills one buffer once.
    DeviceArray<float> samples[2] = {DeviceArray<float>(B * patch),  // (wpb, S, C, k, k)
                                     DeviceArray<float>(mode == DrawMode::kConstant ? 0 : B * patch)};
    cuda::Stream draw_stream = cuda::make_stream();
    const cudaStream_t dstream = draw_stream.get();
    DeviceArray<float> z(mode == DrawMode::kGaussian ? B * patch : 0);
    DeviceArray<float> softmax(out.logits ? B * K : 0);  // (B, K)
    DeviceArray<double> p_marginal(wpb * K);
    int64_t max_units = 0;
    for (const NodeTarget& t : nodes) max_units = std::max(max_units, t.units);
    DeviceArray<double> image_means(B * max_units), node_ad(wpb * max_units);
    if (mode == DrawMode::kConstant) cuda::pda_fill(samples[0].get(), fill, B * patch, stream);

    // The batch buffer holds clean copies of x: copy one, then double the copied range.
    const size_t image_bytes = sizeof(float) * static_cast<size_t>(image_size);
    PDA_CUDA_CHECK(cudaMemcpyAsync(batch, x_dev.get(), image_bytes, cudaMemcpyDeviceToDevice, stream));
    for (int64_t have = 1; have < prog_batch; have *= 2)
        PDA_CUDA_CHECK(cudaMemcpyAsync(batch + have * image_size, batch,
                                       image_bytes * static_cast<size_t>(std::min(have, prog_batch - have)),
                                       cudaMemcpyDeviceToDevice, stream));

    // ---- the clean image, through the same program as the resampled ones -------------------------
    // Incremental: every image names window (0, 0) and is clean there, so its crops are the clean values.
    if (incremental) {
        const size_t bytes = sizeof(int32_t) * static_cast<size_t>(prog_batch);
        PDA_CUDA_CHECK(cudaMemsetAsync(image_rows.get(), 0, bytes, stream));
        PDA_CUDA_CHECK(cudaMemsetAsync(image_cols.get(), 0, bytes, stream));
    }
    cuda::Event clean0 = cuda::make_event(), clean1 = cuda::make_event();
    PDA_CUDA_CHECK(cudaEventRecord(clean0.get(), stream));
    run_network();
    PDA_CUDA_CHECK(cudaEventRecord(clean1.get(), stream));
    std::vector<float> p_clean = download(device_value(out.value), K, stream);  // image 0
    e.seconds_network += elapsed_s(clean0, clean1);
    if (out.logits) pda_softmax_row(p_clean.data(), p_clean.data(), K);
    std::vector<DeviceArray<double>> node_clean;
    for (const NodeTarget& t : nodes) {
        node_clean.emplace_back(t.units);
        cuda::pda_unit_means(device_value(t.value), 1, t.units, t.spatial, node_clean.back().get(), stream);
    }
    const std::vector<int64_t> classes = resolve_classes(p.classes, p_clean, K);
    const int64_t M = static_cast<int64_t>(classes.size());
    DeviceArray<float> p_clean_dev = upload(p_clean.data(), K, stream);
    DeviceArray<int64_t> classes_dev = upload(classes.data(), M, stream);
    DeviceArray<double> we(wpb * M), sums(M * plane);
    PDA_CUDA_CHECK(cudaMemsetAsync(sums.get(), 0, sizeof(double) * static_cast<size_t>(M * plane), stream));
    std::vector<DeviceArray<double>> node_sums;
    for (const NodeTarget& t : nodes) {
        node_sums.emplace_back(t.units * plane);
        PDA_CUDA_CHECK(
            cudaMemsetAsync(node_sums.back().get(), 0, sizeof(double) * static_cast<size_t>(t.units * plane), stream));
    }

    // ---- the loop over blocks of whole windows ---------------------------------------------------
    cuda::PdaWindows blk;
    blk.channels = C;
    blk.height = H;
    blk.width = W;
    blk.k = p.k;
    blk.stride = p.stride;
    blk.rows = grid.rows();
    blk.cols = grid.cols();
    blk.samples = S;
    host_samples.resize(static_cast<size_t>(B * patch));
    cuda::Event uploaded = cuda::make_event();
    bool upload_pending = false;
    BatchSlot slots[2];
    for (BatchSlot& s : slots) {
        for (cuda::Event& ev : s.ev) ev = cuda::make_event();
        for (cuda::Event& ev : s.draw) ev = cuda::make_event();
        s.pasted = cuda::make_event();
    }
    // Waits for a batch, adds its device times and reports progress. Sampling: its draw on the
    // sampling stream (overlapping another batch's network), paste and restore.
    auto finish = [&](BatchSlot& s) {
        if (!s.pending) return;
        PDA_CUDA_CHECK(cudaEventSynchronize(s.ev[4].get()));
        if (mode != DrawMode::kConstant) e.seconds_sampling += elapsed_s(s.draw[0], s.draw[1]);
        e.seconds_sampling += elapsed_s(s.ev[0], s.ev[1]) + elapsed_s(s.ev[3], s.ev[4]);
        e.seconds_network += elapsed_s(s.ev[1], s.ev[2]);
        e.seconds_reduce += elapsed_s(s.ev[2], s.ev[3]);
        s.pending = false;
        if (progress) progress(s.w1, n_windows);
    };

    int64_t nb = 0;
    for (int64_t w0 = 0; w0 < n_windows; w0 += wpb, ++nb) {
        BatchSlot& slot = slots[nb & 1];
        finish(slot);  // batch nb − 2; batch nb − 1 stays queued
        const int64_t w1 = std::min(n_windows, w0 + wpb), nw = w1 - w0;
        blk.w0 = w0;
        blk.count = nw;
        if (mode == DrawMode::kHost) {
            // The previous upload must have left the host buffer before it is drawn into again. The
            // host draws while the device still runs the previous batch.
            if (upload_pending) PDA_CUDA_CHECK(cudaEventSynchronize(uploaded.get()));
            const Clock::time_point t0 = Clock::now();
            sampler.draw(w0, w1, S, host_samples.data());
            e.seconds_sampling += seconds_since(t0);
        }
        float* drawn = samples[mode == DrawMode::kConstant ? 0 : nb & 1].get();
        if (mode != DrawMode::kConstant) {
            // On the sampling stream, once the paste of block nb − 2 has read this buffer.
            PDA_CUDA_CHECK(cudaStreamWaitEvent(dstream, slot.pasted.get(), 0));
            PDA_CUDA_CHECK(cudaEventRecord(slot.draw[0].get(), dstream));
            if (mode == DrawMode::kGaussian) {
                cuda::pda_normals(z.get(), p.seed, gauss.di, blk, dstream);
                cuda::pda_gaussian_samples(drawn, z.get(), gauss.means.get(), gauss.factors.get(), gauss.slot.get(),
                                           gauss.di, blk, dstream);
                if (gauss.clip) cuda::pda_clip(drawn, gauss.lo.get(), gauss.hi.get(), nw * S, C, p.k * p.k, dstream);
            } else {
                PDA_CUDA_CHECK(cudaMemcpyAsync(drawn, host_samples.data(),
                                               sizeof(float) * static_cast<size_t>(nw * S * patch),
                                               cudaMemcpyHostToDevice, dstream));
                PDA_CUDA_CHECK(cudaEventRecord(uploaded.get(), dstream));
                upload_pending = true;
            }
            PDA_CUDA_CHECK(cudaEventRecord(slot.draw[1].get(), dstream));
            PDA_CUDA_CHECK(cudaStreamWaitEvent(stream, slot.draw[1].get(), 0));  // the paste reads the draw
        }
        PDA_CUDA_CHECK(cudaEventRecord(slot.ev[0].get(), stream));
        cuda::pda_paste(batch, drawn, blk, stream);
        PDA_CUDA_CHECK(cudaEventRecord(slot.pasted.get(), stream));
        PDA_CUDA_CHECK(cudaEventRecord(slot.ev[1].get(), stream));

        // A last partial block runs the full batch: the images after nw·S are clean copies (of the
        // block's last window, for the incremental program's crops).
        if (incremental) cuda::crop_window_positions(image_rows.get(), image_cols.get(), prog_batch, blk, stream);
        run_network();
        PDA_CUDA_CHECK(cudaEventRecord(slot.ev[2].get(), stream));

        const float* probs = device_value(out.value);  // (prog_batch, K)
        if (out.logits) {
            cuda::pda_softmax_rows(probs, softmax.get(), nw * S, K, stream);
            probs = softmax.get();
        }
        cuda::pda_mean_probabilities(probs, K, blk, p_marginal.get(), stream);
        cuda::pda_weight_of_evidence(p_clean_dev.get(), p_marginal.get(), K, classes_dev.get(), M, p.laplace_n, nw,
                                     we.get(), stream);
        cuda::pda_accumulate(sums.get(), M, we.get(), blk, stream);
        for (size_t i = 0; i < nodes.size(); ++i) {
            const NodeTarget& t = nodes[i];
            cuda::pda_unit_means(device_value(t.value), nw * S, t.units, t.spatial, image_means.get(), stream);
            cuda::pda_activation_difference(image_means.get(), node_clean[i].get(), t.units, blk, node_ad.get(),
                                            stream);
            cuda::pda_accumulate(node_sums[i].get(), t.units, node_ad.get(), blk, stream);
        }
        PDA_CUDA_CHECK(cudaEventRecord(slot.ev[3].get(), stream));
        cuda::pda_restore(batch, x_dev.get(), blk, stream);
        PDA_CUDA_CHECK(cudaEventRecord(slot.ev[4].get(), stream));
        slot.w1 = w1;
        slot.pending = true;
        e.forward_passes += nw * S;
    }
    finish(slots[nb & 1]);  // the older of the two in flight first
    finish(slots[(nb + 1) & 1]);

    // ---- sums / counts: counts in closed form on the host, as the CPU counts them ------------------
    std::vector<double> counts(static_cast<size_t>(plane), 0.0);
    for (int64_t w = 0; w < n_windows; ++w) pda_accumulate_window(counts.data(), W, p.k, grid.row(w), grid.col(w), 1.0);
    e.classes = classes;
    e.probabilities = p_clean;
    e.num_classes = K;
    std::vector<std::vector<double>> node_host;
    for (size_t i = 0; i < nodes.size(); ++i)
        node_host.push_back(download(node_sums[i].get(), nodes[i].units * plane, stream));
    finish_explanation(e, s, download(sums.get(), M * plane, stream), node_host, counts, M, B, t_start);
    return e;
}

}  // namespace pda
