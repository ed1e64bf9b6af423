// The CUDA backend against the CPU backend (the reference), op by op: every case of the op table
// (op_cases.h) with its CUDA tolerance and the worst mismatch printed, then chunked convolutions,
// TF32 and FP16/BF16 bounds and a view. Whole networks and memory handling are in
// test_cuda_networks.cc. Every suite is named Cuda* (scripts/device-check.sh runs
// --gtest_filter='Cuda*') and skips visibly without a device.
#include <cstdio>

#include "cuda_harness.h"
#include "engine/cuda_program.h"
#include "engine/device.h"
#include "op_cases.h"
#include "ops_harness.h"
#include "test_util.h"

namespace pda {
namespace {

using cuda_test::CudaOps;
using cuda_test::window_node;
using ops_test::OneNode;
using ops_test::OpCase;
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

// One context for the whole table: cuDNN and cuBLAS set-up per case would cost more than the cases.
class CudaOpsCases : public CudaOps, public ::testing::WithParamInterface<OpCase> {
  public:
    static void SetUpTestSuite() {
        if (cuda_device_count() > 0) suite_ctx_ = make_cuda_context(0);
    }
    static void TearDownTestSuite() { suite_ctx_.reset(); }
};

TEST_P(CudaOpsCases, MatchCpu) {
    const OpCase& c = GetParam();
    check(c.build(), c.cuda_tol, c.name);
}

INSTANTIATE_TEST_SUITE_P(Cuda, CudaOpsCases, ::testing::ValuesIn(ops_test::op_cases()), ops_test::op_case_name);

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

// Flatten (a view) feeding Relu: the view must alias its input's storage correctly.
TEST_F(CudaOps, FlattenViewFeedsRelu) {
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
