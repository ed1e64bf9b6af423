// Softmax on CUDA over (outer, axis, inner): one block per (outer, inner) column, max and sum
// reduced in shared memory. A custom kernel because cuDNN's softmax only knows the channel axis of
// an NCHW tensor, and (outer, axis, inner) covers every ONNX opset's semantics.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace pda::cuda {

void softmax_forward(const float* x, float* y, int64_t outer, int64_t axis_len, int64_t inner, cudaStream_t stream);

}  // namespace pda::cuda
