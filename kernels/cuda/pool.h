// Pooling on CUDA: one custom kernel for MaxPool and AveragePool over 1-3 spatial axes, and global
// pools. cuDNN pooling is not used because it cannot say ONNX's geometry: pads are symmetric only,
// there is no ceil mode (the extra right-hand extension), and its count_include_pad divides by the
// whole window even where the window reaches the ceil-mode extension. The kernel reproduces the CPU
// backend's divisor exactly (kernels/cpu/pool.cc, run_plain).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace pda::cuda {

enum class PoolKind { kMax, kAverage };

// Spatial axes padded to three with size-1 axes in front. Plain arrays: the kernel reads them.
struct PoolGeometry {
    int64_t planes = 0;  // N · C
    int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1};
    int64_t pad_begin[3] = {0, 0, 0}, pad_end[3] = {0, 0, 0}, dilation[3] = {1, 1, 1};
    bool count_include_pad = false;
};

void pool_forward(PoolKind kind, const PoolGeometry& g, const float* x, float* y, cudaStream_t stream);

// y[p] = max or mean of x[p · size, (p + 1) · size), p < planes.
void global_pool_forward(PoolKind kind, const float* x, float* y, int64_t planes, int64_t size, cudaStream_t stream);

}  // namespace pda::cuda
