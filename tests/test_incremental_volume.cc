// Exact incremental inference on volumes (engine/incremental_plan.h, engine/cpu/incremental.h): for
// batches of resampled volumes, each changed inside its own k × k × k window, the incremental
// executor's outputs and every hidden value equal a full forward of the same batch (max |difference|
// ≤ 1e-5 of max |value|, FP32, as the 2-D suite) on random 3-D graphs with every op the 3-D path runs
// (Conv3d with stride, pads, dilation and groups, max and average pools with stride, ceil mode and
// count_include_pad, BatchNorm, Relu, Add, Concat over channels, Softmax over channels, global
// average pool, Flatten → Gemm), at k from 1 to 5 (none divides an axis but 1), windows at every
// face, edge and corner of the stride grid; the blocked layout gives the same bits as the plain one;
// the origin tables hold at every window position; the CUDA kernels' index math equals the CPU's
// gathers; explain maps of a small 3-D CNN equal full execution's for every sampler; `pda explain`
// runs volume CNNs incrementally on the CPU and `pda info --pda-k` prints their crops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/cpu/incremental.h"
#include "engine/explainer.h"
#include "engine/gaussian.h"
#include "engine/program.h"
#include "engine/sampler_conditional.h"
#include "engine/samplers.h"
#include "incremental_cases.h"
#include "io/volume.h"
#include "kernels/cpu/context.h"
#include "kernels/cpu/crop.h"
#include "kernels/crop_math.h"
#include "tests/onnx_builder.h"
#include "tests/test_util.h"

