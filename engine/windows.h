// The sliding windows of PDA (METHOD.md §2), validated: k × k squares (k × k × k cubes in a volume)
// over all channels, fully inside the image, slices outer, rows, columns inner, stepped by `stride`,
// the last windows of every axis flush with the far edges (the formulas: kernels/window_math.h).
// Window i has a fixed index, so every random stream and every accumulation is keyed by it and never
// by batch or thread.
#pragma once

#include <cstdint>

#include "kernels/window_math.h"
#include "pda/error.h"

namespace pda {

struct WindowGrid {
    int64_t depth = 1, height = 0, width = 0;  // image size (depth 1: an image; more: a volume)
    int64_t k = 0, stride = 1;

    WindowGrid() = default;
    WindowGrid(int64_t h, int64_t w, int64_t k_, int64_t stride_) : WindowGrid(1, h, w, k_, stride_) {}
    WindowGrid(int64_t d, int64_t h, int64_t w, int64_t k_, int64_t stride_)
        : depth(d), height(h), width(w), k(k_), stride(stride_) {
        if (k < 1) fail_input("window size k must be ≥ 1, got " + std::to_string(k));
        if (stride < 1) fail_input("stride must be ≥ 1, got " + std::to_string(stride));
        if (k > h || k > w || (d > 1 && k > d))
            fail_input("window size k = " + std::to_string(k) + " is larger than the " +
                       (d > 1 ? "volume (" + std::to_string(d) + "×" : std::string("image (")) + std::to_string(h) +
                       "×" + std::to_string(w) + ")");
    }
    bool volume() const { return depth > 1; }
    int64_t kd() const { return volume() ? k : 1; }  // window extent along depth
    int64_t slices() const { return window_grid_extent(depth, kd(), stride); }
    int64_t rows() const { return window_grid_extent(height, k, stride); }
    int64_t cols() const { return window_grid_extent(width, k, stride); }
    int64_t count() const { return slices() * rows() * cols(); }
    // Front, top and left edge of window i.
    int64_t slice(int64_t i) const { return window_start(i / (rows() * cols()), depth, kd(), stride); }
    int64_t row(int64_t i) const { return window_start(i / cols() % rows(), height, k, stride); }
    int64_t col(int64_t i) const { return window_start(i % cols(), width, k, stride); }
    // Windows [w0, w0 + count) over images of `channels` channels, S images per window.
    PdaWindows block(int64_t channels, int64_t samples, int64_t w0, int64_t count) const {
        return pda_windows(channels, depth, height, width, k, stride, samples, w0, count);
    }
};

}  // namespace pda
