// CPU loops of the PDA batch over kernels/pda_math.h (see pda_batch.h). Parallel loops split
// independent outputs (images, windows, maps); every reduction runs sequentially in a fixed order
// inside one iteration.
#include "kernels/cpu/pda_batch.h"

#include "kernels/pda_math.h"

namespace pda::cpu {

void pda_fill(float* y, float v, int64_t n) {
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) y[i] = v;
}

void pda_paste(float* batch, const float* samples, const PdaWindows& b) {
    const int64_t n = b.count * b.samples, patch = b.patch(), image = b.image();
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
        const int64_t w = b.w0 + i / b.samples, slice = b.slice(w), row = b.row(w), col = b.col(w);
        float* img = batch + i * image;          // (C, D, H, W)
        const float* smp = samples + i * patch;  // (C, kd, k, k)
        for (int64_t e = 0; e < patch; ++e) pda_paste_element(img, smp, e, b, slice, row, col);
    }
}

void pda_restore(float* batch, const float* clean, const PdaWindows& b) {
    const int64_t n = b.count * b.samples, patch = b.patch(), image = b.image();
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
        const int64_t w = b.w0 + i / b.samples, slice = b.slice(w), row = b.row(w), col = b.col(w);
        float* img = batch + i * image;
        for (int64_t e = 0; e < patch; ++e) pda_restore_element(img, clean, e, b, slice, row, col);
    }
}

void pda_softmax_rows(const float* in, float* out, int64_t rows, int64_t k) {
#pragma omp parallel for
    for (int64_t r = 0; r < rows; ++r) pda_softmax_row(in + r * k, out + r * k, k);
}

void pda_mean_probabilities(const float* p, int64_t k_classes, const PdaWindows& b, double* mean) {
#pragma omp parallel for
    for (int64_t j = 0; j < b.count; ++j)
        for (int64_t c = 0; c < k_classes; ++c) {
            double m = 0;
            for (int64_t s = 0; s < b.samples; ++s) m += p[(j * b.samples + s) * k_classes + c];
            mean[j * k_classes + c] = m / static_cast<double>(b.samples);
        }
}

void pda_weight_of_evidence(const float* p_clean, const double* mean, int64_t k_classes, const int64_t* classes,
                            int64_t maps, double n_train, int64_t count, double* we) {
#pragma omp parallel for
    for (int64_t i = 0; i < count * maps; ++i) {
        const int64_t j = i / maps, c = classes[i % maps];
        we[i] = ::pda::pda_weight_of_evidence(p_clean[c], mean[j * k_classes + c], n_train, k_classes);
    }
}

void pda_unit_means(const float* value, int64_t images, int64_t units, int64_t spatial, double* out) {
#pragma omp parallel for
    for (int64_t i = 0; i < images * units; ++i) {
        const float* v = value + i * spatial;
        double a = 0;
        for (int64_t q = 0; q < spatial; ++q) a += v[q];
        out[i] = a / static_cast<double>(spatial);
    }
}

void pda_activation_difference(const double* image_means, const double* clean, int64_t units, const PdaWindows& b,
                               double* ad) {
#pragma omp parallel for
    for (int64_t i = 0; i < b.count * units; ++i) {
        const int64_t j = i / units, u = i % units;
        double m = 0;
        for (int64_t s = 0; s < b.samples; ++s) m += image_means[(j * b.samples + s) * units + u];
        ad[i] = clean[u] - m / static_cast<double>(b.samples);  // AD = z(x) − mean_s z(x̃_s)
    }
}

void pda_accumulate(double* sums, int64_t maps, const double* value, const PdaWindows& b) {
    const int64_t plane = b.depth * b.height * b.width;
#pragma omp parallel for
    for (int64_t m = 0; m < maps; ++m)
        for (int64_t j = 0; j < b.count; ++j) {
            const int64_t w = b.w0 + j;
            pda_accumulate_window(sums + m * plane, b, b.slice(w), b.row(w), b.col(w), value[j * maps + m]);
        }
}

}  // namespace pda::cpu
