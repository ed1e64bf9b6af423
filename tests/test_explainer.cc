// The PDA loop against closed forms and its invariances: a logistic model (Flatten → Gemm → Softmax)
// whose p(c|x\w), weight of evidence, logit activation difference and per-pixel maps are recomputed
// here in double for the marginal and occlusion samplers; identical maps whatever the batch size and
// thread count; hand-counted coverage for several strides; hidden-layer and logits maps of a small
// CNN; and clear input errors for bad parameters.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <random>

#include "engine/explainer.h"
#include "engine/linear_head.h"
#include "engine/program.h"
#include "engine/samplers.h"
#include "kernels/cpu/context.h"
#include "test_util.h"

namespace pda {
namespace {

Tensor random_tensor(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
    Tensor t(s);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = u(rng);
    return t;
}

using test::make_node;

Node gemm_node(const std::string& name, const std::string& in, const std::string& out) {
    Node n = make_node(name, OpType::kGemm, {in, name + ".w", name + ".b"}, out);
    n.alpha = n.beta = 1.f;
    n.trans_b = true;
    return n;
}

// x (1, C, H, W) → Flatten "f" → Gemm "z" (K logits) → Softmax "p". Output "p", or "z" when !softmax.
Graph logistic_graph(const Shape& x, int64_t K, bool softmax, uint32_t seed) {
    Graph g;
    g.name = "logistic";
    g.inputs = {{"x", x}};
    const int64_t d = x.numel();
    g.constants["fc.w"] = random_tensor(Shape{K, d}, seed, -0.3f, 0.3f);
    g.constants["fc.b"] = random_tensor(Shape{K}, seed + 1, -0.5f, 0.5f);
    Node flat = make_node("flat", OpType::kFlatten, {"x"}, "f");
    g.nodes = {flat, gemm_node("fc", "f", "z")};
    if (softmax) g.nodes.push_back(make_node("softmax", OpType::kSoftmax, {"z"}, "p"));
    g.outputs = {softmax ? "p" : "z"};
    return g;
}

// x (1, 3, H, W) → Conv "c" (4 maps, 3×3, pad 1) → Relu "r" → GAP "g" → Flatten "f" → Gemm "z" (5) →
// Softmax "p". fuse() folds the Relu into the Conv unless "c" is protected.
Graph cnn_graph(int64_t H, int64_t W, bool softmax) {
    Graph g;
    g.name = "cnn";
    g.inputs = {{"x", Shape{1, 3, H, W}}};
    g.constants["conv.w"] = random_tensor(Shape{4, 3, 3, 3}, 11, -0.5f, 0.5f);
    g.constants["conv.b"] = random_tensor(Shape{4}, 12, -0.2f, 0.2f);
    g.constants["fc.w"] = random_tensor(Shape{5, 4}, 13, -2.f, 2.f);
    g.constants["fc.b"] = random_tensor(Shape{5}, 14, -0.5f, 0.5f);
    Node conv = make_node("conv", OpType::kConv, {"x", "conv.w", "conv.b"}, "c");
    conv.geo = Geometry::square(2, 3, 1, 1);
    g.nodes = {conv, make_node("relu", OpType::kRelu, {"c"}, "r"),
               make_node("gap", OpType::kGlobalAveragePool, {"r"}, "g"),
               make_node("flat", OpType::kFlatten, {"g"}, "f"), gemm_node("fc", "f", "z")};
    if (softmax) g.nodes.push_back(make_node("softmax", OpType::kSoftmax, {"z"}, "p"));
    g.outputs = {softmax ? "p" : "z"};
    return g;
}

// ---- the closed form, in double ----------------------------------------------------------------

struct Reference {
    std::vector<double> we, ad, counts;  // (K, H, W), (K, H, W), (H, W)
};

std::vector<double> ref_logits(const Graph& g, const std::vector<double>& img) {
    const Tensor &w = g.constant("fc.w"), &b = g.constant("fc.b");
    const int64_t K = b.numel(), d = static_cast<int64_t>(img.size());
    std::vector<double> z(static_cast<size_t>(K));
    for (int64_t c = 0; c < K; ++c) {
        double s = b.data()[c];
        for (int64_t i = 0; i < d; ++i) s += static_cast<double>(w.data()[c * d + i]) * img[i];
        z[c] = s;
    }
    return z;
}

std::vector<double> ref_softmax(std::vector<double> z) {
    double m = *std::max_element(z.begin(), z.end()), sum = 0;
    for (double& v : z) sum += (v = std::exp(v - m));
    for (double& v : z) v /= sum;
    return z;
}

double ref_log2_odds(double p) { return std::log2(p / (1 - p)); }

// replacement(w) lists, per sample, the full image whose values at window w replace x's. x: an image
// (1, C, H, W) or a volume (1, C, D, H, W); the maps are (K, [D,] H, W) flattened.
Reference reference_pda(const Graph& g, const Tensor& x, const WindowGrid& grid, double N,
                        const std::function<std::vector<const float*>(int64_t)>& replacement) {
    const int rank = x.shape().rank;
    const int64_t C = x.shape()[1], D = rank == 5 ? x.shape()[2] : 1, H = x.shape()[rank - 2], W = x.shape()[rank - 1],
                  V = D * H * W, K = g.constant("fc.b").numel(), kd = grid.kd();
    std::vector<double> clean(x.data(), x.data() + x.numel());
    const std::vector<double> z0 = ref_logits(g, clean), p0 = ref_softmax(z0);
    Reference r;
    r.we.assign(static_cast<size_t>(K * V), 0.0);
    r.ad = r.we;
    r.counts.assign(static_cast<size_t>(V), 0.0);
    for (int64_t w = 0; w < grid.count(); ++w) {
        // The voxels of window w, as offsets into one channel.
        std::vector<int64_t> voxels;
        for (int64_t d = grid.slice(w); d < grid.slice(w) + kd; ++d)
            for (int64_t y = grid.row(w); y < grid.row(w) + grid.k; ++y)
                for (int64_t q = grid.col(w); q < grid.col(w) + grid.k; ++q) voxels.push_back((d * H + y) * W + q);
        std::vector<const float*> reps = replacement(w);
        std::vector<double> pm(static_cast<size_t>(K)), zm(static_cast<size_t>(K));
        for (const float* rep : reps) {
            std::vector<double> img = clean;
            for (int64_t c = 0; c < C; ++c)
                for (int64_t v : voxels) img[c * V + v] = rep ? rep[c * V + v] : 0.3;  // null: fill 0.3
            std::vector<double> z = ref_logits(g, img), p = ref_softmax(z);
            for (int64_t c = 0; c < K; ++c) {
                pm[c] += p[c] / static_cast<double>(reps.size());
                zm[c] += z[c] / static_cast<double>(reps.size());
            }
        }
        for (int64_t v : voxels) {
            r.counts[v] += 1;
            for (int64_t c = 0; c < K; ++c) {
                const double lap0 = (p0[c] * N + 1) / (N + K), lapw = (pm[c] * N + 1) / (N + K);
                r.we[c * V + v] += ref_log2_odds(lap0) - ref_log2_odds(lapw);
                r.ad[c * V + v] += z0[c] - zm[c];
            }
        }
    }
    for (int64_t c = 0; c < K; ++c)
        for (int64_t i = 0; i < V; ++i) {
            r.we[c * V + i] = r.counts[i] > 0 ? r.we[c * V + i] / r.counts[i] : 0.0;
            r.ad[c * V + i] = r.counts[i] > 0 ? r.ad[c * V + i] / r.counts[i] : 0.0;
        }
    return r;
}

double max_abs_diff(const Tensor& t, const std::vector<double>& ref) {
    EXPECT_EQ(t.numel(), static_cast<int64_t>(ref.size()));
    double m = 0;
    for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(static_cast<double>(t.data()[i]) - ref[i]));
    return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    EXPECT_EQ(a.shape(), b.shape());
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i)
        m = std::max(m, std::abs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i])));
    return m;
}

