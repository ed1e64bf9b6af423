// Real torch.onnx.export files (tests/golden/make_exported.py, run by ctest as the fixture
// `exported`): torchvision ResNet-18, SqueezeNet 1.1 and the features of AlexNet and VGG16 with
// zero biases shared through Identity nodes, and a tiny network whose bias is an unfolded constant
// subgraph. Each is imported as written, run on the CPU and compared with PyTorch's float64 output;
// the import leaves no Identity node and only constants in the weight and bias slots.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/program.h"
#include "io/npy.h"
#include "kernels/cpu/context.h"
#include "networks/onnx_import.h"

namespace pda {
namespace {

using nlohmann::json;

const std::vector<std::string> kCases = {"tiny_shared_bias", "tiny_computed_bias", "alexnet_features",
                                         "vgg16_features",   "resnet18",           "squeezenet1_1"};

std::string exported_path(const std::string& file) { return std::string(PDA_EXPORTED_DIR) + "/" + file; }

class OnnxExported : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxExported, MatchesTorch) {
    std::ifstream f(exported_path("manifest.json"));
    if (!f)
        GTEST_SKIP() << "skipped: no exported models in " << PDA_EXPORTED_DIR
                     << " (run tests/golden/make_exported.py, or ctest's exported_generate)";
    json m = json::parse(f);
    if (m.contains("skipped")) GTEST_SKIP() << "skipped: " << m["skipped"].get<std::string>();
    json c;
    for (const json& e : m["cases"])
        if (e["name"] == GetParam()) c = e;
    ASSERT_FALSE(c.is_null()) << GetParam() << " is not in the manifest";

    Graph g = import_onnx(exported_path(c["onnx"]));
    for (const Node& n : g.nodes) {
        EXPECT_NE(n.op, OpType::kIdentity) << n.name << ": an Identity was left in the graph";
        if (n.op != OpType::kConv && n.op != OpType::kGemm) continue;
        for (size_t i = 1; i < n.inputs.size(); ++i) EXPECT_TRUE(g.is_constant(n.inputs[i])) << n.name;
    }
    Tensor x = read_npy(exported_path(c["input"]));
    Tensor want = read_npy(exported_path(c["expected"]));
    CpuContext ctx;
    std::unique_ptr<Program> p = compile_cpu(g, {x.shape()}, ctx);
    p->run({x.view()});
    ConstTensorView got = p->value(g.outputs.at(0));
    ASSERT_EQ(got.shape, want.shape());
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
        diff = std::max(diff, std::fabs(static_cast<double>(got.data[i]) - want.data()[i]));
        scale = std::max(scale, std::fabs(static_cast<double>(want.data()[i])));
    }
    const double err = std::isfinite(diff) ? diff / std::max(scale, 1e-30) : INFINITY;
    std::printf("[exported] %-20s %-22s max|ref| %.3g, max rel err %.3g\n", GetParam().c_str(),
                want.shape().str().c_str(), scale, err);
    EXPECT_GT(scale, 0) << "a reference of zeros tests nothing";
    EXPECT_LE(err, c["tolerance"].get<double>());
}

INSTANTIATE_TEST_SUITE_P(Torch, OnnxExported, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace pda
