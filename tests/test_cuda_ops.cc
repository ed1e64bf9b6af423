// The CUDA backend against the CPU backend (the reference), op by op: every op on random inputs
// with a per-op tolerance and the worst mismatch printed, chunked convolutions, TF32 and FP16/BF16
// bounds. Whole networks and memory handling are in test_cuda_networks.cc. Every suite is named
// Cuda* (scripts/device-check.sh runs --gtest_filter='Cuda*') and skips visibly without a device.
#include <cmath>
#include <cstdio>

#include "cuda_harness.h"
#include "engine/cuda_program.h"
#include "engine/device.h"
#include "ops_harness.h"
#include "test_util.h"

namespace pda {
namespace {

using cuda_test::CudaOps;
using cuda_test::window_node;
using ops_test::OneNode;
using ops_test::random_tensor;

TEST(CudaDevice, Info) {
    CudaInfo info = cuda_info();
    std::printf("[ cuda     ] compiled %d, devices %d%s%s, cuDNN %d, cuBLAS %d\n%s", info.compiled, info.device_count,
                info.runtime_note.empty() ? "" : ": ", info.runtime_note.c_str(), info.cudnn_version,
                info.cublas_version, info.devices.c_str());
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

}  // namespace
}  // namespace pda
