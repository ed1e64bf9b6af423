// CPU gathers of incremental inference (crop.h).
#include "kernels/cpu/crop.h"

#include <cstring>

namespace pda::cpu {

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
            crop_gather_row(out + r * t.tw, t.tw, ty + r, tx, s.h, s.w, clean, crop, cy, cx, s.ch, s.cw, t.pad);
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
