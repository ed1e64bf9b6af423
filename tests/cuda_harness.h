// The harness of the CUDA suites (test_cuda_ops.cc, test_cuda_networks.cc): a graph run on both
// backends with every output compared against the CPU (the reference) and the worst mismatch
// printed, the CudaOps fixture that skips visibly without a device, and the test-only conv chunk knob.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
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

// Worst |gpu − cpu| must stay within tol · max(1, max |cpu|); the worst mismatch is always printed.
inline void expect_match(ConstTensorView gpu, ConstTensorView cpu, double tol, const std::string& what) {
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

inline Node window_node(OpType op, int nd, int64_t k, int64_t s, int64_t pad, bool ceil = false) {
    Node n;
    n.name = op_name(op);
    n.op = op;
    n.geo = Geometry::square(nd, k, s, pad, ceil);
    return n;
}

}  // namespace cuda_test
}  // namespace pda
