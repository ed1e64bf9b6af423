// CPU gathers of incremental inference (crop.h).
#include "kernels/cpu/crop.h"

#include <algorithm>
#include <cstring>

namespace pda::cpu {
namespace {

// One row (z, y) of a tile for maps whose elements are vectors of v floats (v = 1: plain maps; v = 16 or
// 8: one block of channels of oneDNN's blocked layout, the channels innermost), with whole-row copies
// where the row lies inside the map: the clean segment, then the crop's overlap over it (or the crop
// alone where it covers the segment). Element for element crop_gather_row's choice; at the map's
// borders (padding) the element rule itself. clean: the (d, h, w) map, crop: the (cd, ch, cw) crop at
// (cz, cy, cx), of one channel (group).
inline void gather_row(float* dst, int64_t tw, int64_t z, int64_t y, int64_t tx, const CropSource& s,
                       const float* clean, const float* crop, int64_t cz, int64_t cy, int64_t cx, float pad,
                       int64_t v) {
    const size_t vb = sizeof(float) * static_cast<size_t>(v);
    const int64_t h = s.h, w = s.w;
    if (z < 0 || z >= s.d || y < 0 || y >= h || tx < 0 || tx + tw > w) {
        if (v == 1) {
            crop_gather_row(dst, tw, z, y, tx, s.d, h, w, clean, crop, cz, cy, cx, s.cd, s.ch, s.cw, pad);
            return;
        }
        const int sz = crop_axis_source(z, s.d, cz, s.cd), sy = crop_axis_source(y, h, cy, s.ch);
        for (int64_t q = 0; q < tw; ++q) {
            const int64_t x = tx + q;
            const int sx = crop_axis_source(x, w, cx, s.cw);
            if (sz < 0 || sy < 0 || sx < 0)
                std::fill(dst + q * v, dst + (q + 1) * v, pad);
            else
                std::memcpy(dst + q * v,
                            sz > 0 && sy > 0 && sx > 0 ? crop + (((z - cz) * s.ch + y - cy) * s.cw + x - cx) * v
                                                       : clean + ((z * h + y) * w + x) * v,
                            vb);
        }
        return;
    }
    const bool in_rows = crop && z >= cz && z < cz + s.cd && y >= cy && y < cy + s.ch;
    const int64_t x0 = in_rows ? std::max(tx, cx) : 0, x1 = in_rows ? std::min(tx + tw, cx + s.cw) : 0;
    if (!(x0 == tx && x1 == tx + tw))
        std::memcpy(dst, clean + ((z * h + y) * w + tx) * v, vb * static_cast<size_t>(tw));
    if (x0 < x1)
        std::memcpy(dst + (x0 - tx) * v, crop + (((z - cz) * s.ch + y - cy) * s.cw + (x0 - cx)) * v,
                    vb * static_cast<size_t>(x1 - x0));
}

}  // namespace

void crop_gather(float* dst, const CropTile& t, const CropSource& s, const CropWindows& win, int64_t v) {
    const int64_t groups = t.channels / v, maps = t.batch * groups;  // a map: (d, h, w) elements of v floats
#pragma omp parallel for schedule(static)
    for (int64_t bc = 0; bc < maps; ++bc) {
        const int64_t b = bc / groups, c = bc % groups;
        int64_t tz, ty, tx, cz, cy, cx;
        crop_batch_origins(b, t, s, win, &tz, &ty, &tx, &cz, &cy, &cx);
        const float* crop = s.data ? s.data + bc * s.cd * s.ch * s.cw * v : nullptr;  // this image's crop
        const float* clean = s.clean ? s.clean + c * s.d * s.h * s.w * v : crop;      // whole maps: the crop is the map
        float* out = dst + bc * t.td * t.th * t.tw * v;
        for (int64_t p = 0; p < t.td; ++p)
            for (int64_t r = 0; r < t.th; ++r)
                gather_row(out + (p * t.th + r) * t.tw * v, t.tw, tz + p, ty + r, tx, s, clean, crop, cz, cy, cx, t.pad,
                           v);
    }
}

void crop_broadcast(float* dst, const float* clean, int64_t n, int64_t batch) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b) std::memcpy(dst + b * n, clean, sizeof(float) * static_cast<size_t>(n));
}

void crop_scale(float* y, const float* factor, const CropTile& t, int64_t map_h, int64_t map_w,
                const CropWindows& win) {
#pragma omp parallel for schedule(static)
    for (int64_t bc = 0; bc < t.batch * t.channels; ++bc) {
        const int64_t b = bc / t.channels;
        const int64_t z0 = t.oz[win.slices[b]], y0 = t.oy[win.rows[b]], x0 = t.ox[win.cols[b]];
        for (int64_t p = 0; p < t.td; ++p)
            for (int64_t r = 0; r < t.th; ++r) {
                float* row = y + ((bc * t.td + p) * t.th + r) * t.tw;
                const float* f = factor + ((z0 + p) * map_h + y0 + r) * map_w + x0;
                for (int64_t q = 0; q < t.tw; ++q) row[q] *= f[q];
            }
    }
}

}  // namespace pda::cpu
