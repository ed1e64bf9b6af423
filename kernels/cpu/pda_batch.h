// CPU loops of the PDA batch (METHOD.md §1–2) over the PDA_HD functions of kernels/pda_math.h: paste
// a block of windows' samples into the reused batch buffer and restore it, reduce each window's S
// outputs, turn them into weight of evidence / activation difference, and add windows to the
// per-pixel sums in window order. Every loop is parallel over independent outputs, so results never
// depend on the thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/tensor.h"

namespace pda {

// Where a block of windows lies: window i (w0 ≤ i < w0 + nw) has its top-left corner at
// (rows[i − w0], cols[i − w0]); images are (C, H, W), windows k × k over all channels.
struct PdaBlock {
    int64_t channels = 0, height = 0, width = 0, k = 0;
    int64_t samples = 1;              // S: images per window, window-major in the batch
    std::vector<int64_t> rows, cols;  // one per window of the block
    int64_t windows() const { return static_cast<int64_t>(rows.size()); }
};

// batch (≥ nw·S, C, H, W): image j·S + s gets sample s of window j pasted from samples (nw, S, C, k, k).
void pda_fill_batch(float* batch, const float* samples, const PdaBlock& b);

// Undoes pda_fill_batch: copies the clean image's (C, H, W) values back into every pasted window.
void pda_restore_batch(float* batch, const float* clean, const PdaBlock& b);

// out (nw·S, K) network outputs → mean (nw, K) of the S probability vectors per window (softmax of
// each row first when `logits`), summed in double in sample order.
void pda_reduce_probabilities(const float* out, int64_t k_classes, bool logits, const PdaBlock& b, double* mean);

// Per-unit summary of one image's node value: (units, spatial) → mean over spatial per unit.
// value (nw·S, units, spatial) → mean (nw, units) over the S samples of each window.
void pda_reduce_units(const float* value, int64_t units, int64_t spatial, const PdaBlock& b, double* mean);

// we (nw, M) = weight of evidence of classes[m] per window from the clean probabilities (K) and the
// windows' marginal probabilities (nw, K).
void pda_weight_of_evidence_block(const float* p_clean, const double* p_marginal, int64_t k_classes,
                                  const std::vector<int64_t>& classes, double n_train, const PdaBlock& b, double* we);

// sums (M, H, W) += value (nw, M) of each window over its k × k pixels, windows in block order
// (parallel over the M maps only, so each pixel sees the same additions in the same order).
void pda_accumulate_block(double* sums, int64_t maps, const double* value, const PdaBlock& b);

}  // namespace pda