std::vector<Tensor> random_set(int n, const Shape& s, uint32_t seed) {
    std::vector<Tensor> set;
    for (int i = 0; i < n; ++i) set.push_back(random_tensor(s, seed + static_cast<uint32_t>(i)));
    return set;
}

TEST(ExplainerClosedForm, MarginalWithEverySampleImage) {
    // Three set images, one equal to x: every window uses the other two (S = 2), whatever the draw.
    const Shape shape{1, 2, 5, 6};
    Graph g = logistic_graph(shape, 3, true, 1);
    std::vector<Tensor> set = random_set(3, shape, 100);
    Tensor x = set[1].clone();
    const Tensor a = set[0].clone(), b = set[2].clone();
    auto sampler = make_marginal_sampler(std::move(set));
    ExplainParams p;
    p.k = 2;
    p.samples = 2;
    p.laplace_n = 1000;
    p.classes = ClassSelection::all();
    p.nodes = {"z"};
    p.batch = 7;  // 3 windows per batch: 20 windows end in a partial batch
    CpuContext ctx;
    Explanation e = explain_cpu(g, {"p", false}, x.view(), *sampler, p, ctx);
    Reference r = reference_pda(g, x, WindowGrid(5, 6, 2, 1), 1000, [&](int64_t) {
        return std::vector<const float*>{a.data(), b.data()};
    });
    EXPECT_EQ(e.windows, 20);
    EXPECT_EQ(e.batch, 6);
    EXPECT_EQ(e.forward_passes, 40);
    EXPECT_EQ(e.relevance.shape(), (Shape{3, 5, 6}));
    const double d_we = max_abs_diff(e.relevance, r.we), d_ad = max_abs_diff(e.node_maps.at("z"), r.ad);
    EXPECT_LT(d_we, 1e-6);
    EXPECT_LT(d_ad, 1e-6);
    EXPECT_LT(max_abs_diff(e.counts, r.counts), 1e-12);
    std::printf("closed form, marginal S = 2: max |WE − ref| = %.2e, max |AD(logits) − ref| = %.2e\n", d_we, d_ad);
}

