// The scalar arithmetic of Prediction Difference Analysis (METHOD.md §1–3) as PDA_HD functions, so
// the CPU loops (kernels/cpu/pda_batch.cc) and the CUDA kernels compute exactly the same numbers:
// Laplace correction, log2-odds, weight of evidence, softmax of one row, pasting a sample into an
// image at a window and restoring it, adding a window's value to the per-pixel sums, and the
// marginal sampler's seeded choice of S distinct images.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"
#include "kernels/philox.h"
#include "kernels/window_math.h"

namespace pda {

// Laplace-corrected probability p̃ = (p·N + 1) / (N + K): never 0 or 1, so log-odds stay finite.
PDA_HD double pda_laplace(double p, double n_train, int64_t k_classes) {
    return (p * n_train + 1.0) / (n_train + static_cast<double>(k_classes));
}

// log2(p / (1 − p)) of a probability strictly inside (0, 1).
PDA_HD double pda_log2_odds(double p) { return log2(p) - log2(1.0 - p); }

// WE_w(c) = log2 odds(p̃(c|x)) − log2 odds(p̃(c|x\w)). Positive: the window is evidence for c.
PDA_HD double pda_weight_of_evidence(double p_clean, double p_marginal, double n_train, int64_t k_classes) {
    return pda_log2_odds(pda_laplace(p_clean, n_train, k_classes)) -
           pda_log2_odds(pda_laplace(p_marginal, n_train, k_classes));
}

// Softmax of one row of k logits into out (may alias in). Same arithmetic as the Softmax op
// (kernels/cpu/softmax.cc): float max and exp, double sum, one float scale, so that a logits model
// explained through this function matches the same model with an explicit Softmax bit for bit.
PDA_HD void pda_softmax_row(const float* in, float* out, int64_t k) {
    float m = in[0];
    for (int64_t a = 1; a < k; ++a) m = in[a] > m ? in[a] : m;
    double sum = 0;
    for (int64_t a = 0; a < k; ++a) {
        float e = expf(in[a] - m);
        out[a] = e;
        sum += e;
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t a = 0; a < k; ++a) out[a] *= inv;
}

// Element e of a window patch (C, kd, k, k) of block b: its offset inside a (C, D, H, W) image whose
// window has its front-top-left corner at (slice, row, col). Images: D = kd = 1, slice 0.
PDA_HD int64_t pda_window_offset(int64_t e, const PdaWindows& b, int64_t slice, int64_t row, int64_t col) {
    const int64_t kk = b.k * b.k, kv = b.kd * kk;
    const int64_t c = e / kv, z = e % kv / kk, r = e % kk / b.k, q = e % b.k;
    return ((c * b.depth + slice + z) * b.height + row + r) * b.width + col + q;
}

// Pastes element e of a (C, kd, k, k) sample into the image at window (slice, row, col).
PDA_HD void pda_paste_element(float* image, const float* sample, int64_t e, const PdaWindows& b, int64_t slice,
                              int64_t row, int64_t col) {
    image[pda_window_offset(e, b, slice, row, col)] = sample[e];
}

// Puts the clean image's value back at element e of the window (slice, row, col).
PDA_HD void pda_restore_element(float* image, const float* clean, int64_t e, const PdaWindows& b, int64_t slice,
                                int64_t row, int64_t col) {
    const int64_t o = pda_window_offset(e, b, slice, row, col);
    image[o] = clean[o];
}

// Adds a window's value to the kd × k × k pixels it covers in a per-pixel (D, H, W) sum. The count
// map takes value 1 through the same function.
PDA_HD void pda_accumulate_window(double* sum, const PdaWindows& b, int64_t slice, int64_t row, int64_t col,
                                  double value) {
    for (int64_t z = 0; z < b.kd; ++z)
        for (int64_t r = 0; r < b.k; ++r) {
            double* s = sum + ((slice + z) * b.height + row + r) * b.width + col;
            for (int64_t q = 0; q < b.k; ++q) s[q] += value;
        }
}

// The marginal sampler's choice for one window: S distinct indices of [0, n) (n ≥ S), uniformly
// over subsets, by Floyd's algorithm (exactly S random words, no array of n). Word j of philox
// stream (seed, window) decides the j-th pick, so the choice depends on nothing but these numbers.
PDA_HD void pda_choose_distinct(uint64_t seed, uint64_t window, int64_t n, int64_t s, int64_t* out) {
    for (int64_t j = 0; j < s; ++j) {
        const int64_t hi = n - s + j;  // pick t uniformly in [0, hi]
        const uint64_t r = random_u32(seed, window, static_cast<uint64_t>(j));
        int64_t t = static_cast<int64_t>((r * static_cast<uint64_t>(hi + 1)) >> 32);
        bool taken = false;
        for (int64_t i = 0; i < j; ++i) taken = taken || out[i] == t;
        out[j] = taken ? hi : t;
    }
}

}  // namespace pda
