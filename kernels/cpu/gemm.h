// Matrix products on the CPU. GemmForward: Y (M, N) = alpha·op(A)·op(B) + beta·C, C broadcast to
// (M, N), optional ReLU, on oneDNN matmul (a constant B is scaled by alpha and packed once, a row-
// vector C becomes the fused bias). MatmulForward: numpy matmul with batch broadcasting and 1-D
// operands; a 2-D right operand runs as one Gemm over all rows, the rest in plain C++.
#pragma once

#include <dnnl.hpp>
#include <memory>
#include <unordered_map>
#include <vector>

#include "kernels/cpu/context.h"
#include "kernels/cpu/dnnl_util.h"
#include "kernels/tensor.h"

namespace pda {

struct GemmParams {
    int64_t m = 0, k = 0, n = 0;
    bool trans_a = false;  // A is (K, M) instead of (M, K)
    bool trans_b = false;  // B is (N, K) instead of (K, N)
    float alpha = 1.f, beta = 1.f;
    Shape c;  // rank 0: no C; otherwise numpy-broadcastable to (M, N)
    bool relu = false;
};

class GemmForward {
  public:
    // b_const / c_const: the operand when it is constant (read once here), else null and given to run().
    GemmForward(const GemmParams& p, const ConstFloats& b_const, const float* c_const, CpuContext& ctx);
    void run(const float* a, const float* b, const float* c, float* y);
    size_t scratchpad_bytes() const;

  private:
    void add_c(const float* c, float* y) const;

    static constexpr int64_t kRowBlock = 16;       // rows of oneDNN's AVX2 GEMM kernel
    static constexpr int64_t kAliasingCols = 256;  // plain weights of a multiple of this many columns...
    static constexpr int64_t kRowPad = 64;         // ...get rows this many floats longer (gemm.cc)

    GemmParams p_;
    CpuContext& ctx_;
    bool b_packed_ = false, c_fused_ = false, post_ = false;
    int64_t c_rows_ = 1, c_cols_ = 1;                // C as (1|M, 1|N)
    int64_t rows_ = 0;                               // M as the product runs it: padded (kRowBlock) below AVX-512
    size_t a_at_ = 0, y_at_ = 0, padded_bytes_ = 0;  // padded A and Y in the shared scratchpad
    dnnl::matmul prim_;
    DnnlPlainInput src_;
    dnnl::memory weights_, bias_, dst_;
    DnnlScratchpad scratch_;
    std::unordered_map<int, dnnl::memory> args_;
};

struct MatmulParams {
    Shape a, b, y;  // numpy matmul shapes (y as the graph infers it)
};

class MatmulForward {
  public:
    MatmulForward(const MatmulParams& p, const ConstFloats& b_const, CpuContext& ctx);
    void run(const float* a, const float* b, float* y);

  private:
    std::unique_ptr<GemmForward> gemm_;  // right operand of rank ≤ 2
    const float* b_const_ = nullptr;
    int64_t m_ = 1, k_ = 1, n_ = 1;
    std::vector<int64_t> a_off_, b_off_;  // per output batch, offsets into a and b
};

}  // namespace pda
