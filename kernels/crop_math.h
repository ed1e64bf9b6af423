// Index math of exact incremental inference (METHOD.md §5, issue 5) as PDA_HD functions, so that the
// CPU executor (engine/cpu/incremental.cc) and the CUDA one (kernels/cuda/crop.cu) gather and paste
// crops identically: where a crop sits in its map, where each element of an op's input tile comes
// from (the batch's changed crop, the clean image's cached activation, or the layer's padding), where
// a crop's element lands when it is pasted back into a full map, how a batch's gathers find each
// image's crops, and which window each image of a PDA batch holds.
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

// Where map position (y, x) of a value held as "changed crop over the clean cache" is read from:
// −1 outside the (h, w) map (the layer's padding), 1 inside the crop [cy, cy + ch) × [cx, cx + cw),
// 0 elsewhere (the clean image's value). A value computed in full is a crop covering its map; a
// value that does not change is a crop of size 0.
PDA_HD int crop_source(int64_t y, int64_t x, int64_t h, int64_t w, int64_t cy, int64_t cx, int64_t ch, int64_t cw) {
    if (y < 0 || y >= h || x < 0 || x >= w) return -1;
    return (y >= cy && y < cy + ch && x >= cx && x < cx + cw) ? 1 : 0;
}

// Element e of one image's (C, th, tw) input tile whose top-left corner lies at map position
// (ty, tx) (negative or past the map where the layer pads): clean is the cached (C, h, w) value,
// crop the image's (C, ch, cw) changed crop at (cy, cx), pad the layer's padding value.
PDA_HD float crop_gather_element(int64_t e, int64_t th, int64_t tw, int64_t ty, int64_t tx, int64_t h, int64_t w,
                                 const float* clean, const float* crop, int64_t cy, int64_t cx, int64_t ch, int64_t cw,
                                 float pad) {
    const int64_t c = e / (th * tw), r = (e / tw) % th, q = e % tw;
    const int64_t y = ty + r, x = tx + q;
    const int src = crop_source(y, x, h, w, cy, cx, ch, cw);
    if (src < 0) return pad;
    if (src > 0) return crop[(c * ch + y - cy) * cw + x - cx];
    return clean[(c * h + y) * w + x];
}

// Row r of one channel of a tile (the CPU gathers whole rows): tw elements starting at map position
// (y, tx), from the channel's clean (h, w) plane and its (ch, cw) crop plane at (cy, cx). Element by
// element the same choice as crop_gather_element.
PDA_HD void crop_gather_row(float* dst, int64_t tw, int64_t y, int64_t tx, int64_t h, int64_t w,
                            const float* clean_plane, const float* crop_plane, int64_t cy, int64_t cx, int64_t ch,
                            int64_t cw, float pad) {
    if (y < 0 || y >= h) {
        for (int64_t q = 0; q < tw; ++q) dst[q] = pad;
        return;
    }
    const bool in_rows = y >= cy && y < cy + ch;
    const float* clean_row = clean_plane + y * w;
    const float* crop_row = in_rows ? crop_plane + (y - cy) * cw - cx : nullptr;
    for (int64_t q = 0; q < tw; ++q) {
        const int64_t x = tx + q;
        dst[q] = (x < 0 || x >= w) ? pad : (in_rows && x >= cx && x < cx + cw) ? crop_row[x] : clean_row[x];
    }
}

// Offset in a (C, h, w) map of element e of a (C, ch, cw) crop placed at (cy, cx).
PDA_HD int64_t crop_paste_offset(int64_t e, int64_t ch, int64_t cw, int64_t h, int64_t w, int64_t cy, int64_t cx) {
    const int64_t c = e / (ch * cw), r = (e / cw) % ch, q = e % cw;
    return (c * h + cy + r) * w + cx + q;
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

// A batch of one value as a gather reads it, over the value's clean (C, h, w) map. Whole maps (the
// input batch, a value computed in full) are crops of the map's size at (0, 0); an unchanged value is
// a crop of size 0 (only its clean map is read).
struct CropSource {
    const float* data = nullptr;   // whole: (B, C, h, w); crops: (B, C, ch, cw); unchanged: null
    const float* clean = nullptr;  // (C, h, w); never read for whole maps
    int64_t h = 0, w = 0;          // the map's size
    int64_t ch = 0, cw = 0;        // the crop's size: (h, w) for whole maps, (0, 0) for an unchanged value
    const int32_t* oy = nullptr;   // crops: origin row by window top row (the plan's table); null: row 0
    const int32_t* ox = nullptr;   // crops: origin column by window left column; null: column 0
};

// What a gather writes: (B, C, th, tw), image b's tile with its top-left corner at map position
// (oy[rows[b]]·stride_h − pad_h, ox[cols[b]]·stride_w − pad_w); null tables put it at (−pad_h, −pad_w).
// Map positions outside the map read `pad`. A whole map's tile (h, w) at (0, 0) assembles full maps.
struct CropTile {
    int64_t batch = 0, channels = 0, th = 0, tw = 0;
    const int32_t* oy = nullptr;  // the op's output crop origin row by window top row
    const int32_t* ox = nullptr;  // ... column by window left column
    int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
    float pad = 0.f;
};

// Element i of a batch's gathered tiles: image b = i / (C·th·tw) reads its window (rows[b], cols[b])
// from the tables, and its element by crop_gather_element.
PDA_HD float crop_batch_gather(int64_t i, const CropTile& t, const CropSource& s, const int32_t* rows,
                               const int32_t* cols) {
    const int64_t per_image = t.channels * t.th * t.tw;
    const int64_t b = i / per_image, e = i % per_image;  // e: (c, r, q) of image b's tile
    const int64_t row = rows[b], col = cols[b];
    const int64_t ty = (t.oy ? static_cast<int64_t>(t.oy[row]) : 0) * t.stride_h - t.pad_h;
    const int64_t tx = (t.ox ? static_cast<int64_t>(t.ox[col]) : 0) * t.stride_w - t.pad_w;
    const int64_t cy = s.oy ? static_cast<int64_t>(s.oy[row]) : 0, cx = s.ox ? static_cast<int64_t>(s.ox[col]) : 0;
    const float* crop = s.data ? s.data + b * t.channels * s.ch * s.cw : nullptr;
    return crop_gather_element(e, t.th, t.tw, ty, tx, s.h, s.w, s.clean, crop, cy, cx, s.ch, s.cw, t.pad);
}

// Offset in a per-position factor map (map_h, map_w) of element i of a batch's crops (B, C, ch, cw),
// image b's crop at (oy[rows[b]], ox[cols[b]]): an average pool's divisor correction.
PDA_HD int64_t crop_batch_factor_offset(int64_t i, int64_t channels, int64_t ch, int64_t cw, int64_t map_w,
                                        const int32_t* oy, const int32_t* ox, const int32_t* rows,
                                        const int32_t* cols) {
    const int64_t plane = ch * cw, b = i / (channels * plane), r = (i % plane) / cw, q = i % cw;
    return (oy[rows[b]] + r) * map_w + ox[cols[b]] + q;
}

// Window (top row, left column) of image b of a PDA batch of block w (kernels/window_math.h).
PDA_HD void crop_image_window(int64_t b, const PdaWindows& w, int64_t* row, int64_t* col) {
    const int64_t win = w.image_window(b);
    *row = w.row(win);
    *col = w.col(win);
}

}  // namespace pda
