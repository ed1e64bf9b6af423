// CPU loops of the PDA batch over kernels/pda_math.h. Parallel loops split independent outputs
// (images, windows, maps); every reduction runs sequentially in a fixed order inside one iteration.
#include "kernels/cpu/pda_batch.h"

#include "kernels/pda_math.h"

namespace pda {

void pda_fill_batch(float* batch, const float* samples, const PdaBlock& b) {
    const int64_t n = b.windows() * b.samples, patch = b.channels * b.k * b.k, image = b.channels * b.height * b.width;
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
        const int64_t j = i / b.samples;
        float* img = batch + i * image;          // (C, H, W)
        const float* smp = samples + i * patch;  // (C, k, k)
        for (int64_t e = 0; e < patch; ++e)
            pda_paste_element(img, smp, e, b.height, b.width, b.k, b.rows[j], b.cols[j]);
    }
}

void pda_restore_batch(float* batch, const float* clean, const PdaBlock& b) {
    const int64_t n = b.windows() * b.samples, patch = b.channels * b.k * b.k, image = b.channels * b.height * b.width;
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
        const int64_t j = i / b.samples;
        float* img = batch + i * image;
        for (int64_t e = 0; e < patch; ++e)
            pda_restore_element(img, clean, e, b.height, b.width, b.k, b.rows[j], b.cols[j]);
    }
}

void pda_reduce_probabilities(const float* out, int64_t k_classes, bool logits, const PdaBlock& b, double* mean) {
    const int64_t nw = b.windows(), S = b.samples;
#pragma omp parallel
    {
        std::vector<float> row(logits ? k_classes : 0);
#pragma omp for
        for (int64_t j = 0; j < nw; ++j) {
            double* m = mean + j * k_classes;
            for (int64_t c = 0; c < k_classes; ++c) m[c] = 0;
            for (int64_t s = 0; s < S; ++s) {
                const float* p = out + (j * S + s) * k_classes;
                if (logits) {
                    pda_softmax_row(p, row.data(), k_classes);
                    p = row.data();
                }
                for (int64_t c = 0; c < k_classes; ++c) m[c] += p[c];
            }
            for (int64_t c = 0; c < k_classes; ++c) m[c] /= static_cast<double>(S);
        }
    }
}

void pda_reduce_units(const float* value, int64_t units, int64_t spatial, const PdaBlock& b, double* mean) {
    const int64_t nw = b.windows(), S = b.samples;
#pragma omp parallel for
    for (int64_t j = 0; j < nw; ++j) {
        double* m = mean + j * units;
        for (int64_t u = 0; u < units; ++u) m[u] = 0;
        for (int64_t s = 0; s < S; ++s) {
            const float* v = value + (j * S + s) * units * spatial;
            for (int64_t u = 0; u < units; ++u) {
                double a = 0;
                for (int64_t q = 0; q < spatial; ++q) a += v[u * spatial + q];
                m[u] += a / static_cast<double>(spatial);
            }
        }
        for (int64_t u = 0; u < units; ++u) m[u] /= static_cast<double>(S);
    }
}

void pda_weight_of_evidence_block(const float* p_clean, const double* p_marginal, int64_t k_classes,
                                  const std::vector<int64_t>& classes, double n_train, const PdaBlock& b, double* we) {
    const int64_t nw = b.windows(), M = static_cast<int64_t>(classes.size());
#pragma omp parallel for
    for (int64_t j = 0; j < nw; ++j)
        for (int64_t m = 0; m < M; ++m) {
            const int64_t c = classes[m];
            we[j * M + m] = pda_weight_of_evidence(p_clean[c], p_marginal[j * k_classes + c], n_train, k_classes);
        }
}

void pda_accumulate_block(double* sums, int64_t maps, const double* value, const PdaBlock& b) {
    const int64_t nw = b.windows(), plane = b.height * b.width;
#pragma omp parallel for
    for (int64_t m = 0; m < maps; ++m)
        for (int64_t j = 0; j < nw; ++j)
            pda_accumulate_window(sums + m * plane, b.width, b.k, b.rows[j], b.cols[j], value[j * maps + m]);
}

}  // namespace pda
