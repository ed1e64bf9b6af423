// Changed-region propagation (networks/regions.h): hand-computed boxes and crops of single window
// ops (stride, pads, dilation, ceil mode, borders and corners), a brute-force check against the CPU
// executor on random conv/pool chains (every changed element lies in its box; monotone chains make
// the box tight), the crop plan, and the FLOP model's ratios for the built-in networks at k = 10.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/program.h"
#include "kernels/cpu/context.h"
#include "networks/builtin.h"
#include "networks/regions.h"
#include "test_util.h"

namespace pda {

void PrintTo(const Box& b, std::ostream* os) { *os << b.str(); }  // readable failures

namespace {

Box box1(int64_t b, int64_t e) { return Box::make({b}, {e}); }
Box box2(int64_t b0, int64_t e0, int64_t b1, int64_t e1) { return Box::make({b0, b1}, {e0, e1}); }

Geometry geo1(int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d = 1, bool ceil_mode = false) {
    Geometry g = Geometry::square(1, k, s, pb, ceil_mode);
    g.pad_end[0] = pe;
    g.dilation[0] = d;
    return g;
}

// The output shape of a 1-D window op on a map of n (N = C = 1).
Shape out1(const Geometry& g, int64_t n) { return Shape{1, 1, g.out_size(0, n)}; }

TEST(RegionsBox, UnionIntersectContains) {
    Box a = box2(0, 4, 2, 5), b = box2(3, 6, 0, 3), e = box2(2, 2, 0, 9);
    EXPECT_EQ(a.unite(b), box2(0, 6, 0, 5));
    EXPECT_EQ(a.intersect(b), box2(3, 4, 2, 3));
    EXPECT_TRUE(e.empty());
    EXPECT_EQ(a.unite(e), a);
    EXPECT_EQ(e.unite(a), a);
    EXPECT_TRUE(a.intersect(box2(4, 9, 0, 9)).empty());
    EXPECT_TRUE(a.contains(e));
    EXPECT_TRUE(box2(0, 6, 0, 5).contains(a));
    EXPECT_FALSE(a.contains(b));
    EXPECT_EQ(a.volume(), 12);
    EXPECT_EQ(Box::whole(Shape{2, 3, 7, 9}), box2(0, 7, 0, 9));
    EXPECT_EQ(a.str(), "[0,4)×[2,5)");
}

TEST(RegionsWindow, StrideOneSamePadding) {
    Geometry g = geo1(3, 1, 1, 1);
    Shape y = out1(g, 9);  // 9
    EXPECT_EQ(window_changed_box(g, box1(4, 5), y), box1(3, 6));
    EXPECT_EQ(window_changed_box(g, box1(0, 2), y), box1(0, 3));  // o = −1 is clipped
    EXPECT_EQ(window_changed_box(g, box1(8, 9), y), box1(7, 9));  // o = 9 is clipped
    WindowCrop c = window_input_crop(g, box1(3, 6), Shape{1, 1, 9});
    EXPECT_EQ(c.read, box1(2, 7));
    EXPECT_EQ(c.pad_begin[0], 0);
    EXPECT_EQ(c.pad_end[0], 0);
    c = window_input_crop(g, box1(0, 3), Shape{1, 1, 9});  // the first window reads one pad
    EXPECT_EQ(c.read, box1(0, 4));
    EXPECT_EQ(c.pad_begin[0], 1);
    EXPECT_EQ(c.size(0), 5);
    c = window_input_crop(g, box1(7, 9), Shape{1, 1, 9});
    EXPECT_EQ(c.read, box1(6, 9));
    EXPECT_EQ(c.pad_end[0], 1);
}

TEST(RegionsWindow, StridedKernels) {
    Geometry g = geo1(3, 2, 0, 0);
    Shape y = out1(g, 11);  // floor((11 − 3) / 2) + 1 = 5
    ASSERT_EQ(y[2], 5);
    EXPECT_EQ(window_changed_box(g, box1(4, 5), y), box1(1, 3));  // windows [2,4] and [4,6]
    EXPECT_EQ(window_changed_box(g, box1(5, 6), y), box1(2, 3));  // only [4,6]
    EXPECT_EQ(window_input_crop(g, box1(1, 3), Shape{1, 1, 11}).read, box1(2, 7));
    // AlexNet conv1 (K 11, s 4, 227 → 55) and the centre 10-pixel window: o·4 ∈ [98, 117].
    Geometry a = geo1(11, 4, 0, 0);
    EXPECT_EQ(window_changed_box(a, box1(108, 118), out1(a, 227)), box1(25, 30));
    WindowCrop c = window_input_crop(a, box1(25, 30), Shape{1, 1, 227});
    EXPECT_EQ(c.read, box1(100, 127));
    EXPECT_EQ(c.size(0), 27);
    // Stride larger than the kernel skips inputs: a change at 1 reaches no output.
    Geometry skip = geo1(1, 2, 0, 0);
    EXPECT_TRUE(window_changed_box(skip, box1(1, 2), out1(skip, 8)).empty());
    EXPECT_EQ(window_changed_box(skip, box1(1, 5), out1(skip, 8)), box1(1, 3));
}

TEST(RegionsWindow, AsymmetricPadsAndDilation) {
    Geometry g = geo1(2, 1, 0, 1);  // SAME_UPPER for an even kernel
    Shape y = out1(g, 5);
    ASSERT_EQ(y[2], 5);
    EXPECT_EQ(window_changed_box(g, box1(4, 5), y), box1(3, 5));
    WindowCrop c = window_input_crop(g, box1(3, 5), Shape{1, 1, 5});
    EXPECT_EQ(c.read, box1(3, 5));
    EXPECT_EQ(c.pad_begin[0], 0);
    EXPECT_EQ(c.pad_end[0], 1);
    // Dilation 2, K 3, pad 2: taps o − 2, o, o + 2.
    Geometry d = geo1(3, 1, 2, 2, 2);
    Shape yd = out1(d, 10);
    EXPECT_EQ(window_changed_box(d, box1(5, 6), yd), box1(3, 8));
    c = window_input_crop(d, box1(0, 2), Shape{1, 1, 10});
    EXPECT_EQ(c.read, box1(0, 4));
    EXPECT_EQ(c.pad_begin[0], 2);
    EXPECT_EQ(c.size(0), 6);
    // Dilation 2, K 2, stride 2: taps 2o and 2o + 2 never read odd inputs. The window's span would
    // say output 2 changes; no tap of any output reads position 5.
    Geometry e = geo1(2, 2, 0, 0, 2);
    Shape ye = out1(e, 12);
    EXPECT_TRUE(window_changed_box(e, box1(5, 6), ye).empty());
    EXPECT_EQ(window_changed_box(e, box1(4, 5), ye), box1(1, 3));
}

TEST(RegionsWindow, CeilModeLastWindowReachesPastTheMap) {
    Geometry g = geo1(3, 2, 0, 0, 1, true);  // GoogLeNet pool1: 112 → 56
    Shape y = out1(g, 112);
    ASSERT_EQ(y[2], 56);
    EXPECT_EQ(window_changed_box(g, box1(111, 112), y), box1(55, 56));
    EXPECT_EQ(window_changed_box(g, box1(108, 110), y), box1(53, 55));
    WindowCrop c = window_input_crop(g, box1(55, 56), Shape{1, 1, 112});
    EXPECT_EQ(c.read, box1(110, 112));
    EXPECT_EQ(c.pad_end[0], 1);  // beyond the map and beyond pad_end = 0
    EXPECT_EQ(c.size(0), 3);
}

TEST(RegionsWindow, CornersInTwoAndThreeDimensions) {
    Geometry g = Geometry::square(2, 3, 1, 1);
    Shape y{1, 4, 9, 9};
    Box b = window_changed_box(g, box2(0, 1, 8, 9), y);  // top-right corner pixel
    EXPECT_EQ(b, box2(0, 2, 7, 9));
    WindowCrop c = window_input_crop(g, b, Shape{1, 3, 9, 9});
    EXPECT_EQ(c.read, box2(0, 3, 6, 9));
    EXPECT_EQ(c.pad_begin[0], 1);
    EXPECT_EQ(c.pad_begin[1], 0);
    EXPECT_EQ(c.pad_end[0], 0);
    EXPECT_EQ(c.pad_end[1], 1);
    Geometry g3 = Geometry::square(3, 3, 2, 1);
    Shape y3{1, 1, 3, 3, 3};  // 5 → 3; output o reads 2o − 1 .. 2o + 1
    EXPECT_EQ(window_changed_box(g3, Box::make({2, 0, 4}, {3, 1, 5}), y3), Box::make({1, 0, 2}, {2, 1, 3}));
    EXPECT_EQ(window_changed_box(g3, Box::make({1, 0, 3}, {4, 5, 5}), y3), Box::make({0, 0, 1}, {3, 3, 3}));
}

// ---- graphs --------------------------------------------------------------------------------------

Tensor random_tensor(const Shape& s, std::mt19937& rng, float lo, float hi) {
    Tensor t(s);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = u(rng);
    return t;
}

struct GraphMaker {
    Graph g;
    std::map<std::string, Shape> shapes;
    std::mt19937 rng{1};
    float wlo = -1.f, whi = 1.f;

