// Golden tests against PyTorch (tests/golden/make_golden.py, run by ctest as a fixture): every case's
// ONNX file imported and run on the CPU, and — where a built-in network has the same topology — the
// builder loaded with the same weights by name, both compared with PyTorch's float64 outputs. Also
// the builders' own facts: output shapes, published parameter counts and FLOPs, seeded weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "engine/program.h"
#include "io/npy.h"
#include "kernels/cpu/context.h"
#include "networks/builtin.h"
#include "networks/onnx_import.h"
#include "test_util.h"
#include "weights/load_by_name.h"
#include "weights/random_init.h"

namespace pda {
namespace {

using nlohmann::json;

// The cases make_golden.py writes; one test each so ctest reports them separately.
const char* const kCases[] = {"alexnet_bvlc_w1", "alexnet_bvlc_w0.25", "googlenet_bvlc_w1",   "googlenet_bvlc_w0.125",
                              "vgg16_w0.25",     "vgg16_torchvision",  "alexnet_torchvision", "googlenet_torchvision"};

std::string golden_path(const std::string& file) { return test::golden_dir() + "/" + file; }

// The manifest, or null when the golden folder was not generated.
json manifest() {
    std::ifstream f(golden_path("manifest.json"));
    if (!f) return nullptr;
    return json::parse(f);
}

// The case's manifest entry; skips the test visibly when there are no golden files.
#define PDA_GOLDEN_CASE(var, name)                                                     \
    json var;                                                                          \
    do {                                                                               \
        json m_ = manifest();                                                          \
        if (m_.is_null())                                                              \
            GTEST_SKIP() << "skipped: no golden files in " << test::golden_dir()       \
                         << " (run tests/golden/make_golden.py or ctest)";             \
        for (const json& c_ : m_["cases"])                                             \
            if (c_["name"] == (name)) var = c_;                                        \
        ASSERT_FALSE(var.is_null()) << "case " << (name) << " is not in the manifest"; \
    } while (0)

// max|got − expected| / max|expected|, the relative error the golden tests bound.
double relative_error(ConstTensorView got, const Tensor& expected) {
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < expected.numel(); ++i) {
        diff = std::max(diff, std::fabs(static_cast<double>(got.data[i]) - expected.data()[i]));
        scale = std::max(scale, std::fabs(static_cast<double>(expected.data()[i])));
    }
    return std::isfinite(diff) ? diff / std::max(scale, 1e-30) : INFINITY;
}

// Runs g on the case's input and compares every output the case lists (values by name).
void run_and_compare(const Graph& g, const json& c, const std::string& label) {
    Tensor x = read_npy(golden_path(c["input"]));
    CompileOptions opt;
    for (const json& o : c["outputs"]) opt.keep.insert(o["name"].get<std::string>());
    CpuContext ctx;
    std::unique_ptr<Program> p = compile_cpu(g, {x.shape()}, ctx, opt);
    p->run({x.view()});
    for (const json& o : c["outputs"]) {
        const std::string name = o["name"];
        Tensor want = read_npy(golden_path(o["expected"]));
        ConstTensorView got = p->value(name);
        ASSERT_EQ(got.shape, want.shape()) << label << " output " << name;
        double err = relative_error(got, want);
        std::printf("[golden] %-24s %-8s %-18s rel err %.3g\n", c["name"].get<std::string>().c_str(), label.c_str(),
                    name.c_str(), err);
        EXPECT_LE(err, c["tolerance"].get<double>()) << label << " output " << name;
    }
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, OnnxImportMatchesPyTorch) {
    PDA_GOLDEN_CASE(c, GetParam());
    Graph g = import_onnx(golden_path(c["onnx"]));
    run_and_compare(g, c, "onnx");
}

TEST_P(Golden, BuiltinMatchesPyTorch) {
    PDA_GOLDEN_CASE(c, GetParam());
    if (!c.contains("builtin")) GTEST_SKIP() << "skipped: no built-in network has the topology of " << GetParam();
    BuildOptions bo;
    bo.width = c["builtin"]["width"].get<float>();
    bo.input_size = c["input_shape"][2].get<int64_t>();
    bo.random_weights = false;
    Graph g = build_network(c["builtin"]["name"], bo);
    Graph onnx = import_onnx(golden_path(c["onnx"]));
    load_weights_by_name(g.constants, onnx.constants, c["onnx"]);
    run_and_compare(g, c, "builtin");
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden,
                         ::testing::ValuesIn(std::vector<std::string>(std::begin(kCases), std::end(kCases))),
                         [](const auto& info) {
                             std::string s = info.param;
                             std::replace(s.begin(), s.end(), '.', '_');
                             return s;
                         });

TEST(GoldenManifest, EveryCaseIsTested) {
    json m = manifest();
    if (m.is_null()) GTEST_SKIP() << "skipped: no golden files in " << test::golden_dir();
    for (const json& c : m["cases"])
        EXPECT_NE(std::find(std::begin(kCases), std::end(kCases), c["name"].get<std::string>()), std::end(kCases))
            << "manifest case " << c["name"] << " has no test here";
}

// ---- the builders on their own ------------------------------------------------------------------

struct Facts {
    const char* name;
    int64_t input_size;
    int64_t params;       // trainable parameters (BatchNorm running statistics excluded)
    double matmul_gflop;  // 2 × multiply-adds of Conv and fully connected layers, biases excluded
};
// Parameter counts and FLOPs verified with the PyTorch definitions of tests/golden/make_golden.py and
// torchvision 0.14; they match the published 60,965,224 (AlexNet), 138,357,544 (VGG16) and METHOD.md §5.
const Facts kFacts[] = {
    {"alexnet", 227, 60965224, 1.448813632},
    {"googlenet", 224, 6998552, 3.165343744},
    {"vgg16", 224, 138357544, 30.94052864},
    {"alexnet_torchvision", 224, 61100840, 1.42837696},
    {"googlenet_torchvision", 224, 6624904, 2.996752384},
};

Graph build_zero(const std::string& name, float width = 1.f) {
    BuildOptions o;
    o.width = width;
    o.random_weights = false;
    return build_network(name, o);
}

TEST(Builtin, NamesAreAllBuilt) {
    std::vector<std::string> names = builtin_names();
    EXPECT_EQ(names.size(), std::size(kFacts));
    for (const Facts& f : kFacts) EXPECT_NE(std::find(names.begin(), names.end(), f.name), names.end()) << f.name;
}

TEST(Builtin, OutputShapeParamsAndFlops) {
    for (const Facts& f : kFacts) {
        SCOPED_TRACE(f.name);
        Graph g = build_zero(f.name);
        ASSERT_EQ(g.inputs.size(), 1u);
        EXPECT_EQ(g.inputs[0].shape, (Shape{1, 3, f.input_size, f.input_size}));
        ASSERT_EQ(g.outputs, std::vector<std::string>{"prob"});
        auto shapes = infer_shapes(g, {Shape{1, 3, f.input_size, f.input_size}});
        EXPECT_EQ(shapes.at("prob"), (Shape{1, 1000}));
        int64_t params = 0;
        for (const auto& [name, t] : g.constants)
            if (name.find("running_") == std::string::npos) params += t.numel();
        EXPECT_EQ(params, f.params);
        // node_flops counts a multiply-add as 2 and adds one per output for a bias; the rest
        // (pools, LRN, ReLU, softmax) is small next to the convolutions.
        double matmul = 0, total = 0;
        for (const Node& n : g.nodes) {
            double fl = node_flops(g, n, shapes);
            total += fl;
            if (n.op == OpType::kConv || n.op == OpType::kGemm)
                matmul += fl - (n.inputs.size() > 2 ? shapes.at(n.output).numel() : 0);
        }
        std::printf("[builtin] %-22s params %ld, conv+fc %.4f GFLOP, all nodes %.4f GFLOP\n", f.name,
                    static_cast<long>(params), matmul / 1e9, total / 1e9);
        EXPECT_NEAR(matmul / 1e9, f.matmul_gflop, 1e-6 * f.matmul_gflop);
        EXPECT_NEAR(total / matmul, 1.0, 0.03);
    }
    // METHOD.md §5: 1.45 / 3.17 / 30.9 GFLOP per forward pass.
    EXPECT_NEAR(kFacts[0].matmul_gflop, 1.45, 0.01);
    EXPECT_NEAR(kFacts[1].matmul_gflop, 3.17, 0.01);
    EXPECT_NEAR(kFacts[2].matmul_gflop, 30.9, 0.1);
}

TEST(Builtin, GoogLeNetPoolsRoundUp) {
    Graph g = build_zero("googlenet");
    auto shapes = infer_shapes(g, {Shape{1, 3, 224, 224}});
    const Node* pool1 = g.find_node("pool1/3x3_s2");
    ASSERT_NE(pool1, nullptr);
    EXPECT_TRUE(pool1->geo.ceil_mode);
    EXPECT_EQ(shapes.at("pool1/3x3_s2"), (Shape{1, 64, 56, 56}));  // floor mode would give 55
    EXPECT_EQ(shapes.at("inception_3a/output"), (Shape{1, 256, 28, 28}));
    EXPECT_EQ(shapes.at("inception_5b/output"), (Shape{1, 1024, 7, 7}));
    EXPECT_NE(g.find_node("inception_4e/pool_proj"), nullptr);
    EXPECT_EQ(g.constant("loss3/classifier.weight").shape(), (Shape{1000, 1024}));
}

TEST(Builtin, NarrowVariantsKeepGroupsValidAndRun) {
    for (float width : {0.01f, 0.125f, 0.3f}) {
        for (const std::string& name : builtin_names()) {
            SCOPED_TRACE(name + " width " + std::to_string(width));
            BuildOptions o;
            o.width = width;
            o.num_classes = 10;
            o.seed = 7;
            Graph g = build_network(name, o);
            auto shapes = infer_shapes(g, {Shape{2, 3, g.inputs[0].shape[2], g.inputs[0].shape[3]}});
            EXPECT_EQ(shapes.at("prob"), (Shape{2, 10}));
            for (const Node& n : g.nodes) {
                if (n.op == OpType::kConv) {
                    EXPECT_EQ(shapes.at(n.inputs[0])[1] % n.group, 0) << n.name;
                }
            }
        }
    }
    EXPECT_EQ(scaled_channels(96, 0.125f, 2), 12);
    EXPECT_EQ(scaled_channels(4096, 0.25f), 1024);
    EXPECT_EQ(scaled_channels(16, 0.125f), 2);
    EXPECT_EQ(scaled_channels(24, 0.125f), 3);
    EXPECT_EQ(scaled_channels(3, 0.01f, 2), 2);
}

TEST(Builtin, OtherInputSizes) {
    BuildOptions o;
    o.random_weights = false;
    o.width = 0.25f;
    o.input_size = 256;
    for (const std::string& name : builtin_names()) {
        Graph g = build_network(name, o);
        EXPECT_EQ(infer_shapes(g, {Shape{1, 3, 256, 256}}).at("prob"), (Shape{1, 1000})) << name;
    }
    o.input_size = 16;
    EXPECT_THROW(build_network("alexnet", o), Error);
}

TEST(Builtin, SeededWeightsAreDeterministicAndHeScaled) {
    BuildOptions o;
    o.width = 0.25f;
    o.seed = 42;
    Graph a = build_network("alexnet", o), b = build_network("alexnet", o);
    o.seed = 43;
    Graph c = build_network("alexnet", o);
    const Tensor &wa = a.constant("conv2.weight"), &wb = b.constant("conv2.weight"), &wc = c.constant("conv2.weight");
    ASSERT_EQ(wa.shape(), (Shape{64, 12, 5, 5}));
    EXPECT_EQ(std::memcmp(wa.data(), wb.data(), sizeof(float) * wa.numel()), 0);
    EXPECT_NE(std::memcmp(wa.data(), wc.data(), sizeof(float) * wa.numel()), 0);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < wa.numel(); ++i) s += wa.data()[i], s2 += double(wa.data()[i]) * wa.data()[i];
    double mean = s / wa.numel(), sd = std::sqrt(s2 / wa.numel() - mean * mean);
    EXPECT_NEAR(mean, 0.0, 0.01);
    EXPECT_NEAR(sd, std::sqrt(2.0 / (12 * 25)), 0.05 * std::sqrt(2.0 / (12 * 25)));
    for (int64_t i = 0; i < 64; ++i) EXPECT_EQ(a.constant("conv2.bias").data()[i], 0.f);
    // Streams are per tensor: the same tensor name gives the same numbers in another network.
    Tensor t(Shape{64, 12, 5, 5});
    fill_he_normal(t, 42, "conv2.weight");
    EXPECT_EQ(std::memcmp(wa.data(), t.data(), sizeof(float) * wa.numel()), 0);
}