TEST(ExplainerClosedForm, MarginalDrawnPerWindow) {
    // Six set images (x among them), S = 3 of the five others per window, as marginal_choice says.
    const Shape shape{1, 2, 6, 5};
    Graph g = logistic_graph(shape, 4, true, 2);
    std::vector<Tensor> set = random_set(6, shape, 200);
    Tensor x = set[4].clone();
    std::vector<const float*> eligible;
    std::vector<Tensor> kept;
    for (int i : {0, 1, 2, 3, 5}) kept.push_back(set[i].clone());
    for (const Tensor& t : kept) eligible.push_back(t.data());
    auto sampler = make_marginal_sampler(std::move(set));
    ExplainParams p;
    p.k = 3;
    p.stride = 2;
    p.samples = 3;
    p.seed = 9;
    p.classes = parse_classes("0,3");
    p.batch = 5;
    CpuContext ctx;
    Explanation e = explain_cpu(g, {"p", false}, x.view(), *sampler, p, ctx);
    const WindowGrid grid(6, 5, 3, 2);
    Reference r = reference_pda(g, x, grid, 100000, [&](int64_t w) {
        std::vector<const float*> reps;
        for (int64_t i : marginal_choice(9, w, 5, 3)) reps.push_back(eligible[i]);
        return reps;
    });
    ASSERT_EQ(e.classes, (std::vector<int64_t>{0, 3}));
    const int64_t plane = 30;
    std::vector<double> want(r.we.begin(), r.we.begin() + plane);
    want.insert(want.end(), r.we.begin() + 3 * plane, r.we.begin() + 4 * plane);
    const double d = max_abs_diff(e.relevance, want);
    EXPECT_LT(d, 1e-6);
    EXPECT_EQ(e.uncovered, 0);  // windows at rows 0, 2 and the border row 3 cover row 5
    std::printf("closed form, marginal 3 of 5 per window: max |WE − ref| = %.2e\n", d);
}

TEST(ExplainerClosedForm, Occlusion) {
    const Shape shape{1, 3, 5, 6};
    Graph g = logistic_graph(shape, 3, true, 3);
    Tensor x = random_tensor(shape, 300);
    auto sampler = make_occlusion_sampler(0.3f);
    ExplainParams p;
    p.k = 2;
    p.samples = 10;  // occlusion uses 1
    p.classes = ClassSelection::all();
    p.nodes = {"fc"};  // a node name: its output "z"
    p.batch = 4;
    CpuContext ctx;
    Explanation e = explain_cpu(g, {"p", false}, x.view(), *sampler, p, ctx);
    Reference r =
        reference_pda(g, x, WindowGrid(5, 6, 2, 1), 100000, [](int64_t) { return std::vector<const float*>{nullptr}; });
    EXPECT_EQ(e.samples_per_window, 1);
    const double d_we = max_abs_diff(e.relevance, r.we), d_ad = max_abs_diff(e.node_maps.at("fc"), r.ad);
    EXPECT_LT(d_we, 1e-6);
    EXPECT_LT(d_ad, 1e-6);
    std::printf("closed form, occlusion: max |WE − ref| = %.2e, max |AD − ref| = %.2e\n", d_we, d_ad);
}

