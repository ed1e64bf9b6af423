// CPU gathers of incremental inference (crop.h).
#include "kernels/cpu/crop.h"

#include <algorithm>
#include <cstring>

namespace pda::cpu {
namespace {

// crop_gather_row for maps whose elements are vectors of v floats (v = 1: plain planes; v = 16: one
// block of 16 channels of oneDNN's blocked layout, the channels innermost), with whole-row copies
// where the row lies inside the map: the clean segment, then the crop's overlap over it (or the crop
// alone where it covers the segment). Element for element the same choice; at the map's borders
// (padding) the element rule itself.
inline void gather_row(float* dst, int64_t tw, int64_t y, int64_t tx, int64_t h, int64_t w, const float* clean,
                       const float* crop, int64_t cy, int64_t cx, int64_t ch, int64_t cw, float pad, int64_t v) {
    const size_t vb = sizeof(float) * static_cast<size_t>(v);
    if (y < 0 || y >= h || tx < 0 || tx + tw > w) {
        if (v == 1) {
            crop_gather_row(dst, tw, y, tx, h, w, clean, crop, cy, cx, ch, cw, pad);
            return;
        }
        for (int64_t q = 0; q < tw; ++q) {
            const int64_t x = tx + q;
            const int src = crop_source(y, x, h, w, cy, cx, ch, cw);
            if (src < 0)
                std::fill(dst + q * v, dst + (q + 1) * v, pad);
            else
                std::memcpy(dst + q * v, src > 0 ? crop + ((y - cy) * cw + x - cx) * v : clean + (y * w + x) * v, vb);
        }
        return;
    }
    const bool in_rows = crop && y >= cy && y < cy + ch;
    const int64_t x0 = in_rows ? std::max(tx, cx) : 0, x1 = in_rows ? std::min(tx + tw, cx + cw) : 0;
    if (!(x0 == tx && x1 == tx + tw)) std::memcpy(dst, clean + (y * w + tx) * v, vb * static_cast<size_t>(tw));
    if (x0 < x1)
        std::memcpy(dst + (x0 - tx) * v, crop + ((y - cy) * cw + (x0 - cx)) * v, vb * static_cast<size_t>(x1 - x0));
}

}  // namespace

void crop_gather(float* dst, const CropTile& t, const CropSource& s, const int32_t* rows, const int32_t* cols,
                 int64_t v) {
    const int64_t groups = t.channels / v, planes = t.batch * groups;  // a plane: (h, w) elements of v floats
#pragma omp parallel for schedule(static)
    for (int64_t bc = 0; bc < planes; ++bc) {
        const int64_t b = bc / groups, c = bc % groups, row = rows[b], col = cols[b];
        const int64_t ty = (t.oy ? static_cast<int64_t>(t.oy[row]) : 0) * t.stride_h - t.pad_h;
        const int64_t tx = (t.ox ? static_cast<int64_t>(t.ox[col]) : 0) * t.stride_w - t.pad_w;
        const int64_t cy = s.oy ? static_cast<int64_t>(s.oy[row]) : 0, cx = s.ox ? static_cast<int64_t>(s.ox[col]) : 0;
        const float* crop = s.data ? s.data + bc * s.ch * s.cw * v : nullptr;  // this image's (ch, cw) plane
        const float* clean = s.clean ? s.clean + c * s.h * s.w * v : crop;     // whole maps: the crop is the map
        float* out = dst + bc * t.th * t.tw * v;
        for (int64_t r = 0; r < t.th; ++r)
            gather_row(out + r * t.tw * v, t.tw, ty + r, tx, s.h, s.w, clean, crop, cy, cx, s.ch, s.cw, t.pad, v);
    }
}

void crop_broadcast(float* dst, const float* clean, int64_t n, int64_t batch) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) std::memcpy(dst + b * n, clean, sizeof(float) * static_cast<size_t>(n));
}

void crop_scale(float* y, const float* factor, int64_t batch, int64_t channels, int64_t ch, int64_t cw, int64_t map_w,
                const int32_t* oy, const int32_t* ox, const int32_t* rows, const int32_t* cols) {
#pragma omp parallel for schedule(static)
    for (int64_t bc = 0; bc < batch * channels; ++bc) {
        const int64_t b = bc / channels;
        for (int64_t r = 0; r < ch; ++r) {
            float* row = y + (bc * ch + r) * cw;
            const float* f = factor + (oy[rows[b]] + r) * map_w + ox[cols[b]];
            for (int64_t q = 0; q < cw; ++q) row[q] *= f[q];
        }
    }
}

}  // namespace pda::cpu
