// The CPU program's blocked layouts (engine/cpu/layouts.h): which values the plan blocks, and that
// a program with blocked values between oneDNN ops gives what the all-plain program gives, on a
// small graph with every layout-blind op, on the built-in networks and on the real SqueezeNets.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "api/loader.h"
#include "engine/cpu/incremental.h"
#include "engine/cpu/layouts.h"
#include "engine/program.h"
#include "incremental_cases.h"
#include "kernels/cpu/context.h"
#include "kernels/cpu/pool.h"
#include "networks/builtin.h"
#include "test_util.h"

namespace pda {
namespace {

using test::make_node;

Tensor random_tensor(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
    std::mt19937 rng(seed);
    return incremental_test::random_tensor(s, rng, lo, hi);
}

Node conv_node(Graph& g, const std::string& name, const std::string& x, int64_t c, int64_t oc, int64_t k, bool relu,
               uint32_t seed) {
    g.constants[name + ".w"] = random_tensor(Shape{oc, c, k, k}, seed, -0.3f, 0.3f);
    g.constants[name + ".b"] = random_tensor(Shape{oc}, seed + 1);
    Node n = make_node(name, OpType::kConv, {x, name + ".w", name + ".b"}, name);
    n.geo = Geometry::square(2, k, 1, k / 2);
    n.fused_relu = relu;
    return n;
}

// x (16 ch) → c1 (32) → r1 → p1 (max 2×2) → {e1 (16, 1×1), e3 (16, 3×3)} → cat (32) → add (cat + p1)
// → c2 (32) → c3 (20: no whole blocks, so it reads c2 blocked and writes plain) → gap → flat → fc;
// also s = sigmoid(p1) read by a Flatten (a view).
Graph small_graph() {
    Graph g;
    g.name = "layouts";
    g.inputs = {{"x", Shape{1, 16, 12, 12}}};
    g.outputs = {"fc", "sflat"};
    g.nodes.push_back(conv_node(g, "c1", "x", 16, 32, 3, false, 1));
    g.nodes.push_back(make_node("r1", OpType::kRelu, {"c1"}, "r1"));
    Node p1 = make_node("p1", OpType::kMaxPool, {"r1"}, "p1");
    p1.geo = Geometry::square(2, 2, 2, 0);
    g.nodes.push_back(p1);
    g.nodes.push_back(conv_node(g, "e1", "p1", 32, 16, 1, true, 3));
    g.nodes.push_back(conv_node(g, "e3", "p1", 32, 16, 3, true, 5));
    Node cat = make_node("cat", OpType::kConcat, {"e1", "e3"}, "cat");
    cat.axis = 1;
    g.nodes.push_back(cat);
    g.nodes.push_back(make_node("add", OpType::kAdd, {"cat", "p1"}, "add"));
    g.nodes.push_back(conv_node(g, "c2", "add", 32, 32, 3, true, 7));
    g.nodes.push_back(conv_node(g, "c3", "c2", 32, 20, 1, false, 8));
    g.nodes.push_back(make_node("gap", OpType::kGlobalAveragePool, {"c3"}, "gap"));
    g.nodes.push_back(make_node("flat", OpType::kFlatten, {"gap"}, "flat"));
    g.constants["fc.w"] = random_tensor(Shape{5, 20}, 9);
    Node fc = make_node("fc", OpType::kGemm, {"flat", "fc.w"}, "fc");
    fc.trans_b = true;
    fc.alpha = 1.f;
    fc.beta = 1.f;
    g.nodes.push_back(fc);
    g.nodes.push_back(make_node("s", OpType::kSigmoid, {"p1"}, "s"));
    g.nodes.push_back(make_node("sflat", OpType::kFlatten, {"s"}, "sflat"));
    return g;
}

// The largest |a − b| over the largest |a| of every output and kept value.
double worst_relative(Program& a, Program& b, const std::vector<std::string>& names) {
    double worst = 0;
    for (const std::string& v : names) {
        ConstTensorView x = a.value(v), y = b.value(v);
        EXPECT_EQ(x.shape, y.shape) << v;
        double diff = 0, scale = 0;
        for (int64_t i = 0; i < x.numel(); ++i) {
            diff = std::max(diff, std::fabs(double(x.data[i]) - y.data[i]));
            scale = std::max(scale, std::fabs(double(x.data[i])));
        }
        EXPECT_GT(scale, 0) << v;
        worst = std::max(worst, diff / std::max(scale, 1e-30));
    }
    return worst;
}

// Blocked and plain programs of g on a batch of random inputs; returns the worst relative
// difference over the outputs and `keep`.
double blocked_vs_plain(const Graph& g, const Shape& in, const std::set<std::string>& keep = {}) {
    CpuContext ctx;
    CompileOptions plain, blocked;
    plain.keep = blocked.keep = keep;
    plain.blocked_layouts = false;
    auto a = compile_cpu(g, {in}, ctx, plain);
    auto b = compile_cpu(g, {in}, ctx, blocked);
    Tensor x = random_tensor(in, 11, -50.f, 50.f);
    a->run({x.view()});
    b->run({x.view()});
    std::vector<std::string> names(g.outputs.begin(), g.outputs.end());
    names.insert(names.end(), keep.begin(), keep.end());
    return worst_relative(*a, *b, names);
}

TEST(Layouts, PlanBlocksChainsAndKeepsBoundariesPlain) {
    Graph g = small_graph();
    auto shapes = infer_shapes(g, {Shape{2, 16, 12, 12}});
    const std::set<std::string> blocked = plan_cpu_layouts(g, shapes, {}).blocked;
    // p1 is read by the sigmoid, whose output a Flatten (a view) reads: s is plain, so the sigmoid
    // needs p1 plain; then add (p1 + cat) is plain, and so are cat and its sources e1, e3, since a
    // layout-blind op reads and writes one layout. c1 → r1 stays blocked (the pool converts); so does
    // c2, which c3 reads blocked (its 20 output channels are no whole blocks: it writes them channels
    // last, as it computes them, for the global pool), and everything after the pool is plain.
    EXPECT_EQ(blocked, (std::set<std::string>{"c1", "c2", "r1"}));
    EXPECT_EQ(plan_cpu_layouts(g, shapes, {}).channels_last, (std::set<std::string>{"c3"}));
    // Read from outside, c3 is plain.
    EXPECT_TRUE(plan_cpu_layouts(g, shapes, {"c3"}).channels_last.empty());

    // Without the sigmoid reader the whole chain up to c3 is blocked.
    Graph h = small_graph();
    h.nodes.resize(h.nodes.size() - 2);
    h.outputs = {"fc"};
    shapes = infer_shapes(h, {Shape{2, 16, 12, 12}});
    EXPECT_EQ(plan_cpu_layouts(h, shapes, {}).blocked,
              (std::set<std::string>{"c1", "c2", "r1", "p1", "e1", "e3", "cat", "add"}));
    // A value read from outside stays plain, and the layout-blind ops around it with it.
    EXPECT_EQ(plan_cpu_layouts(h, shapes, {"cat"}).blocked, (std::set<std::string>{"c1", "c2", "r1"}));
    EXPECT_EQ(plan_cpu_layouts(h, shapes, {"add"}).blocked, (std::set<std::string>{"c1", "c2", "r1"}));
    // The pool reads plain and writes blocked: keeping c1 (and so r1) plain leaves the rest blocked.
    EXPECT_EQ(plan_cpu_layouts(h, shapes, {"c1"}).blocked,
              (std::set<std::string>{"c2", "p1", "e1", "e3", "cat", "add"}));
}

TEST(Layouts, SmallGraphBlockedEqualsPlain) {
    Graph g = small_graph();
    EXPECT_EQ(blocked_vs_plain(g, Shape{3, 16, 12, 12}), 0.0);
    EXPECT_EQ(blocked_vs_plain(g, Shape{2, 16, 12, 12}, {"cat", "p1"}), 0.0);
    Graph h = small_graph();
    h.nodes.resize(h.nodes.size() - 2);
    h.outputs = {"fc"};
    EXPECT_EQ(blocked_vs_plain(h, Shape{2, 16, 12, 12}), 0.0);
}

TEST(Layouts, GlobalPoolsGiveTheSameBitsInBothLayouts) {
    // (2, 32, 5, 3) plain and the same values in nChw16c (nChw8c below AVX-512): per block of B
    // channels, spatial, lane.
    const Shape s{2, 32, 5, 3};
    Tensor x = random_tensor(s, 21);
    Tensor xb(s);
    const int64_t hw = 15, b = channel_block(), blocks = 32 / b;
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t c = 0; c < 32; ++c)
            for (int64_t i = 0; i < hw; ++i)
                xb.data()[((n * blocks + c / b) * hw + i) * b + c % b] = x.data()[(n * 32 + c) * hw + i];
    for (PoolKind kind : {PoolKind::kAverage, PoolKind::kMax}) {
        Tensor a(Shape{2, 32, 1, 1}), b(Shape{2, 32, 1, 1});
        global_pool_forward(kind, x.view(), a.view(), Layout::kPlain);
        global_pool_forward(kind, xb.view(), b.view(), Layout::kBlocked);
        for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]) << i;
    }
}