// A volume (1, C, D, H, W): k × k × k windows, slices outer; stride 2 leaves the last window of
// each axis clamped flush with the far face.
TEST(ExplainerClosedForm, OcclusionVolume) {
    const Shape shape{1, 2, 5, 4, 6};
    Graph g = logistic_graph(shape, 3, true, 5);
    Tensor x = random_tensor(shape, 500);
    auto sampler = make_occlusion_sampler(0.3f);
    for (int64_t stride : {1, 2}) {
        ExplainParams p;
        p.k = 2;
        p.stride = stride;
        p.classes = ClassSelection::all();
        p.nodes = {"fc"};
        p.batch = 5;
        p.exec = Execution::kFull;
        CpuContext ctx;
        Explanation e = explain_cpu(g, {"p", false}, x.view(), *sampler, p, ctx);
        const WindowGrid grid(5, 4, 6, 2, stride);
        Reference r = reference_pda(g, x, grid, 100000, [](int64_t) { return std::vector<const float*>{nullptr}; });
        EXPECT_EQ(e.windows, grid.count());
        EXPECT_EQ(e.relevance.shape(), (Shape{3, 5, 4, 6}));
        EXPECT_EQ(e.counts.shape(), (Shape{5, 4, 6}));
        EXPECT_EQ(max_abs_diff(e.counts, r.counts), 0.0);
        EXPECT_EQ(e.uncovered, 0);
        const double d_we = max_abs_diff(e.relevance, r.we), d_ad = max_abs_diff(e.node_maps.at("fc"), r.ad);
        EXPECT_LT(d_we, 1e-5) << "stride " << stride;  // float sums over 240 inputs (the image tests: 30–90)
        EXPECT_LT(d_ad, 1e-5) << "stride " << stride;
        std::printf("closed form, occlusion, volume, stride %lld: %lld windows, max |WE − ref| = %.2e\n",
                    static_cast<long long>(stride), static_cast<long long>(grid.count()), d_we);
    }
}

TEST(ExplainerClosedForm, MarginalVolumeDrawnPerWindow) {
    const Shape shape{1, 1, 4, 5, 3};
    Graph g = logistic_graph(shape, 2, true, 6);
    Tensor x = random_tensor(shape, 600);
    std::vector<Tensor> set = random_set(6, shape, 610), kept;
    std::vector<const float*> eligible;
    for (const Tensor& t : set) kept.push_back(t.clone());
    for (const Tensor& t : kept) eligible.push_back(t.data());
    auto sampler = make_marginal_sampler(std::move(set));
    ExplainParams p;
    p.k = 3;
    p.samples = 4;
    p.seed = 9;
    p.classes = ClassSelection::all();
    p.batch = 8;
    p.exec = Execution::kFull;
    CpuContext ctx;
    Explanation e = explain_cpu(g, {"p", false}, x.view(), *sampler, p, ctx);
    Reference r = reference_pda(g, x, WindowGrid(4, 5, 3, 3, 1), 100000, [&](int64_t w) {
        std::vector<const float*> reps;
        for (int64_t i : marginal_choice(9, w, 6, 4)) reps.push_back(eligible[i]);
        return reps;
    });
    const double d = max_abs_diff(e.relevance, r.we);
    EXPECT_LT(d, 5e-6);  // float sums over 60 inputs in the GEMM kernel's order (7e-7 to 1.1e-6 seen)
    std::printf("closed form, marginal, volume: max |WE − ref| = %.2e\n", d);
}

