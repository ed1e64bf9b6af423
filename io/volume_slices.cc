// Slice pictures of volume maps (volume_slices.h).
#include "io/volume_slices.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "io/heatmap.h"
#include "pda/error.h"

namespace pda {

const char* slice_axis_name(SliceAxis a) { return a == SliceAxis::kX ? "x" : a == SliceAxis::kY ? "y" : "z"; }

std::array<double, 3> affine_spacing(const std::array<double, 16>& affine) {
    std::array<double, 3> sp{1, 1, 1};
    for (int c = 0; c < 3; ++c) {
        double n2 = 0;
        for (int r = 0; r < 3; ++r) n2 += affine[r * 4 + c] * affine[r * 4 + c];
        const double n = std::sqrt(n2);
        if (std::isfinite(n) && n > 0) sp[c] = n;
    }
    return sp;
}

Image volume_slice_figure(const float* grey, const float* map, int64_t d, int64_t h, int64_t w, SliceAxis axis,
                          int64_t index, const SliceStyle& style) {
    const int64_t n = d * h * w;
    const int64_t extent = axis == SliceAxis::kX ? w : axis == SliceAxis::kY ? h : d;
    if (index < 0 || index >= extent)
        fail_input(std::string("slice ") + slice_axis_name(axis) + " = " + std::to_string(index) +
                   " is outside the volume (0.." + std::to_string(extent - 1) + ")");
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; ++i)
        if (std::isfinite(grey[i])) lo = std::min(lo, grey[i]), hi = std::max(hi, grey[i]);
    const float span = hi > lo ? hi - lo : 1.f;
    const float limit = style.limit > 0 ? style.limit : heatmap_limit(map, n);
    const float cut = style.threshold * limit;

    // The slice's picture axes: columns run along u, rows along v from the top (v reversed, so that
    // superior / anterior is up).
    const int64_t cols = axis == SliceAxis::kX ? h : w, rows = axis == SliceAxis::kZ ? h : d;
    auto voxel = [&](int64_t r, int64_t c) {
        const int64_t v = rows - 1 - r;
        if (axis == SliceAxis::kX) return (v * h + c) * w + index;  // (z, y) at x = index
        if (axis == SliceAxis::kY) return (v * h + index) * w + c;  // (z, x) at y = index
        return (index * h + v) * w + c;                             // (y, x) at z = index
    };
    // Pixels per voxel along the columns and rows: the voxels' proportions, the shorter side ≥ 256.
    const std::array<double, 3>& sp = style.spacing;
    const double su = axis == SliceAxis::kX ? sp[1] : sp[0], sv = axis == SliceAxis::kZ ? sp[1] : sp[2];
    const double unit = std::min(su, sv), cw = su / unit, rh = sv / unit;
    const double shorter = std::min(cols * cw, rows * rh);
    const int64_t scale = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(256.0 / shorter)));
    const int64_t map_w = std::max<int64_t>(cols, std::llround(cols * cw * scale)),
                  map_h = std::max<int64_t>(rows, std::llround(rows * rh * scale));
    const int64_t bar = 6 * scale, gap = 2 * scale, width = map_w + gap + bar, height = map_h;
    Image img;
    img.width = static_cast<int>(width);
    img.height = static_cast<int>(height);
    img.rgb.assign(static_cast<size_t>(width * height) * 3, 255);
    auto put = [&](int64_t y, int64_t x, Rgb c) {
        uint8_t* p = img.rgb.data() + (y * width + x) * 3;
        p[0] = c.r, p[1] = c.g, p[2] = c.b;
    };
    for (int64_t y = 0; y < map_h; ++y)
        for (int64_t x = 0; x < map_w; ++x) {  // nearest voxel
            const int64_t i = voxel(y * rows / map_h, x * cols / map_w);
            const float g = std::isfinite(grey[i]) ? (grey[i] - lo) / span : 0.f;
            const uint8_t bg = static_cast<uint8_t>(std::lround(std::clamp(g, 0.f, 1.f) * 255.f));
            const float v = map[i];
            put(y, x,
                limit > 0 && std::isfinite(v) && std::fabs(v) > cut ? heatmap_colour(v, limit, bg) : Rgb{bg, bg, bg});
        }
    // The colour bar: +limit at the top, −limit at the bottom, grey (not drawn) inside ±threshold.
    for (int64_t y = 0; y < height; ++y) {
        const float v = limit * (1.f - 2.f * (static_cast<float>(y) + 0.5f) / static_cast<float>(height));
        const Rgb colour = limit > 0 && std::fabs(v) > cut ? heatmap_colour(v, limit, 128) : Rgb{128, 128, 128};
        for (int64_t x = map_w + gap; x < width; ++x) put(y, x, colour);
    }
    return img;
}

}  // namespace pda
