// The CUDA backend against the CPU backend (the reference): every op on random inputs with a per-op
// tolerance and the worst mismatch printed, whole networks (built-in at width 0.25, the shared
// SqueezeNets when present), a batch-size sweep, chunked convolutions, TF32 and FP16/BF16 bounds
// (relative errors printed), and out-of-memory handling. Every suite is named Cuda*
// (scripts/device-check.sh runs --gtest_filter='Cuda*') and skips visibly without a device.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "api/loader.h"
#include "engine/cuda_program.h"
#include "engine/device.h"
#if PDA_HAVE_CUDA
#include "kernels/cuda/check.h"
#endif
#include "networks/builtin.h"
#include "ops_harness.h"
#include "test_util.h"

namespace pda {

#if PDA_HAVE_CUDA
// engine/cuda/api.cc, for tests: the largest x + y one cuDNN convolution call sees (CudaContext's
// field; the context is opaque here).
void cuda_set_conv_chunk_elements(CudaContext& ctx, int64_t elements);
#else
inline void cuda_set_conv_chunk_elements(CudaContext&, int64_t) {}  // never reached: no device
#endif

namespace {

using ops_test::OneNode;
using ops_test::random_tensor;

// Worst |gpu − cpu| must stay within tol · max(1, max |cpu|); the worst mismatch is always printed.
void expect_match(ConstTensorView gpu, ConstTensorView cpu, double tol, const std::string& what) {
    ASSERT_EQ(gpu.shape, cpu.shape) << what;
    double worst = -1, max_ref = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < cpu.numel(); ++i) {
        max_ref = std::max(max_ref, std::abs(static_cast<double>(cpu.data[i])));
        double d = std::abs(static_cast<double>(gpu.data[i]) - cpu.data[i]);
        if (std::isnan(gpu.data[i]) != std::isnan(cpu.data[i])) d = INFINITY;
        if (d > worst) worst = d, at = i;
    }
    const double bound = tol * std::max(1.0, max_ref);
    std::printf("[ match    ] %-48s worst |gpu-cpu| %.3g at %lld (gpu %.7g cpu %.7g), bound %.3g\n", what.c_str(),
                worst, static_cast<long long>(at), gpu.data[at], cpu.data[at], bound);
    EXPECT_LE(worst, bound) << what << ": worst mismatch at " << at << ": gpu " << gpu.data[at] << ", cpu "
                            << cpu.data[at];
}

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

class CudaOps : public ::testing::Test {
  protected:
    void SetUp() override {
        PDA_SKIP_WITHOUT_CUDA();
        ctx_ = make_cuda_context(0);
    }

    // Runs the graph on both backends and compares every graph output (and `keep`).
    void check(const Graph& g, const std::vector<Tensor>& feeds, double tol, const std::string& what,
               Precision precision = Precision::kFp32, const std::set<std::string>& keep = {}) {
        std::vector<Shape> shapes;
        std::vector<ConstTensorView> views;
        for (const Tensor& t : feeds) shapes.push_back(t.shape()), views.push_back(t.view());
        CpuContext cpu_ctx;
        CompileOptions co;
        co.keep = keep;
        auto cpu = compile_cpu(g, shapes, cpu_ctx, co);
        CudaCompileOptions go;
        go.keep = keep;
        go.precision = precision;
        auto gpu = compile_cuda(g, shapes, *ctx_, go);
        cpu->run(views);
        gpu->run(views);
        std::vector<std::string> names(g.outputs.begin(), g.outputs.end());
        names.insert(names.end(), keep.begin(), keep.end());
        for (const std::string& v : names) expect_match(gpu->value(v), cpu->value(v), tol, what + " " + v);
    }
    void check(const OneNode& c, double tol, const std::string& what) { check(c.g, c.feeds, tol, what); }