// (N, C, spatial...) plain ↔ oneDNN's blocked layout (N, C/B, spatial..., B), B = channel_block().
Tensor to_blocked(const Tensor& x, bool back = false) {
    const Shape& s = x.shape();
    const int64_t b = channel_block(), blocks = s[1] / b, sp = x.numel() / (s[0] * s[1]);
    Tensor y(s);
    for (int64_t n = 0; n < s[0]; ++n)
        for (int64_t c = 0; c < s[1]; ++c)
            for (int64_t i = 0; i < sp; ++i) {
                const int64_t plain = (n * s[1] + c) * sp + i, blocked = ((n * blocks + c / b) * sp + i) * b + c % b;
                y.data()[back ? plain : blocked] = x.data()[back ? blocked : plain];
            }
    return y;
}

TEST(Layouts, MaxPoolsGiveTheSameBitsBlocked) {
    // Max pools from and to the blocked layout (the C++ kernel) against the same pools on plain
    // values (oneDNN): pads, strides, dilation, the ceil-mode extension, 1-3 spatial axes, two blocks
    // of channels. A window wholly in the padding has no maximum: that pool stays on oneDNN.
    struct Case {
        const char* name;
        std::vector<int64_t> in, k, s, pb, pe, d;
        bool ceil, cpp;
    };
    const Case cases[] = {
        {"squeezenet 3x3 s2 ceil", {13, 13}, {3, 3}, {2, 2}, {0, 0}, {0, 0}, {1, 1}, true, true},
        {"pads stride", {9, 10}, {3, 3}, {2, 2}, {1, 0}, {1, 1}, {1, 1}, false, true},
        {"asymmetric", {12, 12}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {1, 1}, false, true},
        {"ceil extension", {10, 8}, {3, 2}, {2, 3}, {1, 0}, {0, 0}, {1, 1}, true, true},
        {"dilation", {11, 9}, {3, 2}, {1, 2}, {1, 1}, {1, 0}, {2, 3}, false, true},
        {"1-d", {17}, {4}, {3}, {1}, {2}, {1}, false, true},
        {"3-d ceil", {7, 6, 5}, {2, 3, 2}, {2, 2, 2}, {0, 1, 0}, {1, 0, 0}, {1, 1, 1}, true, true},
        {"window in the padding", {1, 6}, {2, 2}, {1, 2}, {2, 0}, {2, 0}, {3, 1}, false, false},
    };
    CpuContext ctx;
    for (const Case& t : cases) {
        const int nd = static_cast<int>(t.in.size());
        PoolParams p;
        p.kind = PoolKind::kMax;
        std::vector<int64_t> xs{2, 2 * channel_block()}, ys = xs;
        for (int i = 0; i < nd; ++i) {
            p.kernel[i] = t.k[i];
            p.stride[i] = t.s[i];
            p.pad_begin[i] = t.pb[i];
            p.pad_end[i] = t.pe[i];
            p.dilation[i] = t.d[i];
            const int64_t span = t.in[i] + t.pb[i] + t.pe[i] - (t.k[i] - 1) * t.d[i] - 1;
            int64_t out = (t.ceil ? (span + t.s[i] - 1) / t.s[i] : span / t.s[i]) + 1;
            if (t.ceil && (out - 1) * t.s[i] >= t.in[i] + t.pb[i]) --out;  // the last window starts inside
            xs.push_back(t.in[i]);
            ys.push_back(out);
        }
        p.x = Shape(xs);
        p.y = Shape(ys);
        const Tensor x = random_tensor(p.x, 31);
        Tensor plain(p.y), blocked(p.y);
        PoolForward(p, ctx).run(x.data(), plain.data());
        PoolForward pb(p, ctx, Layout::kBlocked, Layout::kBlocked);
        EXPECT_EQ(pb.blocked_max(), t.cpp) << t.name;
        const Tensor xb = to_blocked(x);
        pb.run(xb.data(), blocked.data());
        const Tensor back = to_blocked(blocked, true);
        for (int64_t i = 0; i < plain.numel(); ++i) ASSERT_EQ(plain.data()[i], back.data()[i]) << t.name << " at " << i;
    }
}

