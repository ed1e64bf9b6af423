// Exact incremental inference (engine/incremental_cpu.h, issue 5 item 2): for batches of resampled
// images, each changed inside its own k × k window, the incremental executor's outputs and hidden
// values equal a full forward of the same batch (max |difference| ≤ 1e-5 of max |value|, FP32) on
// random conv/pool/LRN/BN/concat graphs, the built-in AlexNet, GoogLeNet, VGG16 (width 0.125) and
// the shared SqueezeNets, at k ∈ {1, 5, 10, 20}, strides 1 and 3, windows at every border and corner.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/explainer.h"
#include "engine/gaussian.h"
#include "engine/incremental_cpu.h"
#include "engine/program.h"
#include "engine/sampler_conditional.h"
#include "engine/samplers.h"
#include "kernels/cpu/context.h"
#include "networks/builtin.h"
#include "networks/onnx_import.h"
#include "test_util.h"

namespace pda {
namespace {

constexpr double kTolerance = 1e-5;

Tensor random_tensor(const Shape& s, std::mt19937& rng, float lo, float hi) {
    Tensor t(s);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = u(rng);
    return t;
}

// Window positions along an axis of length n: the first and last four of the stride grid (the last
// one flush with the border), two around the centre; every position when `all`.
std::vector<int64_t> positions(int64_t n, int64_t k, int64_t stride, bool all) {
    std::vector<int64_t> p;
    const int64_t last = n - k;
    for (int64_t a = 0; a <= last; a += stride) p.push_back(a);
    if (p.back() != last) p.push_back(last);
    if (all || p.size() <= 10) return p;
    std::vector<int64_t> q(p.begin(), p.begin() + 4);
    q.push_back(p[p.size() / 2 - 1]);
    q.push_back(p[p.size() / 2]);
    q.insert(q.end(), p.end() - 4, p.end());
    return q;
}

// Worst relative difference between incremental and full over `values`, for every window of the
// position grid (rows × cols), in batches of `batch` images (the last one padded with clean images).
double worst_difference(const Graph& g, const std::vector<std::string>& values, int64_t k, int64_t stride, bool all,
                        int64_t batch, uint32_t seed, CpuContext& ctx) {
    Shape in = g.inputs[0].shape;
    in[0] = 1;
    std::mt19937 rng(seed);
    Tensor x = random_tensor(in, rng, -1.f, 1.f);
    const int64_t C = in[1], H = in[2], W = in[3], image = C * H * W;
    std::vector<std::pair<int64_t, int64_t>> windows;
    for (int64_t r : positions(H, k, stride, all))
        for (int64_t c : positions(W, k, stride, all)) windows.emplace_back(r, c);

    std::set<std::string> keep(values.begin(), values.end());
    IncrementalProgram inc(g, x.view(), k, batch, ctx, keep);
    CompileOptions opt;
    opt.keep = keep;
    Shape bs = in;
    bs[0] = batch;
    std::unique_ptr<Program> full = compile_cpu(g, {bs}, ctx, opt);
    std::vector<std::string> compared = values;
    for (const std::string& o : g.outputs) compared.push_back(o);

    Tensor images(bs);
    std::normal_distribution<float> normal(0.f, 1.f);
    double worst = 0;
    for (size_t w0 = 0; w0 < windows.size(); w0 += static_cast<size_t>(batch)) {
        std::vector<int64_t> rows(batch), cols(batch);
        for (int64_t b = 0; b < batch; ++b) {
            const size_t wi = std::min(windows.size() - 1, w0 + static_cast<size_t>(b));
            rows[b] = windows[wi].first;
            cols[b] = windows[wi].second;
            float* img = images.data() + b * image;
            std::copy(x.data(), x.data() + image, img);
            if (w0 + b >= windows.size()) continue;  // padding: a clean image
            for (int64_t c = 0; c < C; ++c)
                for (int64_t r = 0; r < k; ++r)
                    for (int64_t q = 0; q < k; ++q) img[(c * H + rows[b] + r) * W + cols[b] + q] = normal(rng);
        }
        inc.run(images.data(), rows, cols);
        full->run({images.view()});
        for (const std::string& v : compared) {
            ConstTensorView a = inc.value(v), f = full->value(v);
            EXPECT_EQ(a.shape, f.shape) << v;
            double m = 0, d = 0;
            for (int64_t e = 0; e < f.numel(); ++e) {
                m = std::max(m, std::fabs(static_cast<double>(f.data[e])));
                d = std::max(d, std::fabs(static_cast<double>(a.data[e]) - f.data[e]));
            }
            const double rel = d / std::max(m, 1e-30);
            if (rel > kTolerance)
                ADD_FAILURE() << g.name << " k=" << k << " stride=" << stride << " value '" << v << "' windows from ("
                              << rows[0] << "," << cols[0] << "): max |diff| " << d << " of max |value| " << m;
            worst = std::max(worst, rel);
        }
    }
    return worst;
}

// Two hidden values of g: a quarter and half way through its nodes, on spatial maps when possible.
std::vector<std::string> hidden_values(const Graph& g) {
    std::vector<std::string> r;
    for (double f : {0.25, 0.5}) {
        size_t i = static_cast<size_t>(f * static_cast<double>(g.nodes.size()));
        r.push_back(g.nodes.at(i).output);
    }
    return r;
}

void check_network(const Graph& g, const std::vector<int64_t>& ks, const std::vector<int64_t>& strides, bool all,
                   int64_t batch) {
    CpuContext ctx;
    const std::vector<std::string> hidden = hidden_values(g);
    for (int64_t k : ks)
        for (int64_t s : strides) {
            double worst = worst_difference(g, hidden, k, s, all, batch, static_cast<uint32_t>(k * 10 + s), ctx);
            std::printf("[ incremental ] %-24s k=%-2lld stride=%lld worst relative difference %.2e\n", g.name.c_str(),
                        static_cast<long long>(k), static_cast<long long>(s), worst);
        }
}

// ---- small random graphs: every op the paper's networks use, and the border cases --------------

struct Maker {
    Graph g;
    std::mt19937 rng;
    explicit Maker(uint32_t seed, const Shape& in) : rng(seed) {
        g.name = "random" + std::to_string(seed);
        g.inputs = {{"x", in}};
    }
    std::map<std::string, Shape> shapes() { return infer_shapes(g, {g.inputs[0].shape}); }
    std::string add(Node n) {
        n.name = "n" + std::to_string(g.nodes.size());
        n.output = n.name;
        g.nodes.push_back(n);
        return n.name;
    }
    std::string conv(const std::string& x, int64_t out, const Geometry& geo, int64_t group = 1) {
        Node n;
        n.op = OpType::kConv;
        n.geo = geo;
        n.group = group;
        const std::string name = "n" + std::to_string(g.nodes.size());
        const int64_t c = shapes().at(x)[1];
        g.constants[name + ".w"] = random_tensor(Shape{out, c / group, geo.kernel[0], geo.kernel[1]}, rng, -0.5f, 0.5f);
        g.constants[name + ".b"] = random_tensor(Shape{out}, rng, -0.5f, 0.5f);
        n.inputs = {x, name + ".w", name + ".b"};
        return add(n);
    }
    std::string pool(const std::string& x, OpType op, const Geometry& geo, bool include_pad = false) {
        Node n;
        n.op = op;
        n.geo = geo;
        n.count_include_pad = include_pad;
        n.inputs = {x};
        return add(n);
    }
    std::string op(OpType op, const std::vector<std::string>& xs) {
        Node n;
        n.op = op;
        n.inputs = xs;
        n.axis = 1;
        if (op == OpType::kLRN) {
            n.size = 3;
            n.alpha = 1e-2f;
            n.beta = 0.75f;
            n.bias = 1.f;
        }
        return add(n);
    }
    std::string batch_norm(const std::string& x) {
        Node n;
        n.op = OpType::kBatchNorm;
        const std::string name = "n" + std::to_string(g.nodes.size());
        const int64_t c = shapes().at(x)[1];
        g.constants[name + ".g"] = random_tensor(Shape{c}, rng, 0.5f, 1.5f);
        g.constants[name + ".b"] = random_tensor(Shape{c}, rng, -0.5f, 0.5f);
        g.constants[name + ".m"] = random_tensor(Shape{c}, rng, -0.5f, 0.5f);
        g.constants[name + ".v"] = random_tensor(Shape{c}, rng, 0.5f, 1.5f);
        n.inputs = {x, name + ".g", name + ".b", name + ".m", name + ".v"};
        return add(n);
    }
    std::string gemm(const std::string& x, int64_t out) {
        Node n;
        n.op = OpType::kGemm;
        n.alpha = n.beta = 1.f;
        n.trans_b = true;
        const std::string name = "n" + std::to_string(g.nodes.size());
        const int64_t in = shapes().at(x)[1];
        g.constants[name + ".w"] = random_tensor(Shape{out, in}, rng, -0.5f, 0.5f);
        g.constants[name + ".b"] = random_tensor(Shape{out}, rng, -0.5f, 0.5f);
        n.inputs = {x, name + ".w", name + ".b"};
        return add(n);
    }
};

Geometry geo(int64_t k, int64_t s, int64_t pb, int64_t pe, bool ceil_mode = false) {
    Geometry g = Geometry::square(2, k, s, pb, ceil_mode);
    g.pad_end[0] = g.pad_end[1] = pe;
    return g;
}

// average pool with pads → conv (pads) → BN → ReLU → LRN → max pool (ceil mode) → two branches (1×1 conv,
// grouped 3×3 conv + average pool counting or not counting pads) → concat → Add with a skip → softmax over
// channels → average pool (ceil mode, pads) → strided conv → global pool → flatten → fully connected → softmax.
Graph random_graph(uint32_t seed, bool include_pad) {
    Maker m(seed, Shape{1, 3, 41, 37});
    std::string x = m.pool("x", OpType::kAveragePool, geo(3, 1, 1, 1), include_pad);
    x = m.conv(x, 8, geo(3, 1, 1, 1));
    x = m.batch_norm(x);
    x = m.op(OpType::kRelu, {x});
    x = m.op(OpType::kLRN, {x});
    x = m.pool(x, OpType::kMaxPool, geo(3, 2, 0, 0, true));
    std::string a = m.conv(x, 4, geo(1, 1, 0, 0));
    std::string b = m.conv(x, 4, geo(3, 1, 1, 1), 2);
    b = m.pool(b, OpType::kAveragePool, geo(3, 1, 1, 1), include_pad);
    std::string c = m.op(OpType::kConcat, {a, b});
    std::string s = m.conv(x, 8, geo(3, 1, 1, 1));
    x = m.op(OpType::kAdd, {c, s});
    x = m.op(OpType::kSoftmax, {x});
    x = m.pool(x, OpType::kAveragePool, geo(2, 2, 1, 1, true), include_pad);
    x = m.conv(x, 4, geo(3, 2, 1, 0));
    x = m.op(OpType::kGlobalAveragePool, {x});
    x = m.op(OpType::kFlatten, {x});
    x = m.gemm(x, 5);
    x = m.op(OpType::kSoftmax, {x});
    m.g.outputs = {x};
    validate(m.g);
    return std::move(m.g);
}

TEST(Incremental, RandomGraphsEqualFullEverywhere) {
    for (bool include_pad : {false, true}) {
        Graph g = random_graph(include_pad ? 7 : 3, include_pad);
        CpuContext ctx;
        // Every window position and every node's value.
        std::vector<std::string> all_values;
        for (const Node& n : g.nodes) all_values.push_back(n.output);
        for (int64_t k : {1, 5, 10, 20})
            for (int64_t s : {1, 3}) {
                double worst = worst_difference(g, all_values, k, s, true, 16, static_cast<uint32_t>(k + s), ctx);
                EXPECT_LE(worst, kTolerance);
            }
    }
}

TEST(Incremental, PlanUsesCropsOnTheRandomGraph) {
    Graph g = random_graph(3, false);
    auto shapes = infer_shapes(g, {g.inputs[0].shape});
    CropPlan plan = crop_plan(g, shapes, "x", 1);
    EXPECT_TRUE(plan.nodes.front().incremental);  // the test above would pass trivially on full maps
}

// ---- the paper's networks ------------------------------------------------------------------------

Graph builtin(const std::string& name, bool fused) {
    BuildOptions o;
    o.width = 0.125f;
    o.seed = 5;
    Graph g = build_network(name, o);
    g.name += fused ? " fused" : "";
    if (fused) fuse(g);
    return g;
}

TEST(Incremental, AlexNetEqualsFull) {
    check_network(builtin("alexnet", false), {1, 5, 10, 20}, {1, 3}, false, 24);
    check_network(builtin("alexnet", true), {10}, {3}, false, 24);
}

TEST(Incremental, GoogLeNetEqualsFull) {
    check_network(builtin("googlenet", true), {1, 5, 10, 20}, {1, 3}, false, 25);
    check_network(builtin("googlenet", false), {5}, {3}, false, 25);
}

TEST(Incremental, Vgg16EqualsFull) { check_network(builtin("vgg16", true), {1, 5, 10, 20}, {1, 3}, false, 25); }

TEST(Incremental, SharedSqueezeNetsEqualFull) {
    PDA_SKIP_WITHOUT_SHARED();
    for (const char* f : {"squeezenet1.1-caffe.onnx", "squeezenet1.1-torchvision.onnx"}) {
        Graph g = import_onnx(test::shared_dir() + "/models/" + f);
        g.inputs[0].shape[0] = 1;
        check_network(g, {1, 5, 10, 20}, {1, 3}, false, 25);
    }
}

// ---- the explainer: incremental maps equal full maps for every sampler ---------------------------

double relative_difference(const Tensor& a, const Tensor& b) {
    EXPECT_EQ(a.shape(), b.shape());
    double m = 0, d = 0;
    for (int64_t e = 0; e < a.numel(); ++e) {
        m = std::max(m, std::fabs(static_cast<double>(b.data()[e])));
        d = std::max(d, std::fabs(static_cast<double>(a.data()[e]) - b.data()[e]));
    }
    return d / std::max(m, 1e-30);
}

TEST(Incremental, ExplainMapsEqualFullForEverySampler) {
    BuildOptions o;
    o.width = 0.125f;
    o.seed = 9;
    const Graph g = build_network("alexnet", o);
    std::mt19937 rng(4);
    Shape in = g.inputs[0].shape;
    in[0] = 1;
    const Tensor x = random_tensor(in, rng, -1.f, 1.f);
    std::vector<Tensor> set;
    for (int i = 0; i < 4; ++i) set.push_back(random_tensor(in, rng, -1.f, 1.f));
    ExplainParams p;
    p.k = 10;
    p.stride = 31;  // 8 × 8 windows, flush with every border: (227 − 10) / 31 = 7 steps
    p.samples = 3;
    p.nodes = {"conv3"};
    p.batch = 12;
    CpuContext ctx;
    for (const std::string kind : {"occlusion", "marginal", "conditional"}) {
        Explanation e[2];
        for (int i = 0; i < 2; ++i) {
            p.exec = i == 0 ? "full" : "incremental";
            std::unique_ptr<Sampler> sampler;
            if (kind == "occlusion") sampler = make_occlusion_sampler(0.5f);
            if (kind == "marginal") {
                std::vector<Tensor> copy;
                for (const Tensor& t : set) copy.push_back(t.clone());
                sampler = make_marginal_sampler(std::move(copy));
            }
            if (kind == "conditional")
                sampler =
                    std::make_unique<ConditionalSampler>(fit_gaussian(set, p.k, 2, 3000, 1), ConditionalOptions{});
            e[i] = explain_cpu(g, {"prob", false}, x.view(), *sampler, p, ctx);
        }
        EXPECT_EQ(e[0].classes, e[1].classes) << kind;
        EXPECT_GT(e[0].windows, 50) << kind;
        const double rel = relative_difference(e[1].relevance, e[0].relevance);
        const double node = relative_difference(e[1].node_maps.at("conv3"), e[0].node_maps.at("conv3"));
        EXPECT_LE(rel, kTolerance) << kind;
        EXPECT_LE(node, kTolerance) << kind;
        std::printf("[ incremental ] explain %-11s relevance %.2e conv3 AD %.2e (relative), %lld windows\n",
                    kind.c_str(), rel, node, static_cast<long long>(e[0].windows));
    }
}

TEST(Incremental, UnknownExecutionIsAnInputError) {
    BuildOptions o;
    o.width = 0.125f;
    const Graph g = build_network("alexnet", o);
    Shape in = g.inputs[0].shape;
    in[0] = 1;
    Tensor x(in);
    ExplainParams p;
    p.exec = "fast";
    CpuContext ctx;
    auto sampler = make_occlusion_sampler();
    EXPECT_THROW(explain_cpu(g, {"prob", false}, x.view(), *sampler, p, ctx), Error);
}

}  // namespace
}  // namespace pda
