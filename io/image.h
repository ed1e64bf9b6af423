// Images in and out: 8-bit RGB pictures decoded by stb_image (JPEG, PNG, BMP, GIF, TGA, PSD, HDR,
// PIC, PNM) and PNG files written by stb_image_write. The rest of pda sees only `Image`, so the
// decoder can change without touching preprocessing or heatmap code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pda {

// An 8-bit picture, always three interleaved channels in R, G, B order, rows top to bottom:
// pixel (y, x) channel c is rgb[(y * width + x) * 3 + c].
struct Image {
    int height = 0;
    int width = 0;
    std::vector<uint8_t> rgb;

    uint8_t at(int y, int x, int c) const { return rgb[(static_cast<size_t>(y) * width + x) * 3 + c]; }
};

// Decodes an image file. Grey images are replicated to R = G = B; an alpha channel (grey+alpha,
// RGBA) is dropped, not composited, as PIL's `convert("RGB")` (and so torchvision) does. 16-bit
// PNGs are reduced to 8 bits. A missing, unreadable, empty, truncated or undecodable file throws an
// input error "<path>: <reason>".
Image load_image(const std::string& path);

// Writes `image` as an 8-bit RGB PNG. The bytes go to "<path>.tmp" first and are renamed onto
// `path`, so a reader never sees a half-written file. Throws an input error when the file cannot be
// written (missing directory, no permission, full disk).
void write_png(const std::string& path, const Image& image);

}  // namespace pda
