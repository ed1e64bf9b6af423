// Heatmap colouring: a linear blend from the lightened grey photo towards pure red or pure blue,
// with opacity |value| / limit, so equal |values| of either sign are equally visible.
#include "io/heatmap.h"

#include <algorithm>
#include <cmath>

#include "pda/error.h"

namespace pda {

uint8_t heatmap_background(uint8_t r, uint8_t g, uint8_t b) {
    double luma = 0.299 * r + 0.587 * g + 0.114 * b;
    return static_cast<uint8_t>(std::lround(127.5 + luma / 2));
}

Rgb heatmap_colour(float value, float limit, uint8_t bg) {
    if (!std::isfinite(value) || !(limit > 0.f) || value == 0.f) return {bg, bg, bg};
    double a = std::min(1.0, std::fabs(static_cast<double>(value)) / limit);
    auto mix = [&](double target) { return static_cast<uint8_t>(std::lround((1 - a) * bg + a * target)); };
    if (value > 0) return {mix(255), mix(0), mix(0)};
    return {mix(0), mix(0), mix(255)};
}

float heatmap_limit(const float* map, int64_t n) {
    float m = 0.f;
    for (int64_t i = 0; i < n; ++i)
        if (std::isfinite(map[i])) m = std::max(m, std::fabs(map[i]));
    return m;
}

Image heatmap_overlay(const Image& base, const float* map, int64_t height, int64_t width, float limit) {
    if (base.height != height || base.width != width)
        fail_internal("heatmap: map " + std::to_string(height) + "×" + std::to_string(width) + " over a " +
                      std::to_string(base.height) + "×" + std::to_string(base.width) + " picture");
    if (limit <= 0.f) limit = heatmap_limit(map, height * width);
    Image out;
    out.height = base.height;
    out.width = base.width;
    out.rgb.resize(base.rgb.size());
    for (int64_t i = 0; i < height * width; ++i) {
        const uint8_t* p = &base.rgb[i * 3];
        Rgb c = heatmap_colour(map[i], limit, heatmap_background(p[0], p[1], p[2]));
        out.rgb[i * 3] = c.r;
        out.rgb[i * 3 + 1] = c.g;
        out.rgb[i * 3 + 2] = c.b;
    }
    return out;
}

}  // namespace pda
