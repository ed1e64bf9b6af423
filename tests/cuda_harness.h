// The harness of the CUDA suites (test_cuda_ops.cc, test_cuda_networks.cc): a graph run on both
// backends with every output compared against the CPU (the reference) by the op suites' comparator
// (ops_harness.h), the CudaOps fixture that skips visibly without a device, and the conv chunk knob.
#pragma once

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "engine/cuda_program.h"
#include "engine/device.h"
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

namespace cuda_test {

using ops_test::OneNode;
using ops_test::random_tensor;

class CudaOps : public ::testing::Test {
  protected:
    void SetUp() override {
        PDA_SKIP_WITHOUT_CUDA();
        if (!suite_ctx_) own_ = make_cuda_context(0);
        ctx_ = suite_ctx_ ? suite_ctx_.get() : own_.get();
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
        for (const std::string& v : names) {
            ConstTensorView a = gpu->value(v), b = cpu->value(v);
            ASSERT_EQ(a.shape, b.shape) << what << " " << v;
            ops_test::expect_close(std::vector<float>(a.data, a.data + a.numel()),
                                   ops_test::Ref(b.data, b.data + b.numel()), what + " " + v, tol);
        }
    }
    void check(const OneNode& c, double tol, const std::string& what) { check(c.g, c.feeds, tol, what); }

    CudaContext* ctx_ = nullptr;
    CudaContextPtr own_;                      // this test's context, unless the suite shares one
    static inline CudaContextPtr suite_ctx_;  // set by suites whose tests leave the context as they found it
};

inline Node window_node(OpType op, int nd, int64_t k, int64_t s, int64_t pad, bool ceil = false) {
    Node n;
    n.name = op_name(op);
    n.op = op;
    n.geo = Geometry::square(nd, k, s, pad, ceil);
    return n;
}

}  // namespace cuda_test
}  // namespace pda
