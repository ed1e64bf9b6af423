// Element-wise CUDA kernels (launchers; kernels in eltwise.cu): activations, numpy-broadcasting
// Add/Mul, per-channel affine (BatchNorm, convolution bias, optional ReLU), zero padding and the
// broadcast fill of Gemm's C, and the FP32 ↔ FP16/BF16 conversions around reduced-precision
// convolutions and GEMMs. Pointers are device pointers; every launch is on `stream`.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/storage.h"
#include "kernels/shape.h"

namespace pda::cuda {

enum class UnaryKind { kRelu, kLeakyRelu, kClip, kSigmoid };

struct UnaryParams {
    UnaryKind kind = UnaryKind::kRelu;
    float alpha = 0.01f;       // LeakyRelu slope
    float lo = 0.f, hi = 0.f;  // Clip bounds
};

// y[i] = f(x[i]), i < n; y may equal x.
void unary_forward(const UnaryParams& p, const float* x, float* y, int64_t n, cudaStream_t stream);

// Output index → operand offsets for numpy broadcasting: strides are 0 along broadcast axes.
struct BroadcastIndex {
    int rank = 0;
    int64_t dims[kMaxRank] = {};
    int64_t a_stride[kMaxRank] = {};
    int64_t b_stride[kMaxRank] = {};
};
BroadcastIndex broadcast_index(const Shape& a, const Shape& b, const Shape& y);

// y = a + b or a · b, broadcast as `idx` says; y has n elements.
void binary_forward(bool add, const BroadcastIndex& idx, const float* a, const float* b, float* y, int64_t n,
                    cudaStream_t stream);

// y (N, C, inner) = x · mul[c] + add[c] (mul may be null: 1), then max(·, 0) when relu. y may equal x.
void channel_affine_forward(const float* x, const float* mul, const float* add, float* y, int64_t n, int64_t c,
                            int64_t inner, bool relu, cudaStream_t stream);

// Copies x (N, C, in[0..nd)) into y (N, C, in + pad_begin + pad_end) with zeros around.
void pad_forward(const float* x, float* y, const Shape& x_shape, const Shape& y_shape, const int64_t* pad_begin,
                 cudaStream_t stream);

// The same into a buffer of `to` elements (FP32, FP16 or BF16): the padded 16-bit input of a
// reduced-precision convolution in one pass.
void pad_forward(const float* x, void* y, Storage to, const Shape& x_shape, const Shape& y_shape,
                 const int64_t* pad_begin, cudaStream_t stream);

// y[i] = x[i] rounded to `to` (FP16 or BF16, round to nearest even), i < n.
void convert_forward(const float* x, void* y, Storage to, int64_t n, cudaStream_t stream);

// y (N, C, inner) = float(x) (+ add[c] when add is not null), then max(·, 0) when relu; x holds
// `from` elements (FP16 or BF16). The epilogue of a reduced-precision convolution, in FP32.
void convert_back_forward(const void* x, Storage from, const float* add, float* y, int64_t n, int64_t c, int64_t inner,
                          bool relu, cudaStream_t stream);

// y (m, n) = beta · C, C of shape (c_rows, c_cols) with c_rows ∈ {1, m}, c_cols ∈ {1, n}.
void fill_broadcast_2d(const float* c, int64_t c_rows, int64_t c_cols, float beta, float* y, int64_t m, int64_t n,
                       cudaStream_t stream);

}  // namespace pda::cuda