// A small 3-D CNN: x (1, 2, 6, 5, 7) → Conv3d (4, 3³, pad 1) → Relu → MaxPool3d (2³) → GAP → Flatten →
// Gemm (3) → Softmax; its occlusion maps against one forward pass per window of a batch-1 program,
// weight of evidence in double here.
TEST(ExplainerVolume, Cnn3dOcclusionEqualsOneForwardPerWindow) {
    const Shape shape{1, 2, 6, 5, 7};
    Graph g;
    g.name = "cnn3d";
    g.inputs = {{"x", shape}};
    g.constants["conv.w"] = random_tensor(Shape{4, 2, 3, 3, 3}, 21, -0.5f, 0.5f);
    g.constants["conv.b"] = random_tensor(Shape{4}, 22, -0.2f, 0.2f);
    g.constants["fc.w"] = random_tensor(Shape{3, 4}, 23, -2.f, 2.f);
    g.constants["fc.b"] = random_tensor(Shape{3}, 24, -0.5f, 0.5f);
    Node conv = make_node("conv", OpType::kConv, {"x", "conv.w", "conv.b"}, "c");
    conv.geo = Geometry::square(3, 3, 1, 1);
    Node pool = make_node("pool", OpType::kMaxPool, {"r"}, "m");
    pool.geo = Geometry::square(3, 2, 2, 0);
    g.nodes = {conv,
               make_node("relu", OpType::kRelu, {"c"}, "r"),
               pool,
               make_node("gap", OpType::kGlobalAveragePool, {"m"}, "g"),
               make_node("flat", OpType::kFlatten, {"g"}, "f"),
               gemm_node("fc", "f", "z"),
               make_node("softmax", OpType::kSoftmax, {"z"}, "p")};
    g.outputs = {"p"};
    Tensor x = random_tensor(shape, 700);
    auto sampler = make_occlusion_sampler(0.f);
    ExplainParams p;
    p.k = 2;
    p.stride = 2;
    p.classes = ClassSelection::all();
    p.batch = 7;
    p.exec = Execution::kFull;
    CpuContext ctx;
    Explanation e = explain_cpu(g, {"p", false}, x.view(), *sampler, p, ctx);

    const WindowGrid grid(6, 5, 7, 2, 2);
    const int64_t V = 6 * 5 * 7, K = 3, N = 100000;
    std::unique_ptr<Program> one = compile_cpu(g, {shape}, ctx);
    auto probs = [&](const Tensor& img) {
        one->run({img.view()});
        const ConstTensorView out = one->value("p");
        return std::vector<double>(out.data, out.data + K);
    };
    const std::vector<double> p0 = probs(x);
    std::vector<double> we(static_cast<size_t>(K * V), 0.0), counts(static_cast<size_t>(V), 0.0);
    for (int64_t w = 0; w < grid.count(); ++w) {
        Tensor img = x.clone();
        std::vector<int64_t> voxels;
        for (int64_t d = grid.slice(w); d < grid.slice(w) + 2; ++d)
            for (int64_t y = grid.row(w); y < grid.row(w) + 2; ++y)
                for (int64_t q = grid.col(w); q < grid.col(w) + 2; ++q) voxels.push_back((d * 5 + y) * 7 + q);
        for (int64_t c = 0; c < 2; ++c)
            for (int64_t v : voxels) img.data()[c * V + v] = 0.f;
        const std::vector<double> pw = probs(img);
        for (int64_t v : voxels) {
            counts[v] += 1;
            for (int64_t c = 0; c < K; ++c) {
                const double a = (p0[c] * N + 1) / (N + K), b = (pw[c] * N + 1) / (N + K);
                we[c * V + v] += ref_log2_odds(a) - ref_log2_odds(b);
            }
        }
    }
    double scale = 0;
    for (int64_t c = 0; c < K; ++c)
        for (int64_t v = 0; v < V; ++v) {
            we[c * V + v] = counts[v] > 0 ? we[c * V + v] / counts[v] : 0.0;
            scale = std::max(scale, std::abs(we[c * V + v]));
        }
    ASSERT_GT(scale, 1e-3);
    EXPECT_EQ(e.relevance.shape(), (Shape{3, 6, 5, 7}));
    EXPECT_EQ(max_abs_diff(e.counts, counts), 0.0);
    const double d = max_abs_diff(e.relevance, we) / scale;
    EXPECT_LT(d, 1e-4);
    std::printf("3-D CNN, occlusion, %lld windows: max |WE − per-window forward| / max = %.2e\n",
                static_cast<long long>(grid.count()), d);
}