namespace pda {
namespace {

constexpr double kTolerance = 1e-5;

using incremental_test::geo3;
using incremental_test::Maker;
using incremental_test::random_tensor;
using incremental_test::random_volume_graph;
using incremental_test::WindowBatches;

double worst_difference(const Graph& g, const std::vector<std::string>& values, int64_t k, int64_t stride,
                        int64_t batch, uint32_t seed, CpuContext& ctx) {
    return incremental_test::worst_against_full(
        g, values, k, stride, true, batch, seed, kTolerance, [&](ConstTensorView x, const std::set<std::string>& keep) {
            return std::make_unique<IncrementalProgram>(g, x, k, batch, ctx, keep);
        });
}

std::vector<std::string> every_value(const Graph& g) {
    std::vector<std::string> r;
    for (const Node& n : g.nodes) r.push_back(n.output);
    return r;
}

// ---- random 3-D graphs: every op and the border cases ----------------------------------------------

TEST(IncrementalVolume, RandomGraphsEqualFullEverywhere) {
    // Strides 3 and 4, the last window flush with every face: faces, edges and corners. Large batches:
    // the same windows in fewer runs (the suite's time goes to the runs' many small parallel regions).
    using Cases = std::vector<std::pair<int64_t, int64_t>>;  // (k, stride)
    for (bool include_pad : {false, true}) {
        const Graph g = random_volume_graph(include_pad ? 7 : 3, include_pad);
        CpuContext ctx;
        const std::vector<std::string> all = every_value(g);
        for (const auto& [k, s] : include_pad ? Cases{{2, 3}, {4, 3}} : Cases{{1, 4}, {3, 3}, {5, 3}}) {
            const double worst = worst_difference(g, all, k, s, 48, static_cast<uint32_t>(k * 10 + s), ctx);
            EXPECT_LE(worst, kTolerance) << g.name << " k=" << k << " stride=" << s;
            std::printf("[ incremental ] %-10s k=%lld stride=%lld worst relative difference %.2e\n", g.name.c_str(),
                        static_cast<long long>(k), static_cast<long long>(s), worst);
        }
    }
}

// Constants that vary over space: x + (−mean volume) at the input, as a CNN that centres its input on
// the training subjects' mean exports it, and a product with a spatial map after a convolution: such
// an operand is gathered at each window's crop like an unchanged value (before, a crop read the
// constant from its origin); a per-channel constant, the same everywhere, is read as it is; one that
// varies along one axis only (not a whole map) makes its step run in full. All equal a full forward.
TEST(IncrementalVolume, ConstantsThatVaryOverSpaceEqualFull) {
    const Shape in{1, 1, 9, 10, 11};
    Maker m(17, in);
    m.g.name = "spatial_constants";
    m.g.constants["neg_mean"] = random_tensor(in, m.rng, -1.f, 1.f);
    std::string x = m.op(OpType::kAdd, {"x", "neg_mean"});
    x = m.conv(x, 4, geo3(3, 1, 1, 1));
    m.g.constants["map"] = random_tensor(Shape{1, 1, 9, 10, 11}, m.rng, 0.5f, 1.5f);
    x = m.op(OpType::kMul, {x, "map"});
    m.g.constants["per_channel"] = random_tensor(Shape{1, 4, 1, 1, 1}, m.rng, -1.f, 1.f);
    const std::string cropped = m.op(OpType::kAdd, {x, "per_channel"});
    m.g.constants["along_rows"] = random_tensor(Shape{1, 1, 1, 10, 1}, m.rng, -1.f, 1.f);
    const std::string full = m.op(OpType::kAdd, {cropped, "along_rows"});
    x = m.op(OpType::kRelu, {full});
    x = m.pool(x, OpType::kAveragePool, geo3(2, 2, 0, 0));
    x = m.conv(x, 4, geo3(3, 1, 1, 1));
    x = m.op(OpType::kGlobalAveragePool, {x});
    x = m.op(OpType::kFlatten, {x});
    x = m.gemm(x, 3);
    m.g.outputs = {x};
    validate(m.g);

    const IncrementalPlan plan = plan_incremental(m.g, in, 3);
    EXPECT_EQ(plan.value(m.g.nodes[0].output).held, Held::kCrop) << "x + (−mean)";
    EXPECT_EQ(plan.value(m.g.nodes[2].output).held, Held::kCrop) << "× a spatial map";
    EXPECT_TRUE(plan.value("neg_mean").constant);
    EXPECT_TRUE(plan.value("map").constant);
    EXPECT_EQ(plan.value(cropped).held, Held::kCrop) << "+ a per-channel constant";
    EXPECT_EQ(plan.values.count("per_channel"), 0u);
    EXPECT_EQ(plan.value(full).held, Held::kFull) << "+ a constant along the rows only";
    CpuContext ctx;
    for (const auto& [k, s] : std::vector<std::pair<int64_t, int64_t>>{{3, 2}, {2, 3}}) {
        const double worst = worst_difference(m.g, every_value(m.g), k, s, 16, static_cast<uint32_t>(k * 10 + s), ctx);
        EXPECT_LE(worst, kTolerance) << "k=" << k << " stride=" << s;
    }
}

// The plan must hold crops on all three axes (else the test above would pass on full maps), smaller
// than the map along depth too, window ops among them (a stride-2 pool with ceil mode too), and
// images stay planned as depth 1.
TEST(IncrementalVolume, PlanCropsAlongEveryAxis) {
    const Graph g = random_volume_graph(3, false);
    const IncrementalPlan plan = plan_incremental(g, g.inputs[0].shape, 3);
    EXPECT_EQ(plan.D, 13);
    EXPECT_EQ(plan.kd, 3);
    int crops = 0, deep = 0, windows = 0, strided = 0;
    for (const auto& [v, pv] : plan.values) {
        if (pv.held != Held::kCrop) continue;
        ++crops;
        EXPECT_EQ(pv.oz.size(), 11u) << v;  // 13 − 3 + 1 window front slices
        EXPECT_EQ(pv.oy.size(), 9u) << v;
        EXPECT_EQ(pv.ox.size(), 15u) << v;
        deep += pv.cd > 1 && pv.cd < pv.map_d();
    }
    for (const PlannedStep& st : plan.steps) {
        windows += st.held == Held::kCrop && st.window;
        strided += st.held == Held::kCrop && st.window && st.stride_d == 2 && st.td > 1;
    }
    EXPECT_GE(crops, 12);
    EXPECT_GE(deep, 10);
    EXPECT_GE(windows, 7);
    EXPECT_GE(strided, 2);
    EXPECT_EQ(plan.value("x").held, Held::kInput);

    const Graph image = incremental_test::random_graph(3, false);
    const IncrementalPlan p2 = plan_incremental(image, image.inputs[0].shape, 5);
    EXPECT_EQ(p2.D, 1);
    EXPECT_EQ(p2.kd, 1);
    int image_crops = 0;
    for (const auto& [v, pv] : p2.values)
        if (pv.held == Held::kCrop) {
            ++image_crops;
            EXPECT_EQ(pv.cd, 1) << v;
            EXPECT_EQ(pv.oz, std::vector<int32_t>{0}) << v;
            EXPECT_EQ(pv.crop_shape(2, 3).rank, 4) << v;
        }
    EXPECT_GE(image_crops, 5);
    for (const PlannedStep& st : p2.steps) {
        EXPECT_EQ(st.td, 1);
        EXPECT_EQ(st.pad_d, 0);
    }
}

// The origin tables (one sweep per axis) against the changed box of every window position,
// propagated on its own.
TEST(IncrementalVolume, OriginTablesHoldAtEveryWindowPosition) {
    const Graph g = random_volume_graph(7, true);
    const Shape in = g.inputs[0].shape;
    const auto shapes = infer_shapes(g, {in});
    for (int64_t k : {2, 5}) {
        const IncrementalPlan plan = plan_incremental(g, in, k);
        int64_t checked = 0;
        for (int64_t z = 0; z + k <= in[2]; ++z)
            for (int64_t r = 0; r + k <= in[3]; ++r)
                for (int64_t c = 0; c + k <= in[4]; ++c) {
                    const auto regions =
                        propagate_regions(g, shapes, plan.input, Box::make({z, r, c}, {z + k, r + k, c + k}));
                    for (const auto& [v, pv] : plan.values) {
                        if (pv.held != Held::kCrop || !regions.at(v).changed) continue;
                        const Box crop = Box::make({pv.oz[z], pv.oy[r], pv.ox[c]},
                                                   {pv.oz[z] + pv.cd, pv.oy[r] + pv.ch, pv.ox[c] + pv.cw});
                        ASSERT_TRUE(crop.contains(regions.at(v).box) && Box::whole(pv.shape).contains(crop))
                            << "k=" << k << " window (" << z << ", " << r << ", " << c << ") value '" << v << "' box "
                            << regions.at(v).box.str() << " crop " << crop.str();
                        ++checked;
                    }
                }
        EXPECT_GT(checked, 1000) << "k=" << k;
    }
}

// Branches whose taps leave gaps in 3-D: a 1³ conv of stride 2 and a dilated conv beside an ordinary
// strided one, concatenated (the plan then checks its tables at every window position).
TEST(IncrementalVolume, GapGraphsEqualFullEverywhere) {
    Maker m(11, Shape{1, 2, 9, 8, 7});
    std::string x = m.conv("x", 4, geo3(3, 1, 1, 1));
    std::string a = m.conv(x, 4, geo3(1, 2, 0, 0));
    std::string b = m.conv(x, 4, geo3(3, 2, 1, 1));
    Geometry dilated = geo3(3, 2, 2, 2);
    dilated.dilation = {2, 2, 2};
    std::string c = m.conv(x, 4, dilated);
    x = m.op(OpType::kConcat, {a, b, c});
    x = m.op(OpType::kRelu, {x});
    x = m.pool(x, OpType::kMaxPool, geo3(2, 2, 0, 0));
    x = m.op(OpType::kGlobalAveragePool, {x});
    x = m.op(OpType::kFlatten, {x});
    x = m.gemm(x, 5);
    m.g.outputs = {x};
    validate(m.g);
    CpuContext ctx;
    for (const auto& [k, s] : std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {2, 2}, {3, 2}}) {
        const double worst = worst_difference(m.g, every_value(m.g), k, s, 32, static_cast<uint32_t>(k + s), ctx);
        EXPECT_LE(worst, kTolerance) << "k=" << k << " stride=" << s;
    }
}

// Crops of 16-channel values gathered in oneDNN's blocked layout (B, C/16, d, h, w, 16) give the
// same bits as the all-plain executor (the CUDA executor's layout), both equal to a full forward.
TEST(IncrementalVolume, BlockedEqualsPlainAndFull) {
    const Graph g = random_volume_graph(7, true);  // average pools counting pads: no divisor factors, blockable
    CpuContext ctx;
    WindowBatches wb(g, 3, 4, false, 24, 5);  // 4 × 3 × 5 windows
    IncrementalProgram blocked(g, wb.x().view(), 3, 24, ctx, {}, true);
    IncrementalProgram plain(g, wb.x().view(), 3, 24, ctx, {}, false);
    EXPECT_GE(blocked.blocked_values().size(), 3u);
    EXPECT_TRUE(plain.blocked_values().empty());
    std::unique_ptr<Program> full = compile_cpu(g, {wb.images().shape()}, ctx);
    const std::string& out = g.outputs.at(0);
    int batches = 0;
    while (wb.next()) {
        blocked.run(wb.images().data(), wb.slices(), wb.rows(), wb.cols());
        plain.run(wb.images().data(), wb.slices(), wb.rows(), wb.cols());
        full->run({wb.images().view()});
        const ConstTensorView a = blocked.value(out), b = plain.value(out), f = full->value(out);
        ASSERT_EQ(a.shape, f.shape);
        for (int64_t i = 0; i < a.numel(); ++i)
            ASSERT_EQ(a.data[i], b.data[i]) << "element " << i << " batch " << batches;
        EXPECT_LE(incremental_test::relative_difference(a, f), kTolerance) << "batch " << batches;
        ++batches;
    }
    EXPECT_EQ(batches, 3);
}

TEST(IncrementalVolume, WindowsOutsideTheVolumeAreInputErrors) {
    const Graph g = random_volume_graph(3, false);
    CpuContext ctx;
    std::mt19937 rng(1);
    const Tensor x = random_tensor(g.inputs[0].shape, rng, -1.f, 1.f);
    IncrementalProgram p(g, x.view(), 3, 2, ctx);
    Shape batch = g.inputs[0].shape;
    batch[0] = 2;
    Tensor images(batch);
    std::copy(x.data(), x.data() + x.numel(), images.data());
    std::copy(x.data(), x.data() + x.numel(), images.data() + x.numel());
    EXPECT_NO_THROW(p.run(images.data(), {10, 0}, {8, 0}, {14, 0}));     // the far corner: 13 − 3, 11 − 3, 17 − 3
    EXPECT_THROW(p.run(images.data(), {11, 0}, {0, 0}, {0, 0}), Error);  // one slice past
    EXPECT_THROW(p.run(images.data(), {0, 0}, {0, -1}, {0, 0}), Error);  // negative
    EXPECT_THROW(p.run(images.data(), {0}, {0, 0}, {0, 0}), Error);      // too few
}

// ---- the index math the CUDA kernels run, against the CPU's row gathers ----------------------------

// crop_batch_gather (one element per CUDA thread) against cpu::crop_gather (whole rows) on 3-D tiles
// with strides, padding on every side and origins from tables: crops over a clean map, whole maps and
// an unchanged value; crop_batch_factor_offset against cpu::crop_scale.
TEST(IncrementalVolume, KernelIndexMathEqualsCpuGathers) {
    std::mt19937 rng(6);
    const int64_t B = 3, C = 3, d = 5, h = 6, w = 7;
    const std::vector<int32_t> slices{0, 2, 1}, rows{1, 0, 2}, cols{2, 1, 0};
    const CropWindows win{slices.data(), rows.data(), cols.data()};
    const std::vector<int32_t> sz{0, 2, 3}, sy{1, 3, 2}, sx{3, 0, 1};  // source crop origins by window
    const std::vector<int32_t> tz{0, 1, 2}, ty{0, 2, 1}, tx{1, 0, 2};  // tile (output crop) origins
    const Tensor clean = random_tensor(Shape{C, d, h, w}, rng, -1.f, 1.f);
    const Tensor crops = random_tensor(Shape{B, C, 2, 3, 4}, rng, 2.f, 3.f);
    const Tensor whole = random_tensor(Shape{B, C, d, h, w}, rng, 4.f, 5.f);
    CropSource crop{crops.data(), clean.data(), d, h, w, 2, 3, 4, sz.data(), sy.data(), sx.data()};
    CropSource full{whole.data(), nullptr, d, h, w, d, h, w, nullptr, nullptr, nullptr};
    CropSource unchanged{nullptr, clean.data(), d, h, w, 0, 0, 0, nullptr, nullptr, nullptr};
    CropTile t;
    t.batch = B;
    t.channels = C;
    t.td = 4;
    t.th = 3;
    t.tw = 5;
    t.oz = tz.data();
    t.oy = ty.data();
    t.ox = tx.data();
    t.stride_d = 2;
    t.stride_w = 2;
    t.pad_d = 1;
    t.pad_w = 2;
    t.pad = -7.f;
    int64_t pads = 0, from_crop = 0;
    for (const CropSource* src : {&crop, &full, &unchanged}) {
        Tensor dst(Shape{B, C, t.td, t.th, t.tw});
        cpu::crop_gather(dst.data(), t, *src, win);
        for (int64_t i = 0; i < dst.numel(); ++i) {
            const float e = crop_batch_gather(i, t, *src, win);
            ASSERT_EQ(dst.data()[i], e) << "element " << i;
            pads += e == -7.f;
            from_crop += src == &crop && e >= 2.f;
        }
    }
    EXPECT_GT(pads, 30);  // every case reads the padding somewhere
    EXPECT_GT(from_crop, 20);

    CropTile out;  // each image's (2, 3, 4) crop of a (d, h, w) output
    out.batch = B;
    out.channels = C;
    out.td = 2;
    out.th = 3;
    out.tw = 4;
    out.oz = sz.data();
    out.oy = sy.data();
    out.ox = sx.data();
    const Tensor factor = random_tensor(Shape{d, h, w}, rng, 0.5f, 2.f);
    Tensor y = crops.clone();
    cpu::crop_scale(y.data(), factor.data(), out, h, w, win);
    for (int64_t i = 0; i < y.numel(); ++i)
        ASSERT_EQ(y.data()[i], crops.data()[i] * factor.data()[crop_batch_factor_offset(i, out, h, w, win)]) << i;
}

// ---- the explainer: incremental maps equal full maps --------------------------------------------

// A small 3-D CNN on (1, 2, 9, 8, 10): Conv3d (8, 3³, pad 1) → Relu → MaxPool3d (2³) → Conv3d (8,
// 3³, pad 1) → Relu → global average pool → Flatten → Gemm (4) → Softmax.
Graph cnn3d(const Shape& shape) {
    Maker m(21, shape);
    m.g.name = "cnn3d";
    std::string x = m.conv("x", 8, geo3(3, 1, 1, 1));
    x = m.op(OpType::kRelu, {x});
    x = m.pool(x, OpType::kMaxPool, geo3(2, 2, 0, 0));
    x = m.conv(x, 8, geo3(3, 1, 1, 1));
    x = m.op(OpType::kRelu, {x});
    x = m.op(OpType::kGlobalAveragePool, {x});
    x = m.op(OpType::kFlatten, {x});
    x = m.gemm(x, 4);
    x = m.op(OpType::kSoftmax, {x});
    m.g.outputs = {x};
    validate(m.g);
    return std::move(m.g);
}

double map_difference(const Tensor& a, const Tensor& b) {
    EXPECT_EQ(a.shape(), b.shape());
    return incremental_test::relative_difference(a.view(), b.view());
}

TEST(IncrementalVolume, ExplainMapsEqualFullForEverySampler) {
    const Shape shape{1, 2, 9, 8, 10};
    const Graph g = cnn3d(shape);
    std::mt19937 rng(4);
    const Tensor x = random_tensor(shape, rng, -1.f, 1.f);
    std::vector<Tensor> set;
    for (int i = 0; i < 4; ++i) set.push_back(random_tensor(shape, rng, -1.f, 1.f));
    for (const std::string kind : {"occlusion", "marginal", "conditional"}) {
        Explanation e[2];
        for (int i = 0; i < 2; ++i) {
            ExplainParams p;
            p.k = 3;
            p.stride = 2;
            p.samples = kind == "occlusion" ? 1 : 3;
            p.classes = ClassSelection::all();
            p.nodes = {"n3"};  // the second convolution's activation difference
            p.batch = 60;
            p.exec = i == 0 ? Execution::kFull : Execution::kIncremental;
            std::unique_ptr<Sampler> sampler;
            if (kind == "occlusion") {
                sampler = make_occlusion_sampler(0.5f);
            } else if (kind == "marginal") {
                std::vector<Tensor> copy;
                for (const Tensor& t : set) copy.push_back(t.clone());
                sampler = make_marginal_sampler(std::move(copy));
            } else {
                sampler = std::make_unique<ConditionalSampler>(fit_gaussian(set, 3, 1, 0, 0), ConditionalOptions{});
            }
            CpuContext ctx;
            e[i] = explain_cpu(g, {g.outputs[0], false}, x.view(), *sampler, p, ctx);
        }
        EXPECT_EQ(e[0].classes, e[1].classes) << kind;
        EXPECT_EQ(e[0].forward_passes, e[1].forward_passes) << kind;
        EXPECT_EQ(e[0].windows, 4 * 4 * 5) << kind;  // stride 2, the last window flush with the far face
        EXPECT_EQ(e[1].relevance.shape(), (Shape{4, 9, 8, 10})) << kind;
        const double rel = map_difference(e[1].relevance, e[0].relevance);
        const double node = map_difference(e[1].node_maps.at("n3"), e[0].node_maps.at("n3"));
        EXPECT_LE(rel, kTolerance) << kind;
        EXPECT_LE(node, kTolerance) << kind;
        EXPECT_EQ(map_difference(e[1].counts, e[0].counts), 0.0) << kind;
        std::printf("[ incremental ] explain volume %-11s relevance %.2e n3 AD %.2e (relative), %lld windows\n",
                    kind.c_str(), rel, node, static_cast<long long>(e[0].windows));
    }
}

// ---- the program: pda explain and pda info on a volume CNN ------------------------------------------

namespace fs = std::filesystem;

// An ONNX 3-D CNN on (1, 1, 8, 9, 7) volumes with a volume sidecar, and a few NIfTI volumes.
struct CnnVolumeFixture {
    test::TempDir tmp{"incremental-volume-" + test::current_test_name()};
    std::string model, vols;
    CnnVolumeFixture() {
        std::mt19937 rng(8);
        std::uniform_real_distribution<float> u(-0.4f, 0.4f);
        auto values = [&](int64_t n) {
            std::vector<float> v(static_cast<size_t>(n));
            for (float& f : v) f = u(rng);
            return v;
        };
        test::OnnxBuilder b;
        b.input("volume", {1, 1, 8, 9, 7}).output("probabilities");
        b.floats("c1.w", {6, 1, 3, 3, 3}, values(6 * 27));
        b.floats("c1.b", {6}, values(6));
        b.floats("c2.w", {6, 6, 3, 3, 3}, values(6 * 6 * 27));
        b.floats("c2.b", {6}, values(6));
        b.floats("fc.w", {2, 6}, values(12));
        b.floats("fc.b", {2}, {0.1f, -0.1f});
        auto* c1 = b.node("Conv", {"volume", "c1.w", "c1.b"}, {"c1"});
        test::OnnxBuilder::attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1, 1, 1});
        b.node("Relu", {"c1"}, {"r1"});
        auto* pool = b.node("MaxPool", {"r1"}, {"p1"});
        test::OnnxBuilder::attr(pool, "kernel_shape", std::vector<int64_t>{2, 2, 2});
        test::OnnxBuilder::attr(pool, "strides", std::vector<int64_t>{2, 2, 2});
        auto* c2 = b.node("Conv", {"p1", "c2.w", "c2.b"}, {"c2"});
        test::OnnxBuilder::attr(c2, "pads", std::vector<int64_t>{1, 1, 1, 1, 1, 1});
        b.node("Relu", {"c2"}, {"r2"});
        b.node("GlobalAveragePool", {"r2"}, {"g"});
        b.node("Flatten", {"g"}, {"flat"});
        test::OnnxBuilder::attr(b.node("Gemm", {"flat", "fc.w", "fc.b"}, {"z"}), "transB", int64_t{1});
        test::OnnxBuilder::attr(b.node("Softmax", {"z"}, {"probabilities"}), "axis", int64_t{1});
        model = tmp.write("cnn3d.onnx", b.bytes());
        tmp.write("cnn3d.json", R"({"kind": "volume", "output_kind": "probabilities", "input_shape": [1, 8, 9, 7],
            "normalization": {"mean": 0.0, "std": 1.0}, "labels": ["control", "patient"]})");
        fs::create_directories(tmp.path() / "vols");
        const std::array<double, 16> affine = {2, 0, 0, -10, 0, 2, 0, -12, 0, 0, 2, -8, 0, 0, 0, 1};
        for (int i = 0; i < 4; ++i)
            write_nifti(tmp.file("vols/v" + std::to_string(i) + ".nii.gz"), values(8 * 9 * 7).data(), 1, 8, 9, 7,
                        affine);
        vols = tmp.file("vols");
    }
};

