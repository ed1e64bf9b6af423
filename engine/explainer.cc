// The PDA loop (METHOD.md §1–2) in one place: validate, compile the network for whole-window
// batches, forward the clean image, then for every block of windows draw samples, paste them into
// the reused batch buffer, run the network, reduce the S outputs of each window to p(c|x\w) (and node
// means), turn them into weight of evidence / activation difference, add them to the per-pixel sums
// in window order, and restore the buffer. The per-element work is in kernels/cpu/pda_batch.cc.
#include "engine/explainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/program.h"
#include "kernels/cpu/pda_batch.h"
#include "kernels/pda_math.h"

namespace pda {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

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

// A deep copy (constants cloned), so that fusion never touches the caller's graph.
Graph copy_graph(const Graph& g) {
    Graph c;
    c.name = g.name;
    c.inputs = g.inputs;
    c.outputs = g.outputs;
    c.nodes = g.nodes;
    for (const auto& [name, t] : g.constants) c.constants.emplace(name, t.clone());
    return c;
}

// A value explained by activation difference: per image (units, spatial), one map per unit.
struct NodeTarget {
    std::string name;   // as requested
    std::string value;  // the value read from the program
    int64_t units = 0, spatial = 1;
    std::vector<double> clean;  // (units) summary of the clean image
};

NodeTarget resolve_node(const Graph& g, const std::map<std::string, Shape>& shapes, const std::string& name) {
    NodeTarget t;
    t.name = name;
    if (shapes.count(name)) {
        t.value = name;
    } else if (const Node* n = g.find_node(name)) {
        t.value = n->output;
    } else {
        std::string some;
        for (size_t i = 0; i < g.nodes.size() && i < 6; ++i) some += (i ? ", " : "") + g.nodes[i].output;
        fail_input("unknown node '" + name + "': no value or node of graph '" + g.name +
                   "' has that name (values: " + some + (g.nodes.size() > 6 ? ", ..." : "") + ")");
    }
    if (g.is_constant(t.value) || !g.producer(t.value))
        fail_input("node '" + name + "' is a constant or a graph input, not a computed value");
    const Shape& s = shapes.at(t.value);
    if (s.rank < 1 || s[0] != 1) fail_input("node '" + name + "' has shape " + s.str() + ", not a batch of images");
    t.units = s.rank >= 2 ? s[1] : 1;
    t.spatial = s.numel() / std::max<int64_t>(t.units, 1);  // conv-like: mean over h·w (·d)
    return t;
}

// "top3" (or topN), "all", or a comma-separated list of ids. Top-N needs the clean probabilities.
std::vector<int64_t> resolve_classes(const std::string& spec, const std::vector<float>& probs, int64_t K) {
    std::vector<int64_t> out;
    if (spec == "all") {
        for (int64_t c = 0; c < K; ++c) out.push_back(c);
        return out;
    }
    if (spec.rfind("top", 0) == 0) {
        std::string n = spec.substr(3);
        if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos || std::stoll(n) < 1)
            fail_input("classes '" + spec + "': expected top3 (or topN with 1 ≤ N < 10⁹), all, or ids like 281,285");
        const int64_t t = std::min<int64_t>(std::stoll(n), K);
        for (int64_t c = 0; c < K; ++c) out.push_back(c);
        std::stable_sort(out.begin(), out.end(), [&](int64_t a, int64_t b) { return probs[a] > probs[b]; });
        out.resize(t);
        return out;
    }
    std::stringstream ss(spec);
    std::string item;
    std::set<int64_t> seen;
    while (std::getline(ss, item, ',')) {
        if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos)
            fail_input("classes '" + spec + "': '" + item + "' is not a class id (expected top3, all, or ids)");
        const int64_t c = item.size() > 18 ? K : std::stoll(item);
        if (c >= K)
            fail_input("unknown class id " + item + ": the model has " + std::to_string(K) + " classes (0.." +
                       std::to_string(K - 1) + ")");
        if (!seen.insert(c).second) fail_input("class id " + item + " is listed twice");
        out.push_back(c);
    }
    if (out.empty()) fail_input("classes '" + spec + "' names no class");
    return out;
}

