// The graph room and the executor's bookkeeping: window geometry (floor and ceil mode), shape
// inference errors that name the node, the exact fusions (BatchNorm into Conv, ReLU into Conv),
// and the memory plan, which must reuse activation buffers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/program.h"
#include "kernels/cpu/context.h"
#include "networks/builtin.h"
#include "networks/graph.h"

namespace pda {
namespace {

Tensor random_tensor(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
    Tensor t(s);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = u(rng);
    return t;
}

TEST(Geometry, OutputSizeFloorAndCeil) {
    Geometry g = Geometry::square(2, 3, 2, 0);
    EXPECT_EQ(g.out_size(0, 112), 55);  // floor((112 − 3) / 2) + 1
    g.ceil_mode = true;
    EXPECT_EQ(g.out_size(0, 112), 56);  // GoogLeNet pool1: ceil
    EXPECT_EQ(g.out_size(0, 113), 56);
    // Ceil mode never starts a window in the end padding: in 5, k 2, s 2, pad 1 → 3, not 4.
    Geometry p = Geometry::square(2, 2, 2, 1, true);
    EXPECT_EQ(p.out_size(0, 5), 3);
    Geometry d = Geometry::square(2, 3, 1, 2);
    d.dilation[0] = 2;
    EXPECT_EQ(d.out_size(0, 10), 10);  // 10 + 4 − 2·2 − 1 + 1
}

Graph conv_bn_relu_graph() {
    Graph g;
    g.name = "t";
    g.inputs = {{"x", Shape{1, 3, 9, 9}}};
    g.outputs = {"y"};
    g.constants["w"] = random_tensor(Shape{4, 3, 3, 3}, 1);
    g.constants["b"] = random_tensor(Shape{4}, 2);
    g.constants["gamma"] = random_tensor(Shape{4}, 3, 0.5f, 1.5f);
    g.constants["beta"] = random_tensor(Shape{4}, 4);
    g.constants["mean"] = random_tensor(Shape{4}, 5);
    g.constants["var"] = random_tensor(Shape{4}, 6, 0.2f, 2.f);
    Node conv;
    conv.name = "conv";
    conv.op = OpType::kConv;
    conv.inputs = {"x", "w", "b"};
    conv.output = "c";
    conv.geo = Geometry::square(2, 3, 1, 1);
    Node bn;
    bn.name = "bn";
    bn.op = OpType::kBatchNorm;
    bn.inputs = {"c", "gamma", "beta", "mean", "var"};
    bn.output = "n";
    Node relu;
    relu.name = "relu";
    relu.op = OpType::kRelu;
    relu.inputs = {"n"};
    relu.output = "y";
    g.nodes = {conv, bn, relu};
    return g;
}

TEST(Graph, ShapeErrorsNameTheNode) {
    Graph g = conv_bn_relu_graph();
    try {
        infer_shapes(g, {Shape{1, 5, 9, 9}});
        FAIL() << "5 channels accepted by a 3-channel conv";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput);
        EXPECT_NE(std::string(e.what()).find("node 'conv' (Conv)"), std::string::npos) << e.what();
    }
    EXPECT_THROW(infer_shapes(g, {Shape{1, 3, 9}}), Error);  // no second spatial axis
}

TEST(Graph, FusionIsExact) {
    Graph plain = conv_bn_relu_graph();
    Graph fused = conv_bn_relu_graph();
    fuse(fused);
    ASSERT_EQ(fused.nodes.size(), 1u);
    EXPECT_TRUE(fused.nodes[0].fused_relu);
    EXPECT_EQ(fused.constants.count("gamma"), 0u);  // folded statistics are dropped
    Tensor x = random_tensor(Shape{2, 3, 9, 9}, 7);
    CpuContext ctx;
    auto a = compile_cpu(plain, {x.shape()}, ctx);
    auto b = compile_cpu(fused, {x.shape()}, ctx);
    a->run({x.view()});
    b->run({x.view()});
    ConstTensorView ya = a->value("y"), yb = b->value("y");
    ASSERT_EQ(ya.shape, yb.shape);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < ya.numel(); ++i) {
        worst = std::max(worst, std::fabs(double(ya.data[i]) - yb.data[i]));
        scale = std::max(scale, std::fabs(double(ya.data[i])));
    }
    EXPECT_GT(scale, 0.1);
    EXPECT_LE(worst, 1e-5 * scale) << "worst |plain − fused| " << worst;
}

TEST(Executor, MemoryPlanReusesBuffers) {
    // VGG16 at width 1/8: 37 nodes whose outputs would take far more memory without reuse.
    BuildOptions o;
    o.width = 0.125f;
    Graph g = build_network("vgg16", o);
    CpuContext ctx;
    Shape in{2, 3, 224, 224};
    auto shapes = infer_shapes(g, {in});
    int64_t all = 0, largest = 0;
    for (const Node& n : g.nodes) {
        all += shapes.at(n.output).numel() * 4;
        largest = std::max(largest, shapes.at(n.output).numel() * 4);
    }
    auto prog = compile_cpu(g, {in}, ctx);
    EXPECT_LT(prog->activation_bytes(), all / 4) << "plan " << prog->activation_bytes() << " of " << all;
    EXPECT_GE(prog->activation_bytes(), 2 * largest);  // a node's input and output coexist
    std::printf("VGG16/8, batch 2: %.1f MB planned for %.1f MB of activations\n", prog->activation_bytes() / 1e6,
                all / 1e6);
}

TEST(Executor, KeptValuesSurviveAndWrongInputShapeIsRefused) {
    Graph g = conv_bn_relu_graph();
    CpuContext ctx;
    CompileOptions opt;
    opt.keep = {"c"};
    Tensor x = random_tensor(Shape{1, 3, 9, 9}, 8);
    auto prog = compile_cpu(g, {x.shape()}, ctx, opt);
    prog->run({x.view()});
    EXPECT_EQ(prog->value("c").shape, (Shape{1, 4, 9, 9}));
    Tensor wrong = random_tensor(Shape{2, 3, 9, 9}, 9);
    EXPECT_THROW(prog->run({wrong.view()}), Error);
    EXPECT_THROW(compile_cpu(g, {x.shape()}, ctx, CompileOptions{{"nope"}}), Error);
}

TEST(Executor, ProgramsShareOneArenaSizedForTheLargest) {
    BuildOptions o;
    o.width = 0.125f;
    o.num_classes = 10;
    Graph g = build_network("alexnet", o);
    CpuContext ctx;
    SharedArena arena;
    CompileOptions shared;
    shared.arena = &arena;
    Tensor x1 = random_tensor(Shape{1, 3, 227, 227}, 10), x4 = random_tensor(Shape{4, 3, 227, 227}, 11);
    auto own1 = compile_cpu(g, {x1.shape()}, ctx), own4 = compile_cpu(g, {x4.shape()}, ctx);
    auto p1 = compile_cpu(g, {x1.shape()}, ctx, shared), p4 = compile_cpu(g, {x4.shape()}, ctx, shared);
    own1->run({x1.view()});
    own4->run({x4.view()});
    for (int round = 0; round < 2; ++round) {  // alternately, the small one first: the arena grows once
        p1->run({x1.view()});
        ConstTensorView a = p1->value("prob"), b = own1->value("prob");
        for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data[i], b.data[i]);
        p4->run({x4.view()});
        a = p4->value("prob"), b = own4->value("prob");
        for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data[i], b.data[i]);
    }
    EXPECT_EQ(arena.floats() * 4, p4->activation_bytes());
    EXPECT_GT(p4->activation_bytes(), p1->activation_bytes());
}

}  // namespace
}  // namespace pda
