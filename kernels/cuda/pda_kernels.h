// The custom CUDA kernels of the PDA loop (launchers; kernels in pda_kernels.cu), the device mirror of
// kernels/cpu/pda_batch.h over the same PDA_HD math (kernels/pda_math.h, kernels/philox.h): draw and
// paste samples into the batch and restore it, reduce each window's S outputs, weight of evidence and
// activation difference per window, and per-pixel accumulation in window order. Pointers are device
// pointers; every launch is on `stream` and checked.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/window_math.h"

namespace pda::cuda {

using ::pda::PdaWindows;  // kernels/window_math.h

// y[i] = v, i < n.
void pda_fill(float* y, float v, int64_t n, cudaStream_t stream);

// z (count·S, di): z[(j·S + s)·di + e] = random_normal(seed, w0 + j, s·di + e), the conditional
// sampler's normals (engine/sampler_conditional.h).
void pda_normals(float* z, uint64_t seed, int64_t di, const PdaWindows& b, cudaStream_t stream);

// samples (count·S, di): row (j, s) = means[w0 + j] + L·z[j, s] with L the lower factor of window
// w0 + j's configuration, given transposed: lt (configurations, di, di), lt[g][q][i] = L_g[i][q], and
// slot (windows) the configuration of each window. One thread per element sums q = 0..i in order with
// separate float multiply and add (no FMA contraction), exactly as the CPU sampler's GEMM does, so a
// sample never depends on the block it is drawn in.
void pda_gaussian_samples(float* samples, const float* z, const float* means, const float* lt, const int32_t* slot,
                          int64_t di, const PdaWindows& b, cudaStream_t stream);

// samples (rows, C, k·k) clamped per channel to [lo[c], hi[c]].
void pda_clip(float* samples, const float* lo, const float* hi, int64_t rows, int64_t channels, int64_t kk,
              cudaStream_t stream);

// batch (≥ count·S, C, H, W): image j·S + s gets sample (j, s) of samples (count·S, C, k, k) pasted.
void pda_paste(float* batch, const float* samples, const PdaWindows& b, cudaStream_t stream);

// Undoes pda_paste: clean (C, H, W) values back into every pasted window.
void pda_restore(float* batch, const float* clean, const PdaWindows& b, cudaStream_t stream);

// out (rows, k) = softmax of each row of in (rows, k), by pda_softmax_row (one thread per row).
void pda_softmax_rows(const float* in, float* out, int64_t rows, int64_t k, cudaStream_t stream);

// p (count·S, K) probability rows → mean (count, K) per window, summed in double in sample order.
void pda_mean_probabilities(const float* p, int64_t k_classes, const PdaWindows& b, double* mean, cudaStream_t stream);

// we (count, M) = pda_weight_of_evidence(p_clean[classes[m]], mean[j, classes[m]], n_train, K).
void pda_weight_of_evidence(const float* p_clean, const double* mean, int64_t k_classes, const int64_t* classes,
                            int64_t maps, double n_train, int64_t count, double* we, cudaStream_t stream);

// value (images, units, spatial) → out (images, units): mean over spatial in double.
void pda_unit_means(const float* value, int64_t images, int64_t units, int64_t spatial, double* out,
                    cudaStream_t stream);

// ad (count, units) = clean[u] − (Σ_s image_means[j·S + s, u]) / S, sums in sample order.
void pda_activation_difference(const double* image_means, const double* clean, int64_t units, const PdaWindows& b,
                               double* ad, cudaStream_t stream);

// sums (maps, H, W) += value (count, maps) of each window of the block over its k × k pixels, one
// thread per (map, pixel) adding the windows in index order: the CPU's additions, in the CPU's order.
void pda_accumulate(double* sums, int64_t maps, const double* value, const PdaWindows& b, cudaStream_t stream);

}  // namespace pda::cuda