    CudaContextPtr ctx_;
};

Node window_node(OpType op, int nd, int64_t k, int64_t s, int64_t pad, bool ceil = false) {
    Node n;
    n.name = op_name(op);
    n.op = op;
    n.geo = Geometry::square(nd, k, s, pad, ceil);
    return n;
}

TEST(CudaDevice, Info) {
    CudaInfo info = cuda_info();
    std::printf("[ cuda     ] compiled %d, devices %d%s%s, cuDNN %d, cuBLAS %d, cuRAND %d\n%s", info.compiled,
                info.device_count, info.runtime_note.empty() ? "" : ": ", info.runtime_note.c_str(), info.cudnn_version,
                info.cublas_version, info.curand_version, info.devices.c_str());
    PDA_SKIP_WITHOUT_CUDA();
    EXPECT_TRUE(info.compiled);
    EXPECT_GE(info.cudnn_version, 90000);
}

TEST_F(CudaOps, Conv) {
    struct Case {
        int nd;
        int64_t c, oc, size, k, stride, pad_b, pad_e, dil, group;
        bool bias, relu;
    };
    const Case cases[] = {
        {2, 3, 8, 13, 3, 1, 1, 1, 1, 1, true, false}, {2, 8, 12, 11, 5, 2, 2, 2, 1, 2, true, true},
        {2, 6, 6, 9, 3, 1, 1, 1, 1, 6, false, true},  {2, 4, 8, 10, 3, 2, 0, 1, 1, 1, true, true},  // asymmetric
        {2, 4, 4, 12, 3, 1, 2, 2, 2, 1, true, false}, {1, 3, 5, 17, 3, 2, 1, 0, 1, 1, true, false},
        {3, 2, 4, 7, 3, 1, 1, 1, 1, 1, true, true},   {2, 3, 96, 57, 11, 4, 0, 0, 1, 1, true, true},
    };
    int i = 0;
    for (const Case& cs : cases) {
        Node n = window_node(OpType::kConv, cs.nd, cs.k, cs.stride, cs.pad_b);
        for (int a = 0; a < cs.nd; ++a) n.geo.pad_end[a] = cs.pad_e, n.geo.dilation[a] = cs.dil;
        n.group = cs.group;
        n.fused_relu = cs.relu;
        std::vector<int64_t> xs{2, cs.c}, ws{cs.oc, cs.c / cs.group};
        for (int a = 0; a < cs.nd; ++a) xs.push_back(cs.size), ws.push_back(cs.k);
        Tensor x = random_tensor(Shape(xs), 10 + i), w = random_tensor(Shape(ws), 20 + i);
        Tensor b = random_tensor(Shape{cs.oc}, 30 + i);
        std::vector<std::pair<std::string, const Tensor*>> ins = {{"x", &x}, {"const_w", &w}};
        if (cs.bias) ins.push_back({"const_b", &b});
        check(OneNode(n, ins), 1e-4, "conv case " + std::to_string(i++));
    }
}

TEST_F(CudaOps, ConvTf32StaysWithinTf32Bounds) {
    Node n = window_node(OpType::kConv, 2, 3, 1, 1);
    Tensor x = random_tensor(Shape{4, 64, 28, 28}, 1), w = random_tensor(Shape{64, 64, 3, 3}, 2);
    OneNode c(n, {{"x", &x}, {"const_w", &w}});
    // TF32 keeps 10 mantissa bits: about 1e-3 relative per product, far above FP32's 1e-6.
    check(c.g, c.feeds, 2e-2, "conv tf32", Precision::kTf32);
}

// Batches larger than ctx.conv_chunk_elements run in chunks (and a remainder): the same results.
TEST_F(CudaOps, ConvChunked) {
    struct Case {
        int64_t n, c, oc, size, k, stride, pad_b, pad_e, group;
        bool relu;
    };
    const Case cases[] = {{7, 4, 8, 10, 3, 1, 1, 1, 1, true},   // chunks of 2: 2+2+2+1
                          {5, 4, 8, 10, 3, 2, 0, 1, 2, true},   // asymmetric pads: padded copy per chunk
                          {3, 6, 6, 9, 3, 1, 1, 1, 3, false}};  // chunks of 2: 2+1
    int i = 0;
    for (const Case& cs : cases) {
        Node n = window_node(OpType::kConv, 2, cs.k, cs.stride, cs.pad_b);
        for (int a = 0; a < 2; ++a) n.geo.pad_end[a] = cs.pad_e;
        n.group = cs.group;
        n.fused_relu = cs.relu;
        Tensor x = random_tensor(Shape{cs.n, cs.c, cs.size, cs.size}, 200 + i);
        Tensor w = random_tensor(Shape{cs.oc, cs.c / cs.group, cs.k, cs.k}, 210 + i);
        Tensor b = random_tensor(Shape{cs.oc}, 220 + i);
        // Two images' x + y per cuDNN call.
        cuda_set_conv_chunk_elements(*ctx_, 2 * (cs.c * cs.size * cs.size + cs.oc * cs.size * cs.size) + 1);
        check(OneNode(n, {{"x", &x}, {"const_w", &w}, {"const_b", &b}}), 1e-4, "conv chunked " + std::to_string(i++));
    }
}

// FP16 / BF16 convolution and Gemm (constant and computed B) against the FP32 CPU reference.
TEST_F(CudaOps, ReducedPrecisionConvAndGemm) {
    for (Precision p : {Precision::kFp16, Precision::kBf16}) {
        const double tol = p == Precision::kFp16 ? 3e-3 : 2e-2;  // 11 and 8 significant bits
        const std::string pn = precision_name(p);
        Node conv = window_node(OpType::kConv, 2, 3, 2, 0);
        for (int a = 0; a < 2; ++a) conv.geo.pad_end[a] = 1;  // asymmetric: the padded 16-bit copy
        conv.group = 2;
        conv.fused_relu = true;
        Tensor x = random_tensor(Shape{3, 8, 12, 12}, 1), w = random_tensor(Shape{16, 4, 3, 3}, 2);
        Tensor b = random_tensor(Shape{16}, 3);
        OneNode c(conv, {{"x", &x}, {"const_w", &w}, {"const_b", &b}});
        check(c.g, c.feeds, tol, "conv " + pn, p);
        for (bool const_b : {true, false}) {
            Node n;
            n.name = "gemm";
            n.op = OpType::kGemm;
            n.trans_b = const_b;
            n.fused_relu = !const_b;
            Tensor a = random_tensor(Shape{5, 64}, 4);
            Tensor bm = random_tensor(const_b ? Shape{24, 64} : Shape{64, 24}, 5), cc = random_tensor(Shape{24}, 6);
            OneNode g(n, {{"a", &a}, {const_b ? "const_b" : "b", &bm}, {"const_c", &cc}});
            check(g.g, g.feeds, tol, "gemm " + pn + (const_b ? " constant B" : " computed B"), p);
        }
    }
}

TEST_F(CudaOps, Pool) {
    struct Case {
        OpType op;
        int nd;
        int64_t size, k, stride, pad_b, pad_e, dil;
        bool ceil, incl;
    };
    const Case cases[] = {
        {OpType::kMaxPool, 2, 13, 3, 2, 0, 0, 1, true, false},      // AlexNet/GoogLeNet ceil mode
        {OpType::kMaxPool, 2, 12, 3, 2, 1, 0, 1, false, false},     // asymmetric
        {OpType::kMaxPool, 2, 11, 2, 2, 0, 0, 2, false, false},     // dilation
        {OpType::kAveragePool, 2, 13, 3, 2, 1, 1, 1, true, true},   // ceil + count_include_pad
        {OpType::kAveragePool, 2, 13, 3, 2, 1, 1, 1, true, false},  // ceil, exclude pad
        {OpType::kAveragePool, 2, 10, 3, 1, 0, 2, 1, false, true},  // asymmetric include pad
        {OpType::kAveragePool, 1, 15, 4, 3, 1, 2, 1, true, true},   // 1-D
        {OpType::kMaxPool, 3, 7, 3, 2, 1, 1, 1, true, false},       // 3-D
    };
    int i = 0;
    for (const Case& cs : cases) {
        Node n = window_node(cs.op, cs.nd, cs.k, cs.stride, cs.pad_b, cs.ceil);
        for (int a = 0; a < cs.nd; ++a) n.geo.pad_end[a] = cs.pad_e, n.geo.dilation[a] = cs.dil;
        n.count_include_pad = cs.incl;
        std::vector<int64_t> xs{2, 5};
        for (int a = 0; a < cs.nd; ++a) xs.push_back(cs.size);
        Tensor x = random_tensor(Shape(xs), 40 + i);
        check(OneNode(n, {{"x", &x}}), 1e-6, std::string(op_name(cs.op)) + " case " + std::to_string(i++));
    }
}

TEST_F(CudaOps, GlobalPools) {
    for (OpType op : {OpType::kGlobalAveragePool, OpType::kGlobalMaxPool}) {
        Node n;
        n.name = op_name(op);
        n.op = op;
        Tensor x = random_tensor(Shape{3, 7, 13, 13}, 5);
        check(OneNode(n, {{"x", &x}}), 1e-5, op_name(op));
    }
}

TEST_F(CudaOps, Lrn) {
    // Odd sizes run on cuDNN (rank 4), even sizes and rank 3 on the custom kernel.
    struct Case {
        int64_t size;
        Shape x;
        float alpha, beta, bias;
    };
    const Case cases[] = {{5, Shape{2, 16, 9, 9}, 1e-4f, 0.75f, 1.f},
                          {5, Shape{2, 16, 9, 9}, 0.5f, 0.75f, 2.f},  // large alpha: the convention shows
                          {3, Shape{2, 7, 5, 5}, 0.3f, 0.5f, 1.f},
                          {4, Shape{2, 16, 9, 9}, 0.3f, 0.75f, 1.f},
                          {2, Shape{2, 6, 11}, 0.3f, 0.75f, 1.f}};
    int i = 0;
    for (const Case& cs : cases) {
        Node n;
        n.name = "lrn";
        n.op = OpType::kLRN;
        n.size = cs.size;
        n.alpha = cs.alpha;
        n.beta = cs.beta;
        n.bias = cs.bias;
        Tensor x = random_tensor(cs.x, 50 + i, -3.f, 3.f);
        check(OneNode(n, {{"x", &x}}), 1e-5, "lrn case " + std::to_string(i++) + " size " + std::to_string(cs.size));
    }
}

TEST_F(CudaOps, Gemm) {
    struct Case {
        bool ta, tb;
        float alpha, beta;
        Shape c;
        bool relu, const_b;
    };
    const int64_t m = 7, k = 300, nn = 33;
    const Case cases[] = {
        {false, true, 1.f, 1.f, Shape{nn}, false, true},     {false, true, 1.f, 1.f, Shape{nn}, true, true},
        {true, false, 0.5f, 2.f, Shape{m, nn}, false, true}, {true, true, 1.f, 0.5f, Shape{m, 1}, false, false},
        {false, false, 2.f, 1.f, Shape{}, true, false},      {false, false, 1.f, 3.f, Shape{1}, false, true},
    };
    int i = 0;
    for (const Case& cs : cases) {
        Node n;
        n.name = "gemm";
        n.op = OpType::kGemm;
        n.trans_a = cs.ta;
        n.trans_b = cs.tb;
        n.alpha = cs.alpha;
        n.beta = cs.beta;
        n.fused_relu = cs.relu;
        Tensor a = random_tensor(cs.ta ? Shape{k, m} : Shape{m, k}, 60 + i);
        Tensor b = random_tensor(cs.tb ? Shape{nn, k} : Shape{k, nn}, 70 + i);
        Tensor c = random_tensor(cs.c.rank ? cs.c : Shape{1}, 80 + i);
        std::vector<std::pair<std::string, const Tensor*>> ins = {{"a", &a}, {cs.const_b ? "const_b" : "b", &b}};
        if (cs.c.rank) ins.push_back({"const_c", &c});
        check(OneNode(n, ins), 1e-4, "gemm case " + std::to_string(i++));
    }
}

TEST_F(CudaOps, MatMul) {
    const std::pair<Shape, Shape> cases[] = {{Shape{5, 40}, Shape{40, 9}},
                                             {Shape{2, 3, 5, 40}, Shape{40, 9}},
                                             {Shape{2, 1, 5, 40}, Shape{3, 40, 9}},
                                             {Shape{40}, Shape{2, 40, 9}},
                                             {Shape{4, 5, 40}, Shape{40}}};
    int i = 0;
    for (const auto& [as, bs] : cases) {
        Node n;
        n.name = "matmul";
        n.op = OpType::kMatMul;
        Tensor a = random_tensor(as, 90 + i), b = random_tensor(bs, 100 + i);
        check(OneNode(n, {{"a", &a}, {"b", &b}}), 1e-4, "matmul " + as.str() + " x " + bs.str());
        ++i;
    }
}

TEST_F(CudaOps, Activations) {
    struct Case {
        OpType op;
        float alpha, lo, hi;
    };
    for (const Case& cs :
         {Case{OpType::kRelu, 0, 0, 0}, Case{OpType::kLeakyRelu, 0.1f, 0, 0}, Case{OpType::kClip, 0, -0.5f, 0.25f},
          Case{OpType::kClip, 0, -INFINITY, 0.5f}, Case{OpType::kSigmoid, 0, 0, 0}}) {
        Node n;
        n.name = op_name(cs.op);
        n.op = cs.op;
        n.alpha = cs.alpha;
        n.min = cs.lo;
        n.max = cs.hi;
        Tensor x = random_tensor(Shape{3, 5, 7, 11}, 7, -8.f, 8.f);
        check(OneNode(n, {{"x", &x}}), 1e-6, op_name(cs.op));
    }
}

TEST_F(CudaOps, AddMulBroadcast) {
    const std::pair<Shape, Shape> cases[] = {{Shape{2, 3, 4, 5}, Shape{2, 3, 4, 5}},
                                             {Shape{2, 3, 4, 5}, Shape{3, 1, 1}},
                                             {Shape{2, 1, 4, 1}, Shape{1, 3, 1, 5}},
                                             {Shape{5}, Shape{2, 3, 4, 5}},
                                             {Shape{2, 3, 4, 5}, Shape{1}}};
    int i = 0;
    for (OpType op : {OpType::kAdd, OpType::kMul})
        for (const auto& [as, bs] : cases) {
            Node n;
            n.name = op_name(op);
            n.op = op;
            Tensor a = random_tensor(as, 110 + i), b = random_tensor(bs, 120 + i);
            check(OneNode(n, {{"a", &a}, {i % 2 ? "const_b" : "b", &b}}), 1e-6,
                  std::string(op_name(op)) + " " + as.str() + " " + bs.str());
            ++i;
        }
}

TEST_F(CudaOps, BatchNorm) {
    Node n;
    n.name = "bn";
    n.op = OpType::kBatchNorm;
    n.epsilon = 1e-3f;
    Tensor x = random_tensor(Shape{2, 6, 5, 7}, 1), s = random_tensor(Shape{6}, 2), b = random_tensor(Shape{6}, 3);
    Tensor mean = random_tensor(Shape{6}, 4), var = random_tensor(Shape{6}, 5, 0.1f, 2.f);
    check(OneNode(n, {{"x", &x}, {"const_s", &s}, {"const_b", &b}, {"const_m", &mean}, {"const_v", &var}}), 1e-5,
          "batchnorm");
}

TEST_F(CudaOps, Softmax) {
    struct Case {
        Shape x;
        int64_t axis;
        bool allow_zero;
    };
    for (const Case& cs :
         {Case{Shape{4, 1000}, 1, false}, Case{Shape{2, 5, 3, 4}, 1, false}, Case{Shape{2, 5, 3, 4}, -1, false},
          Case{Shape{2, 5, 3, 4}, 1, true}, Case{Shape{3, 300}, 0, false}}) {
        Node n;
        n.name = "softmax";
        n.op = OpType::kSoftmax;
        n.axis = cs.axis;
        n.allow_zero = cs.allow_zero;
        Tensor x = random_tensor(cs.x, 9, -10.f, 10.f);
        check(OneNode(n, {{"x", &x}}), 1e-6,
              "softmax " + cs.x.str() + " axis " + std::to_string(cs.axis) + (cs.allow_zero ? " flatten" : ""));
    }
}

TEST_F(CudaOps, ConcatAndViews) {
    for (int64_t axis : {1, 2, -1}) {
        Node n;
        n.name = "concat";
        n.op = OpType::kConcat;
        n.axis = axis;
        Tensor a = random_tensor(Shape{2, 3, 4, 5}, 1), b = random_tensor(Shape{2, 3, 4, 5}, 2);
        Tensor c = random_tensor(Shape{2, 3, 4, 5}, 3);
        check(OneNode(n, {{"a", &a}, {"b", &b}, {"const_c", &c}}), 0, "concat axis " + std::to_string(axis));
    }
    // Flatten (a view) feeding Relu: the view must alias its input's storage correctly.
    Graph g;
    g.name = "views";
    g.inputs = {{"x", Shape{2, 3, 4, 5}}};
    Node f;
    f.name = "flat";
    f.op = OpType::kFlatten;
    f.axis = 1;
    f.inputs = {"x"};
    f.output = "flat";
    Node r;
    r.name = "relu";
    r.op = OpType::kRelu;
    r.inputs = {"flat"};
    r.output = "y";
    g.nodes = {f, r};
    g.outputs = {"y", "flat"};
    std::vector<Tensor> feeds;
    feeds.push_back(random_tensor(Shape{2, 3, 4, 5}, 4));
    check(g, feeds, 0, "flatten+relu");
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