// A linear first layer runs as the exact update z = z₀ + W[:, window]·Δx (engine/linear_head.h): the
// same maps as full execution, for an image and a volume, with and without the Softmax after it.
TEST(ExplainerLinearHead, ExactUpdateEqualsFullExecution) {
    for (const Shape& shape : {Shape{1, 3, 7, 6}, Shape{1, 2, 5, 6, 4}})
        for (bool softmax : {true, false}) {
            Graph g = logistic_graph(shape, 3, softmax, 8);
            ASSERT_TRUE(find_linear_head(g, {}).has_value());
            Tensor x = random_tensor(shape, 800);
            std::vector<Tensor> set = random_set(5, shape, 810);
            auto sampler = make_marginal_sampler(std::move(set));
            auto run = [&](Execution exec) {
                ExplainParams p;
                p.k = 2;
                p.stride = 1;
                p.samples = 3;
                p.classes = ClassSelection::all();
                p.nodes = {"fc"};
                p.batch = 7;
                p.exec = exec;
                CpuContext ctx;
                return explain_cpu(g, {softmax ? "p" : "z", !softmax}, x.view(), *sampler, p, ctx);
            };
            const Explanation inc = run(Execution::kIncremental), full = run(Execution::kFull);
            double scale = 0;
            for (int64_t i = 0; i < full.relevance.numel(); ++i)
                scale = std::max(scale, std::abs(static_cast<double>(full.relevance.data()[i])));
            const double d = max_abs_diff(inc.relevance, full.relevance) / scale;
            const double d_node = max_abs_diff(inc.node_maps.at("fc"), full.node_maps.at("fc"));
            EXPECT_LT(d, 1e-5) << shape.str();
            EXPECT_LT(d_node, 1e-5) << shape.str();
            EXPECT_EQ(inc.forward_passes, full.forward_passes);
            std::printf("linear head %s %s: max |incremental − full| / max = %.2e\n", shape.str().c_str(),
                        softmax ? "softmax" : "logits", d);
        }
}

TEST(ExplainerLinearHead, FoundOnlyWhereTheUpdateIsExact) {
    const Shape shape{1, 2, 4, 4};
    Graph g = logistic_graph(shape, 3, true, 9);
    EXPECT_TRUE(find_linear_head(g, {"z"}).has_value());
    EXPECT_FALSE(find_linear_head(g, {"f"}).has_value());  // the flattened input is read after a run
    Graph t = logistic_graph(shape, 3, true, 9);
    t.nodes[1].trans_a = true;
    EXPECT_FALSE(find_linear_head(t, {}).has_value());
    Graph two = logistic_graph(shape, 3, true, 9);  // the input read by a second node
    two.nodes.push_back(make_node("again", OpType::kFlatten, {"x"}, "f2"));
    EXPECT_FALSE(find_linear_head(two, {}).has_value());
    Graph cnn = cnn_graph(6, 6, true);
    EXPECT_FALSE(find_linear_head(cnn, {}).has_value());
}

// The windows covering a pixel, as the CUDA accumulation gathers them, against the windows' own
// extents (every n, k, stride up to 12, the clamped last window included).
TEST(Windows, CoverListsExactlyTheWindowsOverAPixel) {
    for (int64_t n = 1; n <= 12; ++n)
        for (int64_t k = 1; k <= n; ++k)
            for (int64_t stride = 1; stride <= k + 2; ++stride) {
                const int64_t count = window_grid_extent(n, k, stride);
                for (int64_t px = 0; px < n; ++px) {
                    int64_t i0 = 0, i1 = 0;
                    window_cover(px, n, k, stride, &i0, &i1);
                    for (int64_t i = 0; i < count; ++i) {
                        const int64_t a = window_start(i, n, k, stride);
                        EXPECT_EQ(a <= px && px < a + k, i0 <= i && i <= i1)
                            << "n " << n << " k " << k << " stride " << stride << " pixel " << px << " window " << i;
                    }
                }
            }
}

// ---- invariances ---------------------------------------------------------------------------------

Explanation explain_cnn(int64_t batch, int threads, bool fuse = true, bool logits = false) {
    const int64_t H = 10, W = 9;
    Graph g = cnn_graph(H, W, !logits);
    const Shape shape{1, 3, H, W};
    std::vector<Tensor> set = random_set(6, shape, 400);
    Tensor x = random_tensor(shape, 500);
    auto sampler = make_marginal_sampler(std::move(set));
    ExplainParams p;
    p.k = 3;
    p.samples = 3;
    p.seed = 17;
    p.classes = ClassSelection::all();
    p.nodes = {"c", "r", "z"};
    p.batch = batch;
    p.fuse = fuse;
    CpuContext ctx;
    const int saved = omp_get_max_threads();
    if (threads > 0) omp_set_num_threads(threads);
    Explanation e = explain_cpu(g, {logits ? "z" : "p", logits}, x.view(), *sampler, p, ctx);
    omp_set_num_threads(saved);
    return e;
}

