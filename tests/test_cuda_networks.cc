// The CUDA backend against the CPU backend on whole networks (built-in at width 0.25, the shared
// SqueezeNets when present): every layer kept, chunked convolutions, a batch-size sweep, TF32 and
// FP16/BF16 (relative errors printed); and out-of-memory handling with the batch fitting. Every
// suite is named Cuda* and skips visibly without a device (the op suites: test_cuda_ops.cc).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "api/loader.h"
#include "cuda_harness.h"
#include "engine/cuda_program.h"
#include "engine/device.h"
#if PDA_HAVE_CUDA
#include "kernels/cuda/check.h"
#endif
#include "networks/builtin.h"
#include "ops_harness.h"
#include "test_util.h"

namespace pda {
namespace {

using cuda_test::CudaOps;
using cuda_test::window_node;
using ops_test::OneNode;
using ops_test::random_tensor;

// The shared models: $PDA_SHARED_DIR/models when set (the GPU machine gets them in its carry), else
// the build's ../shared/models.
std::string shared_models() { return test::shared_dir() + "/models"; }

// Worst |a − ref| relative to max |ref| (0 for an all-zero reference): the error a reduced
// precision adds, on the scale of the values.
double relative_error(ConstTensorView a, ConstTensorView ref) {
    double worst = 0, max_ref = 0;
    for (int64_t i = 0; i < ref.numel(); ++i) {
        max_ref = std::max(max_ref, std::abs(static_cast<double>(ref.data[i])));
        double d = std::abs(static_cast<double>(a.data[i]) - ref.data[i]);
        worst = std::isnan(d) ? INFINITY : std::max(worst, d);
    }
    return max_ref > 0 ? worst / max_ref : worst;
}

// ---- whole networks ---------------------------------------------------------------------------

Tensor image_batch(const Shape& s, uint32_t seed) {
    Tensor t(s);
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.f, 50.f);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = nd(rng);
    return t;
}

class CudaNetworks : public CudaOps {};

TEST_F(CudaNetworks, BuiltinAtQuarterWidthEveryLayer) {
    for (const char* name : {"alexnet", "googlenet", "vgg16"}) {
        BuildOptions bo;
        bo.width = 0.25f;
        Graph g = build_network(name, bo);
        fuse(g);
        Shape s = g.inputs[0].shape;
        s[0] = 2;
        std::set<std::string> keep;
        for (const Node& n : g.nodes) keep.insert(n.output);
        std::vector<Tensor> feeds;
        feeds.push_back(image_batch(s, 3));
        // Deep stacks of FP32 sums in different orders: relative 1e-3 of each layer's largest value.
        check(g, feeds, 1e-3, name, Precision::kFp32, keep);
    }
}

TEST_F(CudaNetworks, SharedSqueezeNets) {
    int found = 0;
    for (const char* m : {"squeezenet1.1-caffe", "squeezenet1.1-torchvision"}) {
        const std::string path = shared_models() + "/" + m + ".onnx";
        if (!std::filesystem::exists(path)) {
            std::printf("[ skip     ] %s: absent\n", path.c_str());
            continue;
        }
        ++found;
        LoadedModel lm = load_model(path, {});
        fuse(lm.graph);
        Shape s = lm.input_shape;
        s[0] = 3;
        std::vector<Tensor> feeds;
        feeds.push_back(image_batch(s, 5));
        check(lm.graph, feeds, 1e-3, m);
    }
    if (!found) GTEST_SKIP() << "no shared SqueezeNet under " << shared_models() << " (set PDA_SHARED_DIR)";
}

// AlexNet with every convolution split into chunks of a few images (and a remainder).
TEST_F(CudaNetworks, ChunkedConvolutionsAlexNet) {
    BuildOptions bo;
    bo.width = 0.25f;
    Graph g = build_network("alexnet", bo);
    fuse(g);
    Shape s = g.inputs[0].shape;
    s[0] = 7;
    std::vector<Tensor> feeds;
    feeds.push_back(image_batch(s, 11));
    cuda_set_conv_chunk_elements(*ctx_, int64_t{1} << 18);  // conv1: 1 image per call, conv2: 4 (+3), ...
    std::set<std::string> keep;
    for (const Node& n : g.nodes) keep.insert(n.output);
    check(g, feeds, 1e-3, "alexnet chunked", Precision::kFp32, keep);
}

// FP16 and BF16 (FP32 accumulation) against FP32 on the GPU, every layer kept: the worst error
// relative to each layer's largest value is printed per network; bounded before the softmax (whose
// outputs can swing when two logits are close), the probabilities' worst error printed only.
TEST_F(CudaNetworks, ReducedPrecisionVsFp32) {
    for (const char* name : {"alexnet", "googlenet", "vgg16"}) {
        BuildOptions bo;
        bo.width = 0.25f;
        Graph g = build_network(name, bo);
        fuse(g);
        Shape s = g.inputs[0].shape;
        s[0] = 4;
        Tensor x = image_batch(s, 13);
        CudaCompileOptions ref_opt;
        for (const Node& n : g.nodes) ref_opt.keep.insert(n.output);
        auto ref = compile_cuda(g, {s}, *ctx_, ref_opt);
        ref->run({x.view()});
        for (Precision p : {Precision::kFp16, Precision::kBf16}) {
            CudaCompileOptions opt = ref_opt;
            opt.precision = p;
            auto prog = compile_cuda(g, {s}, *ctx_, opt);
            EXPECT_EQ(prog->precision(), p);
            prog->run({x.view()});
            double worst = 0, prob = 0;
            std::string worst_at;
            for (const Node& n : g.nodes) {
                const double e = relative_error(prog->value(n.output), ref->value(n.output));
                if (n.op == OpType::kSoftmax) {
                    prob = std::max(prob, e);
                } else if (!(e <= worst)) {
                    worst = e, worst_at = n.output;
                }
            }
            const double bound = p == Precision::kFp16 ? 5e-3 : 4e-2;
            std::printf(
                "[ precision] %-10s %s vs fp32: worst relative error %.3g (at %s), probabilities %.3g, bound %.3g\n",
                name, precision_name(p), worst, worst_at.c_str(), prob, bound);
            EXPECT_LE(worst, bound) << name << " " << precision_name(p) << " at " << worst_at;
        }
    }
}

TEST_F(CudaNetworks, BatchSweepAlexNet) {
    BuildOptions bo;
    bo.width = 0.25f;
    Graph g = build_network("alexnet", bo);
    fuse(g);
    for (int64_t batch : {1, 3, 17, 64}) {
        Shape s = g.inputs[0].shape;
        s[0] = batch;
        std::vector<Tensor> feeds;
        feeds.push_back(image_batch(s, 7));
        check(g, feeds, 1e-4, "alexnet batch " + std::to_string(batch));
    }
}

TEST_F(CudaNetworks, Tf32AlexNetIsClose) {
    Graph g = build_network("alexnet", {});
    fuse(g);
    Shape s = g.inputs[0].shape;
    s[0] = 8;
    std::vector<Tensor> feeds;
    feeds.push_back(image_batch(s, 8));
    check(g, feeds, 5e-2, "alexnet tf32", Precision::kTf32);
}

// ---- memory -----------------------------------------------------------------------------------

// A chain of `len` ReLUs on (batch, per_image) floats whose values are all kept: an arena of
// len · batch · per_image floats.
Graph relu_chain(int len, int64_t per_image, std::set<std::string>* keep) {
    Graph g;
    g.name = "relu_chain";
    g.inputs = {{"x", Shape{1, per_image}}};
    std::string prev = "x";
    for (int i = 0; i < len; ++i) {
        Node n;
        n.name = "r" + std::to_string(i);
        n.op = OpType::kRelu;
        n.inputs = {prev};
        n.output = n.name;
        prev = n.output;
        if (keep) keep->insert(n.output);
        g.nodes.push_back(n);
    }
    g.outputs = {prev};
    return g;
}

class CudaMemory : public CudaOps {};

TEST_F(CudaMemory, OutOfMemoryThrowsAndContextStaysUsable) {
    std::set<std::string> keep;
    Graph g = relu_chain(64, int64_t{1} << 20, &keep);
    CudaCompileOptions opt;
    opt.keep = keep;
    // 64 values × 1024 × 2^20 floats = 256 GiB: more than any single GPU has.
    try {
        compile_cuda(g, {Shape{1024, int64_t{1} << 20}}, *ctx_, opt);
        FAIL() << "a 256 GiB arena compiled";
    } catch (const Error& e) {
        std::printf("[ oom      ] %s\n", e.what());
        EXPECT_NE(std::string(e.what()).find("out of device memory"), std::string::npos) << e.what();
    }
    // Over cuDNN's 2^31 elements per tensor: refused before allocating.
    EXPECT_THROW(compile_cuda(g, {Shape{4096, int64_t{1} << 20}}, *ctx_), Error);
    Node n = window_node(OpType::kConv, 2, 3, 1, 1);
    Tensor x = random_tensor(Shape{2, 3, 9, 9}, 1), w = random_tensor(Shape{4, 3, 3, 3}, 2);
    check(OneNode(n, {{"x", &x}, {"const_w", &w}}), 1e-4, "conv after out-of-memory");
}

TEST_F(CudaMemory, FittingLowersTheBatchAndSaysSo) {
    std::set<std::string> keep;
    Graph g = relu_chain(40, int64_t{1} << 20, &keep);
    CudaCompileOptions opt;
    opt.keep = keep;
    // 40 × 1024 × 4 MiB = 160 GiB asked; the fitting halves it until it fits.
    FittedProgram f = compile_cuda_fitting(g, Shape{1, int64_t{1} << 20}, 1024, *ctx_, opt);
    std::printf("[ fitting  ] batch %lld: %s\n", static_cast<long long>(f.batch), f.note.c_str());
    EXPECT_LT(f.batch, 1024);
    EXPECT_GE(f.batch, 64);
    EXPECT_NE(f.note.find("batch lowered from 1024"), std::string::npos) << f.note;
    f.program.reset();
}

TEST_F(CudaMemory, MaxBatchFitsAndRuns) {
    Graph g = build_network("alexnet", {});
    fuse(g);
    const int64_t max_batch = cuda_max_batch(g, g.inputs[0].shape, *ctx_);
    std::printf("[ batch    ] alexnet: cuda_max_batch %lld on %s\n", static_cast<long long>(max_batch),
                cuda_info().devices.c_str());
    ASSERT_GE(max_batch, 1);
    CudaCompileOptions opt;
    opt.time_conv_algorithms = false;  // heuristics: timing every algorithm at this batch is slow
    FittedProgram f = compile_cuda_fitting(g, g.inputs[0].shape, max_batch, *ctx_, opt);
    std::printf("[ batch    ] compiled batch %lld, arena %lld MiB, workspace %lld MiB%s%s\n",
                static_cast<long long>(f.batch), static_cast<long long>(f.program->activation_bytes() >> 20),
                static_cast<long long>(f.program->workspace_bytes() >> 20), f.note.empty() ? "" : "; ", f.note.c_str());
    EXPECT_EQ(f.batch, max_batch) << "cuda_max_batch promised more than fits";
    // cuDNN's limit: no value may exceed 2^31 − 1 elements (conv1's output is the largest).
    for (const Node& n : g.nodes) {
        if (g.is_constant(n.output)) continue;
        EXPECT_LT(f.program->shape(n.output).numel(), int64_t{1} << 31) << n.output;
    }
    f.program->run_device();
    f.program->synchronize();
    ConstTensorView y = f.program->value("prob");
    double sum = 0;
    for (int64_t j = 0; j < y.shape[1]; ++j) sum += y.data[(f.batch - 1) * y.shape[1] + j];
    EXPECT_NEAR(sum, 1.0, 1e-3);
}

TEST(CudaErrors, WithoutDeviceOrBackendThrowsClearly) {
    if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present: the no-device path is not reachable";
    EXPECT_THROW(make_cuda_context(0), Error);
}

#if PDA_HAVE_CUDA
// The batch-lowering rule both CUDA compile paths use (no device needed).
TEST(CudaFitting, HalvesTheBatchOnOutOfMemoryOnly) {
    int64_t used = 0;
    std::string note = "stale";
    std::vector<int64_t> tried;
    auto fits_up_to_5 = [&](int64_t b) {
        tried.push_back(b);
        if (b > 5) throw cuda::CudaOutOfMemory("out of device memory: " + std::to_string(b) + " images");
        return b * 10;
    };
    EXPECT_EQ(cuda::halve_on_out_of_memory(24, fits_up_to_5, &used, &note), 30);
    EXPECT_EQ(used, 3);
    EXPECT_EQ(tried, (std::vector<int64_t>{24, 12, 6, 3}));
    EXPECT_EQ(note, "batch lowered from 24 to 3: out of device memory: 24 images");
    EXPECT_EQ(cuda::halve_on_out_of_memory(4, fits_up_to_5, &used, &note), 40);
    EXPECT_EQ(used, 4);
    EXPECT_TRUE(note.empty());
    auto never = [](int64_t) -> int { throw cuda::CudaOutOfMemory("out of device memory"); };
    EXPECT_THROW(cuda::halve_on_out_of_memory(8, never, &used, &note), cuda::CudaOutOfMemory);
    int calls = 0;
    auto other = [&](int64_t) -> int {
        ++calls;
        fail_input("not a memory error");
    };
    EXPECT_THROW(cuda::halve_on_out_of_memory(8, other, &used, &note), Error);
    EXPECT_EQ(calls, 1);
}
#endif

}  // namespace
}  // namespace pda
