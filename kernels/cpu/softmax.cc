// Softmax: one OpenMP task per (outer, inner) column; max, exp-sum, scale along the axis.
#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>

namespace pda {

void softmax_forward(const float* x, float* y, int64_t outer, int64_t axis_len, int64_t inner) {
#pragma omp parallel for collapse(2)
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
            const float* xp = x + o * axis_len * inner + i;
            float* yp = y + o * axis_len * inner + i;
            float m = xp[0];
            for (int64_t a = 1; a < axis_len; ++a) m = std::max(m, xp[a * inner]);
            double sum = 0;
            for (int64_t a = 0; a < axis_len; ++a) {
                float e = std::exp(xp[a * inner] - m);
                yp[a * inner] = e;
                sum += e;
            }
            const float inv = static_cast<float>(1.0 / sum);
            for (int64_t a = 0; a < axis_len; ++a) yp[a * inner] *= inv;
        }
    }
}

}  // namespace pda