TEST(Layouts, GlobalPoolsGiveTheSameBitsChannelsLast) {
    // (2, 20, 5, 3) plain and the same values channels last (2, 5, 3, 20): a group of 16 channels and
    // a short one of 4.
    const Shape s{2, 20, 5, 3};
    Tensor x = random_tensor(s, 22);
    Tensor xl(s);
    const int64_t hw = 15;
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t c = 0; c < 20; ++c)
            for (int64_t i = 0; i < hw; ++i) xl.data()[(n * hw + i) * 20 + c] = x.data()[(n * 20 + c) * hw + i];
    for (PoolKind kind : {PoolKind::kAverage, PoolKind::kMax}) {
        Tensor a(Shape{2, 20, 1, 1}), b(Shape{2, 20, 1, 1});
        global_pool_forward(kind, x.view(), a.view(), Layout::kPlain);
        global_pool_forward(kind, xl.view(), b.view(), Layout::kChannelsLast);
        for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]) << i;
    }
}

// x (3 ch, 32²) → c1 (16, 3×3) → p1 (max 2×2) → c2 (32, 3×3) → c3 (20, 1×1, pad 1: no whole blocks)
// → gap → flat: c1, p1, c2 blocked, c3 channels last.
Graph last_layer_graph() {
    Graph g;
    g.name = "last_layer";
    g.inputs = {{"x", Shape{1, 3, 32, 32}}};
    g.outputs = {"flat"};
    g.nodes.push_back(conv_node(g, "c1", "x", 3, 16, 3, true, 31));
    Node p1 = make_node("p1", OpType::kMaxPool, {"c1"}, "p1");
    p1.geo = Geometry::square(2, 2, 2, 0);
    g.nodes.push_back(p1);
    g.nodes.push_back(conv_node(g, "c2", "p1", 16, 32, 3, true, 33));
    Node c3 = conv_node(g, "c3", "c2", 32, 20, 1, true, 35);
    c3.geo = Geometry::square(2, 1, 1, 1);
    g.nodes.push_back(c3);
    g.nodes.push_back(make_node("gap", OpType::kGlobalAveragePool, {"c3"}, "gap"));
    g.nodes.push_back(make_node("flat", OpType::kFlatten, {"gap"}, "flat"));
    return g;
}

