// CPU op tests: every case of the op table (op_cases.h) as a one-node graph compiled with
// compile_cpu, against its float64 reference; ONNX's own AveragePool example; an unsupported node's
// error; and batched = one-at-a-time on a small conv → pool → gemm → softmax network.
#include "kernels/cpu/conv.h"
#include "kernels/cpu/gemm.h"
#include "tests/op_cases.h"
#include "tests/ops_harness.h"

namespace pda {
namespace {

using namespace ops_test;

class OpsCases : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpsCases, MatchFloat64Reference) {
    const OpCase& c = GetParam();
    OneNode one = c.build();
    Shape ys;
    std::vector<float> got = run_one(one, &ys);
    expect_close(got, c.reference(one.g.nodes[0], one.inputs(), ys), c.name, c.cpu_tol);
}

INSTANTIATE_TEST_SUITE_P(Cpu, OpsCases, ::testing::ValuesIn(op_cases()), op_case_name);

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

// bf16 on the CPU (where it runs natively): a fully connected layer reads its input and constant
// weights rounded to bf16 and accumulates in f32, so it equals the float64 product of the rounded
// operands to f32 accuracy, and differs from the f32 layer (so bf16 did run).
TEST(OpsBf16, FullyConnectedReadsBf16) {
    if (!cpu_has_bf16()) GTEST_SKIP() << "skipped: this CPU has neither AVX-512-BF16 nor AMX";
    const int64_t m = 5, k = 300, n = 40;
    Node nd;
    nd.name = "fc";
    nd.op = OpType::kGemm;
    nd.trans_b = true;
    nd.alpha = nd.beta = 1.f;
    nd.fused_relu = true;
    OneNode one(nd, {});
    Tensor a = random_tensor(Shape{m, k}, 3), b = random_tensor(Shape{n, k}, 4), c = random_tensor(Shape{n}, 5);
    one.g.inputs.push_back({"a", a.shape()});
    one.g.constants["const_b"] = b.clone();
    one.g.constants["const_c"] = c.clone();
    one.g.nodes[0].inputs = {"a", "const_b", "const_c"};
    std::vector<Tensor> feeds;
    feeds.push_back(a.clone());
    auto bf16 = [](float v) {  // round to nearest even, as oneDNN's conversion does
        uint32_t u;
        std::memcpy(&u, &v, 4);
        u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000u;
        std::memcpy(&v, &u, 4);
        return v;
    };
    Ref want(static_cast<size_t>(m * n));
    double err_f32 = 0, top = 0;
    const std::vector<float> got = run_graph(one.g, feeds, nullptr, true), f32 = run_graph(one.g, feeds);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double acc = c.data()[j];
            for (int64_t e = 0; e < k; ++e)
                acc += static_cast<double>(bf16(a.data()[i * k + e])) * bf16(b.data()[j * k + e]);
            want[static_cast<size_t>(i * n + j)] = std::max(acc, 0.0);
        }
    expect_close(got, want, "bf16 fully connected", 1e-5);
    for (size_t i = 0; i < got.size(); ++i) {
        err_f32 = std::max(err_f32, std::fabs(static_cast<double>(got[i]) - f32[i]));
        top = std::max(top, std::fabs(static_cast<double>(f32[i])));
    }
    EXPECT_GT(err_f32, 1e-4 * top) << "the bf16 layer gave the f32 layer's values";
}

// A fully connected layer's rows sum alike wherever they lie in the batch: three rows alone (M = 3)
// give the bits they give at rows 0, 14, 16 and 32 of M = 35, for a K as large as a VGG16 layer's
// input block. Below AVX-512 oneDNN 2.6's GEMM needs M padded for this (kernels/cpu/gemm.cc; without
// it all four places differ); a single row keeps its matrix-vector kernel and is not compared. With
// AVX-512 nothing is padded and this was never measured, so the test skips there.
TEST(OpsGemm, RowsSumAlikeWhereverTheyLieInTheBatch) {
    if (cpu_has_avx512()) GTEST_SKIP() << "skipped: measured below AVX-512 only, where the rows are padded";
    // n 512: weights whose rows are a multiple of 1 KiB, which run on padded rows (gemm.cc).
    for (const int64_t n : {96, 512}) {
        const int64_t k = 4096, big = 35;
        const Tensor a = random_tensor(Shape{big, k}, 21), b = random_tensor(Shape{n, k}, 22, -0.1f, 0.1f),
                     c = random_tensor(Shape{n}, 23);
        auto product = [&](const float* rows, int64_t m) {
            GemmParams p;
            p.m = m, p.k = k, p.n = n;
            p.trans_b = true;
            p.c = Shape{n};
            CpuContext ctx;
            GemmForward f(p, b.data(), c.data(), ctx);
            std::vector<float> y(static_cast<size_t>(m * n));
            f.run(rows, nullptr, nullptr, y.data());
            return y;
        };
        const std::vector<float> all = product(a.data(), big);
        for (const int64_t r : {0, 14, 16, 32}) {
            const std::vector<float> three = product(a.data() + r * k, 3);
            EXPECT_EQ(three, std::vector<float>(all.begin() + r * n, all.begin() + (r + 3) * n))
                << "n " << n << ", rows from " << r;
        }
        double worst = 0;  // against a sum in double: the padded rows of B hold no values of it
        for (const int64_t i : {0, 17, 34})
            for (int64_t j = 0; j < n; ++j) {
                double want = c.data()[j];
                for (int64_t q = 0; q < k; ++q) want += double(a.data()[i * k + q]) * b.data()[j * k + q];
                worst = std::max(worst, std::abs(all[static_cast<size_t>(i * n + j)] - want));
            }
        EXPECT_LT(worst, 1e-4) << "n " << n;
        const std::vector<float> one = product(a.data() + 17 * k, 1);  // the matrix-vector kernel
        for (int64_t j = 0; j < n; ++j)
            EXPECT_NEAR(one[static_cast<size_t>(j)], all[static_cast<size_t>(17 * n + j)], 1e-4) << "n " << n;
    }
}