void validate_params(const ExplainParams& p) {
    if (p.k < 1) fail_input("window size k must be ≥ 1, got " + std::to_string(p.k));
    if (p.stride < 1) fail_input("stride must be ≥ 1, got " + std::to_string(p.stride));
    if (p.samples < 1) fail_input("samples per window must be ≥ 1, got " + std::to_string(p.samples));
    if (!(p.laplace_n > 0) || !std::isfinite(p.laplace_n))
        fail_input("laplace_n (training-set size N) must be a positive number, got " + std::to_string(p.laplace_n));
    if (p.batch < 0) fail_input("batch must be ≥ 0 (0 = from available memory), got " + std::to_string(p.batch));
    if (p.max_windows == 0 || p.max_windows < -1)
        fail_input("max_windows must be ≥ 1 or −1 (all), got " + std::to_string(p.max_windows));
}

// (maps, H, W) sums over windows → mean per covered pixel, 0 where no window reached.
Tensor divide_by_counts(const std::vector<double>& sums, const std::vector<double>& counts, int64_t maps, int64_t h,
                        int64_t w) {
    Tensor t(Shape{maps, h, w});
    const int64_t plane = h * w;
    for (int64_t m = 0; m < maps; ++m)
        for (int64_t i = 0; i < plane; ++i)
            t.data()[m * plane + i] = counts[i] > 0 ? static_cast<float>(sums[m * plane + i] / counts[i]) : 0.f;
    return t;
}

}  // namespace

