// The PDA loop (METHOD.md §1–2), once for every backend, in named phases:
//   setup  — validate everything, begin the image in the sampler (explain_common.h);
//   plan   — a fused private copy of the network, the batch size in whole windows, the program;
//   clean  — the clean image through the same program, in the first batch's spare slot: p(c|x), node
//            values, the explained classes;
//   per batch of whole windows: sample (draw, paste) → run → reduce (S outputs of each window to
//            p(c|x\w) and node means, weight of evidence / activation difference) → accumulate
//            (per-pixel sums in window order) → restore the batch;
//   finish — sums / counts, maps back to the host.
// Batches alternate between two slots so that an asynchronous device (CUDA) draws and queues batch
// i + 1 while batch i runs; the host waits only for batch i − 1 (progress, timings).
#include "engine/explainer.h"

#include <algorithm>
#include <set>

#include "engine/explain_common.h"
#include "engine/memory.h"
#include "kernels/pda_math.h"

namespace pda {

Explanation explain(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler, const ExplainParams& p,
                    PdaDevice& dev, const ProgressFn& progress, ProgramCache* cache) {
    const ExplainClock::time_point t_start = ExplainClock::now();
    Explanation e;

    // ---- setup: everything checked before any heavy work --------------------------------------------
    ExplainSetup s = prepare_explanation(g, out, x, sampler, p, e);
    const int64_t C = s.C, K = s.K, S = s.S, n_windows = s.n_windows;
    const int64_t plane = s.D * s.H * s.W, image_size = C * plane, patch = s.grid.block(C, 1, 0, 1).patch();
    std::vector<NodeTarget>& nodes = s.nodes;

    // ---- plan: the network (a fused private copy where requested values stay readable), the batch ---
    const ExplainClock::time_point t_compile = ExplainClock::now();
    ProgramCache local;
    ProgramCache& pc = cache ? *cache : local;
    if (p.fuse && !pc.have_fused) {
        pc.fused = fused_copy(g, out, nodes);
        pc.have_fused = true;
    }
    const Graph& net = p.fuse ? pc.fused : g;
    std::set<std::string> keep{out.value};
    for (const NodeTarget& t : nodes) keep.insert(t.value);
    const DeviceArray<float> x_dev = device_upload(dev, x.data, image_size);  // before sizing the batch
    const bool same = pc.shape == x.shape && pc.k == p.k && pc.exec == p.exec;
    if (!same) {
        pc.program.reset();
        pc.have_limits = false;
        pc.shape = x.shape;
        pc.k = p.k;
        pc.exec = p.exec;
    }
    if (!pc.have_limits) {
        pc.limits = dev.batch_limits(net, x.shape, p.k, p.exec, keep);
        pc.have_limits = true;
    }
    const BatchLimits lim = pc.limits;
    auto refuse = [&](const std::string& what, int64_t n) {
        std::string need;
        if (lim.image_bytes > 0)
            need = " need " + format_bytes(lim.image_bytes * static_cast<double>(n)) + " (" +
                   format_bytes(lim.image_bytes) + " each)" +
                   (lim.memory_bytes > 0 ? ", more than the " + format_bytes(lim.memory_bytes) + " of memory available"
                                         : std::string()) +
                   ":";
        fail_input(what + need + " at most " + std::to_string(lim.most) + " images of graph '" + g.name + "' fit in " +
                   dev.name() + " memory");
    };
    if (lim.most < 1)
        fail_input("graph '" + g.name + "' does not fit in " + dev.name() + " memory even for one image" +
                   (lim.image_bytes > 0 ? " (" + format_bytes(lim.image_bytes) + ")" : std::string()));
    if (lim.most < S) refuse("--samples " + std::to_string(S) + ": the resampled images of one window", S);
    if (p.batch > lim.most) refuse("--batch " + std::to_string(p.batch) + ": its images", p.batch);
    // Whole windows per batch: at most what the memory (or --batch) allows, then evened out so that
    // the batches are as few as that allows and as small as they can be (100 windows at most 64 per
    // batch run as 51 + 51 images, not 64 + 64). The first batch also carries the clean image, in
    // the slot after its windows' images, so it holds one window fewer.
    const int64_t images = p.batch > 0 ? p.batch : lim.preferred;
    const int64_t wpb_most = std::min(n_windows + 1, std::max<int64_t>(1, images / S));
    const int64_t n_batches = (n_windows + 1 + wpb_most - 1) / wpb_most;
    int64_t wpb = (n_windows + 1 + n_batches - 1) / n_batches;
    const int64_t prog_images = lim.smooth ? std::min(next_smooth(wpb * S), std::max(lim.most, wpb * S)) : wpb * S;
    if (pc.program && pc.batch == prog_images && pc.program->rebind(x)) {
        ++pc.reused;
    } else {
        pc.program.reset();  // its memory first
        pc.program = dev.compile(net, x, p.k, prog_images, p.exec, keep);
        pc.batch = prog_images;
        ++pc.compiled;
    }
    BatchProgram* prog = pc.program.get();
    wpb = std::min(wpb, prog->batch() / S);  // lowered on out-of-memory
    if (wpb < 1)
        fail_input("graph '" + g.name + "': " + std::to_string(S) + " images of one window do not fit in " +
                   dev.name() + " memory");
    const int64_t B = wpb * S, prog_batch = prog->batch();
    dev.begin_sampling(sampler, n_windows, B, patch, p.seed);
    e.seconds_compile = seconds_since(t_compile);

    // The batch holds clean copies of x (one copied, then the copied range doubled); each batch
    // pastes its samples and restores them after. A program that takes the samples themselves has no
    // batch of images.
    const bool takes_samples = prog->takes_samples();
    float* batch = takes_samples ? nullptr : prog->input();  // (prog_batch, C, [D,] H, W)
    const int64_t image_bytes = static_cast<int64_t>(sizeof(float)) * image_size;
    if (!takes_samples) {
        dev.copy(batch, x_dev.get(), image_bytes);
        for (int64_t have = 1; have < prog_batch; have *= 2)
            dev.copy(batch + have * image_size, batch, image_bytes * std::min(have, prog_batch - have));
    }

    // ---- per batch of whole windows: sample → run → reduce → accumulate → restore ------------------
    // A batch's images past its windows' nw·S are clean copies; an incremental program gives them the
    // block's last window, where they are clean, so their crops are clean too.
    int64_t slot_w1[2] = {0, 0};
    bool pending[2] = {false, false};
    auto finish = [&](int slot) {  // waits for the batch in slot, adds its times, reports progress
        if (!pending[slot]) return;
        const BatchTimes t = dev.finish(slot);
        e.seconds_sampling += t.sampling;
        e.seconds_network += t.network;
        e.seconds_reduce += t.reduce;
        pending[slot] = false;
        if (progress) progress(slot_w1[slot], n_windows);
    };
    auto launch = [&](const PdaWindows& blk, int slot) {  // sample → run
        const float* drawn = dev.draw(blk, slot);
        dev.mark(slot, BatchPhase::kPaste);
        if (!takes_samples) dev.paste(batch, drawn, blk);
        dev.mark(slot, BatchPhase::kNetwork);
        if (takes_samples)
            prog->run_samples(blk, drawn);
        else
            prog->run(blk);
        dev.mark(slot, BatchPhase::kReduce);
    };

    // ---- clean: the clean image through the same program, in the first batch -----------------------
    // (alone when a batch holds one window only): p(c|x), node values, the explained classes.
    // (A program rounded up past B, BatchLimits::smooth, has spare slots: still at most wpb windows.)
    const int64_t nw0 = std::min({n_windows, wpb, (prog_batch - 1) / S}), clean_slot = nw0 * S;
    const PdaWindows blk0 = s.grid.block(C, S, 0, std::max<int64_t>(nw0, 1));
    ExplainClock::time_point t0 = ExplainClock::now();
    if (nw0 > 0) {
        launch(blk0, 0);
    } else {
        if (takes_samples)
            prog->run_samples(blk0, nullptr);
        else
            prog->run(blk0);  // nothing pasted: every image is clean
    }
    std::vector<float> p_clean(static_cast<size_t>(K));
    dev.download(p_clean.data(), prog->value(out.value) + clean_slot * K, static_cast<int64_t>(sizeof(float)) * K);
    if (nw0 == 0) e.seconds_network += seconds_since(t0);
    if (out.logits) pda_softmax_row(p_clean.data(), p_clean.data(), K);
    std::vector<DeviceArray<double>> node_clean;
    for (const NodeTarget& t : nodes) {
        node_clean.push_back(device_array<double>(dev, t.units));
        dev.unit_means(prog->value(t.value) + clean_slot * t.units * t.spatial, 1, t.units, t.spatial,
                       node_clean.back().get());
    }
    const std::vector<int64_t> classes = resolve_classes(p.classes, p_clean, K);
    const int64_t M = static_cast<int64_t>(classes.size());

    // ---- the loop's buffers ------------------------------------------------------------------------
    const DeviceArray<float> p_clean_dev = device_upload(dev, p_clean.data(), K);
    const DeviceArray<int64_t> classes_dev = device_upload(dev, classes.data(), M);
    const DeviceArray<float> softmax = device_array<float>(dev, out.logits ? B * K : 0);  // (B, K)
    const DeviceArray<double> p_marginal = device_array<double>(dev, wpb * K), we = device_array<double>(dev, wpb * M);
    int64_t max_units = 0;
    for (const NodeTarget& t : nodes) max_units = std::max(max_units, t.units);
    const DeviceArray<double> image_means = device_array<double>(dev, B * max_units);
    const DeviceArray<double> node_ad = device_array<double>(dev, wpb * max_units);
    const DeviceArray<double> sums = device_array<double>(dev, M * plane);
    dev.zero(sums.get(), static_cast<int64_t>(sizeof(double)) * M * plane);
    std::vector<DeviceArray<double>> node_sums;
    for (const NodeTarget& t : nodes) {
        node_sums.push_back(device_array<double>(dev, t.units * plane));
        dev.zero(node_sums.back().get(), static_cast<int64_t>(sizeof(double)) * t.units * plane);
    }

    auto reduce = [&](const PdaWindows& blk, int slot) {  // reduce → accumulate → restore
        const int64_t nw = blk.count;
        const float* probs = prog->value(out.value);  // (prog_batch, K)
        if (out.logits) {
            dev.softmax_rows(probs, softmax.get(), nw * S, K);
            probs = softmax.get();
        }
        dev.mean_probabilities(probs, K, blk, p_marginal.get());
        dev.weight_of_evidence(p_clean_dev.get(), p_marginal.get(), K, classes_dev.get(), M, p.laplace_n, nw, we.get());
        dev.accumulate(sums.get(), M, we.get(), blk);
        for (size_t i = 0; i < nodes.size(); ++i) {
            const NodeTarget& t = nodes[i];
            dev.unit_means(prog->value(t.value), nw * S, t.units, t.spatial, image_means.get());
            dev.activation_difference(image_means.get(), node_clean[i].get(), t.units, blk, node_ad.get());
            dev.accumulate(node_sums[i].get(), t.units, node_ad.get(), blk);
        }
        dev.mark(slot, BatchPhase::kRestore);
        if (!takes_samples) dev.restore(batch, x_dev.get(), blk);
        dev.mark(slot, BatchPhase::kDone);
        slot_w1[slot] = blk.w0 + nw;
        pending[slot] = true;
        e.forward_passes += nw * S;
    };
    int64_t nb = 0;
    if (nw0 > 0) {
        reduce(blk0, 0);
        nb = 1;
    }
    for (int64_t w0 = nw0; w0 < n_windows; w0 += wpb, ++nb) {
        const int slot = static_cast<int>(nb & 1);
        finish(slot);  // batch nb − 2; batch nb − 1 may still run
        const PdaWindows blk = s.grid.block(C, S, w0, std::min(wpb, n_windows - w0));
        launch(blk, slot);
        reduce(blk, slot);
    }
    finish(static_cast<int>(nb & 1));  // the older of the two in flight first
    finish(static_cast<int>((nb + 1) & 1));

    // ---- finish: sums / counts (counts in closed form on the host) ---------------------------------
    std::vector<double> counts(static_cast<size_t>(plane), 0.0);
    const PdaWindows all = s.grid.block(C, S, 0, n_windows);
    for (int64_t w = 0; w < n_windows; ++w)
        pda_accumulate_window(counts.data(), all, all.slice(w), all.row(w), all.col(w), 1.0);
    std::vector<double> host_sums(static_cast<size_t>(M * plane));
    dev.download(host_sums.data(), sums.get(), static_cast<int64_t>(sizeof(double)) * M * plane);
    std::vector<std::vector<double>> host_node_sums;
    for (size_t i = 0; i < nodes.size(); ++i) {
        host_node_sums.emplace_back(static_cast<size_t>(nodes[i].units * plane));
        dev.download(host_node_sums.back().data(), node_sums[i].get(),
                     static_cast<int64_t>(sizeof(double)) * nodes[i].units * plane);
    }
    e.classes = classes;
    e.probabilities = p_clean;
    e.num_classes = K;
    finish_explanation(e, s, host_sums, host_node_sums, counts, M, B, t_start);
    return e;
}

Explanation explain_cpu(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                        const ExplainParams& p, CpuContext& ctx, const ProgressFn& progress) {
    const std::unique_ptr<PdaDevice> dev = make_cpu_device(ctx);
    return explain(g, out, x, sampler, p, *dev, progress);
}

}  // namespace pda