double max_map_diff(const Explanation& a, const Explanation& b) {
    double d = max_abs_diff(a.relevance, b.relevance);
    for (const auto& [name, t] : a.node_maps) d = std::max(d, max_abs_diff(t, b.node_maps.at(name)));
    return d;
}

TEST(ExplainerInvariance, BatchSizeAndThreads) {
    Explanation one = explain_cnn(1, 0), all = explain_cnn(1000, 0);
    Explanation t1 = explain_cnn(64, 1), t2 = explain_cnn(64, 2);
    EXPECT_EQ(one.batch, 3);       // one window per batch: the clean image runs alone first
    EXPECT_EQ(all.batch, 3 * 57);  // the whole image and its clean copy in one batch
    const double d_batch = max_map_diff(one, all), d_threads = max_map_diff(t1, t2);
    std::printf("batch 3 vs 171 images: max map difference %.3g; 1 vs 2 threads: %.3g\n", d_batch, d_threads);
    EXPECT_EQ(d_batch, 0.0);
    EXPECT_EQ(d_threads, 0.0);
}

std::vector<double> hand_counts(int64_t H, int64_t W, int64_t k, int64_t s) {
    auto cover = [&](int64_t n, int64_t y) {  // positions 0, s, 2s, … and n − k (METHOD.md §2)
        std::vector<int64_t> starts;
        for (int64_t r = 0; r + k <= n; r += s) starts.push_back(r);
        if (starts.back() != n - k) starts.push_back(n - k);
        int64_t c = 0;
        for (int64_t r : starts) c += (r <= y && y < r + k);
        return c;
    };
    std::vector<double> c(static_cast<size_t>(H * W));
    for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) c[y * W + x] = static_cast<double>(cover(H, y) * cover(W, x));
    return c;
}

TEST(ExplainerInvariance, CountsMatchHandCounts) {
    const Shape shape{1, 1, 7, 9};
    Graph g = logistic_graph(shape, 3, true, 4);
    Tensor x = random_tensor(shape, 600);
    CpuContext ctx;
    for (int64_t stride : {1, 2, 3, 4}) {
        auto sampler = make_occlusion_sampler(0.f);
        ExplainParams p;
        p.k = 3;
        p.stride = stride;
        p.batch = 5;
        Explanation e = explain_cpu(g, {"p", false}, x.view(), *sampler, p, ctx);
        std::vector<double> want = hand_counts(7, 9, 3, stride);
        EXPECT_EQ(max_abs_diff(e.counts, want), 0.0) << "stride " << stride;
        int64_t uncovered = 0;
        for (int64_t i = 0; i < 63; ++i)
            if (want[i] == 0) {
                ++uncovered;
                for (int64_t m = 0; m < 3; ++m) EXPECT_EQ(e.relevance.data()[m * 63 + i], 0.f);
            }
        EXPECT_EQ(e.uncovered, uncovered) << "stride " << stride;
        if (stride <= 3) {
            EXPECT_EQ(e.uncovered, 0) << "stride " << stride;  // border windows: no edge left out
        }
        if (stride == 1) {
            EXPECT_EQ(e.counts.data()[4 * 9 + 4], 9.f);  // interior: 3 window rows × 3 window cols
        } else if (stride == 3) {
            EXPECT_EQ(e.windows, 3 * 3);                 // rows 0, 3 and the border row 4; columns 0, 3, 6
            EXPECT_EQ(e.counts.data()[6 * 9 + 0], 1.f);  // row 6: only the border row of windows
            EXPECT_EQ(e.counts.data()[4 * 9 + 4], 2.f);  // rows starting 3 and 4 × the column starting 3
        } else if (stride == 4) {
            EXPECT_EQ(e.windows, 2 * 3);        // rows 0, 4; columns 0, 4 and the border column 6
            EXPECT_EQ(e.uncovered, 9 + 7 - 1);  // stride > k: row 3 and column 3 fall between windows
        }
    }
}

// ---- hidden layers and logits ------------------------------------------------------------------

