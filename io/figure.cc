// Figures at the photo's resolution with a labelled colour bar (figure.h). The labels use
// stb_easy_font's quads, filled as rectangles: no font files, the same pixels everywhere.
#include "io/figure.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "pda/error.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

namespace pda {
namespace {

// The map's value at fractional crop coordinates (y, x), bilinear, edges clamped.
float sample_bilinear(const float* map, int64_t h, int64_t w, double y, double x) {
    y = std::clamp(y, 0.0, static_cast<double>(h - 1));
    x = std::clamp(x, 0.0, static_cast<double>(w - 1));
    const int64_t y0 = static_cast<int64_t>(y), x0 = static_cast<int64_t>(x);
    const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
    const double fy = y - static_cast<double>(y0), fx = x - static_cast<double>(x0);
    auto at = [&](int64_t r, int64_t c) {
        const float v = map[r * w + c];
        return std::isfinite(v) ? static_cast<double>(v) : 0.0;
    };
    return static_cast<float>((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) +
                              fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1)));
}

void fill(Image& img, int x0, int y0, int x1, int y1, Rgb c) {
    x0 = std::max(x0, 0), y0 = std::max(y0, 0), x1 = std::min(x1, img.width), y1 = std::min(y1, img.height);
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
            uint8_t* p = &img.rgb[(static_cast<size_t>(y) * img.width + x) * 3];
            p[0] = c.r, p[1] = c.g, p[2] = c.b;
        }
}

}  // namespace

std::string format_bar_value(double v) {
    if (v == 0 || !std::isfinite(v)) return "0";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.3g", v);
    return buf;
}

int text_width(const std::string& text, int scale) {
    std::string copy = text;
    return stb_easy_font_width(copy.data()) * scale;
}

void draw_text(Image& image, int x, int y, const std::string& text, int scale, Rgb colour) {
    std::string copy = text;
    std::vector<char> quads(text.size() * 270 + 64);  // stb_easy_font: at most ~270 bytes a character
    unsigned char rgba[4] = {colour.r, colour.g, colour.b, 255};
    const int n = stb_easy_font_print(0, 0, copy.data(), rgba, quads.data(), static_cast<int>(quads.size()));
    struct Vertex {
        float x, y, z;
        unsigned char c[4];
    };
    const Vertex* v = reinterpret_cast<const Vertex*>(quads.data());
    for (int q = 0; q < n; ++q) {
        const Vertex* a = v + q * 4;  // axis-aligned: corners 0 and 2 span the rectangle
        fill(image, x + static_cast<int>(std::lround(a[0].x * scale)),
             y + static_cast<int>(std::lround(a[0].y * scale)), x + static_cast<int>(std::lround(a[2].x * scale)),
             y + static_cast<int>(std::lround(a[2].y * scale)), colour);
    }
}

Image relevance_figure(const Image& photo, const CropBox& box, const float* map, int64_t height, int64_t width,
                       const FigureStyle& style) {
    if (photo.height <= 0 || photo.width <= 0 || height <= 0 || width <= 0 || !(box.height > 0) || !(box.width > 0))
        fail_input("figure: an empty photo or map");
    const float limit = style.limit > 0 ? style.limit : heatmap_limit(map, height * width);
    const float cut = style.threshold * limit;
    // Text and bar sizes grow with the photo so that the labels stay readable when it is shown whole.
    const int scale = photo.height >= 120 ? std::max(2, photo.height / 200) : 1;
    const int bar = std::max(12, photo.height / 18), gap = std::max(6, bar / 2);
    const std::string top = format_bar_value(limit) + " " + style.unit, bottom = format_bar_value(-limit);
    const int labels = std::max(text_width(top, scale), text_width(bottom, scale)) + gap;
    Image out;
    out.height = photo.height;
    out.width = photo.width + gap + bar + gap + labels;
    out.rgb.assign(static_cast<size_t>(out.height) * out.width * 3, 255);

    const double sy = static_cast<double>(height) / box.height, sx = static_cast<double>(width) / box.width;
    for (int y = 0; y < photo.height; ++y)
        for (int x = 0; x < photo.width; ++x) {
            const uint8_t* p = &photo.rgb[(static_cast<size_t>(y) * photo.width + x) * 3];
            const uint8_t bg = heatmap_background(p[0], p[1], p[2]);
            // Pixel centres: the photo's (y + ½) lies at (y + ½ − top)·sy in the crop's pixel units.
            const double cy = (y + 0.5 - box.top) * sy - 0.5, cx = (x + 0.5 - box.left) * sx - 0.5;
            Rgb c{bg, bg, bg};
            if (cy >= -0.5 && cy < height - 0.5 && cx >= -0.5 && cx < width - 0.5 && limit > 0) {
                const float v = sample_bilinear(map, height, width, cy, cx);
                if (std::fabs(v) > cut) c = heatmap_colour(v, limit, bg);
            }
            uint8_t* o = &out.rgb[(static_cast<size_t>(y) * out.width + x) * 3];
            o[0] = c.r, o[1] = c.g, o[2] = c.b;
        }
    // The bar: +limit at the top, −limit at the bottom, mid grey where values are not drawn.
    const int bx = photo.width + gap, bh = photo.height;
    for (int y = 0; y < bh; ++y) {
        const float v = limit * (1.f - 2.f * (static_cast<float>(y) + 0.5f) / static_cast<float>(bh));
        const Rgb c = limit > 0 && std::fabs(v) > cut ? heatmap_colour(v, limit, 128) : Rgb{128, 128, 128};
        fill(out, bx, y, bx + bar, y + 1, c);
    }
    const int lx = bx + bar + gap / 2, th = 7 * scale;
    const Rgb ink{20, 20, 20};
    draw_text(out, lx, 0, top, scale, ink);
    draw_text(out, lx, (bh - th) / 2, "0", scale, ink);
    draw_text(out, lx, bh - th, bottom, scale, ink);
    return out;
}

Image shrink_to_fit(const Image& image, int max_side) {
    const int longer = std::max(image.height, image.width);
    if (longer <= max_side || max_side <= 0) return image;
    const double f = static_cast<double>(longer) / max_side;
    Image out;
    out.height = std::max(1, static_cast<int>(std::lround(image.height / f)));
    out.width = std::max(1, static_cast<int>(std::lround(image.width / f)));
    out.rgb.resize(static_cast<size_t>(out.height) * out.width * 3);
    for (int y = 0; y < out.height; ++y) {
        const int y0 = static_cast<int>(y * f),
                  y1 = std::max(y0 + 1, std::min(image.height, static_cast<int>((y + 1) * f)));
        for (int x = 0; x < out.width; ++x) {
            const int x0 = static_cast<int>(x * f),
                      x1 = std::max(x0 + 1, std::min(image.width, static_cast<int>((x + 1) * f)));
            for (int c = 0; c < 3; ++c) {
                uint32_t sum = 0;
                for (int yy = y0; yy < y1; ++yy)
                    for (int xx = x0; xx < x1; ++xx) sum += image.at(yy, xx, c);
                const uint32_t n = static_cast<uint32_t>((y1 - y0) * (x1 - x0));
                out.rgb[(static_cast<size_t>(y) * out.width + x) * 3 + c] = static_cast<uint8_t>((sum + n / 2) / n);
            }
        }
    }
    return out;
}

}  // namespace pda
