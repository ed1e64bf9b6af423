// CPU gathers of incremental inference (crop.h).
#include "kernels/cpu/crop.h"

#include <algorithm>
#include <cstring>

namespace pda::cpu {
namespace {

// crop_gather_row, with whole-row copies where the row lies inside the map: the clean segment, then
// the crop's overlap over it (or the crop alone where it covers the segment). Element for element
// the same choice; at the map's borders (padding) the element rule itself.
inline void gather_row(float* dst, int64_t tw, int64_t y, int64_t tx, int64_t h, int64_t w, const float* clean,
                       const float* crop, int64_t cy, int64_t cx, int64_t ch, int64_t cw, float pad) {
    if (y < 0 || y >= h || tx < 0 || tx + tw > w) {
        crop_gather_row(dst, tw, y, tx, h, w, clean, crop, cy, cx, ch, cw, pad);
        return;
    }
    const bool in_rows = crop && y >= cy && y < cy + ch;
    const int64_t x0 = in_rows ? std::max(tx, cx) : 0, x1 = in_rows ? std::min(tx + tw, cx + cw) : 0;
    if (!(x0 == tx && x1 == tx + tw)) std::memcpy(dst, clean + y * w + tx, sizeof(float) * static_cast<size_t>(tw));
    if (x0 < x1)
        std::memcpy(dst + (x0 - tx), crop + (y - cy) * cw + (x0 - cx), sizeof(float) * static_cast<size_t>(x1 - x0));
}

}  // namespace

void crop_gather(float* dst, const CropTile& t, const CropSource& s, const int32_t* rows, const int32_t* cols) {
    const int64_t planes = t.batch * t.channels;
#pragma omp parallel for schedule(static)
    for (int64_t bc = 0; bc < planes; ++bc) {
        const int64_t b = bc / t.channels, c = bc % t.channels, row = rows[b], col = cols[b];
        const int64_t ty = (t.oy ? static_cast<int64_t>(t.oy[row]) : 0) * t.stride_h - t.pad_h;
        const int64_t tx = (t.ox ? static_cast<int64_t>(t.ox[col]) : 0) * t.stride_w - t.pad_w;
        const int64_t cy = s.oy ? static_cast<int64_t>(s.oy[row]) : 0, cx = s.ox ? static_cast<int64_t>(s.ox[col]) : 0;
        const float* crop = s.data ? s.data + bc * s.ch * s.cw : nullptr;  // this image's (ch, cw) plane
        const float* clean = s.clean ? s.clean + c * s.h * s.w : crop;     // whole maps: the crop is the map
        float* out = dst + bc * t.th * t.tw;
        for (int64_t r = 0; r < t.th; ++r)
            gather_row(out + r * t.tw, t.tw, ty + r, tx, s.h, s.w, clean, crop, cy, cx, s.ch, s.cw, t.pad);
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
