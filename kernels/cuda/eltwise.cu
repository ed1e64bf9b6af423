// Element-wise kernels: grid-stride loops over the output, one thread per element. Launchers pick
// the grid, launch on the caller's stream and check the launch.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "kernels/check.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/eltwise.h"
#include "kernels/cuda/launch.h"

namespace pda::cuda {
namespace {

__global__ void unary_kernel(UnaryParams p, const float* __restrict__ x, float* y, int64_t n) {
    PDA_GRID_LOOP(i, n) {
        float v = x[i];
        switch (p.kind) {
            case UnaryKind::kRelu:
                v = v > 0.f ? v : 0.f;
                break;
            case UnaryKind::kLeakyRelu:
                v = v >= 0.f ? v : p.alpha * v;
                break;
            case UnaryKind::kClip:
                v = fminf(fmaxf(v, p.lo), p.hi);
                break;
            case UnaryKind::kSigmoid:
                // Stable on both sides, as on the CPU: exp of a non-positive number only.
                if (v >= 0.f) {
                    v = 1.f / (1.f + expf(-v));
                } else {
                    float e = expf(v);
                    v = e / (1.f + e);
                }
                break;
        }
        y[i] = v;
    }
}

__global__ void binary_kernel(bool add, BroadcastIndex idx, const float* __restrict__ a, const float* __restrict__ b,
                              float* __restrict__ y, int64_t n) {
    PDA_GRID_LOOP(i, n) {
        int64_t rem = i, ao = 0, bo = 0;
        for (int d = idx.rank - 1; d >= 0; --d) {
            int64_t k = rem % idx.dims[d];
            rem /= idx.dims[d];
            ao += k * idx.a_stride[d];
            bo += k * idx.b_stride[d];
        }
        y[i] = add ? a[ao] + b[bo] : a[ao] * b[bo];
    }
}

__global__ void affine_kernel(const float* x, const float* __restrict__ mul, const float* __restrict__ add, float* y,
                              int64_t total, int64_t c, int64_t inner, bool relu) {
    PDA_GRID_LOOP(i, total) {
        int64_t ch = (i / inner) % c;
        float v = mul ? x[i] * mul[ch] + add[ch] : x[i] + add[ch];
        y[i] = relu ? fmaxf(v, 0.f) : v;
    }
}

// Shapes as 5-D (N, C, D, H, W) with size-1 axes in front of the spatial ones.
struct PadDims {
    int64_t in[5], out[5], pb[5];
};

__device__ __forceinline__ void store(float* y, int64_t i, float v) { y[i] = v; }
__device__ __forceinline__ void store(__half* y, int64_t i, float v) { y[i] = __float2half_rn(v); }
__device__ __forceinline__ void store(__nv_bfloat16* y, int64_t i, float v) { y[i] = __float2bfloat16_rn(v); }
__device__ __forceinline__ float load(const __half* x, int64_t i) { return __half2float(x[i]); }
__device__ __forceinline__ float load(const __nv_bfloat16* x, int64_t i) { return __bfloat162float(x[i]); }

template <class T>
__global__ void pad_kernel(const float* __restrict__ x, T* __restrict__ y, PadDims d, int64_t total) {
    PDA_GRID_LOOP(i, total) {
        int64_t rem = i, src = 0, mul = 1;
        bool inside = true;
        for (int a = 4; a >= 0; --a) {
            int64_t o = rem % d.out[a];
            rem /= d.out[a];
            int64_t s = o - d.pb[a];
            inside = inside && s >= 0 && s < d.in[a];
            src += s * mul;
            mul *= d.in[a];
        }
        store(y, i, inside ? x[src] : 0.f);
    }
}

template <class T>
__global__ void convert_kernel(const float* __restrict__ x, T* __restrict__ y, int64_t n) {
    PDA_GRID_LOOP(i, n)
    store(y, i, x[i]);
}

template <class T>
__global__ void convert_back_kernel(const T* __restrict__ x, const float* __restrict__ add, float* __restrict__ y,
                                    int64_t total, int64_t c, int64_t inner, bool relu) {
    PDA_GRID_LOOP(i, total) {
        float v = load(x, i);
        if (add) v += add[(i / inner) % c];
        y[i] = relu ? fmaxf(v, 0.f) : v;
    }
}

__global__ void fill_kernel(const float* __restrict__ c, int64_t c_rows, int64_t c_cols, float beta, float* y,
                            int64_t m, int64_t n) {
    const int64_t total = m * n;
    PDA_GRID_LOOP(i, total) {
        int64_t r = i / n, col = i % n;
        y[i] = beta * c[(c_rows > 1 ? r : 0) * c_cols + (c_cols > 1 ? col : 0)];
    }
}

}  // namespace

void unary_forward(const UnaryParams& p, const float* x, float* y, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    unary_kernel<<<blocks_for(n), kThreads, 0, stream>>>(p, x, y, n);
    PDA_CUDA_CHECK_LAUNCH();
}

BroadcastIndex broadcast_index(const Shape& a, const Shape& b, const Shape& y) {
    BroadcastIndex idx;
    idx.rank = y.rank;
    int64_t ca = 1, cb = 1;
    for (int i = y.rank - 1; i >= 0; --i) {
        int ia = a.rank - y.rank + i, ib = b.rank - y.rank + i;
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        idx.dims[i] = y[i];
        idx.a_stride[i] = da == 1 ? 0 : ca;
        idx.b_stride[i] = db == 1 ? 0 : cb;
        ca *= da;
        cb *= db;
    }
    return idx;
}

void binary_forward(bool add, const BroadcastIndex& idx, const float* a, const float* b, float* y, int64_t n,
                    cudaStream_t stream) {
    if (n <= 0) return;
    binary_kernel<<<blocks_for(n), kThreads, 0, stream>>>(add, idx, a, b, y, n);
    PDA_CUDA_CHECK_LAUNCH();
}

void channel_affine_forward(const float* x, const float* mul, const float* add, float* y, int64_t n, int64_t c,
                            int64_t inner, bool relu, cudaStream_t stream) {
    const int64_t total = n * c * inner;
    if (total <= 0) return;
    affine_kernel<<<blocks_for(total), kThreads, 0, stream>>>(x, mul, add, y, total, c, inner, relu);
    PDA_CUDA_CHECK_LAUNCH();
}

void pad_forward(const float* x, float* y, const Shape& x_shape, const Shape& y_shape, const int64_t* pad_begin,
                 cudaStream_t stream) {
    pad_forward(x, y, Storage::kF32, x_shape, y_shape, pad_begin, stream);
}

void pad_forward(const float* x, void* y, Storage to, const Shape& x_shape, const Shape& y_shape,
                 const int64_t* pad_begin, cudaStream_t stream) {
    PadDims d;
    const int nd = x_shape.rank - 2;
    for (int a = 0; a < 5; ++a) d.in[a] = d.out[a] = 1, d.pb[a] = 0;
    d.in[0] = x_shape[0], d.in[1] = x_shape[1], d.out[0] = y_shape[0], d.out[1] = y_shape[1];
    for (int i = 0; i < nd; ++i) {
        d.in[5 - nd + i] = x_shape[2 + i];
        d.out[5 - nd + i] = y_shape[2 + i];
        d.pb[5 - nd + i] = pad_begin[i];
    }
    const int64_t total = y_shape.numel();
    if (total <= 0) return;
    if (to == Storage::kF32)
        pad_kernel<<<blocks_for(total), kThreads, 0, stream>>>(x, static_cast<float*>(y), d, total);
    else if (to == Storage::kF16)
        pad_kernel<<<blocks_for(total), kThreads, 0, stream>>>(x, static_cast<__half*>(y), d, total);
    else
        pad_kernel<<<blocks_for(total), kThreads, 0, stream>>>(x, static_cast<__nv_bfloat16*>(y), d, total);
    PDA_CUDA_CHECK_LAUNCH();
}

void convert_forward(const float* x, void* y, Storage to, int64_t n, cudaStream_t stream) {
    PDA_CHECK(to != Storage::kF32, "convert_forward: the target must be FP16 or BF16");
    if (n <= 0) return;
    if (to == Storage::kF16)
        convert_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, static_cast<__half*>(y), n);
    else
        convert_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, static_cast<__nv_bfloat16*>(y), n);
    PDA_CUDA_CHECK_LAUNCH();
}

void convert_back_forward(const void* x, Storage from, const float* add, float* y, int64_t n, int64_t c, int64_t inner,
                          bool relu, cudaStream_t stream) {
    PDA_CHECK(from != Storage::kF32, "convert_back_forward: the source must be FP16 or BF16");
    const int64_t total = n * c * inner;
    if (total <= 0) return;
    if (from == Storage::kF16)
        convert_back_kernel<<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const __half*>(x), add, y, total, c,
                                                                        inner, relu);
    else
        convert_back_kernel<<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(x), add, y,
                                                                        total, c, inner, relu);
    PDA_CUDA_CHECK_LAUNCH();
}

void fill_broadcast_2d(const float* c, int64_t c_rows, int64_t c_cols, float beta, float* y, int64_t m, int64_t n,
                       cudaStream_t stream) {
    if (m * n <= 0) return;
    fill_kernel<<<blocks_for(m * n), kThreads, 0, stream>>>(c, c_rows, c_cols, beta, y, m, n);
    PDA_CUDA_CHECK_LAUNCH();
}

}  // namespace pda::cuda
