// Concat: one cudaMemcpy2DAsync per input, rows of len_k floats into rows of Σ len floats.
#include "kernels/cuda/concat.h"

#include "kernels/cuda/check.h"

namespace pda::cuda {

void concat_forward(const std::vector<const float*>& in, const std::vector<int64_t>& lens, int64_t outer, float* y,
                    cudaStream_t stream) {
    int64_t row = 0;
    for (int64_t l : lens) row += l;
    int64_t off = 0;
    for (size_t k = 0; k < in.size(); ++k) {
        const size_t width = sizeof(float) * static_cast<size_t>(lens[k]);
        if (width > 0 && outer > 0)
            PDA_CUDA_CHECK(cudaMemcpy2DAsync(y + off, sizeof(float) * static_cast<size_t>(row), in[k], width, width,
                                             static_cast<size_t>(outer), cudaMemcpyDeviceToDevice, stream));
        off += lens[k];
    }
}

}  // namespace pda::cuda
