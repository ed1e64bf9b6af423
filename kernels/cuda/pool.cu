// Pooling kernels: one thread per output element for windowed pools (the divisor counted exactly as
// the CPU backend does), one block per plane with a shared-memory reduction for global pools.
#include <algorithm>
#include <cfloat>

#include "kernels/check.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/pool.h"

namespace pda::cuda {
namespace {

__global__ void pool_kernel(bool is_max, PoolGeometry g, const float* __restrict__ x, float* __restrict__ y,
                            int64_t total) {
    const int64_t out_size = g.out[0] * g.out[1] * g.out[2], in_size = g.in[0] * g.in[1] * g.in[2];
    PDA_GRID_LOOP(i, total) {
        const int64_t plane = i / out_size;
        int64_t r = i % out_size;
        int64_t o[3];
        o[2] = r % g.out[2];
        r /= g.out[2];
        o[1] = r % g.out[1];
        o[0] = r / g.out[1];
        int64_t lo[3];
        int64_t count = 1;
        for (int a = 0; a < 3; ++a) {
            lo[a] = o[a] * g.stride[a] - g.pad_begin[a];
            // Divisor: positions inside [−pb, in + pe) with count_include_pad, inside [0, in) without.
            const int64_t lim_lo = g.count_include_pad ? -g.pad_begin[a] : 0;
            const int64_t lim_hi = g.count_include_pad ? g.in[a] + g.pad_end[a] : g.in[a];
            int64_t c = 0;
            for (int64_t t = 0; t < g.kernel[a]; ++t) {
                const int64_t pos = lo[a] + t * g.dilation[a];
                c += (pos >= lim_lo && pos < lim_hi);
            }
            count *= c;
        }
        const float* xp = x + plane * in_size;
        float acc = is_max ? -FLT_MAX : 0.f;
        for (int64_t t0 = 0; t0 < g.kernel[0]; ++t0) {
            const int64_t i0 = lo[0] + t0 * g.dilation[0];
            if (i0 < 0 || i0 >= g.in[0]) continue;
            for (int64_t t1 = 0; t1 < g.kernel[1]; ++t1) {
                const int64_t i1 = lo[1] + t1 * g.dilation[1];
                if (i1 < 0 || i1 >= g.in[1]) continue;
                const float* row = xp + (i0 * g.in[1] + i1) * g.in[2];
                for (int64_t t2 = 0; t2 < g.kernel[2]; ++t2) {
                    const int64_t i2 = lo[2] + t2 * g.dilation[2];
                    if (i2 < 0 || i2 >= g.in[2]) continue;
                    acc = is_max ? fmaxf(acc, row[i2]) : acc + row[i2];
                }
            }
        }
        y[i] = is_max ? acc : (count > 0 ? acc / static_cast<float>(count) : 0.f);
    }
}

__global__ void global_pool_kernel(bool is_max, const float* __restrict__ x, float* __restrict__ y, int64_t size) {
    __shared__ float part[kThreads];
    const float* xp = x + blockIdx.x * size;
    float acc = is_max ? -FLT_MAX : 0.f;
    for (int64_t i = threadIdx.x; i < size; i += blockDim.x) acc = is_max ? fmaxf(acc, xp[i]) : acc + xp[i];
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            part[threadIdx.x] =
                is_max ? fmaxf(part[threadIdx.x], part[threadIdx.x + s]) : part[threadIdx.x] + part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) y[blockIdx.x] = is_max ? part[0] : part[0] / static_cast<float>(size);
}

}  // namespace

void pool_forward(PoolKind kind, const PoolGeometry& g, const float* x, float* y, cudaStream_t stream) {
    const int64_t total = g.planes * g.out[0] * g.out[1] * g.out[2];
    if (total <= 0) return;
    pool_kernel<<<blocks_for(total), kThreads, 0, stream>>>(kind == PoolKind::kMax, g, x, y, total);
    PDA_CUDA_CHECK_LAUNCH();
}

void global_pool_forward(PoolKind kind, const float* x, float* y, int64_t planes, int64_t size, cudaStream_t stream) {
    if (planes <= 0) return;
    PDA_CHECK(planes < (int64_t{1} << 31), "global pool: too many planes");
    global_pool_kernel<<<static_cast<unsigned>(planes), kThreads, 0, stream>>>(kind == PoolKind::kMax, x, y, size);
    PDA_CUDA_CHECK_LAUNCH();
}

}  // namespace pda::cuda
