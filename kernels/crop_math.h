// Index math of exact incremental inference (METHOD.md §5, issue 5) as PDA_HD functions, so that the
// CPU executor (engine/cpu/incremental.cc) and the CUDA one (kernels/cuda/crop.cu) gather and paste
// crops identically: where a crop sits in its map, where each element of an op's input tile comes
// from (the batch's changed crop, the clean image's cached activation, or the layer's padding), how a
// batch's gathers find each image's crops, and which window each image of a PDA batch holds. Maps have
// three spatial axes (depth, rows, columns); an image's maps have depth 1, its crops and tiles depth 1
// at slice 0, so one code path serves images and volumes.
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/window_math.h"

namespace pda {

// Origin on one axis of a crop of side `crop` that must contain a changed range starting at `begin`,
// in a map of side `map`: the range's start, moved inwards so that the crop stays inside the map.
PDA_HD int64_t crop_origin(int64_t begin, int64_t crop, int64_t map) {
    int64_t o = begin < map - crop ? begin : map - crop;
    return o < 0 ? 0 : o;
}

// Where position p of one axis of a value held as "changed crop over the clean cache" is read from:
// −1 outside the map [0, n) (the layer's padding), 1 inside the crop [c, c + cn), 0 elsewhere (the
// clean image's value). A value computed in full is a crop covering its map; a value that does not
// change is a crop of size 0. A position of a map is read from the crop when all its axes say 1,
// from the padding when one says −1.
PDA_HD int crop_axis_source(int64_t p, int64_t n, int64_t c, int64_t cn) {
    if (p < 0 || p >= n) return -1;
    return (p >= c && p < c + cn) ? 1 : 0;
}

// Row (z, y) of one channel of a tile (the CPU gathers whole rows): tw elements starting at map
// position (z, y, tx), from the channel's clean (d, h, w) map and its (cd, ch, cw) crop at (cz, cy, cx);
// pad outside the map. Element for element the choice of crop_batch_gather.
PDA_HD void crop_gather_row(float* dst, int64_t tw, int64_t z, int64_t y, int64_t tx, int64_t d, int64_t h, int64_t w,
                            const float* clean, const float* crop, int64_t cz, int64_t cy, int64_t cx, int64_t cd,
                            int64_t ch, int64_t cw, float pad) {
    const int sz = crop_axis_source(z, d, cz, cd), sy = crop_axis_source(y, h, cy, ch);
    if (sz < 0 || sy < 0) {
        for (int64_t q = 0; q < tw; ++q) dst[q] = pad;
        return;
    }
    const bool in_rows = sz > 0 && sy > 0;
    const float* clean_row = clean + (z * h + y) * w;
    const float* crop_row = in_rows ? crop + ((z - cz) * ch + y - cy) * cw - cx : nullptr;
    for (int64_t q = 0; q < tw; ++q) {
        const int64_t x = tx + q;
        dst[q] = (x < 0 || x >= w) ? pad : (in_rows && x >= cx && x < cx + cw) ? crop_row[x] : clean_row[x];
    }
}

// An average pool's divisor along one axis at output position o, as the AveragePool ops of both
// backends take it: taps inside the padded input [−pad_begin, n + pad_end) with count_include_pad,
// inside the input [0, n) without.
PDA_HD int64_t crop_pool_divisor(int64_t o, int64_t n, int64_t kernel, int64_t stride, int64_t pad_begin,
                                 int64_t pad_end, int64_t dilation, bool include_pad) {
    const int64_t lo = include_pad ? -pad_begin : 0, hi = include_pad ? n + pad_end : n;
    int64_t taps = 0;
    for (int64_t j = 0; j < kernel; ++j) {
        const int64_t i = o * stride - pad_begin + j * dilation;
        taps += (i >= lo && i < hi) ? 1 : 0;
    }
    return taps;
}

// ---- a batch's gathers (kernels/cuda/crop.cu runs them one element per thread) ----------------

// Each image's window in a run: device or host int32 arrays of B front slices (all 0 for images), top
// rows and left columns, which index the plan's origin tables.
struct CropWindows {
    const int32_t* slices = nullptr;
    const int32_t* rows = nullptr;
    const int32_t* cols = nullptr;
};

// A batch of one value as a gather reads it, over the value's clean (C, d, h, w) map. Whole maps (the
// input batch, a value computed in full) are crops of the map's size at (0, 0, 0); an unchanged value
// is a crop of size 0 (only its clean map is read).
struct CropSource {
    const float* data = nullptr;     // whole: (B, C, d, h, w); crops: (B, C, cd, ch, cw); unchanged: null
    const float* clean = nullptr;    // (C, d, h, w); never read for whole maps
    int64_t d = 1, h = 0, w = 0;     // the map's size (d = 1 for images)
    int64_t cd = 0, ch = 0, cw = 0;  // the crop's size: (d, h, w) for whole maps, (0, 0, 0) for an unchanged value
    const int32_t* oz = nullptr;     // crops: origin slice by window front slice (the plan's table); null: slice 0
    const int32_t* oy = nullptr;     // crops: origin row by window top row; null: row 0
    const int32_t* ox = nullptr;     // crops: origin column by window left column; null: column 0
};

// What a gather writes: (B, C, td, th, tw), image b's tile with its corner at map position
// (oz[slices[b]]·stride_d − pad_d, oy[rows[b]]·stride_h − pad_h, ox[cols[b]]·stride_w − pad_w); null
// tables put it at (−pad_d, −pad_h, −pad_w). Map positions outside the map read `pad`. A whole map's
// tile (d, h, w) at (0, 0, 0) assembles full maps. With stride 1 and no padding it also names image b's
// crop of an output (crop_batch_factor_offset).
struct CropTile {
    int64_t batch = 0, channels = 0, td = 1, th = 0, tw = 0;
    const int32_t* oz = nullptr;  // the op's output crop origin slice by window front slice
    const int32_t* oy = nullptr;  // ... row by window top row
    const int32_t* ox = nullptr;  // ... column by window left column
    int64_t stride_d = 1, stride_h = 1, stride_w = 1, pad_d = 0, pad_h = 0, pad_w = 0;
    float pad = 0.f;
};

// Image b's tile corner (tz, ty, tx) and its source crop's origin (cz, cy, cx), from the tables.
PDA_HD void crop_batch_origins(int64_t b, const CropTile& t, const CropSource& s, const CropWindows& win, int64_t* tz,
                               int64_t* ty, int64_t* tx, int64_t* cz, int64_t* cy, int64_t* cx) {
    const int64_t slice = win.slices[b], row = win.rows[b], col = win.cols[b];
    *tz = (t.oz ? static_cast<int64_t>(t.oz[slice]) : 0) * t.stride_d - t.pad_d;
    *ty = (t.oy ? static_cast<int64_t>(t.oy[row]) : 0) * t.stride_h - t.pad_h;
    *tx = (t.ox ? static_cast<int64_t>(t.ox[col]) : 0) * t.stride_w - t.pad_w;
    *cz = s.oz ? static_cast<int64_t>(s.oz[slice]) : 0;
    *cy = s.oy ? static_cast<int64_t>(s.oy[row]) : 0;
    *cx = s.ox ? static_cast<int64_t>(s.ox[col]) : 0;
}

// Element i of a batch's gathered tiles: image b = i / (C·td·th·tw) reads its window from the tables;
// its element (c, r0, r, q) comes from the crop, the clean map or the padding.
PDA_HD float crop_batch_gather(int64_t i, const CropTile& t, const CropSource& s, const CropWindows& win) {
    const int64_t per_image = t.channels * t.td * t.th * t.tw;
    const int64_t b = i / per_image, e = i % per_image;
    const int64_t c = e / (t.td * t.th * t.tw), p = e / (t.th * t.tw) % t.td, r = (e / t.tw) % t.th, q = e % t.tw;
    int64_t tz, ty, tx, cz, cy, cx;
    crop_batch_origins(b, t, s, win, &tz, &ty, &tx, &cz, &cy, &cx);
    const int64_t z = tz + p, y = ty + r, x = tx + q;
    const int sz = crop_axis_source(z, s.d, cz, s.cd), sy = crop_axis_source(y, s.h, cy, s.ch),
              sx = crop_axis_source(x, s.w, cx, s.cw);
    if (sz < 0 || sy < 0 || sx < 0) return t.pad;
    if (sz > 0 && sy > 0 && sx > 0)
        return s.data[(((b * t.channels + c) * s.cd + z - cz) * s.ch + y - cy) * s.cw + x - cx];
    return s.clean[((c * s.d + z) * s.h + y) * s.w + x];
}

// Offset in a per-position factor map (map_d, map_h, map_w) of element i of a batch's crops
// (B, C, td, th, tw), image b's crop at (oz[slices[b]], oy[rows[b]], ox[cols[b]]): an average pool's
// divisor correction.
PDA_HD int64_t crop_batch_factor_offset(int64_t i, const CropTile& t, int64_t map_h, int64_t map_w,
                                        const CropWindows& win) {
    const int64_t volume = t.td * t.th * t.tw, b = i / (t.channels * volume), e = i % volume;
    const int64_t p = e / (t.th * t.tw), r = (e / t.tw) % t.th, q = e % t.tw;
    return ((t.oz[win.slices[b]] + p) * map_h + t.oy[win.rows[b]] + r) * map_w + t.ox[win.cols[b]] + q;
}

// Window (front slice, top row, left column) of image b of a PDA batch of block w
// (kernels/window_math.h); the slice is 0 for images.
PDA_HD void crop_image_window(int64_t b, const PdaWindows& w, int64_t* slice, int64_t* row, int64_t* col) {
    const int64_t win = w.image_window(b);
    *slice = w.slice(win);
    *row = w.row(win);
    *col = w.col(win);
}

}  // namespace pda