TEST(Builtin, UnknownNameAndBadOptionsAreInputErrors) {
    try {
        build_network("resnet50");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput);
        EXPECT_NE(std::string(e.what()).find("resnet50"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("googlenet"), std::string::npos) << e.what();
    }
    BuildOptions o;
    o.width = 0.f;
    EXPECT_THROW(build_network("vgg16", o), Error);
}

TEST(Builtin, LoadWeightsByNameChecksNamesAndShapes) {
    Graph g = build_zero("alexnet", 0.125f);
    std::map<std::string, Tensor> src;
    for (const auto& [name, t] : g.constants) {
        src[name] = Tensor(t.shape());
        std::fill(src[name].data(), src[name].data() + t.numel(), 0.5f);
    }
    src["extra"] = Tensor(Shape{3});  // ignored
    load_weights_by_name(g.constants, src, "test.onnx");
    EXPECT_EQ(g.constant("fc8.bias").data()[0], 0.5f);

    auto expect_error = [&](std::map<std::string, Tensor>& bad, const std::string& needle) {
        Graph h = build_zero("alexnet", 0.125f);
        try {
            load_weights_by_name(h.constants, bad, "test.onnx");
            ADD_FAILURE() << "no error for " << needle;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::kInput);
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("test.onnx"), std::string::npos) << e.what();
        }
        EXPECT_EQ(h.constant("fc8.bias").data()[0], 0.f);  // untouched
    };
    src["conv3.weight"] = Tensor(Shape{48, 32, 3, 1});
    expect_error(src, "conv3.weight");
    src["conv3.weight"] = Tensor(g.constant("conv3.weight").shape());
    src.erase("fc7.bias");
    expect_error(src, "fc7.bias");
}

}  // namespace
}  // namespace pda
