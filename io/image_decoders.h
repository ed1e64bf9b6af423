// The three decoders load_image (io/image.cc) dispatches to once the magic bytes have named the
// format: PNG (io/image_png.cc), JPEG (io/image_jpeg.cc), BMP (io/image_bmp.cc). Each takes the
// whole file in memory, checks the header's size with check_image_size before it allocates pixels,
// and throws an input error naming `path` for anything it cannot decode completely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "io/image.h"

namespace pda::image_detail {

// Throws "<path>: W x H = N pixels, too large (...)" beyond kMaxImagePixels or kMaxImageSide, or
// "no pixels" for a side of 0 or less.
void check_image_size(const std::string& path, int64_t width, int64_t height);

Image decode_png(const std::string& path, const uint8_t* data, size_t size);
Image decode_jpeg(const std::string& path, const uint8_t* data, size_t size);
Image decode_bmp(const std::string& path, const uint8_t* data, size_t size);

}  // namespace pda::image_detail