TEST(Layouts, ChannelsLastLastLayerEqualsPlain) {
    Graph g = last_layer_graph();
    auto shapes = infer_shapes(g, {Shape{2, 3, 32, 32}});
    const CpuLayoutPlan plan = plan_cpu_layouts(g, shapes, {});
    EXPECT_EQ(plan.blocked, (std::set<std::string>{"c1", "p1", "c2"}));
    EXPECT_EQ(plan.channels_last, (std::set<std::string>{"c3"}));
    EXPECT_EQ(blocked_vs_plain(g, Shape{3, 3, 32, 32}), 0.0);
    EXPECT_EQ(blocked_vs_plain(g, Shape{2, 3, 32, 32}, {"c3"}), 0.0);
}

TEST(Layouts, BuiltinNetworksBlockedEqualPlain) {
    for (const std::string name : {"alexnet", "googlenet", "vgg16"}) {
        BuildOptions o;
        o.width = 0.25f;
        o.num_classes = 50;
        Graph g = build_network(name, o);
        fuse(g);
        const int64_t side = name == "alexnet" ? 227 : 224;
        CpuContext ctx;
        auto shapes = infer_shapes(g, {Shape{2, 3, side, side}});
        EXPECT_FALSE(plan_cpu_layouts(g, shapes, {}).blocked.empty()) << name;
        EXPECT_EQ(blocked_vs_plain(g, Shape{2, 3, side, side}), 0.0) << name;
    }
}

