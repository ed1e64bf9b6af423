// The sliding windows of PDA (METHOD.md §2): k × k squares over all channels, fully inside the
// image, rows outer and columns inner, stepped by `stride`. Window i has a fixed index, so every
// random stream and every accumulation is keyed by it and never by batch or thread.
#pragma once

#include <cstdint>

#include "pda/error.h"

namespace pda {

struct WindowGrid {
    int64_t height = 0, width = 0;  // image size
    int64_t k = 0, stride = 1;

    WindowGrid() = default;
    WindowGrid(int64_t h, int64_t w, int64_t k_, int64_t stride_) : height(h), width(w), k(k_), stride(stride_) {
        if (k < 1) fail_input("window size k must be ≥ 1, got " + std::to_string(k));
        if (stride < 1) fail_input("stride must be ≥ 1, got " + std::to_string(stride));
        if (k > h || k > w)
            fail_input("window size k = " + std::to_string(k) + " is larger than the image (" + std::to_string(h) +
                       "×" + std::to_string(w) + ")");
    }
    int64_t rows() const { return (height - k) / stride + 1; }
    int64_t cols() const { return (width - k) / stride + 1; }
    int64_t count() const { return rows() * cols(); }
    int64_t row(int64_t i) const { return (i / cols()) * stride; }  // top edge of window i
    int64_t col(int64_t i) const { return (i % cols()) * stride; }  // left edge of window i
};

}  // namespace pda
