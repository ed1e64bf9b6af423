// Concat on CUDA: each input is an (outer, len_k) block of rows written at its column offset of the
// output rows, one strided device-to-device copy (cudaMemcpy2DAsync) per input.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

namespace pda::cuda {

void concat_forward(const std::vector<const float*>& in, const std::vector<int64_t>& lens, int64_t outer, float* y,
                    cudaStream_t stream);

}  // namespace pda::cuda
