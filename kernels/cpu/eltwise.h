// Element-wise CPU ops in plain C++ with OpenMP: activations (Relu, LeakyRelu, Clip, Sigmoid),
// numpy-broadcasting Add and Mul, and inference BatchNormalization (per-channel scale and shift
// folded once from the constant statistics).
#pragma once

#include <vector>

#include "kernels/tensor.h"

namespace pda {

enum class UnaryKind { kRelu, kLeakyRelu, kClip, kSigmoid };

struct UnaryParams {
    UnaryKind kind = UnaryKind::kRelu;
    float alpha = 0.01f;       // LeakyRelu slope
    float lo = 0.f, hi = 0.f;  // Clip bounds (±inf when absent)
};

// y[i] = f(x[i]) for i < n; y may equal x.
void unary_forward(const UnaryParams& p, const float* x, float* y, int64_t n);

enum class BinaryKind { kAdd, kMul };

class BinaryForward {
  public:
    // a and b broadcast (numpy) to y.
    BinaryForward(BinaryKind kind, const Shape& a, const Shape& b, const Shape& y);
    void run(const float* a, const float* b, float* y) const;

  private:
    BinaryKind kind_;
    // Output as (rows, cols) after merging axes that both operands walk alike; a_step_/b_step_: the
    // stride along cols (0 when broadcast, else 1); the row axes with their strides in a and b.
    int64_t rows_ = 1, cols_ = 1, a_step_ = 1, b_step_ = 1;
    std::vector<int64_t> row_dims_, a_strides_, b_strides_;
};

class BatchNormForward {
  public:
    // x (N, C, ...); statistics of C elements each.
    BatchNormForward(const Shape& x, const float* scale, const float* bias, const float* mean, const float* var,
                     float epsilon);
    void run(const float* x, float* y) const;

  private:
    int64_t n_ = 0, c_ = 0, inner_ = 0;
    std::vector<float> mul_, add_;
};

}  // namespace pda