TEST(Layouts, SharedSqueezeNetsBlockedEqualPlain) {
    PDA_SKIP_WITHOUT_SHARED();
    for (const char* model : {"squeezenet1.1-caffe", "squeezenet1.1-torchvision"}) {
        LoadedModel m = load_model(test::shared_dir() + "/models/" + model + ".onnx", {});
        fuse(m.graph);
        Shape s = m.input_shape;
        s[0] = 2;
        auto shapes = infer_shapes(m.graph, {s});
        const CpuLayoutPlan plan = plan_cpu_layouts(m.graph, shapes, {});
        EXPECT_GE(plan.blocked.size(), 20u) << model;
        // conv10 (1000 classes: no whole blocks of 16) lies channels last, as it computes, for its
        // global pool; in blocks of 8 (below AVX-512) it is blocked.
        std::set<std::string> classes;  // the convolution to the 1000 classes
        for (const Node& n : m.graph.nodes)
            if (n.op == OpType::kConv && shapes.at(n.output)[1] == 1000) classes.insert(n.output);
        EXPECT_EQ(classes.size(), 1u) << model;
        if (1000 % channel_block() == 0)
            EXPECT_TRUE(plan.channels_last.empty() && plan.blocked.count(*classes.begin())) << model;
        else
            EXPECT_EQ(plan.channels_last, classes) << model;
        EXPECT_EQ(blocked_vs_plain(m.graph, s), 0.0) << model;
    }
}

