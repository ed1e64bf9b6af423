// Images in and out: 8-bit RGB pictures decoded from PNG (libpng), JPEG (libjpeg-turbo) and BMP (our
// own small decoder), the format chosen by the file's magic bytes, never by its name; everything else
// is refused. PNG files are written by stb_image_write. The rest of pda sees only `Image`, so the
// decoders can change without touching preprocessing or heatmap code.
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

// What load_image accepts: the file's size, checked before it is read, and width × height, checked
// from the header before any pixel memory is allocated (2^27 pixels is 384 MiB of RGB); each side at
// most 2^24 (stb_image's old limit), which also bounds libpng's row buffers.
constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;
constexpr int64_t kMaxImagePixels = int64_t{1} << 27;
constexpr int64_t kMaxImageSide = int64_t{1} << 24;

// Decodes a PNG, JPEG or BMP file, recognised by its first bytes. Grey images are replicated to
// R = G = B; an alpha channel (grey+alpha, RGBA, a palette's tRNS) is dropped, not composited, as
// PIL's `convert("RGB")` (and so torchvision) does. 16-bit PNGs keep the high byte of each sample;
// palette and 1/2/4-bit PNGs are expanded; interlaced PNGs and progressive JPEGs are decoded. JPEGs
// are decoded with libjpeg's defaults, as PIL does (accurate integer IDCT, fancy upsampling); CMYK and
// YCCK JPEGs are converted to RGB with PIL's formula (Adobe's inverted CMYK). EXIF orientation is not
// applied (PIL's Image.open does not either). Fails closed: a missing, unreadable, empty, truncated,
// corrupt, too large or unsupported file (RLE BMP, 12-bit JPEG, a JPEG of more than 500 scans), or
// one that is not a regular file (a folder, a device, a FIFO), throws an input error "<path>:
// <reason>"; any warning of libjpeg or a failed CRC in a PNG's image data is such an error, not a
// picture with filler.
Image load_image(const std::string& path);

// Writes `image` as an 8-bit RGB PNG. The bytes go to "<path>.tmp" first and are renamed onto
// `path`, so a reader never sees a half-written file. Throws an input error when the file cannot be
// written (missing directory, no permission, full disk).
void write_png(const std::string& path, const Image& image);

// The bytes of `image` as an 8-bit RGB PNG file (for embedding a picture in a page). Internal error
// for an empty image.
std::vector<uint8_t> encode_png(const Image& image);

}  // namespace pda