Explanation explain_cpu(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                        const ExplainParams& p, CpuContext& ctx, const ProgressFn& progress) {
    const Clock::time_point t_start = Clock::now();
    Explanation e;

    // ---- validate everything before any heavy work ----------------------------------------------
    validate_params(p);
    if (g.inputs.size() != 1)
        fail_input("graph '" + g.name + "' has " + std::to_string(g.inputs.size()) + " inputs; PDA needs exactly one");
    if (x.shape.rank != 4 || x.shape[0] != 1) fail_input("the image must be (1, C, H, W), got " + x.shape.str());
    const Shape& gin = g.inputs[0].shape;
    if (gin.rank != 4) fail_input("graph input '" + g.inputs[0].name + "' is " + gin.str() + ", not (N, C, H, W)");
    for (int i = 1; i < 4; ++i)
        if (gin[i] > 0 && gin[i] != x.shape[i])
            fail_input("the image is " + x.shape.str() + " but the network expects " + gin.str());
    const int64_t C = x.shape[1], H = x.shape[2], W = x.shape[3];
    const WindowGrid grid(H, W, p.k, p.stride);  // throws for k larger than the image
    const int64_t n_windows = p.max_windows < 0 ? grid.count() : std::min(grid.count(), p.max_windows);

    const std::map<std::string, Shape> shapes = infer_shapes(g, {x.shape});
    if (out.value.empty() || !shapes.count(out.value))
        fail_input("output value '" + out.value + "' is not in graph '" + g.name + "'");
    const Shape& out_shape = shapes.at(out.value);
    const int64_t K = out_shape.numel() / std::max<int64_t>(out_shape.rank ? out_shape[0] : 1, 1);
    if (out_shape.rank < 1 || out_shape[0] != 1 || K < 2)
        fail_input("output '" + out.value + "' has shape " + out_shape.str() + "; expected (1, K) class scores, K ≥ 2");
    std::vector<NodeTarget> nodes;
    for (const std::string& n : p.nodes) {
        for (const NodeTarget& t : nodes)
            if (t.name == n) fail_input("node '" + n + "' is requested twice");
        nodes.push_back(resolve_node(g, shapes, n));
    }
    if (p.classes.rfind("top", 0) != 0) resolve_classes(p.classes, {}, K);  // ids checked now, top-N later

    const int64_t S = sampler.samples_per_window(p.samples);
    if (S < 1) fail_input("sampler '" + sampler.name() + "' gives " + std::to_string(S) + " samples per window");
    const int64_t patch = C * p.k * p.k;
    std::vector<float> samples(static_cast<size_t>(S * patch));
    {
        const Clock::time_point t0 = Clock::now();
        sampler.begin_image(x, grid, p.seed);
        sampler.draw(0, 1, S, samples.data());  // a sampler that cannot serve S samples fails here, early
        e.seconds_sampling += seconds_since(t0);
    }

    // ---- the network: a fused private copy where requested values stay readable ------------------
    const Clock::time_point t_compile = Clock::now();
    Graph fused;
    if (p.fuse) {
        fused = copy_graph(g);
        // fuse() never folds away a value that is a graph output, so protect the requested ones.
        fused.outputs.push_back(out.value);
        for (const NodeTarget& t : nodes) fused.outputs.push_back(t.value);
        fuse(fused);
        fused.outputs = g.outputs;
    }
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
    std::unique_ptr<Program> prog = compile_cpu(net, {batch_shape}, ctx, keep);
    e.seconds_compile = seconds_since(t_compile);

    // The batch buffer holds B clean copies; each block pastes its samples and restores them after.
    Tensor batch(batch_shape);
    const int64_t image_size = C * H * W;
    for (int64_t i = 0; i < B; ++i) std::memcpy(batch.data() + i * image_size, x.data, sizeof(float) * image_size);

    // ---- the clean image, through the same program as the resampled ones -------------------------
    Clock::time_point t0 = Clock::now();
    prog->run({batch.view()});
    e.seconds_network += seconds_since(t0);
    std::vector<float> p_clean(static_cast<size_t>(K));
    const float* clean_out = prog->value(out.value).data;
    if (out.logits)
        pda_softmax_row(clean_out, p_clean.data(), K);
    else
        std::copy(clean_out, clean_out + K, p_clean.begin());
    PdaBlock one_image;
    one_image.rows = {0};
    one_image.cols = {0};
    for (NodeTarget& t : nodes) {
        t.clean.resize(static_cast<size_t>(t.units));
        pda_reduce_units(prog->value(t.value).data, t.units, t.spatial, one_image, t.clean.data());
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

        // A last partial block runs the full batch: the images after nw·S are clean copies.
        t0 = Clock::now();
        prog->run({batch.view()});
        e.seconds_network += seconds_since(t0);

        t0 = Clock::now();
        pda_reduce_probabilities(prog->value(out.value).data, K, out.logits, block, p_marginal.data());
        pda_weight_of_evidence_block(p_clean.data(), p_marginal.data(), K, classes, p.laplace_n, block, we.data());
        pda_accumulate_block(sums.data(), M, we.data(), block);
        pda_accumulate_block(counts.data(), 1, ones.data(), block);
        for (size_t i = 0; i < nodes.size(); ++i) {
            const NodeTarget& t = nodes[i];
            node_mean.resize(static_cast<size_t>(nw * t.units));
            node_ad.resize(node_mean.size());
            pda_reduce_units(prog->value(t.value).data, t.units, t.spatial, block, node_mean.data());
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
    e.relevance = divide_by_counts(sums, counts, M, H, W);
    for (size_t i = 0; i < nodes.size(); ++i)
        e.node_maps.emplace(nodes[i].name, divide_by_counts(node_sums[i], counts, nodes[i].units, H, W));
    e.counts = Tensor(Shape{H, W});
    for (int64_t i = 0; i < plane; ++i) {
        e.counts.data()[i] = static_cast<float>(counts[i]);
        e.uncovered += counts[i] == 0;
    }
    e.windows = n_windows;
    e.samples_per_window = S;
    e.batch = B;
    e.seconds_total = seconds_since(t_start);
    return e;
}

}  // namespace pda
