// The custom LRN kernel: one thread per output element sums the squares of its channel window
// (ONNX's window, leaning right for even sizes) in float and applies the power.
#include <algorithm>

#include "kernels/cuda/check.h"
#include "kernels/cuda/lrn.h"

namespace pda::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void lrn_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t total, int64_t c, int64_t inner,
                           int64_t before, int64_t after, float scale, float beta, float bias) {
    for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
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
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((total + kThreads - 1) / kThreads, 1 << 20));
    lrn_kernel<<<blocks, kThreads, 0, stream>>>(x, y, total, c, inner, before, after, alpha / static_cast<float>(size),
                                                beta, bias);
    PDA_CUDA_CHECK_LAUNCH();
}

}  // namespace pda::cuda
