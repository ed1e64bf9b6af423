// The PDA loop's kernels over the PDA_HD math the CPU runs. Grid-stride loops, one thread per output
// element; every sum runs in a fixed order inside one thread (or a fixed warp tree), so results never
// depend on the launch configuration. Launchers pick the grid, launch on the stream, check the launch.
#include <algorithm>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/pda_kernels.h"
#include "kernels/pda_math.h"

namespace pda::cuda {
namespace {

__global__ void fill_kernel(float* y, float v, int64_t n) { PDA_GRID_LOOP(i, n) y[i] = v; }

__global__ void normals_kernel(float* z, uint64_t seed, int64_t di, PdaWindows b) {
    const int64_t n = b.count * b.samples * di;
    PDA_GRID_LOOP(i, n) {
        const int64_t row = i / di, e = i % di, j = row / b.samples, s = row % b.samples;
        z[i] = random_normal(seed, static_cast<uint64_t>(b.w0 + j), static_cast<uint64_t>(s * di + e));
    }
}

__global__ void gaussian_samples_kernel(float* samples, const float* z, const float* means, const float* lt,
                                        const int32_t* slot, int64_t di, PdaWindows b) {
    const int64_t n = b.count * b.samples * di;
    PDA_GRID_LOOP(idx, n) {
        const int64_t row = idx / di, i = idx % di, w = b.w0 + row / b.samples;
        const float* l = lt + static_cast<int64_t>(slot[w]) * di * di + i;  // column i of Lᵀ: l[q·di] = L[i][q]
        const float* zr = z + row * di;
        float acc = 0.f;
        for (int64_t q = 0; q <= i; ++q) acc = __fadd_rn(acc, __fmul_rn(l[q * di], zr[q]));
        samples[idx] = __fadd_rn(means[w * di + i], acc);
    }
}

__global__ void clip_kernel(float* samples, const float* lo, const float* hi, int64_t n, int64_t channels, int64_t kk) {
    PDA_GRID_LOOP(i, n) {
        const int64_t c = (i / kk) % channels;
        samples[i] = fminf(fmaxf(samples[i], lo[c]), hi[c]);
    }
}

__global__ void paste_kernel(float* batch, const float* samples, PdaWindows b) {
    const int64_t patch = b.patch(), image = b.image(), n = b.count * b.samples * patch;
    PDA_GRID_LOOP(i, n) {
        const int64_t img = i / patch, e = i % patch, w = b.w0 + img / b.samples;
        pda_paste_element(batch + img * image, samples + img * patch, e, b, b.slice(w), b.row(w), b.col(w));
    }
}

__global__ void restore_kernel(float* batch, const float* clean, PdaWindows b) {
    const int64_t patch = b.patch(), image = b.image(), n = b.count * b.samples * patch;
    PDA_GRID_LOOP(i, n) {
        const int64_t img = i / patch, e = i % patch, w = b.w0 + img / b.samples;
        pda_restore_element(batch + img * image, clean, e, b, b.slice(w), b.row(w), b.col(w));
    }
}

__global__ void softmax_rows_kernel(const float* in, float* out, int64_t rows, int64_t k) {
    PDA_GRID_LOOP(r, rows) pda_softmax_row(in + r * k, out + r * k, k);
}

__global__ void mean_probabilities_kernel(const float* p, int64_t k_classes, PdaWindows b, double* mean) {
    const int64_t n = b.count * k_classes;
    PDA_GRID_LOOP(i, n) {
        const int64_t j = i / k_classes, c = i % k_classes;
        double m = 0;
        for (int64_t s = 0; s < b.samples; ++s) m += p[(j * b.samples + s) * k_classes + c];
        mean[i] = m / static_cast<double>(b.samples);
    }
}

__global__ void weight_of_evidence_kernel(const float* p_clean, const double* mean, int64_t k_classes,
                                          const int64_t* classes, int64_t maps, double n_train, int64_t count,
                                          double* we) {
    PDA_GRID_LOOP(i, count * maps) {
        const int64_t j = i / maps, c = classes[i % maps];
        we[i] = ::pda::pda_weight_of_evidence(p_clean[c], mean[j * k_classes + c], n_train, k_classes);
    }
}

// One thread per (image, unit): the CPU's sequential sum. For small spatial extents.
__global__ void unit_means_thread_kernel(const float* value, int64_t pairs, int64_t spatial, double* out) {
    PDA_GRID_LOOP(i, pairs) {
        const float* v = value + i * spatial;
        double a = 0;
        for (int64_t q = 0; q < spatial; ++q) a += v[q];
        out[i] = a / static_cast<double>(spatial);
    }
}

// One warp per (image, unit): lanes sum strided elements in double, then a fixed shuffle tree.
__global__ void unit_means_warp_kernel(const float* value, int64_t pairs, int64_t spatial, double* out) {
    const int lane = static_cast<int>(threadIdx.x & 31);
    const int64_t warps_per_grid = int64_t{gridDim.x} * (blockDim.x / 32);
    for (int64_t i = blockIdx.x * int64_t{blockDim.x / 32} + threadIdx.x / 32; i < pairs; i += warps_per_grid) {
        const float* v = value + i * spatial;
        double a = 0;
        for (int64_t q = lane; q < spatial; q += 32) a += v[q];
        for (int off = 16; off > 0; off >>= 1) a += __shfl_down_sync(0xffffffffu, a, off);
        if (lane == 0) out[i] = a / static_cast<double>(spatial);
    }
}

__global__ void activation_difference_kernel(const double* image_means, const double* clean, int64_t units,
                                             PdaWindows b, double* ad) {
    PDA_GRID_LOOP(i, b.count * units) {
        const int64_t j = i / units, u = i % units;
        double m = 0;
        for (int64_t s = 0; s < b.samples; ++s) m += image_means[(j * b.samples + s) * units + u];
        ad[i] = clean[u] - m / static_cast<double>(b.samples);  // AD = z(x) − mean_s z(x̃_s)
    }
}

__global__ void accumulate_kernel(double* sums, int64_t maps, const double* value, PdaWindows b) {
    const int64_t plane = b.depth * b.height * b.width, w1 = b.w0 + b.count;
    PDA_GRID_LOOP(i, maps * plane) {
        const int64_t m = i / plane, v = i % plane;
        const int64_t pz = v / (b.height * b.width), py = v / b.width % b.height, px = v % b.width;
        // Grid slices / rows / cols whose windows cover (pz, py, px); only the block's windows add.
        int64_t s0, s1, r0, r1, c0, c1;
        window_cover(pz, b.depth, b.kd, b.stride, &s0, &s1);
        window_cover(py, b.height, b.k, b.stride, &r0, &r1);
        window_cover(px, b.width, b.k, b.stride, &c0, &c1);
        double acc = sums[i];
        bool touched = false;
        for (int64_t s = s0; s <= s1; ++s)
            for (int64_t r = r0; r <= r1; ++r) {
                const int64_t row = (s * b.rows + r) * b.cols;
                if (row + c1 < b.w0 || row + c0 >= w1) continue;
                for (int64_t c = c0; c <= c1; ++c) {
                    const int64_t w = row + c;
                    if (w < b.w0 || w >= w1) continue;
                    acc += value[(w - b.w0) * maps + m];
                    touched = true;
                }
            }
        if (touched) sums[i] = acc;
    }
}

}  // namespace

void pda_fill(float* y, float v, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    fill_kernel<<<blocks_for(n), kThreads, 0, stream>>>(y, v, n);
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_normals(float* z, uint64_t seed, int64_t di, const PdaWindows& b, cudaStream_t stream) {
    normals_kernel<<<blocks_for(b.count * b.samples * di), kThreads, 0, stream>>>(z, seed, di, b);
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_gaussian_samples(float* samples, const float* z, const float* means, const float* lt, const int32_t* slot,
                          int64_t di, const PdaWindows& b, cudaStream_t stream) {
    gaussian_samples_kernel<<<blocks_for(b.count * b.samples * di), kThreads, 0, stream>>>(samples, z, means, lt, slot,
                                                                                           di, b);
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_clip(float* samples, const float* lo, const float* hi, int64_t rows, int64_t channels, int64_t kk,
              cudaStream_t stream) {
    const int64_t n = rows * channels * kk;
    clip_kernel<<<blocks_for(n), kThreads, 0, stream>>>(samples, lo, hi, n, channels, kk);
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_paste(float* batch, const float* samples, const PdaWindows& b, cudaStream_t stream) {
    paste_kernel<<<blocks_for(b.count * b.samples * b.patch()), kThreads, 0, stream>>>(batch, samples, b);
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_restore(float* batch, const float* clean, const PdaWindows& b, cudaStream_t stream) {
    restore_kernel<<<blocks_for(b.count * b.samples * b.patch()), kThreads, 0, stream>>>(batch, clean, b);
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_softmax_rows(const float* in, float* out, int64_t rows, int64_t k, cudaStream_t stream) {
    constexpr int kRowThreads = 64;  // one sequential row per thread: small blocks spread the rows over SMs
    const int64_t blocks = std::min<int64_t>((rows + kRowThreads - 1) / kRowThreads, 65535 * 8);
    softmax_rows_kernel<<<static_cast<unsigned>(std::max<int64_t>(blocks, 1)), kRowThreads, 0, stream>>>(in, out, rows,
                                                                                                         k);
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_mean_probabilities(const float* p, int64_t k_classes, const PdaWindows& b, double* mean, cudaStream_t stream) {
    mean_probabilities_kernel<<<blocks_for(b.count * k_classes), kThreads, 0, stream>>>(p, k_classes, b, mean);
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_weight_of_evidence(const float* p_clean, const double* mean, int64_t k_classes, const int64_t* classes,
                            int64_t maps, double n_train, int64_t count, double* we, cudaStream_t stream) {
    weight_of_evidence_kernel<<<blocks_for(count * maps), kThreads, 0, stream>>>(p_clean, mean, k_classes, classes,
                                                                                 maps, n_train, count, we);
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_unit_means(const float* value, int64_t images, int64_t units, int64_t spatial, double* out,
                    cudaStream_t stream) {
    const int64_t pairs = images * units;
    if (spatial < 64) {
        unit_means_thread_kernel<<<blocks_for(pairs), kThreads, 0, stream>>>(value, pairs, spatial, out);
    } else {
        constexpr int64_t kWarps = kThreads / 32;
        const int64_t blocks = std::min<int64_t>((pairs + kWarps - 1) / kWarps, 65535 * 8);
        unit_means_warp_kernel<<<static_cast<unsigned>(std::max<int64_t>(blocks, 1)), kThreads, 0, stream>>>(
            value, pairs, spatial, out);
    }
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_activation_difference(const double* image_means, const double* clean, int64_t units, const PdaWindows& b,
                               double* ad, cudaStream_t stream) {
    activation_difference_kernel<<<blocks_for(b.count * units), kThreads, 0, stream>>>(image_means, clean, units, b,
                                                                                       ad);
    PDA_CUDA_CHECK_LAUNCH();
}

void pda_accumulate(double* sums, int64_t maps, const double* value, const PdaWindows& b, cudaStream_t stream) {
    accumulate_kernel<<<blocks_for(maps * b.depth * b.height * b.width), kThreads, 0, stream>>>(sums, maps, value, b);
    PDA_CUDA_CHECK_LAUNCH();
}

}  // namespace pda::cuda
