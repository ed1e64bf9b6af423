// What a convolution kernel needs to know, on either backend: shapes, groups and the per-axis
// window geometry (1-D, 2-D, 3-D), bias and a fused ReLU. The CUDA kernel adds its precision.
#pragma once

#include <array>

#include "kernels/shape.h"

namespace pda {

struct ConvParams {
    Shape x;  // (N, C, spatial...)
    Shape w;  // (OC, C / group, kernel...)
    Shape y;  // (N, OC, out...)
    int64_t group = 1;
    std::array<int64_t, 3> stride{1, 1, 1};
    std::array<int64_t, 3> pad_begin{};
    std::array<int64_t, 3> pad_end{};
    std::array<int64_t, 3> dilation{1, 1, 1};
    bool has_bias = false;
    bool relu = false;
};

}  // namespace pda