TEST(IncrementalVolumeCli, ExplainRunsIncrementallyWithFullMapsAndInfoPrintsCrops) {
    CnnVolumeFixture f;
    const std::string common = "explain " + f.model + " " + f.vols + "/v0.nii.gz --sampler marginal --sample-images " +
                               f.vols + " --samples 2 --k 3 --stride 2 --threads 1 --quiet --classes all --out " +
                               f.tmp.file("out");
    const test::CmdResult inc = test::run_pda(common + "/inc");
    ASSERT_EQ(inc.exit_code, 0) << inc.output;
    const test::CmdResult full = test::run_pda(common + "/full --exec full");
    ASSERT_EQ(full.exit_code, 0) << full.output;
    const fs::path dir = fs::path(f.tmp.file("out")) / "inc" / "v0";
    const nlohmann::json s = nlohmann::json::parse(std::ifstream(dir / "summary.json"));
    EXPECT_EQ(s["execution"], "incremental");
    EXPECT_FALSE(s.contains("execution_note")) << s.dump();
    const Volume a = read_volume((dir / "relevance.nii.gz").string());
    const Volume b = read_volume((fs::path(f.tmp.file("out")) / "full" / "v0" / "relevance.nii.gz").string());
    ASSERT_EQ(a.data.shape(), (Shape{2, 8, 9, 7}));
    const double d = incremental_test::relative_difference(a.data.view(), b.data.view());
    EXPECT_LE(d, kTolerance);
    double scale = 0;
    for (int64_t i = 0; i < b.data.numel(); ++i) scale = std::max(scale, std::fabs(double(b.data.data()[i])));
    EXPECT_GT(scale, 0);

    test::CmdResult info = test::run_pda("info " + f.model + " --pda-k 3 --json");
    ASSERT_EQ(info.exit_code, 0) << info.output;
    const nlohmann::json j = nlohmann::json::parse(info.output);
    EXPECT_EQ(j["incremental"]["window"], (std::vector<int64_t>{3, 3, 3}));
    EXPECT_GT(j["incremental"]["ratio"].get<double>(), 1.0);
    EXPECT_EQ(j["nodes"][0]["crop"], (std::vector<int64_t>{5, 5, 5}));  // a 3³ conv (pad 1) over a 3³ window
    EXPECT_EQ(j["nodes"][0]["exec"], "crop");
    info = test::run_pda("info " + f.model + " --pda-k 3");
    ASSERT_EQ(info.exit_code, 0) << info.output;
    EXPECT_NE(info.output.find("3x3x3 windows"), std::string::npos) << info.output;
    EXPECT_NE(info.output.find("5x5x5"), std::string::npos) << info.output;
    info = test::run_pda("info " + f.model + " --pda-k 8");  // larger than the 7 columns
    EXPECT_EQ(info.exit_code, 2) << info.output;
    EXPECT_NE(info.output.find("larger than the model's input"), std::string::npos) << info.output;
}

}  // namespace
}  // namespace pda
