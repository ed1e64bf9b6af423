// The custom LRN kernel: one thread per output element sums the squares of its channel window
// (ONNX's window, leaning right for even sizes) in float and applies the power.
#include <algorithm>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/lrn.h"

namespace pda::cuda {
namespace {

__global__ void lrn_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t total, int64_t c, int64_t inner,
                           int64_t before, int64_t after, float scale, float beta, float bias) {
    PDA_GRID_LOOP(i, total) {
        const int64_t pos = i % inner, ch = (i / inner) % c, b = i / (inner * c);
        const float* xb = x + b * c * inner + pos;
        const int64_t lo = ch - before > 0 ? ch - before : 0, hi = ch + after < c - 1 ? ch + after : c - 1;
        float sq = 0.f;
        for (int64_t k = lo; k <= hi; ++k) {
            const float v = xb[k * inner];
            sq += v * v;
        }
        y[i] = x[i] / powf(bias + scale * sq, beta);
    }
}

}  // namespace

void lrn_window_forward(const float* x, float* y, int64_t n, int64_t c, int64_t inner, int64_t size, float alpha,
                        float beta, float bias, cudaStream_t stream) {
    const int64_t total = n * c * inner;
    if (total <= 0) return;
    const int64_t before = (size - 1) / 2, after = size - 1 - before;
    lrn_kernel<<<blocks_for(total), kThreads, 0, stream>>>(x, y, total, c, inner, before, after,
                                                           alpha / static_cast<float>(size), beta, bias);
    PDA_CUDA_CHECK_LAUNCH();
}

}  // namespace pda::cuda
