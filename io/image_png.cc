// PNG decoding over libpng (Debian libpng-dev), into 8-bit RGB with the semantics stb_image had:
// palette and 1/2/4-bit grey expanded, 16-bit samples cut to their high byte, grey replicated, alpha
// and tRNS dropped. libpng reports errors by longjmp, so each function that arms setjmp holds only
// trivially destructible locals and all state lives in a PngState owned by its caller.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "io/image_decoders.h"
#include "pda/error.h"

namespace pda::image_detail {
namespace {

struct PngState {
    const uint8_t* data = nullptr;
    size_t size = 0;
    size_t pos = 0;
    bool past_end = false;    // the read callback ran out of bytes
    bool bad_layout = false;  // libpng's transforms did not give 8-bit RGB (a bug here, not the file's)
    char message[256] = {};
    png_structp png = nullptr;
    png_infop info = nullptr;
    ~PngState() {
        if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    }
};

// libpng calls these from C; they never throw.
void png_on_error(png_structp png, png_const_charp message) {
    auto* s = static_cast<PngState*>(png_get_error_ptr(png));
    std::snprintf(s->message, sizeof s->message, "%s", message ? message : "unknown error");
    png_longjmp(png, 1);
}

// Warnings (libpng's "benign errors" on reading included) concern ancillary chunks, a CRC error in
// one of them (the chunk is dropped), extra data after the image, or an out-of-range palette index
// (black, as libpng's palette is zero-filled): none leaves a pixel undefined, so none is fatal.
void png_on_warning(png_structp, png_const_charp) {}

void png_read_bytes(png_structp png, png_bytep out, png_size_t n) {
    auto* s = static_cast<PngState*>(png_get_io_ptr(png));
    if (n > s->size - s->pos) {
        s->past_end = true;
        png_error(png, "unexpected end of file");
    }
    std::memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

// Reads the signature and the chunks before the image data. False on a libpng error.
bool png_read_header(PngState* s) {
    if (setjmp(png_jmpbuf(s->png))) return false;
    // Our limits (checked from IHDR before, and again after) speak first; libpng's default of 10^6 a
    // side would refuse a valid 2,000,000 × 1 image, which they allow.
    png_set_user_limits(s->png, static_cast<png_uint_32>(kMaxImageSide), static_cast<png_uint_32>(kMaxImageSide));
    png_read_info(s->png, s->info);
    return true;
}

// Sets up the transforms to 8-bit RGB and reads every row and the chunks after them (so that a
// missing IEND or a bad CRC anywhere in the image data is an error). False on a libpng error or when
// the transformed rows are not 8-bit RGB.
bool png_read_pixels(PngState* s, png_bytepp rows, png_uint_32 width) {
    if (setjmp(png_jmpbuf(s->png))) return false;
    png_structp png = s->png;
    const int colour = png_get_color_type(png, s->info);
    const int depth = png_get_bit_depth(png, s->info);
    if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (colour == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);  // the high byte, as stb_image and PIL's RGB modes do
    if (colour == PNG_COLOR_TYPE_GRAY || colour == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);  // also the alpha a palette's tRNS would add
    png_set_interlace_handling(png);
    png_read_update_info(png, s->info);
    if (png_get_channels(png, s->info) != 3 || png_get_bit_depth(png, s->info) != 8 ||
        png_get_rowbytes(png, s->info) != static_cast<size_t>(width) * 3) {
        s->bad_layout = true;
        return false;
    }
    png_read_image(png, rows);
    png_read_end(png, nullptr);
    return true;
}

[[noreturn]] void fail_png(const std::string& path, const PngState& s) {
    if (s.bad_layout) fail_internal(path + ": libpng did not produce 8-bit RGB rows");
    if (s.past_end) fail_input(path + ": truncated PNG (the file ends before the image does)");
    fail_input(path + ": corrupt PNG (" + s.message + ")");
}

uint32_t be32(const uint8_t* p) {
    return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
           (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

}  // namespace

Image decode_png(const std::string& path, const uint8_t* data, size_t size) {
    // IHDR is always the first chunk: its size is checked before libpng reads on (it reads every
    // chunk up to the image data before it reports the header), so even a file that is only a
    // header says "too large".
    if (size >= 24 && be32(data + 8) == 13 && std::memcmp(data + 12, "IHDR", 4) == 0)
        check_image_size(path, be32(data + 16), be32(data + 20));

    PngState s;
    s.data = data;
    s.size = size;
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_on_error, png_on_warning);
    if (s.png) s.info = png_create_info_struct(s.png);
    if (!s.png || !s.info) fail_internal(path + ": cannot create a libpng reader");
    png_set_read_fn(s.png, &s, png_read_bytes);

    if (!png_read_header(&s)) fail_png(path, s);
    const png_uint_32 width = png_get_image_width(s.png, s.info), height = png_get_image_height(s.png, s.info);
    check_image_size(path, width, height);

    Image image;
    image.height = static_cast<int>(height);
    image.width = static_cast<int>(width);
    image.rgb.resize(static_cast<size_t>(width) * height * 3);
    std::vector<png_bytep> rows(height);
    for (png_uint_32 y = 0; y < height; ++y) rows[y] = image.rgb.data() + static_cast<size_t>(y) * width * 3;
    if (!png_read_pixels(&s, rows.data(), width)) fail_png(path, s);
    return image;
}

}  // namespace pda::image_detail
