// Concat: contiguous block copies, parallel over the outer index and the inputs.
#include "kernels/cpu/concat.h"

#include <cstring>

namespace pda {

void concat_forward(const std::vector<ConstTensorView>& in, int axis, TensorView y) {
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; ++i) outer *= y.shape[i];
    for (int i = axis + 1; i < y.shape.rank; ++i) inner *= y.shape[i];
    const int64_t out_row = y.shape[axis] * inner;
    const int64_t parts = static_cast<int64_t>(in.size());
    // Offset of each input's block inside an output row.
    int64_t offsets[64];
    std::vector<int64_t> big;
    int64_t* off = offsets;
    if (parts > 64) {
        big.resize(parts);
        off = big.data();
    }
    int64_t acc = 0;
    for (int64_t k = 0; k < parts; ++k) {
        off[k] = acc;
        acc += in[k].shape[axis] * inner;
    }
#pragma omp parallel for collapse(2)
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t k = 0; k < parts; ++k) {
            const int64_t len = in[k].shape[axis] * inner;
            std::memcpy(y.data + o * out_row + off[k], in[k].data + o * len, sizeof(float) * static_cast<size_t>(len));
        }
    }
}

}  // namespace pda