// AlexNet's first layer (11 × 11, stride 4, pad 2, 3 → 64 channels): below AVX-512 oneDNN 2.6 has
// only its GEMM convolution for the padding, so pda runs a direct kernel on the input padded
// beforehand (kernels/cpu/conv.cc). Its values: a sum in double, every output (the padded edges too).
TEST(OpsConv, AlexNetFirstLayerRunsADirectKernel) {
    ConvParams p;
    p.x = Shape{1, 3, 224, 224};
    p.w = Shape{64, 3, 11, 11};
    p.y = Shape{1, 64, 55, 55};
    p.stride = {4, 4, 1};
    p.pad_begin = p.pad_end = {2, 2, 0};
    p.has_bias = true;
    p.relu = true;
    const Tensor x = random_tensor(p.x, 5), w = random_tensor(p.w, 6, -0.1f, 0.1f), b = random_tensor(Shape{64}, 7);
    CpuContext ctx;
    ConvForward conv(p, w.data(), b.data(), ctx);
    EXPECT_EQ(conv.impl().find("gemm"), std::string::npos) << conv.impl();
    EXPECT_NE(conv.impl().rfind("ref", 0), 0u) << conv.impl();
    Tensor y(p.y);
    conv.run(x.data(), y.data());
    double worst = 0;
    for (int64_t o = 0; o < 64; ++o)
        for (int64_t i = 0; i < 55; ++i)
            for (int64_t j = 0; j < 55; ++j) {
                double want = b.data()[o];
                for (int64_t c = 0; c < 3; ++c)
                    for (int64_t u = 0; u < 11; ++u)
                        for (int64_t v = 0; v < 11; ++v) {
                            const int64_t r = i * 4 + u - 2, q = j * 4 + v - 2;
                            if (r < 0 || r >= 224 || q < 0 || q >= 224) continue;
                            want +=
                                double(x.data()[(c * 224 + r) * 224 + q]) * w.data()[((o * 3 + c) * 11 + u) * 11 + v];
                        }
                worst = std::max(worst, std::abs(y.data()[(o * 55 + i) * 55 + j] - std::max(want, 0.0)));
            }
    EXPECT_LT(worst, 1e-4);
}

// Programs of one context pack a constant once per layout (PackedWeights): a second program and a
// program of a copy sharing the weights reuse the packed copy; once the weights are gone their entry
// goes too, and new weights at whatever address are packed afresh (same results as a new context).
TEST(OpsPackedWeights, OnePackPerConstantWhileItLives) {
    auto conv_graph = [](uint32_t seed) {
        Graph g;
        g.name = "conv";
        g.inputs.push_back({"x", Shape{2, 16, 9, 9}});
        Node n;
        n.name = "conv";
        n.op = OpType::kConv;
        n.geo = Geometry::square(2, 3, 1, 1);
        n.inputs = {"x", "w", "b"};
        n.output = "y";
        g.nodes.push_back(n);
        g.outputs = {"y"};
        g.constants["w"] = random_tensor(Shape{32, 16, 3, 3}, seed);
        g.constants["b"] = random_tensor(Shape{32}, seed + 1);
        return g;
    };
    const Tensor x = random_tensor(Shape{2, 16, 9, 9}, 7);
    auto run = [&](const Graph& g, CpuContext& ctx) {
        auto prog = compile_cpu(g, {x.shape()}, ctx);
        prog->run({x.view()});
        const ConstTensorView y = prog->value("y");
        return std::vector<float>(y.data, y.data + y.numel());
    };
    CpuContext ctx;
    std::vector<float> first;
    {
        const Graph g = conv_graph(1);
        Graph copy;  // the fused copies of a model: the same weights, shared
        copy.name = g.name, copy.inputs = g.inputs, copy.outputs = g.outputs, copy.nodes = g.nodes;
        for (const auto& [name, t] : g.constants) copy.constants.emplace(name, t.share());
        first = run(g, ctx);
        EXPECT_EQ(ctx.packed->entries(), 1u);
        EXPECT_EQ(run(g, ctx), first);
        EXPECT_EQ(run(copy, ctx), first);
        EXPECT_EQ(ctx.packed->entries(), 1u) << "the second program and the copy packed the weights again";
    }
    const Graph other = conv_graph(9);  // other weights, perhaps at the old address
    CpuContext fresh;
    const std::vector<float> want = run(other, fresh), got = run(other, ctx);
    EXPECT_EQ(got, want);
    EXPECT_NE(got, first);
    EXPECT_EQ(ctx.packed->entries(), 1u) << "the entry of weights that are gone was kept";
}

}  // namespace
}  // namespace pda
