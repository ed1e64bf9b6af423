// Index math of exact incremental inference (METHOD.md §5, issue 5) as PDA_HD functions, so that the
// CPU executor (engine/incremental_cpu.cc) and a later CUDA one gather and paste crops identically:
// where a crop sits in its map, where each element of an op's input tile comes from (the batch's
// changed crop, the clean image's cached activation, or the layer's padding), and where a crop's
// element lands when it is pasted back into a full map.
#pragma once

#include <cstdint>

#include "kernels/hd.h"

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

// Number of taps of a window (kernel K, stride s, pad p, dilation d) at output position o that fall
// inside an input axis of length n: what an average pool without count_include_pad divides by.
PDA_HD int64_t crop_taps_inside(int64_t o, int64_t n, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
    int64_t taps = 0;
    for (int64_t j = 0; j < kernel; ++j) {
        const int64_t i = o * stride - pad + j * dilation;
        taps += (i >= 0 && i < n) ? 1 : 0;
    }
    return taps;
}

}  // namespace pda
