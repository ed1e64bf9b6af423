// CPU op tests, window ops: Conv, pools, LRN as one-node graphs compiled with compile_cpu on seeded
// random inputs, against naive double references written here; an unsupported node's error; and
// batched = one-at-a-time on a small conv → pool → gemm → softmax network.
#include "tests/ops_harness.h"

namespace pda {
namespace {

using namespace ops_test;

// Spatial dims of an (N, C, ...) shape padded in front to three axes.
std::array<int64_t, 3> spatial3(const Shape& s) {
    std::array<int64_t, 3> r{1, 1, 1};
    for (int i = 0; i < s.rank - 2; ++i) r[3 - (s.rank - 2) + i] = s[2 + i];
    return r;
}
// Geometry padded in front to three axes (kernel 1, stride 1, no pads, dilation 1).
Geometry geo3(const Geometry& g) {
    Geometry r = Geometry::square(3, 1, 1, 0);
    for (int i = 0; i < g.nd; ++i) {
        int j = 3 - g.nd + i;
        r.kernel[j] = g.kernel[i];
        r.stride[j] = g.stride[i];
        r.pad_begin[j] = g.pad_begin[i];
        r.pad_end[j] = g.pad_end[i];
        r.dilation[j] = g.dilation[i];
    }
    return r;
}

Ref conv_ref(const Tensor& x, const Tensor& w, const Tensor* b, const Geometry& geo, int64_t group, const Shape& ys,
             bool relu) {
    auto in = spatial3(x.shape()), out = spatial3(ys), k = spatial3(w.shape());
    Geometry g = geo3(geo);
    const int64_t n = x.shape()[0], ci = x.shape()[1], co = w.shape()[0], cig = ci / group, cog = co / group;
    Ref y(ys.numel());
    size_t idx = 0;
    for (int64_t b0 = 0; b0 < n; ++b0)
        for (int64_t oc = 0; oc < co; ++oc)
            for (int64_t o0 = 0; o0 < out[0]; ++o0)
                for (int64_t o1 = 0; o1 < out[1]; ++o1)
                    for (int64_t o2 = 0; o2 < out[2]; ++o2) {
                        double s = b ? b->data()[oc] : 0.0;
                        for (int64_t c = 0; c < cig; ++c)
                            for (int64_t k0 = 0; k0 < k[0]; ++k0)
                                for (int64_t k1 = 0; k1 < k[1]; ++k1)
                                    for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                                        int64_t i0 = o0 * g.stride[0] - g.pad_begin[0] + k0 * g.dilation[0];
                                        int64_t i1 = o1 * g.stride[1] - g.pad_begin[1] + k1 * g.dilation[1];
                                        int64_t i2 = o2 * g.stride[2] - g.pad_begin[2] + k2 * g.dilation[2];
                                        if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2])
                                            continue;
                                        int64_t xc = (oc / cog) * cig + c;
                                        double xv = x.data()[(((b0 * ci + xc) * in[0] + i0) * in[1] + i1) * in[2] + i2];
                                        double wv = w.data()[(((oc * cig + c) * k[0] + k0) * k[1] + k1) * k[2] + k2];
                                        s += xv * wv;
                                    }
                        y[idx++] = relu ? std::max(s, 0.0) : s;
                    }
    return y;
}

