// The PDA loop's batch kernels on the CPU (METHOD.md §1–2), with the names, arguments and order of
// their CUDA twins (kernels/cuda/pda_kernels.h) and over the same PDA_HD math (kernels/pda_math.h,
// kernels/window_math.h): paste a block's samples into the batch and restore it, softmax rows, reduce
// each window's S outputs, weight of evidence and activation difference per window, and per-pixel
// accumulation in window order. Loops are parallel over independent outputs only, so results never
// depend on the thread count; every sum runs in the order the CUDA kernels use.
#pragma once

#include <cstdint>

#include "kernels/window_math.h"

namespace pda::cpu {

// y[i] = v, i < n.
void pda_fill(float* y, float v, int64_t n);

// batch (≥ count·S, C, H, W): image j·S + s gets sample (j, s) of samples (count·S, C, k, k) pasted.
void pda_paste(float* batch, const float* samples, const PdaWindows& b);

// Undoes pda_paste: clean (C, H, W) values back into every pasted window.
void pda_restore(float* batch, const float* clean, const PdaWindows& b);

// out (rows, k) = softmax of each row of in (rows, k), by pda_softmax_row.
void pda_softmax_rows(const float* in, float* out, int64_t rows, int64_t k);

// p (count·S, K) probability rows → mean (count, K) per window, summed in double in sample order.
void pda_mean_probabilities(const float* p, int64_t k_classes, const PdaWindows& b, double* mean);

// we (count, M) = pda_weight_of_evidence(p_clean[classes[m]], mean[j, classes[m]], n_train, K).
void pda_weight_of_evidence(const float* p_clean, const double* mean, int64_t k_classes, const int64_t* classes,
                            int64_t maps, double n_train, int64_t count, double* we);

// value (images, units, spatial) → out (images, units): mean over spatial in double, in order.
void pda_unit_means(const float* value, int64_t images, int64_t units, int64_t spatial, double* out);

// ad (count, units) = clean[u] − (Σ_s image_means[j·S + s, u]) / S, sums in sample order.
void pda_activation_difference(const double* image_means, const double* clean, int64_t units, const PdaWindows& b,
                               double* ad);

// sums (maps, H, W) += value (count, maps) of each window of the block over its k × k pixels, windows
// in index order (parallel over the maps only, so each pixel sees the same additions in the same order).
void pda_accumulate(double* sums, int64_t maps, const double* value, const PdaWindows& b);

}  // namespace pda::cpu
