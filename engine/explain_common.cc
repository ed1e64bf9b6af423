// Shared setup and finish of the CPU and CUDA PDA loops (see explain_common.h).
#include "engine/explain_common.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace pda {

double seconds_since(ExplainClock::time_point t0) {
    return std::chrono::duration<double>(ExplainClock::now() - t0).count();
}

namespace {

// A copy that fusion can reshape without touching the caller's graph. The constants are shared, not
// cloned: fuse() never writes a constant, it adds new ones (folded weights) and drops unread ones.
Graph copy_graph(const Graph& g) {
    Graph c;
    c.name = g.name;
    c.inputs = g.inputs;
    c.outputs = g.outputs;
    c.nodes = g.nodes;
    for (const auto& [name, t] : g.constants) c.constants.emplace(name, t.share());
    return c;
}

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

}  // namespace

// The explained classes in map order; top-N needs the clean probabilities.
std::vector<int64_t> resolve_classes(const ClassSelection& sel, const std::vector<float>& probs, int64_t K) {
    std::vector<int64_t> out;
    switch (sel.kind) {
        case ClassSelection::Kind::kAll:
            for (int64_t c = 0; c < K; ++c) out.push_back(c);
            break;
        case ClassSelection::Kind::kTop:
            if (sel.top < 1) fail_input("classes top" + std::to_string(sel.top) + ": need at least one class");
            for (int64_t c = 0; c < K; ++c) out.push_back(c);
            std::stable_sort(out.begin(), out.end(), [&](int64_t a, int64_t b) { return probs[a] > probs[b]; });
            out.resize(static_cast<size_t>(std::min(sel.top, K)));
            break;
        case ClassSelection::Kind::kIds: {
            std::set<int64_t> seen;
            for (int64_t c : sel.ids) {
                if (c < 0 || c >= K)
                    fail_input("unknown class id " + std::to_string(c) + ": the model has " + std::to_string(K) +
                               " classes (0.." + std::to_string(K - 1) + ")");
                if (!seen.insert(c).second) fail_input("class id " + std::to_string(c) + " is listed twice");
                out.push_back(c);
            }
            if (out.empty()) fail_input("classes: no class id given");
            break;
        }
    }
    return out;
}

// (maps, plane) sums over windows → mean per covered pixel, 0 where no window reached; shaped
// (maps, spatial...).
Tensor divide_by_counts(const std::vector<double>& sums, const std::vector<double>& counts, int64_t maps,
                        const Shape& spatial) {
    std::vector<int64_t> dims{maps};
    for (int i = 0; i < spatial.rank; ++i) dims.push_back(spatial[i]);
    Tensor t{Shape(dims)};
    const int64_t plane = spatial.numel();
    for (int64_t m = 0; m < maps; ++m)
        for (int64_t i = 0; i < plane; ++i)
            t.data()[m * plane + i] = counts[i] > 0 ? static_cast<float>(sums[m * plane + i] / counts[i]) : 0.f;
    return t;
}

void finish_explanation(Explanation& e, const ExplainSetup& s, const std::vector<double>& sums,
                        const std::vector<std::vector<double>>& node_sums, const std::vector<double>& counts, int64_t M,
                        int64_t batch, ExplainClock::time_point t_start) {
    const Shape spatial = s.spatial();
    e.relevance = divide_by_counts(sums, counts, M, spatial);
    for (size_t i = 0; i < s.nodes.size(); ++i)
        e.node_maps.emplace(s.nodes[i].name, divide_by_counts(node_sums[i], counts, s.nodes[i].units, spatial));
    e.counts = Tensor(spatial);
    for (int64_t i = 0; i < spatial.numel(); ++i) {
        e.counts.data()[i] = static_cast<float>(counts[i]);
        e.uncovered += counts[i] == 0;
    }
    e.windows = s.n_windows;
    e.samples_per_window = s.S;
    e.batch = batch;
    e.seconds_total = seconds_since(t_start);
}

Graph fused_copy(const Graph& g, const OutputSpec& out, const std::vector<NodeTarget>& nodes) {
    Graph fused = copy_graph(g);
    // fuse() never folds away a value that is a graph output, so protect the requested ones.
    fused.outputs.push_back(out.value);
    for (const NodeTarget& t : nodes) fused.outputs.push_back(t.value);
    fuse(fused);
    fused.outputs = g.outputs;
    return fused;
}

ExplainSetup prepare_explanation(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                                 const ExplainParams& p, Explanation& e) {
    validate_params(p);
    if (g.inputs.size() != 1)
        fail_input("graph '" + g.name + "' has " + std::to_string(g.inputs.size()) + " inputs; PDA needs exactly one");
    const int rank = x.shape.rank;
    if ((rank != 4 && rank != 5) || x.shape[0] != 1)
        fail_input("the image must be (1, C, H, W) or a volume (1, C, D, H, W), got " + x.shape.str());
    const Shape& gin = g.inputs[0].shape;
    if (gin.rank != rank)
        fail_input("graph input '" + g.inputs[0].name + "' is " + gin.str() + ", not " +
                   (rank == 4 ? "(N, C, H, W)" : "(N, C, D, H, W)"));
    for (int i = 1; i < rank; ++i)
        if (gin[i] > 0 && gin[i] != x.shape[i])
            fail_input("the " + std::string(rank == 4 ? "image" : "volume") + " is " + x.shape.str() +
                       " but the network expects " + gin.str());
    ExplainSetup s;
    s.C = x.shape[1];
    s.D = rank == 5 ? x.shape[2] : 1;
    s.H = x.shape[rank - 2];
    s.W = x.shape[rank - 1];
    s.grid = WindowGrid(s.D, s.H, s.W, p.k, p.stride);  // throws for k larger than the image
    s.n_windows = p.max_windows < 0 ? s.grid.count() : std::min(s.grid.count(), p.max_windows);

    s.shapes = infer_shapes(g, {x.shape});
    if (out.value.empty() || !s.shapes.count(out.value))
        fail_input("output value '" + out.value + "' is not in graph '" + g.name + "'");
    const Shape& out_shape = s.shapes.at(out.value);
    s.K = out_shape.numel() / std::max<int64_t>(out_shape.rank ? out_shape[0] : 1, 1);
    if (out_shape.rank < 1 || out_shape[0] != 1 || s.K < 2)
        fail_input("output '" + out.value + "' has shape " + out_shape.str() + "; expected (1, K) class scores, K ≥ 2");
    for (const std::string& n : p.nodes) {
        for (const NodeTarget& t : s.nodes)
            if (t.name == n) fail_input("node '" + n + "' is requested twice");
        s.nodes.push_back(resolve_node(g, s.shapes, n));
    }
    if (p.classes.kind == ClassSelection::Kind::kIds) resolve_classes(p.classes, {}, s.K);  // top-N later

    s.S = sampler.samples_per_window(p.samples);
    if (s.S < 1) fail_input("sampler '" + sampler.name() + "' gives " + std::to_string(s.S) + " samples per window");
    s.first_samples.resize(static_cast<size_t>(s.S * s.grid.block(s.C, 1, 0, 1).patch()));
    const ExplainClock::time_point t0 = ExplainClock::now();
    sampler.begin_image(x, s.grid, s.n_windows, p.seed);
    sampler.draw(0, 1, s.S, s.first_samples.data());  // a sampler that cannot serve S samples fails here
    e.seconds_sampling += seconds_since(t0);
    return s;
}

}  // namespace pda