TEST(ExplainerNodes, ConvAndLogitsMapsAreFiniteWithTheRightShapes) {
    Explanation e = explain_cnn(64, 0);
    ASSERT_EQ(e.node_maps.count("c"), 1u);
    EXPECT_EQ(e.node_maps.at("c").shape(), (Shape{4, 10, 9}));  // one map per feature map
    EXPECT_EQ(e.node_maps.at("r").shape(), (Shape{4, 10, 9}));
    EXPECT_EQ(e.node_maps.at("z").shape(), (Shape{5, 10, 9}));  // one map per logit
    double norm = 0;
    for (const auto& [name, t] : e.node_maps)
        for (int64_t i = 0; i < t.numel(); ++i) {
            ASSERT_TRUE(std::isfinite(t.data()[i])) << name;
            norm += std::abs(t.data()[i]);
        }
    EXPECT_GT(norm, 0.0);
    // "c" is the Conv output that fusion would fold into the ReLU: it must be the unfused value.
    Explanation plain = explain_cnn(64, 0, false);
    const double d = max_map_diff(e, plain);
    EXPECT_LT(d, 1e-5);
    std::printf("fused vs unfused graph: max map difference %.3g\n", d);
}

TEST(ExplainerNodes, LogitsOutputGetsWeightOfEvidenceThroughSoftmax) {
    Explanation probs = explain_cnn(64, 0, true, false), logits = explain_cnn(64, 0, true, true);
    const double d = max_abs_diff(probs.relevance, logits.relevance);
    EXPECT_LT(d, 1e-6);
    for (int64_t c = 0; c < 5; ++c) EXPECT_FLOAT_EQ(probs.probabilities[c], logits.probabilities[c]);
    std::printf("WE of the logits model vs explicit softmax: max difference %.3g\n", d);
}

// ---- bad input -----------------------------------------------------------------------------------

void expect_input_error(const std::function<void(ExplainParams&)>& change, const std::string& needle) {
    const Shape shape{1, 2, 5, 6};
    Graph g = logistic_graph(shape, 3, true, 5);
    std::vector<Tensor> set = random_set(3, shape, 700);
    Tensor x = set[0].clone();
    auto sampler = make_marginal_sampler(std::move(set));
    ExplainParams p;
    p.k = 2;
    p.samples = 2;
    change(p);
    CpuContext ctx;
    int64_t progress_calls = 0;
    try {
        explain_cpu(g, {"p", false}, x.view(), *sampler, p, ctx, [&](int64_t, int64_t) { ++progress_calls; });
        ADD_FAILURE() << "expected an input error mentioning '" << needle << "'";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_EQ(progress_calls, 0) << "the error came after work had started";
}

TEST(ExplainerBadInput, ClearInputErrors) {
    expect_input_error([](ExplainParams& p) { p.k = 6; }, "larger than the image");
    expect_input_error([](ExplainParams& p) { p.nodes = {"conv9"}; }, "unknown node 'conv9'");
    expect_input_error([](ExplainParams& p) { p.classes = parse_classes("1,3"); }, "unknown class id 3");
    // Class strings are parsed at the entry (pda/options.h) into a type the loop cannot misread.
    try {
        parse_classes("cat");
        ADD_FAILURE() << "classes 'cat' accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput);
        EXPECT_NE(std::string(e.what()).find("not a class id"), std::string::npos) << e.what();
    }
    expect_input_error([](ExplainParams& p) { p.samples = 0; }, "samples per window must be ≥ 1");
    expect_input_error([](ExplainParams& p) { p.stride = 0; }, "stride must be ≥ 1");
    expect_input_error([](ExplainParams& p) { p.laplace_n = 0; }, "laplace_n");
    expect_input_error([](ExplainParams& p) { p.samples = 3; }, "sample images other than the explained one");
}

TEST(ExplainerProgress, CalledPerBatchUpToAllWindows) {
    const Shape shape{1, 1, 6, 6};
    Graph g = logistic_graph(shape, 3, true, 6);
    Tensor x = random_tensor(shape, 800);
    auto sampler = make_occlusion_sampler();
    ExplainParams p;
    p.k = 2;
    p.batch = 10;  // 25 windows and the clean image, at most 10 per batch → 8 + clean, 9, 8
    CpuContext ctx;
    std::vector<int64_t> done;
    explain_cpu(g, {"p", false}, x.view(), *sampler, p, ctx, [&](int64_t d, int64_t total) {
        EXPECT_EQ(total, 25);
        done.push_back(d);
    });
    EXPECT_EQ(done, (std::vector<int64_t>{8, 17, 25}));
}

}  // namespace
}  // namespace pda
