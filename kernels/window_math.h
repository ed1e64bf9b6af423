// The window grid of PDA (METHOD.md §2) as PDA_HD code, written once for every backend, the
// incremental plan and the samplers: k × k windows (k × k × k in a volume) over all channels, fully
// inside the image, slices outer, rows, columns inner, stepped by `stride` along every axis, with a
// last window flush with the far edge wherever the stride does not land there (every pixel is covered
// at every stride ≤ k); and a block of consecutive windows of the grid with S images each
// (window-major), the unit of work of the PDA loop on both backends.
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

// The windows along an axis that cover pixel p: indices [*i0, *i1] (empty when *i0 > *i1). Windows
// before the last start at i · stride; the last one, flush with the far edge, at n − k — so it may
// cover pixels that i · stride arithmetic alone would give to no later window.
PDA_HD void window_cover(int64_t p, int64_t n, int64_t k, int64_t stride, int64_t* i0, int64_t* i1) {
    const int64_t last = window_grid_extent(n, k, stride) - 1, lo = p - k + 1;
    *i0 = lo <= 0 ? 0 : (lo + stride - 1) / stride;  // ≤ last: the last window starts at n − k ≥ lo
    *i1 = p / stride < last - 1 ? p / stride : last - 1;
    if (n - k <= p) *i1 = last;  // every window from *i0 on starts at or before p
}

// A block of consecutive windows [w0, w0 + count) of the grid over (C, D, H, W) volumes or (C, H, W)
// images (depth 1), S images per window: image j·S + s of a batch holds sample s of window w0 + j.
// A window spans kd × k × k voxels (kd = k for volumes, 1 for images); windows are ordered slices
// outer, rows, columns inner.
struct PdaWindows {
    int64_t channels = 0, depth = 1, height = 0, width = 0, k = 0, kd = 1, stride = 1;
    int64_t slices = 1, rows = 0, cols = 0;  // windows per axis (window_grid_extent)
    int64_t w0 = 0, count = 0;
    int64_t samples = 1;
    PDA_HD int64_t patch() const { return channels * kd * k * k; }
    PDA_HD int64_t image() const { return channels * depth * height * width; }
    PDA_HD int64_t slice(int64_t w) const { return window_start(w / (rows * cols), depth, kd, stride); }
    PDA_HD int64_t row(int64_t w) const { return window_start(w / cols % rows, height, k, stride); }
    PDA_HD int64_t col(int64_t w) const { return window_start(w % cols, width, k, stride); }
    // The window of image b of the batch. Images past count·S (the clean copies of a last partial
    // block) take the block's last window, whose crops they then hold unchanged.
    PDA_HD int64_t image_window(int64_t b) const {
        const int64_t j = b / samples;
        return w0 + (j < count ? j : count - 1);
    }
};

// The block [w0, w0 + count) of the grid of (channels, depth, height, width) volumes (depth 1: images,
// whose windows are k × k), S images per window.
PDA_HD PdaWindows pda_windows(int64_t channels, int64_t depth, int64_t height, int64_t width, int64_t k, int64_t stride,
                              int64_t samples, int64_t w0, int64_t count) {
    PdaWindows b;
    b.channels = channels;
    b.depth = depth;
    b.height = height;
    b.width = width;
    b.k = k;
    b.kd = depth > 1 ? k : 1;
    b.stride = stride;
    b.slices = window_grid_extent(depth, b.kd, stride);
    b.rows = window_grid_extent(height, k, stride);
    b.cols = window_grid_extent(width, k, stride);
    b.samples = samples;
    b.w0 = w0;
    b.count = count;
    return b;
}

}  // namespace pda
