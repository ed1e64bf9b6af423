// Element-wise kernels: one OpenMP loop each; broadcasting walks merged (rows, cols) so that the
// inner loop is contiguous (or a broadcast scalar) and vectorises.
#include "kernels/cpu/eltwise.h"

#include <algorithm>
#include <cmath>

#include "kernels/check.h"

namespace pda {

void unary_forward(const UnaryParams& p, const float* x, float* y, int64_t n) {
    switch (p.kind) {
        case UnaryKind::kRelu:
#pragma omp parallel for simd
            for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
            break;
        case UnaryKind::kLeakyRelu: {
            const float a = p.alpha;
#pragma omp parallel for simd
            for (int64_t i = 0; i < n; ++i) y[i] = x[i] >= 0.f ? x[i] : a * x[i];
            break;
        }
        case UnaryKind::kClip: {
            const float lo = p.lo, hi = p.hi;
#pragma omp parallel for simd
            for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i], lo), hi);
            break;
        }
        case UnaryKind::kSigmoid:
#pragma omp parallel for
            for (int64_t i = 0; i < n; ++i) {
                // Stable on both sides: exp of a non-positive number only.
                float v = x[i];
                if (v >= 0.f) {
                    y[i] = 1.f / (1.f + std::exp(-v));
                } else {
                    float e = std::exp(v);
                    y[i] = e / (1.f + e);
                }
            }
            break;
    }
}

BinaryForward::BinaryForward(BinaryKind kind, const Shape& a, const Shape& b, const Shape& y) : kind_(kind) {
    const int r = y.rank;
    // Strides of a and b along each output axis: 0 where the operand is broadcast.
    std::vector<int64_t> dims, sa, sb;
    int64_t ca = 1, cb = 1;
    std::vector<int64_t> ra(r), rb(r);
    for (int i = r - 1; i >= 0; --i) {
        int ia = a.rank - r + i, ib = b.rank - r + i;
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        ra[i] = da == 1 ? 0 : ca;
        rb[i] = db == 1 ? 0 : cb;
        ca *= da;
        cb *= db;
    }
    for (int i = 0; i < r; ++i) {
        if (y[i] == 1) continue;
        if (!dims.empty() && sa.back() == ra[i] * y[i] && sb.back() == rb[i] * y[i]) {
            dims.back() *= y[i];
            sa.back() = ra[i];
            sb.back() = rb[i];
            continue;
        }
        dims.push_back(y[i]);
        sa.push_back(ra[i]);
        sb.push_back(rb[i]);
    }
    if (dims.empty()) {
        dims.push_back(1);
        sa.push_back(0);
        sb.push_back(0);
    }
    cols_ = dims.back();
    a_step_ = sa.back();
    b_step_ = sb.back();
    row_dims_.assign(dims.begin(), dims.end() - 1);
    a_strides_.assign(sa.begin(), sa.end() - 1);
    b_strides_.assign(sb.begin(), sb.end() - 1);
    rows_ = 1;
    for (int64_t d : row_dims_) rows_ *= d;
}

void BinaryForward::run(const float* a, const float* b, float* y) const {
    const int64_t rows = rows_, cols = cols_, as = a_step_, bs = b_step_;
    const int nr = static_cast<int>(row_dims_.size());
    const bool add = kind_ == BinaryKind::kAdd;
#pragma omp parallel for
    for (int64_t r = 0; r < rows; ++r) {
        int64_t rem = r, ao = 0, bo = 0;
        for (int i = nr - 1; i >= 0; --i) {
            int64_t idx = rem % row_dims_[i];
            rem /= row_dims_[i];
            ao += idx * a_strides_[i];
            bo += idx * b_strides_[i];
        }
        const float* ar = a + ao;
        const float* br = b + bo;
        float* yr = y + r * cols;
        if (add) {
            for (int64_t j = 0; j < cols; ++j) yr[j] = ar[j * as] + br[j * bs];
        } else {
            for (int64_t j = 0; j < cols; ++j) yr[j] = ar[j * as] * br[j * bs];
        }
    }
}

BatchNormForward::BatchNormForward(const Shape& x, const float* scale, const float* bias, const float* mean,
                                   const float* var, float epsilon) {
    PDA_CHECK(x.rank >= 2, "batch norm input " + x.str());
    n_ = x[0];
    c_ = x[1];
    inner_ = x.numel() / std::max<int64_t>(n_ * c_, 1);
    mul_.resize(c_);
    add_.resize(c_);
    for (int64_t c = 0; c < c_; ++c) {
        double s = scale[c] / std::sqrt(static_cast<double>(var[c]) + epsilon);
        mul_[c] = static_cast<float>(s);
        add_[c] = static_cast<float>(bias[c] - mean[c] * s);
    }
}

void BatchNormForward::run(const float* x, float* y) const {
    const int64_t planes = n_ * c_, inner = inner_, channels = c_;
    const float* mul = mul_.data();
    const float* add = add_.data();
#pragma omp parallel for
    for (int64_t p = 0; p < planes; ++p) {
        const float m = mul[p % channels], t = add[p % channels];
        const float* xp = x + p * inner;
        float* yp = y + p * inner;
        for (int64_t i = 0; i < inner; ++i) yp[i] = xp[i] * m + t;
    }
}

}  // namespace pda
