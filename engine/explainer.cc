// The PDA loop (METHOD.md §1–2) in one place: validate, compile the network for whole-window
// batches, forward the clean image, then for every block of windows draw samples, paste them into
// the reused batch buffer, run the network, reduce the S outputs of each window to p(c|x\w) (and node
// means), turn them into weight of evidence / activation difference, add them to the per-pixel sums
// in window order, and restore the buffer. The per-element work is in kernels/cpu/pda_batch.cc; the
// network runs in full or, by default, incrementally (engine/incremental_cpu.h, exact).
#include "engine/explainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>

#include "engine/explain_common.h"
#include "engine/incremental_cpu.h"
#include "engine/program.h"
#include "kernels/cpu/pda_batch.h"
#include "kernels/pda_math.h"

namespace pda {
namespace {

using Clock = ExplainClock;

// Resampled images per batch when the caller leaves it to us: a quarter of MemAvailable over the
// memory one image needs, at most this many: on the CPU, batches of a few dozen images run
// 1.5–1.7× faster than 250 (SqueezeNet, AlexNet; larger batches only leave the caches).
constexpr int64_t kMaxAutoBatch = 64;

int64_t available_memory_bytes() {
    std::ifstream f("/proc/meminfo");
    std::string key, unit;
    int64_t kb = 0;
    while (f >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return int64_t{1} << 32;  // unknown: assume 4 GiB
}

}  // namespace

Explanation explain_cpu(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                        const ExplainParams& p, CpuContext& ctx, const ProgressFn& progress) {
    const Clock::time_point t_start = Clock::now();
    Explanation e;

    // ---- validate everything before any heavy work ----------------------------------------------
    ExplainSetup s = prepare_explanation(g, out, x, sampler, p, e);
    const int64_t C = s.C, H = s.H, W = s.W, K = s.K, S = s.S, n_windows = s.n_windows;
    const WindowGrid& grid = s.grid;
    std::vector<NodeTarget>& nodes = s.nodes;
    const int64_t patch = C * p.k * p.k;
    std::vector<float> samples = std::move(s.first_samples);

    // ---- the network: a fused private copy where requested values stay readable ------------------
    const Clock::time_point t_compile = Clock::now();
    Graph fused;
    if (p.fuse) fused = fused_copy(g, out, nodes);
    const Graph& net = p.fuse ? fused : g;
    CompileOptions keep;
    keep.keep.insert(out.value);
    for (const NodeTarget& t : nodes) keep.keep.insert(t.value);

    int64_t images = p.batch;
    if (images == 0) {
        std::unique_ptr<Program> one = compile_cpu(net, {x.shape}, ctx, keep);
        const int64_t per_image = one->activation_bytes() + 2 * C * H * W * static_cast<int64_t>(sizeof(float));
        images = std::clamp<int64_t>(available_memory_bytes() / 4 / std::max<int64_t>(per_image, 1), 1, kMaxAutoBatch);
    }
    const int64_t wpb = std::min(n_windows, std::max<int64_t>(1, images / S));  // whole windows per batch
    const int64_t B = wpb * S;
    const Shape batch_shape{B, C, H, W};
    // Incremental: the same batches, each node recomputed only on its changed crop (exact).
    const bool incremental = p.exec == "incremental";
    std::unique_ptr<Program> prog;
    std::unique_ptr<IncrementalProgram> inc;
    if (incremental)
        inc = std::make_unique<IncrementalProgram>(net, x, p.k, B, ctx, keep.keep);
    else
        prog = compile_cpu(net, {batch_shape}, ctx, keep);
    std::vector<int64_t> image_rows(static_cast<size_t>(B), 0), image_cols(static_cast<size_t>(B), 0);
    auto run_batch = [&](const float* images) {
        if (incremental)
            inc->run(images, image_rows, image_cols);
        else
            prog->run({ConstTensorView(images, batch_shape)});
    };
    auto value = [&](const std::string& v) { return incremental ? inc->value(v) : prog->value(v); };
    e.seconds_compile = seconds_since(t_compile);

    // The batch buffer holds B clean copies; each block pastes its samples and restores them after.
    Tensor batch(batch_shape);
    const int64_t image_size = C * H * W;
    for (int64_t i = 0; i < B; ++i) std::memcpy(batch.data() + i * image_size, x.data, sizeof(float) * image_size);

    // ---- the clean image, through the same program as the resampled ones -------------------------
    Clock::time_point t0 = Clock::now();
    run_batch(batch.data());
    e.seconds_network += seconds_since(t0);
    std::vector<float> p_clean(static_cast<size_t>(K));
    const float* clean_out = value(out.value).data;
    if (out.logits)
        pda_softmax_row(clean_out, p_clean.data(), K);
    else
        std::copy(clean_out, clean_out + K, p_clean.begin());
    PdaBlock one_image;
    one_image.rows = {0};
    one_image.cols = {0};
    for (NodeTarget& t : nodes) {
        t.clean.resize(static_cast<size_t>(t.units));
        pda_reduce_units(value(t.value).data, t.units, t.spatial, one_image, t.clean.data());
    }
    const std::vector<int64_t> classes = resolve_classes(p.classes, p_clean, K);
    const int64_t M = static_cast<int64_t>(classes.size());

    // ---- the loop over blocks of whole windows ---------------------------------------------------
    const int64_t plane = H * W;
    std::vector<double> sums(static_cast<size_t>(M * plane)), counts(static_cast<size_t>(plane));
    std::vector<std::vector<double>> node_sums(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) node_sums[i].assign(static_cast<size_t>(nodes[i].units * plane), 0.0);
    samples.resize(static_cast<size_t>(B * patch));
    std::vector<double> p_marginal(static_cast<size_t>(wpb * K)), we(static_cast<size_t>(wpb * M)), ones(wpb, 1.0);
    std::vector<double> node_mean, node_ad;
    PdaBlock block;
    block.channels = C;
    block.height = H;
    block.width = W;
    block.k = p.k;
    block.samples = S;

    for (int64_t w0 = 0; w0 < n_windows; w0 += wpb) {
        const int64_t w1 = std::min(n_windows, w0 + wpb), nw = w1 - w0;
        block.rows.resize(nw);
        block.cols.resize(nw);
        for (int64_t j = 0; j < nw; ++j) {
            block.rows[j] = grid.row(w0 + j);
            block.cols[j] = grid.col(w0 + j);
        }
        t0 = Clock::now();
        sampler.draw(w0, w1, S, samples.data());
        pda_fill_batch(batch.data(), samples.data(), block);
        e.seconds_sampling += seconds_since(t0);

        // A last partial block runs the full batch: the images after nw·S are clean copies (of the
        // last window, for the incremental executor's crops).
        for (int64_t i = 0; i < B; ++i) {
            const int64_t j = std::min(i / S, nw - 1);
            image_rows[i] = block.rows[j];
            image_cols[i] = block.cols[j];
        }
        t0 = Clock::now();
        run_batch(batch.data());
        e.seconds_network += seconds_since(t0);

        t0 = Clock::now();
        pda_reduce_probabilities(value(out.value).data, K, out.logits, block, p_marginal.data());
        pda_weight_of_evidence_block(p_clean.data(), p_marginal.data(), K, classes, p.laplace_n, block, we.data());
        pda_accumulate_block(sums.data(), M, we.data(), block);
        pda_accumulate_block(counts.data(), 1, ones.data(), block);
        for (size_t i = 0; i < nodes.size(); ++i) {
            const NodeTarget& t = nodes[i];
            node_mean.resize(static_cast<size_t>(nw * t.units));
            node_ad.resize(node_mean.size());
            pda_reduce_units(value(t.value).data, t.units, t.spatial, block, node_mean.data());
            for (int64_t j = 0; j < nw; ++j)  // AD = z(x) − mean_s z(x̃_s); no Laplace, no log
                for (int64_t u = 0; u < t.units; ++u)
                    node_ad[j * t.units + u] = t.clean[u] - node_mean[j * t.units + u];
            pda_accumulate_block(node_sums[i].data(), t.units, node_ad.data(), block);
        }
        e.seconds_reduce += seconds_since(t0);

        t0 = Clock::now();
        pda_restore_batch(batch.data(), x.data, block);
        e.seconds_sampling += seconds_since(t0);
        e.forward_passes += nw * S;
        if (progress) progress(w1, n_windows);
    }

    // ---- sums / counts ---------------------------------------------------------------------------
    e.classes = classes;
    e.probabilities = p_clean;
    e.num_classes = K;
    finish_explanation(e, s, sums, node_sums, counts, M, B, t_start);
    return e;
}

}  // namespace pda
