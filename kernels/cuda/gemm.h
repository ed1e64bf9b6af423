// Matrix products on cuBLAS. GemmForward: Y (M, N) = alpha·op(A)·op(B) + beta·C, C broadcast to
// (M, N), optional ReLU; row-major operands run as the column-major product Yᵀ = op(B)ᵀ·op(A)ᵀ.
// FP32 uses CUBLAS_COMPUTE_32F on a handle in CUBLAS_DEFAULT_MATH (no TF32); TF32 uses
// CUBLAS_COMPUTE_32F_FAST_TF32. FP16 / BF16: A and B converted to 16 bits (a constant B once, by
// set_b), C and Y in FP32, CUBLAS_COMPUTE_32F (FP32 accumulation on tensor cores).
// MatmulForward: numpy matmul, one GEMM per broadcast batch, always FP32 / TF32.
#pragma once

#include <vector>

#include "kernels/cuda/context.h"
#include "kernels/cuda/storage.h"
#include "kernels/shape.h"

namespace pda::cuda {

struct GemmParams {
    int64_t m = 0, k = 0, n = 0;
    bool trans_a = false;  // A is (K, M) instead of (M, K)
    bool trans_b = false;  // B is (N, K) instead of (K, N)
    float alpha = 1.f, beta = 1.f;
    Shape c;  // rank 0: no C; otherwise (N), (1|M, 1|N) or a scalar (1)
    bool relu = false;
    bool tf32 = false;                // FP32 storage only
    Storage storage = Storage::kF32;  // FP16 / BF16: 16-bit A and B, FP32 accumulation
};

class GemmForward {
  public:
    explicit GemmForward(const GemmParams& p);
    // 16-bit storage and a constant B: converts B (device, FP32) once into the op's own copy, which
    // run() then uses instead of its b argument.
    void set_b(const float* b, CudaContext& ctx);
    // a, b, c, y: device pointers, FP32.
    void run(const float* a, const float* b, const float* c, float* y, CudaContext& ctx) const;
    size_t workspace_bytes() const;  // 16-bit copies of A (and of B without set_b)

  private:
    GemmParams p_;
    DeviceBuffer b16_;
    bool has_c_ = false;
    int64_t c_rows_ = 1, c_cols_ = 1;
};

struct MatmulParams {
    Shape a, b, y;  // numpy matmul shapes
    bool tf32 = false;
};

class MatmulForward {
  public:
    explicit MatmulForward(const MatmulParams& p);
    void run(const float* a, const float* b, float* y, CudaContext& ctx) const;

  private:
    GemmParams gp_;
    std::vector<int64_t> a_off_, b_off_;  // per output batch; empty: one GEMM over all rows
};
}  // namespace pda::cuda
