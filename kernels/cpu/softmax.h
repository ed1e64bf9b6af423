// Softmax over the middle axis of x viewed as (outer, axis_len, inner): ONNX opset ≥ 13 is one
// axis; the older "coerce to 2-D at axis" form is inner = 1 with axis_len the flattened tail.
// Numerically stable (the maximum is subtracted before exp).
#pragma once

#include <cstdint>

namespace pda {

void softmax_forward(const float* x, float* y, int64_t outer, int64_t axis_len, int64_t inner);

}  // namespace pda
