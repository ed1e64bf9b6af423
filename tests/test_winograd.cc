// --precision winograd on the CPU (CpuContext::winograd): which convolutions take oneDNN's Winograd
// kernel, that they compute what the direct kernels compute up to rounding (and do differ, so they
// ran), that incremental execution equals full to that rounding, and that the programs of one
// context share one scratchpad sized for the largest.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/cpu/incremental.h"
#include "engine/pda_device.h"
#include "engine/program.h"
#include "incremental_cases.h"
#include "kernels/cpu/context.h"
#include "kernels/cpu/conv.h"
#include "networks/builtin.h"

namespace pda {
namespace {

#define SKIP_WITHOUT_WINOGRAD() \
    if (!cpu_has_winograd()) GTEST_SKIP() << "skipped: oneDNN's Winograd kernels need AVX-512"

Tensor random_tensor(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
    std::mt19937 rng(seed);
    return incremental_test::random_tensor(s, rng, lo, hi);
}

ConvParams conv_params(int64_t n, int64_t c, int64_t oc, int64_t side, int64_t k, int64_t stride) {
    ConvParams p;
    const int64_t pad = k / 2, out = (side + 2 * pad - k) / stride + 1;
    p.x = Shape{n, c, side, side};
    p.w = Shape{oc, c, k, k};
    p.y = Shape{n, oc, out, out};
    p.stride = {stride, stride, 1};
    p.pad_begin = p.pad_end = {pad, pad, 0};
    p.has_bias = true;
    return p;
}

// The largest |a − b| over the largest |a|.
double relative_difference(const float* a, const float* b, int64_t n) {
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < n; ++i) {
        diff = std::max(diff, std::fabs(double(a[i]) - b[i]));
        scale = std::max(scale, std::fabs(double(a[i])));
    }
    return diff / std::max(scale, 1e-30);
}

// A built-in network at width 1/4 with seeded random weights, BN/ReLU folded.
Graph quarter_width(const std::string& name, int64_t classes, uint64_t seed = 0) {
    BuildOptions o;
    o.width = 0.25f;
    o.num_classes = classes;
    o.seed = seed;
    Graph g = build_network(name, o);
    fuse(g);
    return g;
}

TEST(Winograd, TakenForThreeByThreeStrideOneOnly) {
    SKIP_WITHOUT_WINOGRAD();
    CpuContext direct, wino;
    wino.winograd = true;
    const ConvParams p = conv_params(2, 32, 64, 20, 3, 1);
    const Tensor w = random_tensor(p.w, 1, -0.2f, 0.2f), b = random_tensor(Shape{64}, 2), x = random_tensor(p.x, 3);
    ConvForward a(p, w.data(), b.data(), direct), c(p, w.data(), b.data(), wino);
    EXPECT_FALSE(a.winograd());
    EXPECT_TRUE(c.winograd());
    Tensor ya(p.y), yc(p.y);
    a.run(x.data(), ya.data());
    c.run(x.data(), yc.data());
    const double d = relative_difference(ya.data(), yc.data(), ya.numel());
    std::printf("[ winograd ] 3x3 conv 32->64 against direct: %.2e of max |value|\n", d);
    EXPECT_LT(d, 1e-5);
    EXPECT_GT(d, 0.0);  // another summation: it did run

    for (const ConvParams& q : {conv_params(2, 32, 64, 20, 1, 1), conv_params(2, 32, 64, 20, 3, 2),
                                conv_params(2, 3, 64, 20, 3, 1), conv_params(2, 32, 20, 20, 3, 1)}) {
        const Tensor wq = random_tensor(q.w, 4, -0.2f, 0.2f), bq = random_tensor(Shape{q.w[0]}, 5);
        EXPECT_FALSE(ConvForward(q, wq.data(), bq.data(), wino).winograd()) << q.w.str() << " stride " << q.stride[0];
    }
}

// Whole built-in networks (width 1/4) in Winograd against direct: the outputs agree to rounding.
TEST(Winograd, BuiltinNetworksCloseToDirect) {
    SKIP_WITHOUT_WINOGRAD();
    for (const std::string name : {"alexnet", "vgg16"}) {
        Graph g = quarter_width(name, 50);
        const int64_t side = name == "alexnet" ? 227 : 224;
        const Shape in{2, 3, side, side};
        CpuContext direct, wino;
        wino.winograd = true;
        CompileOptions opt;  // the logits: a softmax of random weights' outputs may round to one-hot
        const std::string out = g.nodes.back().op == OpType::kSoftmax ? g.nodes.back().inputs[0] : g.outputs.at(0);
        opt.keep = {out};
        auto a = compile_cpu(g, {in}, direct, opt), b = compile_cpu(g, {in}, wino, opt);
        const Tensor x = random_tensor(in, 11, -50.f, 50.f);
        a->run({x.view()});
        b->run({x.view()});
        const double d = relative_difference(a->value(out).data, b->value(out).data, a->value(out).numel());
        std::printf("[ winograd ] %s (width 1/4) outputs against direct: %.2e of max |value|\n", name.c_str(), d);
        EXPECT_LT(d, 1e-4) << name;
        EXPECT_GT(d, 0.0) << name;
    }
}

// Incremental execution in Winograd: a crop's tiles start elsewhere than the whole image's, so it
// rounds differently; it equals full (Winograd too) to that rounding, on windows at every border.
TEST(Winograd, IncrementalEqualsFullToRounding) {
    SKIP_WITHOUT_WINOGRAD();
    Graph g = quarter_width("vgg16", 50, 4);
    CpuContext ctx;
    ctx.winograd = true;
    const int64_t k = 10, batch = 8;
    incremental_test::WindowBatches wb(g, k, 23, false, batch, 3);
    IncrementalProgram inc(g, wb.x().view(), k, batch, ctx, {}, true);
    std::unique_ptr<Program> full = compile_cpu(g, {wb.images().shape()}, ctx);
    const std::string& out = g.outputs.at(0);
    double worst = 0;
    int batches = 0;
    for (int i = 0; wb.next(); ++i) {
        if (i % 3 != 0) continue;
        inc.run(wb.images().data(), wb.rows(), wb.cols());
        full->run({wb.images().view()});
        worst =
            std::max(worst, relative_difference(full->value(out).data, inc.value(out).data, full->value(out).numel()));
        ++batches;
    }
    std::printf("[ winograd ] vgg16 (width 1/4) incremental against full: %.2e of max |value|\n", worst);
    EXPECT_GE(batches, 4);
    EXPECT_LT(worst, 1e-4);
}

// Programs of one context take turns in one scratchpad: a batch-1 program compiled after a batch-8
// one (whose Winograd buffers are larger) computes what it computes alone, and so does the batch-8
// one after it; the context's scratchpad is the larger program's need, not the sum.
TEST(Winograd, ProgramsShareOneScratchpad) {
    SKIP_WITHOUT_WINOGRAD();
    Graph g = quarter_width("vgg16", 20);
    const Shape one{1, 3, 224, 224}, eight{8, 3, 224, 224};
    const Tensor x1 = random_tensor(one, 1, -50.f, 50.f), x8 = random_tensor(eight, 2, -50.f, 50.f);
    const std::string& out = g.outputs.at(0);
    auto alone = [&](const Shape& s, const Tensor& x) {
        CpuContext c;
        c.winograd = true;
        auto p = compile_cpu(g, {s}, c);
        p->run({x.view()});
        const ConstTensorView v = p->value(out);
        return std::vector<float>(v.data, v.data + v.numel());
    };
    CpuContext ctx;
    ctx.winograd = true;
    auto p8 = compile_cpu(g, {eight}, ctx);
    auto p1 = compile_cpu(g, {one}, ctx);
    EXPECT_GT(p8->scratchpad_bytes(), p1->scratchpad_bytes());
    EXPECT_EQ(ctx.scratchpad.bytes(), static_cast<size_t>(p8->scratchpad_bytes()));
    p1->run({x1.view()});
    const std::vector<float> a1 = alone(one, x1);
    EXPECT_EQ(std::vector<float>(p1->value(out).data, p1->value(out).data + p1->value(out).numel()), a1);
    p8->run({x8.view()});
    const std::vector<float> a8 = alone(eight, x8);
    EXPECT_EQ(std::vector<float>(p8->value(out).data, p8->value(out).data + p8->value(out).numel()), a8);
}

// The batch sizes the PDA loop rounds up to under Winograd: prime factors 2, 3 and 5 only.
TEST(Winograd, BatchesRoundUpToSmoothSizes) {
    EXPECT_EQ(next_smooth(1), 1);
    EXPECT_EQ(next_smooth(7), 8);
    EXPECT_EQ(next_smooth(43), 45);
    EXPECT_EQ(next_smooth(51), 54);
    EXPECT_EQ(next_smooth(60), 60);
    EXPECT_EQ(next_smooth(61), 64);
    EXPECT_EQ(next_smooth(62), 64);
}

}  // namespace
}  // namespace pda
