// Image files made in memory for the decoder tests (test_io.cc, test_image_hostile.cc): PNGs of every
// colour type through libpng's writer, JPEGs (baseline, progressive, custom scan scripts, CMYK)
// through libjpeg's compressor, and BMPs of every header and bit depth written byte by byte, so that
// no binary fixture is committed and each test says exactly what its file holds.
#pragma once

#include <png.h>

#include <algorithm>
#include <cstdio>  // jpeglib.h needs FILE and size_t first
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
// clang-format off
#include <jpeglib.h>
// clang-format on

namespace pda::test {

// ---- PNG --------------------------------------------------------------------------------------------

struct PngSpec {
    int width = 1, height = 1;
    int colour_type = PNG_COLOR_TYPE_RGB;
    int bit_depth = 8;
    bool interlaced = false;
    std::vector<png_color> palette;      // PNG_COLOR_TYPE_PALETTE
    std::vector<uint8_t> palette_alpha;  // tRNS for a palette
    int grey_transparent = -1;           // tRNS for a grey image, when >= 0
    bool header_only = false;            // signature and IHDR, nothing after (a header for any size)
};

inline void png_append(png_structp png, png_bytep data, png_size_t n) {
    static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}

// `rows` holds height rows of packed samples as libpng takes them (16-bit big-endian).
inline std::string encode_png(const PngSpec& spec, const std::vector<uint8_t>& rows) {
    std::string out;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return "";
    }
    png_set_write_fn(png, &out, png_append, nullptr);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);  // headers of any size
    png_set_IHDR(png, info, spec.width, spec.height, spec.bit_depth, spec.colour_type,
                 spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (!spec.palette.empty()) png_set_PLTE(png, info, spec.palette.data(), static_cast<int>(spec.palette.size()));
    if (!spec.palette_alpha.empty())
        png_set_tRNS(png, info, spec.palette_alpha.data(), static_cast<int>(spec.palette_alpha.size()), nullptr);
    if (spec.grey_transparent >= 0) {
        png_color_16 t{};
        t.gray = static_cast<png_uint_16>(spec.grey_transparent);
        png_set_tRNS(png, info, nullptr, 0, &t);
    }
    png_write_info(png, info);
    if (!spec.header_only) {
        const size_t row_bytes = png_get_rowbytes(png, info);
        std::vector<png_bytep> pointers(spec.height);
        for (int y = 0; y < spec.height; ++y)
            pointers[y] = const_cast<png_bytep>(rows.data()) + static_cast<size_t>(y) * row_bytes;
        png_write_image(png, pointers.data());
        png_write_end(png, nullptr);
    }
    png_destroy_write_struct(&png, &info);
    return out;
}

// ---- JPEG -------------------------------------------------------------------------------------------

struct JpegSpec {
    int width = 1, height = 1;
    int components = 3;
    J_COLOR_SPACE in_space = JCS_RGB;
    J_COLOR_SPACE jpeg_space = JCS_UNKNOWN;  // JCS_UNKNOWN: libjpeg's default for in_space
    int quality = 90;
    bool progressive = false;           // jpeg_simple_progression
    std::vector<jpeg_scan_info> scans;  // a custom scan script, when not empty
    bool full_chroma = false;           // 4:4:4 instead of libjpeg's default 4:2:0
};

// `samples` holds height rows of width × components bytes.
inline std::string encode_jpeg(const JpegSpec& spec, const std::vector<uint8_t>& samples) {
    jpeg_compress_struct c{};
    jpeg_error_mgr err{};
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &buffer, &size);
    c.image_width = spec.width;
    c.image_height = spec.height;
    c.input_components = spec.components;
    c.in_color_space = spec.in_space;
    jpeg_set_defaults(&c);
    if (spec.jpeg_space != JCS_UNKNOWN) jpeg_set_colorspace(&c, spec.jpeg_space);
    jpeg_set_quality(&c, spec.quality, TRUE);
    if (spec.full_chroma)
        for (int i = 0; i < c.num_components; ++i) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    if (spec.progressive) jpeg_simple_progression(&c);
    if (!spec.scans.empty()) {
        c.scan_info = spec.scans.data();
        c.num_scans = static_cast<int>(spec.scans.size());
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row =
            const_cast<JSAMPROW>(samples.data()) + static_cast<size_t>(c.next_scanline) * spec.width * spec.components;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    std::string out(reinterpret_cast<const char*>(buffer), size);
    jpeg_destroy_compress(&c);
    std::free(buffer);
    return out;
}

// The offset of the first byte after the first start-of-scan marker's header (the entropy data).
inline size_t jpeg_first_scan_data(const std::string& j) {
    for (size_t i = 2; i + 3 < j.size(); ++i)
        if (static_cast<uint8_t>(j[i]) == 0xFF && static_cast<uint8_t>(j[i + 1]) == 0xDA)
            return i + 2 + ((static_cast<uint8_t>(j[i + 2]) << 8) | static_cast<uint8_t>(j[i + 3]));
    return std::string::npos;
}

// ---- BMP --------------------------------------------------------------------------------------------

struct BmpSpec {
    int header_size = 40;       // 12, 40, 56, 108 or 124
    int width = 1, height = 1;  // a negative height: rows stored top to bottom
    int bpp = 24;
    uint32_t compression = 0;      // 0 BI_RGB, 3 BI_BITFIELDS
    std::vector<uint32_t> masks;   // R, G, B (and A) for BI_BITFIELDS or V4/V5 headers
    std::vector<uint8_t> palette;  // B, G, R (, 0) per entry, as stored
};

inline void put_le(std::string& s, size_t at, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

// `pixels` is the stored pixel array, rows already padded to 4 bytes.
inline std::string encode_bmp(const BmpSpec& spec, const std::vector<uint8_t>& pixels) {
    const bool masks_after = spec.header_size == 40 && spec.compression == 3;
    const size_t offset = 14 + spec.header_size + (masks_after ? 12 : 0) + spec.palette.size();
    std::string s(offset, '\0');
    s[0] = 'B';
    s[1] = 'M';
    put_le(s, 2, static_cast<uint32_t>(offset + pixels.size()), 4);
    put_le(s, 10, static_cast<uint32_t>(offset), 4);
    put_le(s, 14, spec.header_size, 4);
    if (spec.header_size == 12) {
        put_le(s, 18, spec.width, 2);
        put_le(s, 20, spec.height, 2);
        put_le(s, 22, 1, 2);
        put_le(s, 24, spec.bpp, 2);
    } else {
        put_le(s, 18, static_cast<uint32_t>(spec.width), 4);
        put_le(s, 22, static_cast<uint32_t>(spec.height), 4);
        put_le(s, 26, 1, 2);
        put_le(s, 28, spec.bpp, 2);
        put_le(s, 30, spec.compression, 4);
        put_le(s, 34, static_cast<uint32_t>(pixels.size()), 4);
        const size_t masks_at = 14 + 40;  // after a 40-byte header, or inside a V3/V4/V5 one
        for (size_t i = 0; i < spec.masks.size(); ++i) put_le(s, masks_at + 4 * i, spec.masks[i], 4);
    }
    std::copy(spec.palette.begin(), spec.palette.end(), s.begin() + (offset - spec.palette.size()));
    s.append(reinterpret_cast<const char*>(pixels.data()), pixels.size());
    return s;
}

}  // namespace pda::test