    explicit GraphMaker(const Shape& in) {
        g.name = "t";
        g.inputs = {{"x", in}};
        shapes["x"] = in;
    }
    std::string add(Node n) {
        n.output = n.name;
        g.nodes.push_back(n);
        shapes = infer_shapes(g, {g.inputs[0].shape});
        return n.name;
    }
    std::string window(OpType op, const std::string& x, const Geometry& geo, int64_t out_ch = 0) {
        Node n;
        n.name = "n" + std::to_string(g.nodes.size());
        n.op = op;
        n.inputs = {x};
        n.geo = geo;
        if (op == OpType::kConv) {
            int nd = geo.nd;
            std::vector<int64_t> ws = {out_ch, shapes.at(x)[1]};
            for (int i = 0; i < nd; ++i) ws.push_back(geo.kernel[i]);
            g.constants[n.name + ".w"] = random_tensor(Shape(ws), rng, wlo, whi);
            g.constants[n.name + ".b"] = random_tensor(Shape{out_ch}, rng, wlo, whi);
            n.inputs.push_back(n.name + ".w");
            n.inputs.push_back(n.name + ".b");
        }
        return add(n);
    }
    std::string op(OpType op, const std::vector<std::string>& xs) {
        Node n;
        n.name = "n" + std::to_string(g.nodes.size());
        n.op = op;
        n.inputs = xs;
        n.axis = 1;
        return add(n);
    }
};

TEST(RegionsGraph, BranchesUnionAndSpatialMixing) {
    GraphMaker m(Shape{1, 2, 12, 12});
    std::string a = m.window(OpType::kConv, "x", Geometry::square(2, 1, 1, 0), 2);
    std::string b = m.window(OpType::kConv, "x", Geometry::square(2, 5, 1, 2), 2);
    std::string p = m.window(OpType::kMaxPool, "x", Geometry::square(2, 3, 1, 1, true));
    std::string cat = m.op(OpType::kConcat, {a, b, p});
    std::string r = m.op(OpType::kRelu, {cat});
    std::string sum = m.op(OpType::kAdd, {cat, r});
    std::string gap = m.op(OpType::kGlobalAveragePool, {sum});
    std::string scaled = m.op(OpType::kMul, {sum, gap});  // broadcast along space: everything
    std::string soft = m.op(OpType::kSoftmax, {sum});     // over channels: keeps the box
    std::string flat = m.op(OpType::kFlatten, {sum});
    m.g.outputs = {scaled, soft, flat};
    auto r2 = propagate_regions(m.g, m.shapes, "x", box2(5, 7, 0, 1));
    EXPECT_EQ(r2.at(a).box, box2(5, 7, 0, 1));
    EXPECT_EQ(r2.at(b).box, box2(3, 9, 0, 3));
    EXPECT_EQ(r2.at(p).box, box2(4, 8, 0, 2));
    EXPECT_TRUE(r2.at(b).window);
    EXPECT_EQ(r2.at(b).crop.read, box2(1, 11, 0, 5));
    EXPECT_EQ(r2.at(b).crop.pad_begin[1], 2);
    EXPECT_EQ(r2.at(cat).box, box2(3, 9, 0, 3));
    EXPECT_FALSE(r2.at(cat).full);
    EXPECT_EQ(r2.at(r).box, box2(3, 9, 0, 3));
    EXPECT_EQ(r2.at(sum).box, box2(3, 9, 0, 3));
    EXPECT_EQ(r2.at(soft).box, box2(3, 9, 0, 3));
    for (const std::string& v : {gap, scaled, flat}) EXPECT_TRUE(r2.at(v).full) << v;
    EXPECT_EQ(r2.at(scaled).box, box2(0, 12, 0, 12));
    EXPECT_THROW(propagate_regions(m.g, m.shapes, "x", box2(5, 13, 0, 1)), Error);
    EXPECT_THROW(propagate_regions(m.g, m.shapes, "y", box2(5, 7, 0, 1)), Error);
}

TEST(RegionsGraph, ValuesOfAnotherInputStayClean) {
    GraphMaker m(Shape{1, 1, 8, 8});
    m.g.inputs.push_back({"z", Shape{1, 1, 8, 8}});
    m.shapes["z"] = Shape{1, 1, 8, 8};
    Node n;
    n.name = n.output = "zc";
    n.op = OpType::kConv;
    n.geo = Geometry::square(2, 3, 1, 1);
    m.g.constants["zc.w"] = Tensor(Shape{1, 1, 3, 3});
    n.inputs = {"z", "zc.w"};
    m.g.nodes.push_back(n);
    Node add;
    add.name = add.output = "sum";
    add.op = OpType::kAdd;
    add.inputs = {"x", "zc"};
    m.g.nodes.push_back(add);
    m.g.outputs = {"sum"};
    auto shapes = infer_shapes(m.g, {Shape{1, 1, 8, 8}, Shape{1, 1, 8, 8}});
    auto r = propagate_regions(m.g, shapes, "x", box2(2, 3, 2, 3));
    EXPECT_FALSE(r.at("zc").changed);
    EXPECT_EQ(r.at("sum").box, box2(2, 3, 2, 3));
}

TEST(RegionsGraph, AChangeSkippedByAStrideChangesNothingDownstream) {
    GraphMaker m(Shape{1, 1, 8, 8});
    std::string c = m.window(OpType::kConv, "x", Geometry::square(2, 1, 2, 0), 1);
    std::string r = m.op(OpType::kRelu, {c});
    std::string f = m.op(OpType::kFlatten, {r});
    m.g.outputs = {f};
    auto regions = propagate_regions(m.g, m.shapes, "x", box2(1, 2, 3, 4));
    for (const std::string& v : {c, r, f}) EXPECT_FALSE(regions.at(v).changed) << v;
    EXPECT_TRUE(regions.at("x").changed);
    EXPECT_FALSE(regions.at(f).full);
    regions = propagate_regions(m.g, m.shapes, "x", box2(2, 3, 3, 5));
    EXPECT_EQ(regions.at(r).box, box2(1, 2, 2, 3));
    EXPECT_TRUE(regions.at(f).full);
}

// ---- brute force against the CPU executor --------------------------------------------------------

// A random chain of 3–6 window ops (and ReLUs) on a random map. monotone: positive weights, no max
// pooling and dilation 1, so a large positive perturbation strictly raises every value it reaches.
GraphMaker random_chain(uint32_t seed, int nd, bool monotone) {
    std::mt19937 rng(seed);
    auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
    std::vector<int64_t> in = {1, uni(1, 2)};
    for (int i = 0; i < nd; ++i) in.push_back(nd == 3 ? uni(7, 11) : nd == 2 ? uni(12, 26) : uni(20, 60));
    GraphMaker m{Shape(in)};
    m.rng.seed(seed + 1000);
    if (monotone) m.wlo = 0.5f, m.whi = 1.f;
    std::string x = "x";
    int layers = static_cast<int>(uni(3, 6));
    for (int l = 0; l < layers; ++l) {
        int kind = static_cast<int>(uni(0, monotone ? 3 : 4));  // 0, 1 conv; 2 relu; 3 avg; 4 max
        if (kind == 2) {
            x = m.op(OpType::kRelu, {x});
            continue;
        }
        OpType op = kind <= 1 ? OpType::kConv : kind == 3 ? OpType::kAveragePool : OpType::kMaxPool;
        const Shape& s = m.shapes.at(x);
        Geometry g;
        g.nd = nd;
        g.ceil_mode = op != OpType::kConv && uni(0, 1);
        bool ok = true;
        for (int i = 0; i < nd; ++i) {
            g.kernel[i] = uni(1, 4);
            g.stride[i] = uni(1, 3);
            g.dilation[i] = (!monotone && op != OpType::kAveragePool) ? uni(1, 2) : 1;
            int64_t ext = g.dilation[i] * (g.kernel[i] - 1) + 1;
            int64_t max_pad = op == OpType::kConv ? ext - 1 : (ext - 1) / 2;
            g.pad_begin[i] = uni(0, max_pad);
            g.pad_end[i] = uni(0, max_pad);
            ok &= g.out_size(i, s[2 + i]) >= 2;
        }
        if (ok) x = m.window(op, x, g, uni(1, 2));
    }
    m.g.outputs = {x};
    return m;
}

// For every value: the bounding box of the elements that differ between two runs.
Box changed_extent(ConstTensorView a, ConstTensorView b) {
    const Shape& s = a.shape;
    int nd = s.rank - 2;
    Box e{nd, {}, {}};
    int64_t inner = 1;
    for (int i = 2; i < s.rank; ++i) inner *= s[i];
    for (int64_t idx = 0; idx < a.numel(); ++idx) {
        if (a.data[idx] == b.data[idx]) continue;
        Box p{nd, {}, {}};
        int64_t r = idx % inner;
        for (int i = nd - 1; i >= 0; --i) {
            p.begin[i] = r % s[2 + i];
            p.end[i] = p.begin[i] + 1;
            r /= s[2 + i];
        }
        e = e.unite(p);
    }
    return e;
}

void check_chain(uint32_t seed, int nd, bool monotone) {
    GraphMaker m = random_chain(seed, nd, monotone);
    const Shape in = m.g.inputs[0].shape;
    std::mt19937 rng(seed + 7);
    auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
    Box w{nd, {}, {}};
    for (int i = 0; i < nd; ++i) {
        int64_t n = in[2 + i], len = uni(1, std::min<int64_t>(5, n));
        int where = static_cast<int>(uni(0, 2));  // at the start, at the end, anywhere
        w.begin[i] = where == 0 ? 0 : where == 1 ? n - len : uni(0, n - len);
        w.end[i] = w.begin[i] + len;
    }
    Tensor clean = random_tensor(in, rng, monotone ? 0.f : -1.f, 1.f), perturbed = clean.clone();
    int64_t inner = Box::whole(in).volume();
    for (int64_t idx = 0; idx < perturbed.numel(); ++idx) {
        int64_t r = idx % inner;
        bool inside = true;
        for (int i = nd - 1; i >= 0; --i) {
            int64_t p = r % in[2 + i];
            r /= in[2 + i];
            inside &= p >= w.begin[i] && p < w.end[i];
        }
        if (inside) perturbed.data()[idx] += monotone ? 1e8f : std::normal_distribution<float>(0.f, 1.f)(rng);
    }
    CompileOptions opt;
    for (const Node& n : m.g.nodes) opt.keep.insert(n.output);
    CpuContext ctx;
    auto prog = compile_cpu(m.g, {in}, ctx, opt);
    std::map<std::string, Tensor> ref;
    prog->run({clean.view()});
    for (const Node& n : m.g.nodes) ref[n.output] = Tensor(prog->shape(n.output), prog->value(n.output).data);
    prog->run({perturbed.view()});
    auto regions = propagate_regions(m.g, m.shapes, "x", w);
    for (const Node& n : m.g.nodes) {
        Box actual = changed_extent(ref.at(n.output).view(), prog->value(n.output));
        const RegionInfo& ri = regions.at(n.output);
        std::string what = "seed " + std::to_string(seed) + " node " + n.name + " (" + op_name(n.op) + ") window " +
                           w.str() + ": changed " + actual.str() + ", box " + ri.box.str();
        EXPECT_TRUE(ri.box.contains(actual)) << what;
        if (monotone) {
            EXPECT_EQ(actual, ri.box) << what;
        }
        if (ri.window) {  // the crop covers the receptive span of the box
            const Shape& xs = m.shapes.at(n.inputs[0]);
            for (int i = 0; i < nd; ++i) {
                int64_t d = n.geo.dilation[i];
                EXPECT_EQ(ri.crop.size(i), (ri.box.size(i) - 1) * n.geo.stride[i] + d * (n.geo.kernel[i] - 1) + 1)
                    << what;
                EXPECT_LE(ri.crop.read.end[i], xs[2 + i]) << what;
            }
        }
    }
}

TEST(RegionsBruteForce, RandomChainsChangeOnlyInsideTheirBoxes) {
    for (uint32_t seed = 0; seed < 60; ++seed) check_chain(seed, 2, false);
    for (uint32_t seed = 100; seed < 115; ++seed) check_chain(seed, 1, false);
    for (uint32_t seed = 200; seed < 210; ++seed) check_chain(seed, 3, false);
}

TEST(RegionsBruteForce, MonotoneChainsFillTheirBoxesExactly) {
    for (uint32_t seed = 300; seed < 360; ++seed) check_chain(seed, 2, true);
    for (uint32_t seed = 400; seed < 410; ++seed) check_chain(seed, 1, true);
    for (uint32_t seed = 500; seed < 506; ++seed) check_chain(seed, 3, true);
}

// ---- crop plan and FLOP model --------------------------------------------------------------------

TEST(RegionsPlan, CropFitsEveryWindowPosition) {
    BuildOptions o;
    o.random_weights = false;
    for (const char* name : {"alexnet", "googlenet"}) {
        Graph g = build_network(name, o);
        auto shapes = infer_shapes(g, {g.inputs[0].shape});
        const int64_t k = 10, side = g.inputs[0].shape[2];
        CropPlan plan = crop_plan(g, shapes, "data", k);
        ASSERT_EQ(plan.nodes.size(), g.nodes.size());
        std::mt19937 rng(3);
        std::uniform_int_distribution<int64_t> pos(0, side - k);
        for (int t = 0; t < 40; ++t) {
            int64_t r = t < 4 ? (t % 2) * (side - k) : pos(rng), c = t < 4 ? (t / 2) * (side - k) : pos(rng);
            auto regions = propagate_regions(g, shapes, "data", box2(r, r + k, c, c + k));
            for (size_t i = 0; i < g.nodes.size(); ++i) {
                const Box& b = regions.at(g.nodes[i].output).box;
                for (int a = 0; a < b.nd; ++a)
                    EXPECT_LE(b.size(a), plan.nodes[i].out[a]) << name << " " << g.nodes[i].name << " " << b.str();
            }
        }
        // Once a node is full, every node reading it is full too.
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            const NodeCrop& c = plan.nodes[i];
            EXPECT_TRUE(c.changed) << c.node;
            if (!c.incremental) continue;
            EXPECT_LT(c.fraction, kFullCropFraction) << c.node;
            for (const std::string& v : g.nodes[i].inputs)
                if (const Node* p = g.producer(v)) {
                    EXPECT_TRUE(plan.find(p->name)->incremental) << c.node;
                }
        }
        EXPECT_FALSE(plan.find("prob")->incremental);
        EXPECT_TRUE(plan.nodes.front().incremental);
    }
    Graph g = build_network("vgg16", o);
    auto shapes = infer_shapes(g, {g.inputs[0].shape});
    CropPlan plan = crop_plan(g, shapes, "data", 10);
    EXPECT_EQ(plan.find("conv1_1")->out[0], 12);
    EXPECT_EQ(plan.find("conv1_1")->in[0], 14);  // 12 + 2: the 3×3 halo
    EXPECT_EQ(plan.find("pool1")->out[0], 8);    // conv1_2's 14 rows span 15 inputs of pool1: 7 or 8 windows
    EXPECT_TRUE(plan.find("conv5_3")->incremental);
    EXPECT_FALSE(plan.find("pool5")->incremental);  // 7×7 of 7×7
    EXPECT_THROW(crop_plan(g, shapes, "data", 0), Error);
    EXPECT_THROW(crop_plan(g, shapes, "data", 225), Error);
}

TEST(RegionsFlops, BuiltinRatiosAtK10MatchTheIssue) {
    BuildOptions o;
    o.random_weights = false;
    const std::pair<const char*, double> expect[] = {{"alexnet", 3.2}, {"googlenet", 2.4}, {"vgg16", 7.7}};
    for (const auto& [name, target] : expect) {
        Graph g = build_network(name, o);
        auto shapes = infer_shapes(g, {g.inputs[0].shape});
        FlopModel all = incremental_flops(g, shapes, crop_plan(g, shapes, "data", 10));
        FlopModel centre = incremental_flops(g, shapes, crop_plan(g, shapes, "data", 10, true));
        EXPECT_NEAR(all.ratio(), target, 0.1 * target) << name;
        // The centre window alone is a lower bound on the plan's cost. VGG16's centre window meets
        // pool2 at the favourable stride alignment (6 rows, not 7), and conv3_1..conv5_3 inherit the
        // smaller box: 9.1 for the centre window alone, 7.7 for a crop that fits every window.
        EXPECT_LE(all.ratio(), centre.ratio()) << name;
        double sum = 0;
        for (const auto& [f, inc] : all.per_node) sum += f;
        EXPECT_DOUBLE_EQ(sum, all.full);
        std::printf("%-10s k=10: full %.3f GFLOP, incremental %.3f GFLOP, ratio %.2f (centre window %.2f)\n", name,
                    all.full / 1e9, all.incremental / 1e9, all.ratio(), centre.ratio());
    }
}

TEST(RegionsFlops, InfoPrintsTheRatio) {
    auto r = test::run_pda("info alexnet --pda-k 10 --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    EXPECT_NEAR(j["incremental"]["ratio"].get<double>(), 3.2, 0.32);
    EXPECT_EQ(j["nodes"][0]["crop"], (std::vector<int64_t>{5, 5}));
    EXPECT_EQ(j["nodes"][0]["exec"], "crop");
    r = test::run_pda("info vgg16 --pda-k 10");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("full / incremental = 7."), std::string::npos) << r.output;
    EXPECT_NE(test::run_pda("info alexnet --pda-k 0").exit_code, 0);
}

}  // namespace
}  // namespace pda
