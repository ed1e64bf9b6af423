// Exact incremental inference (engine/cpu/incremental.h, issue 5 item 2): for batches of resampled
// images, each changed inside its own k × k window, the incremental executor's outputs and hidden
// values equal a full forward of the same batch (max |difference| ≤ 1e-5 of max |value|, FP32) on
// random conv/pool/LRN/BN/concat graphs, the built-in AlexNet, GoogLeNet, VGG16 (width 0.125) and
// the shared SqueezeNets, at k ∈ {1, 5, 10, 20}, strides 1 and 3, windows at every border and corner.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/cpu/incremental.h"
#include "engine/explainer.h"
#include "engine/gaussian.h"
#include "engine/program.h"
#include "engine/sampler_conditional.h"
#include "engine/samplers.h"
#include "incremental_cases.h"
#include "kernels/cpu/context.h"
#include "networks/builtin.h"
#include "networks/onnx_import.h"
#include "test_util.h"

namespace pda {
namespace {

constexpr double kTolerance = 1e-5;

using incremental_test::builtin;
using incremental_test::ExplainCase;
using incremental_test::geo;
using incremental_test::hidden_values;
using incremental_test::Maker;
using incremental_test::random_graph;
using incremental_test::random_tensor;
using incremental_test::WindowBatches;

// Worst relative difference between incremental and full over `values` (worst_against_full).
double worst_difference(const Graph& g, const std::vector<std::string>& values, int64_t k, int64_t stride, bool all,
                        int64_t batch, uint32_t seed, CpuContext& ctx) {
    return incremental_test::worst_against_full(
        g, values, k, stride, all, batch, seed, kTolerance, [&](ConstTensorView x, const std::set<std::string>& keep) {
            return std::make_unique<IncrementalProgram>(g, x, k, batch, ctx, keep);
        });
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

// Branches whose taps leave gaps: a 1×1 conv of stride 2 (odd rows and columns never read) and a
// 3×3 conv of dilation 2 beside an ordinary strided conv, concatenated; the plan checks its origin
// tables at every window position for such graphs.
Graph gap_graph(uint32_t seed) {
    Maker m(seed, Shape{1, 3, 33, 31});
    std::string x = m.conv("x", 6, geo(3, 1, 1, 1));
    std::string a = m.conv(x, 4, geo(1, 2, 0, 0));
    std::string b = m.conv(x, 4, geo(3, 2, 1, 1));
    Geometry dilated = geo(3, 2, 2, 2);
    dilated.dilation = {2, 2, 1};
    std::string c = m.conv(x, 4, dilated);
    x = m.op(OpType::kConcat, {a, b, c});
    x = m.op(OpType::kRelu, {x});
    x = m.pool(x, OpType::kMaxPool, geo(2, 2, 0, 0));
    x = m.op(OpType::kGlobalAveragePool, {x});
    x = m.op(OpType::kFlatten, {x});
    x = m.gemm(x, 5);
    m.g.outputs = {x};
    validate(m.g);
    return std::move(m.g);
}

TEST(Incremental, GapGraphsEqualFullEverywhere) {
    Graph g = gap_graph(11);
    CpuContext ctx;
    std::vector<std::string> all_values;
    for (const Node& n : g.nodes) all_values.push_back(n.output);
    for (int64_t k : {1, 2, 5})
        for (int64_t s : {1, 3}) {
            double worst = worst_difference(g, all_values, k, s, true, 16, static_cast<uint32_t>(k + s), ctx);
            EXPECT_LE(worst, kTolerance) << "k=" << k << " stride=" << s;
        }
}

// The crop origin tables (one sweep per axis) against the changed box of every window position,
// propagated on its own: boxes are separable by axis, so every box lies in its crop.
TEST(Incremental, OriginTablesHoldAtEveryWindowPosition) {
    for (const std::string name : {"alexnet", "googlenet"}) {
        const Graph g = builtin(name, true);
        Shape in = g.inputs[0].shape;
        in[0] = 1;
        const auto shapes = infer_shapes(g, {in});
        for (int64_t k : {5, 10}) {
            const IncrementalPlan plan = plan_incremental(g, in, k);
            int64_t crops = 0, checked = 0;
            const int64_t step = name == "alexnet" ? 1 : 3;
            for (int64_t r = 0; r + k <= in[2]; r += step)
                for (int64_t c = 0; c + k <= in[3]; c += step) {
                    const auto regions = propagate_regions(g, shapes, plan.input, Box::make({r, c}, {r + k, c + k}));
                    for (const auto& [v, pv] : plan.values) {
                        if (pv.held != Held::kCrop || !regions.at(v).changed) continue;
                        Box crop = Box::make({pv.oy[r], pv.ox[c]}, {pv.oy[r] + pv.ch, pv.ox[c] + pv.cw});
                        ASSERT_TRUE(crop.contains(regions.at(v).box) && Box::whole(pv.shape).contains(crop))
                            << name << " k=" << k << " window (" << r << ", " << c << ") value '" << v << "' box "
                            << regions.at(v).box.str() << " crop " << crop.str();
                        ++checked;
                    }
                }
            for (const auto& [v, pv] : plan.values) crops += pv.held == Held::kCrop;
            EXPECT_GT(crops, 3) << name;
            EXPECT_GT(checked, 1000) << name;
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
    const ExplainCase t;
    ExplainParams p = t.p;
    CpuContext ctx;
    for (const std::string kind : {"occlusion", "marginal", "conditional"}) {
        Explanation e[2];
        for (int i = 0; i < 2; ++i) {
            p.exec = i == 0 ? Execution::kFull : Execution::kIncremental;
            std::unique_ptr<Sampler> sampler = t.sampler(kind);
            e[i] = explain_cpu(t.g, {"prob", false}, t.x.view(), *sampler, p, ctx);
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

// Execution is typed below the entry; the entry's parser refuses anything else.
TEST(Incremental, UnknownExecutionIsAnInputError) {
    EXPECT_THROW(parse_execution("fast"), Error);
    EXPECT_EQ(parse_execution("full"), Execution::kFull);
    EXPECT_STREQ(execution_name(parse_execution("incremental")), "incremental");
}

}  // namespace
}  // namespace pda
