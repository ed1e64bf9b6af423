// Softmax kernel: one block per (outer, inner) column; the block reduces the column's max, then the
// sum of exponentials (float partials, as many as threads), then scales.
#include <algorithm>
#include <cfloat>

#include "kernels/check.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/softmax.h"

namespace pda::cuda {
namespace {

constexpr int kThreads = 256;

__device__ float block_reduce(float v, bool is_max, float* part) {
    part[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            part[threadIdx.x] =
                is_max ? fmaxf(part[threadIdx.x], part[threadIdx.x + s]) : part[threadIdx.x] + part[threadIdx.x + s];
        __syncthreads();
    }
    float r = part[0];
    __syncthreads();
    return r;
}

__global__ void softmax_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t len, int64_t inner) {
    __shared__ float part[kThreads];
    const int64_t col = blockIdx.x, o = col / inner, in = col % inner;
    const float* xp = x + o * len * inner + in;
    float* yp = y + o * len * inner + in;
    float m = -FLT_MAX;
    for (int64_t a = threadIdx.x; a < len; a += blockDim.x) m = fmaxf(m, xp[a * inner]);
    m = block_reduce(m, true, part);
    float s = 0.f;
    for (int64_t a = threadIdx.x; a < len; a += blockDim.x) {
        float e = expf(xp[a * inner] - m);
        yp[a * inner] = e;
        s += e;
    }
    s = block_reduce(s, false, part);
    const float inv = 1.f / s;
    for (int64_t a = threadIdx.x; a < len; a += blockDim.x) yp[a * inner] *= inv;
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t outer, int64_t axis_len, int64_t inner, cudaStream_t stream) {
    const int64_t cols = outer * inner;
    if (cols <= 0 || axis_len <= 0) return;
    PDA_CHECK(cols < (int64_t{1} << 31), "softmax: too many columns");
    // Short axes waste most of a 256-thread block; 32 threads still reduce correctly.
    const int threads = axis_len >= 256 ? kThreads : 32;
    softmax_kernel<<<static_cast<unsigned>(cols), threads, 0, stream>>>(x, y, axis_len, inner);
    PDA_CUDA_CHECK_LAUNCH();
}

}  // namespace pda::cuda