// Pools with PyTorch's formulation of ONNX's divisor: window clipped to [−pad, in + pad) when
// padding counts, then to [0, in) for the values (and for the divisor otherwise).
Ref pool_ref(bool max, const Tensor& x, const Geometry& geo, bool include_pad, const Shape& ys) {
    auto in = spatial3(x.shape()), out = spatial3(ys);
    Geometry g = geo3(geo);
    const int64_t planes = x.shape()[0] * x.shape()[1];
    Ref y(ys.numel());
    size_t idx = 0;
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t o0 = 0; o0 < out[0]; ++o0)
            for (int64_t o1 = 0; o1 < out[1]; ++o1)
                for (int64_t o2 = 0; o2 < out[2]; ++o2) {
                    int64_t o[3] = {o0, o1, o2};
                    int64_t divisor = 1;
                    for (int a = 0; a < 3; ++a) {
                        int64_t start = o[a] * g.stride[a] - g.pad_begin[a];
                        int64_t cnt = 0;
                        for (int64_t t = 0; t < g.kernel[a]; ++t) {
                            int64_t pos = start + t * g.dilation[a];
                            int64_t lo = include_pad ? -g.pad_begin[a] : 0;
                            int64_t hi = include_pad ? in[a] + g.pad_end[a] : in[a];
                            if (pos >= lo && pos < hi) ++cnt;
                        }
                        divisor *= cnt;
                    }
                    double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
                    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0)
                        for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1)
                            for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                                int64_t i0 = o0 * g.stride[0] - g.pad_begin[0] + k0 * g.dilation[0];
                                int64_t i1 = o1 * g.stride[1] - g.pad_begin[1] + k1 * g.dilation[1];
                                int64_t i2 = o2 * g.stride[2] - g.pad_begin[2] + k2 * g.dilation[2];
                                if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2]) continue;
                                double v = x.data()[((p * in[0] + i0) * in[1] + i1) * in[2] + i2];
                                acc = max ? std::max(acc, v) : acc + v;
                            }
                    y[idx++] = max ? acc : acc / static_cast<double>(divisor);
                }
    return y;
}

Geometry make_geo(std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> pb, std::vector<int64_t> pe,
                  std::vector<int64_t> d, bool ceil = false) {
    Geometry g;
    g.nd = static_cast<int>(k.size());
    for (int i = 0; i < g.nd; ++i) {
        g.kernel[i] = k[i];
        g.stride[i] = s[i];
        g.pad_begin[i] = pb[i];
        g.pad_end[i] = pe[i];
        g.dilation[i] = d[i];
    }
    g.ceil_mode = ceil;
    return g;
}

struct ConvCase {
    const char* what;
    Shape x, w;
    Geometry geo;
    int64_t group;
    bool bias, relu;
};

TEST(OpsConv, MatchesReference) {
    const ConvCase cases[] = {
        {"2-D groups, dilation, asymmetric pads, stride",
         {2, 6, 9, 11},
         {4, 3, 3, 2},
         make_geo({3, 2}, {2, 1}, {1, 0}, {2, 1}, {2, 1}),
         2,
         true,
         false},
        {"2-D depthwise, fused relu",
         {3, 8, 7, 7},
         {8, 1, 3, 3},
         make_geo({3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}),
         8,
         true,
         true},
        {"2-D plain, no bias, stride 4 (AlexNet conv1 shape)",
         {2, 3, 23, 23},
         {16, 3, 11, 11},
         make_geo({11, 11}, {4, 4}, {2, 2}, {2, 2}, {1, 1}),
         1,
         false,
         false},
        {"2-D 64 channels, fused relu",
         {2, 32, 13, 13},
         {64, 32, 3, 3},
         make_geo({3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}),
         1,
         true,
         true},
        {"1-D stride, pads, dilation", {2, 4, 20}, {6, 4, 3}, make_geo({3}, {2}, {2}, {1}, {2}), 1, true, false},
        {"1-D groups, relu", {1, 6, 15}, {9, 2, 4}, make_geo({4}, {1}, {0}, {3}, {1}), 3, true, true},
        {"3-D asymmetric",
         {2, 3, 6, 7, 5},
         {4, 3, 3, 2, 3},
         make_geo({3, 2, 3}, {1, 2, 1}, {1, 0, 1}, {0, 1, 2}, {1, 1, 2}),
         1,
         true,
         false},
        {"3-D groups, relu",
         {1, 4, 5, 5, 5},
         {6, 2, 2, 2, 2},
         make_geo({2, 2, 2}, {2, 1, 1}, {0, 1, 0}, {1, 0, 0}, {1, 2, 1}),
         2,
         false,
         true},
    };
    uint32_t seed = 1;
    for (const ConvCase& c : cases) {
        Node n;
        n.name = "conv";
        n.op = OpType::kConv;
        n.geo = c.geo;
        n.group = c.group;
        n.fused_relu = c.relu;
        Tensor x = random_tensor(c.x, seed++), w = random_tensor(c.w, seed++), b = random_tensor(Shape{c.w[0]}, seed++);
        std::vector<std::pair<std::string, const Tensor*>> ins{{"x", &x}, {"const_w", &w}};
        if (c.bias) ins.emplace_back("const_b", &b);
        OneNode one(n, ins);
        Shape ys;
        std::vector<float> got = run_one(one, &ys);
        expect_close(got, conv_ref(x, w, c.bias ? &b : nullptr, c.geo, c.group, ys, c.relu), c.what);
    }
}

