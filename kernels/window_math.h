// The window grid of PDA (METHOD.md §2) as PDA_HD code, written once for every backend, the
// incremental plan and the samplers: k × k windows over all channels, fully inside the image, rows
// outer and columns inner, stepped by `stride`, with a last window flush with the far edge wherever
// the stride does not land there (every pixel is covered at every stride ≤ k); and a block of consecutive windows of
// the grid with S images each (window-major), the unit of work of the PDA loop on both backends.
#pragma once

#include <cstdint>

#include "kernels/hd.h"

namespace pda {

// Window positions along an axis of n pixels: 0, stride, 2·stride, … ≤ n − k, and n − k itself when
// the stride does not land on it: ⌈(n − k) / stride⌉ + 1 ((n − k + 1) at stride 1).
PDA_HD int64_t window_grid_extent(int64_t n, int64_t k, int64_t stride) { return (n - k + stride - 1) / stride + 1; }
// First pixel of window i along that axis: i · stride, the last window clamped to n − k.
PDA_HD int64_t window_start(int64_t i, int64_t n, int64_t k, int64_t stride) {
    return i * stride < n - k ? i * stride : n - k;
}

// A block of consecutive windows [w0, w0 + count) of the grid over (C, H, W) images, S images per
// window: image j·S + s of a batch holds sample s of window w0 + j.
struct PdaWindows {
    int64_t channels = 0, height = 0, width = 0, k = 0, stride = 1;
    int64_t rows = 0, cols = 0;  // windows per grid column / row (window_grid_extent)
    int64_t w0 = 0, count = 0;
    int64_t samples = 1;
    PDA_HD int64_t patch() const { return channels * k * k; }
    PDA_HD int64_t row(int64_t w) const { return window_start(w / cols, height, k, stride); }
    PDA_HD int64_t col(int64_t w) const { return window_start(w % cols, width, k, stride); }
    // The window of image b of the batch. Images past count·S (the clean copies of a last partial
    // block) take the block's last window, whose crops they then hold unchanged.
    PDA_HD int64_t image_window(int64_t b) const {
        const int64_t j = b / samples;
        return w0 + (j < count ? j : count - 1);
    }
};

// The block [w0, w0 + count) of the grid of (channels, height, width) images, S images per window.
PDA_HD PdaWindows pda_windows(int64_t channels, int64_t height, int64_t width, int64_t k, int64_t stride,
                              int64_t samples, int64_t w0, int64_t count) {
    PdaWindows b;
    b.channels = channels;
    b.height = height;
    b.width = width;
    b.k = k;
    b.stride = stride;
    b.rows = window_grid_extent(height, k, stride);
    b.cols = window_grid_extent(width, k, stride);
    b.samples = samples;
    b.w0 = w0;
    b.count = count;
    return b;
}

}  // namespace pda