// The incremental executor with blocked values (its crops gathered in the blocked layout) against the
// all-plain one (the CUDA executor's layout) and a full forward, on every window batch of the grid's
// borders and centre (every third batch), reading only the graph output (kept values stay plain, so the tests of
// test_incremental.cc, which keep every value, run nearly all plain).
void check_incremental(const Graph& g, int64_t k, int64_t stride) {
    CpuContext ctx;
    incremental_test::WindowBatches wb(g, k, stride, false, 8, 3);
    IncrementalProgram blocked(g, wb.x().view(), k, 8, ctx, {}, true);
    IncrementalProgram plain(g, wb.x().view(), k, 8, ctx, {}, false);
    EXPECT_GE(blocked.blocked_values().size(), 3u) << g.name;
    EXPECT_TRUE(plain.blocked_values().empty());
    std::unique_ptr<Program> full = compile_cpu(g, {wb.images().shape()}, ctx);
    const std::string& out = g.outputs.at(0);
    int batches = 0;
    for (int i = 0; wb.next(); ++i) {
        if (i % 3 != 0) continue;  // batches 0, 3, …, 12 of 13: the first and last rows among them
        blocked.run(wb.images().data(), wb.rows(), wb.cols());
        plain.run(wb.images().data(), wb.rows(), wb.cols());
        full->run({wb.images().view()});
        ConstTensorView a = blocked.value(out), b = plain.value(out), f = full->value(out);
        ASSERT_EQ(a.shape, f.shape);
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < a.numel(); ++i) {
            ASSERT_EQ(a.data[i], b.data[i]) << g.name << " element " << i << " of batch " << batches;
            worst = std::max(worst, std::fabs(double(a.data[i]) - f.data[i]));
            scale = std::max(scale, std::fabs(double(f.data[i])));
        }
        EXPECT_LE(worst, 1e-5 * scale) << g.name << " batch " << batches;
        ++batches;
    }
    EXPECT_GE(batches, 4);
}

TEST(Layouts, IncrementalBlockedEqualsPlainAndFull) {
    for (const std::string name : {"alexnet", "googlenet", "vgg16"}) {
        BuildOptions o;
        o.width = name == "googlenet" ? 0.5f : 0.25f;
        o.num_classes = 50;
        o.seed = 4;
        Graph g = build_network(name, o);
        fuse(g);
        g.name = name;
        check_incremental(g, 10, 23);
    }
}

TEST(Layouts, IncrementalChannelsLastEqualsPlainAndFull) {
    Graph g = last_layer_graph();
    CpuContext ctx;
    {
        incremental_test::WindowBatches wb(g, 5, 3, false, 8, 3);
        IncrementalProgram p(g, wb.x().view(), 5, 8, ctx);
        EXPECT_EQ(p.channels_last_values(), (std::set<std::string>{"c3"}));
    }
    check_incremental(g, 5, 3);
}

// A volume network's first layers, as in a small 3-D CNN: x (1 ch) → c1 (4 maps, 3³, stride 2) → r1
// (ReLU) → p1 (max 2³) → c2 (16, 3³) → p2 (max 2³) → flat → fc. c1, r1 and p1 have 4 channels, no
// whole blocks (of 16 or 8): they lie channels last from the convolution through the ReLU and the
// pool into c2 (in plain layout oneDNN pools with its reference kernel); c2 is blocked, and p2, read
// by a Flatten (a view), plain.
Graph volume_first_layers() {
    Graph g;
    g.name = "volume_first_layers";
    g.inputs = {{"x", Shape{1, 1, 13, 15, 11}}};
    g.outputs = {"fc"};
    g.constants["c1.w"] = random_tensor(Shape{4, 1, 3, 3, 3}, 41, -0.3f, 0.3f);
    g.constants["c1.b"] = random_tensor(Shape{4}, 42);
    Node c1 = make_node("c1", OpType::kConv, {"x", "c1.w", "c1.b"}, "c1");
    c1.geo = Geometry::square(3, 3, 2, 1);
    g.nodes.push_back(c1);
    g.nodes.push_back(make_node("r1", OpType::kRelu, {"c1"}, "r1"));
    Node p1 = make_node("p1", OpType::kMaxPool, {"r1"}, "p1");
    p1.geo = Geometry::square(3, 2, 2, 0, true);
    g.nodes.push_back(p1);
    g.constants["c2.w"] = random_tensor(Shape{16, 4, 3, 3, 3}, 43, -0.3f, 0.3f);
    g.constants["c2.b"] = random_tensor(Shape{16}, 44);
    Node c2 = make_node("c2", OpType::kConv, {"p1", "c2.w", "c2.b"}, "c2");
    c2.geo = Geometry::square(3, 3, 1, 1);
    c2.fused_relu = true;
    g.nodes.push_back(c2);
    Node p2 = make_node("p2", OpType::kMaxPool, {"c2"}, "p2");
    p2.geo = Geometry::square(3, 2, 2, 0);
    g.nodes.push_back(p2);
    g.nodes.push_back(make_node("flat", OpType::kFlatten, {"p2"}, "flat"));
    g.constants["fc.w"] = random_tensor(Shape{3, 16 * 2 * 2 * 1}, 45);
    Node fc = make_node("fc", OpType::kGemm, {"flat", "fc.w"}, "fc");
    fc.trans_b = true;
    fc.alpha = 1.f;
    fc.beta = 1.f;
    g.nodes.push_back(fc);
    return g;
}