struct PoolCase {
    const char* what;
    OpType op;
    Shape x;
    Geometry geo;
    bool include_pad;
};

TEST(OpsPool, MatchesReference) {
    const PoolCase cases[] = {
        {"max 2-D pads stride",
         OpType::kMaxPool,
         {2, 3, 9, 10},
         make_geo({3, 3}, {2, 2}, {1, 0}, {1, 1}, {1, 1}),
         false},
        {"max 2-D ceil (AlexNet pool)",
         OpType::kMaxPool,
         {2, 4, 13, 13},
         make_geo({3, 3}, {2, 2}, {0, 0}, {0, 0}, {1, 1}, true),
         false},
        {"max 2-D ceil with extension",
         OpType::kMaxPool,
         {1, 3, 10, 8},
         make_geo({3, 2}, {2, 3}, {1, 0}, {0, 0}, {1, 1}, true),
         false},
        {"max 2-D dilation", OpType::kMaxPool, {2, 2, 11, 9}, make_geo({3, 2}, {1, 2}, {1, 1}, {1, 0}, {2, 3}), false},
        {"max 1-D", OpType::kMaxPool, {2, 3, 17}, make_geo({4}, {3}, {1}, {2}, {1}), false},
        {"max 3-D ceil",
         OpType::kMaxPool,
         {1, 2, 7, 6, 5},
         make_geo({2, 3, 2}, {2, 2, 2}, {0, 1, 0}, {1, 0, 0}, {1, 1, 1}, true),
         false},
        {"avg 2-D exclude pad",
         OpType::kAveragePool,
         {2, 3, 9, 10},
         make_geo({3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}),
         false},
        {"avg 2-D include pad",
         OpType::kAveragePool,
         {2, 3, 9, 10},
         make_geo({3, 3}, {2, 2}, {1, 0}, {1, 2}, {1, 1}),
         true},
        {"avg 2-D ceil exclude pad",
         OpType::kAveragePool,
         {1, 3, 10, 10},
         make_geo({3, 3}, {2, 2}, {1, 1}, {0, 0}, {1, 1}, true),
         false},
        {"avg 2-D ceil include pad (extension not counted)",
         OpType::kAveragePool,
         {2, 3, 10, 10},
         make_geo({3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 1}, true),
         true},
        {"avg 2-D ceil include pad, no extension",
         OpType::kAveragePool,
         {1, 2, 9, 9},
         make_geo({3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, true),
         true},
        {"avg 1-D include pad", OpType::kAveragePool, {2, 3, 16}, make_geo({5}, {2}, {2}, {1}, {1}), true},
        {"avg 3-D ceil include pad",
         OpType::kAveragePool,
         {1, 2, 6, 7, 5},
         make_geo({2, 3, 2}, {2, 2, 2}, {1, 1, 0}, {0, 1, 0}, {1, 1, 1}, true),
         true},
        {"avg 3-D exclude pad",
         OpType::kAveragePool,
         {2, 2, 5, 6, 7},
         make_geo({3, 3, 3}, {1, 2, 2}, {1, 1, 1}, {1, 0, 1}, {1, 1, 1}),
         false},
    };
    uint32_t seed = 100;
    for (const PoolCase& c : cases) {
        Node n;
        n.name = "pool";
        n.op = c.op;
        n.geo = c.geo;
        n.count_include_pad = c.include_pad;
        Tensor x = random_tensor(c.x, seed++);
        OneNode one(n, {{"x", &x}});
        Shape ys;
        std::vector<float> got = run_one(one, &ys);
        expect_close(got, pool_ref(c.op == OpType::kMaxPool, x, c.geo, c.include_pad, ys), c.what);
    }
}

// ONNX's own test case test_averagepool_2d_ceil: 4×4 ramp, kernel 3, stride 2, ceil mode.
TEST(OpsPool, OnnxAveragePoolCeilExample) {
    Node n;
    n.name = "pool";
    n.op = OpType::kAveragePool;
    n.geo = Geometry::square(2, 3, 2, 0, true);
    Tensor x(Shape{1, 1, 4, 4});
    for (int i = 0; i < 16; ++i) x.data()[i] = static_cast<float>(i + 1);
    OneNode one(n, {{"x", &x}});
    expect_close(run_one(one), {6, 7.5, 12, 13.5}, "onnx averagepool_2d_ceil");
}

TEST(OpsPool, GlobalPools) {
    Tensor x = random_tensor(Shape{3, 5, 6, 7}, 7);
    for (OpType op : {OpType::kGlobalAveragePool, OpType::kGlobalMaxPool}) {
        Node n;
        n.name = "gp";
        n.op = op;
        OneNode one(n, {{"x", &x}});
        Ref ref(15);
        for (int p = 0; p < 15; ++p) {
            double s = 0, m = -1e30;
            for (int i = 0; i < 42; ++i) s += x.data()[p * 42 + i], m = std::max(m, double(x.data()[p * 42 + i]));
            ref[p] = op == OpType::kGlobalMaxPool ? m : s / 42;
        }
        expect_close(run_one(one), ref, op_name(op));
    }
}

TEST(OpsLrn, OddAndEvenSizes) {
    struct C {
        Shape x;
        int64_t size;
        float alpha, beta, bias;
    };
    const C cases[] = {{{2, 16, 5, 6}, 5, 1e-2f, 0.75f, 2.f},   {{2, 16, 5, 6}, 4, 5e-2f, 0.6f, 1.f},
                       {{1, 7, 3, 4}, 3, 0.3f, 0.5f, 1.5f},     {{1, 9, 4}, 2, 0.2f, 0.9f, 1.f},
                       {{2, 10, 3, 3, 2}, 6, 0.1f, 0.75f, 1.f}, {{2, 10, 3, 3, 2}, 5, 0.1f, 0.75f, 1.f}};
    uint32_t seed = 200;
    for (const C& c : cases) {
        Node n;
        n.name = "lrn";
        n.op = OpType::kLRN;
        n.size = c.size;
        n.alpha = c.alpha;
        n.beta = c.beta;
        n.bias = c.bias;
        Tensor x = random_tensor(c.x, seed++, -3.f, 3.f);
        OneNode one(n, {{"x", &x}});
        const int64_t ch = c.x[1], inner = c.x.numel() / (c.x[0] * ch);
        const int64_t before = (c.size - 1) / 2, after = c.size - 1 - before;  // floor, ceil of (size−1)/2
        Ref ref(x.numel());
        for (int64_t b = 0; b < c.x[0]; ++b)
            for (int64_t k = 0; k < ch; ++k)
                for (int64_t i = 0; i < inner; ++i) {
                    double sq = 0;
                    for (int64_t j = std::max<int64_t>(0, k - before); j <= std::min(ch - 1, k + after); ++j) {
                        double v = x.data()[(b * ch + j) * inner + i];
                        sq += v * v;
                    }
                    int64_t at = (b * ch + k) * inner + i;
                    ref[at] = x.data()[at] / std::pow(c.bias + c.alpha / c.size * sq, c.beta);
                }
        expect_close(run_one(one), ref, "LRN size " + std::to_string(c.size));
    }
}

TEST(OpsErrors, UnsupportedNamesTheNode) {
    Tensor x = random_tensor(Shape{1, 4, 3, 3}, 1);
    Node nd;
    nd.name = "bad_lrn";
    nd.op = OpType::kLRN;
    nd.size = 0;
    OneNode one(nd, {{"x", &x}});
    try {
        run_one(one);
        FAIL() << "LRN of size 0 was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput);
        EXPECT_NE(std::string(e.what()).find("node 'bad_lrn' (LRN)"), std::string::npos) << e.what();
    }
}

// conv → relu → ceil-mode maxpool → flatten → gemm → relu → gemm → softmax on random weights.
Graph chain_graph() {
    Graph g;
    g.name = "chain";
    g.inputs = {{"x", Shape{1, 3, 17, 17}}};
    g.constants["w1"] = random_tensor(Shape{8, 3, 3, 3}, 11);
    g.constants["b1"] = random_tensor(Shape{8}, 12);
    g.constants["w2"] = random_tensor(Shape{32, 8 * 8 * 8}, 13, -0.1f, 0.1f);
    g.constants["b2"] = random_tensor(Shape{32}, 14);
    g.constants["w3"] = random_tensor(Shape{32, 10}, 15);
    g.constants["b3"] = random_tensor(Shape{10}, 16);
    auto add = [&](OpType op, std::vector<std::string> in, std::string out) -> Node& {
        Node n;
        n.name = out;
        n.op = op;
        n.inputs = std::move(in);
        n.output = std::move(out);
        n.alpha = n.beta = 1.f;
        g.nodes.push_back(n);
        return g.nodes.back();
    };
    add(OpType::kConv, {"x", "w1", "b1"}, "c1").geo = Geometry::square(2, 3, 1, 1);
    add(OpType::kRelu, {"c1"}, "r1");
    add(OpType::kMaxPool, {"r1"}, "p1").geo = Geometry::square(2, 3, 2, 0, true);
    add(OpType::kFlatten, {"p1"}, "f1").axis = 1;
    add(OpType::kGemm, {"f1", "w2", "b2"}, "fc1").trans_b = true;
    add(OpType::kRelu, {"fc1"}, "r2");
    add(OpType::kGemm, {"r2", "w3", "b3"}, "fc2");
    add(OpType::kSoftmax, {"fc2"}, "prob").axis = 1;
    g.outputs = {"prob"};
    return g;
}

// Fast path = slow path: batch 8 in one run equals eight batch-1 runs, and the graph with ReLUs
// fused into Conv/Gemm (oneDNN post-ops) equals the unfused one.
TEST(OpsChain, BatchedEqualsOneAtATimeAndFusedEqualsUnfused) {
    Graph plain = chain_graph(), fused = chain_graph();
    fuse(fused);
    ASSERT_EQ(fused.nodes.size(), plain.nodes.size() - 2);
    ASSERT_TRUE(fused.nodes[0].fused_relu && fused.nodes[3].fused_relu);

    const int batch = 8;
    Tensor xb = random_tensor(Shape{batch, 3, 17, 17}, 17, -2.f, 2.f);
    std::vector<Tensor> feeds;
    feeds.push_back(xb.clone());
    Shape ys;
    std::vector<float> all = run_graph(fused, feeds, &ys);
    ASSERT_EQ(ys, (Shape{batch, 10}));
    std::vector<float> unfused = run_graph(plain, feeds);
    expect_close(all, Ref(unfused.begin(), unfused.end()), "fused vs unfused");
    for (int b = 0; b < batch; ++b) {
        std::vector<Tensor> one;
        one.emplace_back(Shape{1, 3, 17, 17}, xb.data() + b * 3 * 17 * 17);
        std::vector<float> row = run_graph(fused, one);
        expect_close(std::vector<float>(all.begin() + b * 10, all.begin() + (b + 1) * 10), Ref(row.begin(), row.end()),
                     "batch row " + std::to_string(b));
    }
}

}  // namespace
}  // namespace pda