TEST(Layouts, VolumeFirstLayersChannelsLastEqualPlain) {
    Graph g = volume_first_layers();
    auto shapes = infer_shapes(g, {Shape{2, 1, 13, 15, 11}});
    const CpuLayoutPlan plan = plan_cpu_layouts(g, shapes, {});
    EXPECT_EQ(plan.channels_last, (std::set<std::string>{"c1", "r1", "p1"}));
    EXPECT_EQ(plan.blocked, (std::set<std::string>{"c2"}));
    // A pass-through op agrees with its input: r1 kept (plain) makes c1 plain too; p1 still pools
    // channels last from a plain source.
    const CpuLayoutPlan kept = plan_cpu_layouts(g, shapes, {"r1"});
    EXPECT_EQ(kept.channels_last, (std::set<std::string>{"p1"}));
    EXPECT_EQ(blocked_vs_plain(g, Shape{3, 1, 13, 15, 11}), 0.0);
    EXPECT_EQ(blocked_vs_plain(g, Shape{2, 1, 13, 15, 11}, {"r1", "p1"}), 0.0);

    // Incremental: crops gathered channels last give the all-plain program's bits, and the full
    // forward's values.
    CpuContext ctx;
    incremental_test::WindowBatches wb(g, 3, 2, false, 8, 5);
    IncrementalProgram last(g, wb.x().view(), 3, 8, ctx, {}, true);
    IncrementalProgram plain(g, wb.x().view(), 3, 8, ctx, {}, false);
    EXPECT_EQ(last.channels_last_values(), (std::set<std::string>{"c1", "r1", "p1"}));
    std::unique_ptr<Program> full = compile_cpu(g, {wb.images().shape()}, ctx);
    int batches = 0;
    while (wb.next()) {
        last.run(wb.images().data(), wb.slices(), wb.rows(), wb.cols());
        plain.run(wb.images().data(), wb.slices(), wb.rows(), wb.cols());
        full->run({wb.images().view()});
        ConstTensorView a = last.value("fc"), b = plain.value("fc"), f = full->value("fc");
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < a.numel(); ++i) {
            ASSERT_EQ(a.data[i], b.data[i]) << "element " << i << " of batch " << batches;
            worst = std::max(worst, std::fabs(double(a.data[i]) - f.data[i]));
            scale = std::max(scale, std::fabs(double(f.data[i])));
        }
        EXPECT_LE(worst, 1e-5 * scale) << "batch " << batches;
        ++batches;
    }
    EXPECT_GE(batches, 10);
}

TEST(Layouts, SharedSqueezeNetsIncrementalBlockedEqualsPlainAndFull) {
    PDA_SKIP_WITHOUT_SHARED();
    for (const char* model : {"squeezenet1.1-caffe", "squeezenet1.1-torchvision"}) {
        LoadedModel m = load_model(test::shared_dir() + "/models/" + model + ".onnx", {});
        fuse(m.graph);
        m.graph.name = model;
        check_incremental(m.graph, 10, 17);
    }
}

}  // namespace
}  // namespace pda
