// A small BMP decoder for the uncompressed formats stb_image read (1/4/8-bit palette, 16/32-bit with
// default or BI_BITFIELDS masks, 24-bit; header sizes 12, 40, 56, 108, 124), giving the same pixels.
// Ours rather than stb's because stb 2.27 reads palette entries it never filled (uninitialised stack)
// for an out-of-range index, and reads zeros past the end of a truncated file; here every byte read is
// bounds-checked first and both are errors.
#include <algorithm>
#include <cstring>

#include "io/image_decoders.h"
#include "pda/error.h"

namespace pda::image_detail {
namespace {

uint32_t le16(const uint8_t* p) { return p[0] | (p[1] << 8); }
uint32_t le32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
           (static_cast<uint32_t>(p[3]) << 24);
}

int high_bit(uint32_t z) {
    int n = -1;
    while (z) {
        ++n;
        z >>= 1;
    }
    return n;
}

int bit_count(uint32_t z) {
    int n = 0;
    for (; z; z &= z - 1) ++n;
    return n;
}

// One channel of a 16/32-bit pixel under a mask of at most 8 bits, widened to 8 bits by repeating
// its bits, exactly as stb_image's stbi__shiftsigned.
struct Channel {
    uint32_t mask = 0;
    int shift = 0, bits = 0;
    explicit Channel(uint32_t m) : mask(m), shift(high_bit(m) - 7), bits(bit_count(m)) {}
    uint8_t operator()(uint32_t v) const {
        static const unsigned kMul[9] = {0, 0xff, 0x55, 0x49, 0x11, 0x21, 0x41, 0x81, 0x01};
        static const unsigned kShift[9] = {0, 0, 0, 1, 0, 2, 4, 6, 0};
        v &= mask;
        v = shift < 0 ? v << -shift : v >> shift;  // < 256: the mask's high bit lands on bit 7
        v >>= 8 - bits;
        return static_cast<uint8_t>((v * kMul[bits]) >> kShift[bits]);
    }
};

struct BmpLayout {
    int64_t width = 0, height = 0;
    bool top_down = false;
    int bpp = 0;
    uint32_t masks[3] = {0, 0, 0};  // R, G, B for 16 and 32 bits
    size_t palette_at = 0, palette_entries = 0, palette_entry_bytes = 4;
    size_t pixels_at = 0;
};

BmpLayout read_layout(const std::string& path, const uint8_t* data, size_t size) {
    auto corrupt = [&](const std::string& why) { fail_input(path + ": corrupt or unsupported BMP (" + why + ")"); };
    if (size < 18) fail_input(path + ": truncated BMP (" + std::to_string(size) + " bytes)");
    const uint32_t offset = le32(data + 10), hsz = le32(data + 14);
    if (hsz != 12 && hsz != 40 && hsz != 56 && hsz != 108 && hsz != 124)
        corrupt("a header of " + std::to_string(hsz) + " bytes");
    if (size < 14 + hsz) fail_input(path + ": truncated BMP (the header is cut)");
    const uint8_t* h = data + 14;
    BmpLayout b;
    uint32_t planes = 0, compression = 0;
    if (hsz == 12) {
        b.width = le16(h + 4);
        b.height = le16(h + 6);
        planes = le16(h + 8);
        b.bpp = static_cast<int>(le16(h + 10));
        b.palette_entry_bytes = 3;
    } else {
        b.width = static_cast<int32_t>(le32(h + 4));
        b.height = static_cast<int32_t>(le32(h + 8));
        planes = le16(h + 12);
        b.bpp = static_cast<int>(le16(h + 14));
        compression = le32(h + 16);
    }
    if (b.height < 0) {
        b.top_down = true;
        b.height = -b.height;
    }
    if (planes != 1) corrupt(std::to_string(planes) + " planes");
    if (compression == 1 || compression == 2) corrupt("RLE compression is not supported");
    if (compression > 3) corrupt("compression " + std::to_string(compression) + " is not supported");
    const bool paletted = b.bpp == 1 || b.bpp == 4 || b.bpp == 8;
    const bool masked = b.bpp == 16 || b.bpp == 32;
    if (!paletted && !masked && b.bpp != 24) corrupt(std::to_string(b.bpp) + " bits per pixel");
    if (hsz == 12 && masked) corrupt(std::to_string(b.bpp) + " bits per pixel in an OS/2 BMP");
    if (compression == 3 && !masked) corrupt("bit-field masks with " + std::to_string(b.bpp) + " bits per pixel");
    check_image_size(path, b.width, b.height);

    size_t headers_end = 14 + hsz;
    if (masked && compression == 0) {
        b.masks[0] = b.bpp == 16 ? 31u << 10 : 0xffu << 16;
        b.masks[1] = b.bpp == 16 ? 31u << 5 : 0xffu << 8;
        b.masks[2] = b.bpp == 16 ? 31u : 0xffu;
    } else if (masked) {
        const uint8_t* m = h + 40;  // inside V3+ headers; right after a 40-byte header
        if (hsz == 40) {
            headers_end += 12;
            if (size < headers_end) fail_input(path + ": truncated BMP (the bit-field masks are cut)");
        }
        for (int c = 0; c < 3; ++c) b.masks[c] = le32(m + 4 * c);
        if (hsz == 40 && b.masks[0] == b.masks[1] && b.masks[1] == b.masks[2]) corrupt("equal bit-field masks");
        for (uint32_t mask : b.masks)
            if (mask == 0 || bit_count(mask) > 8) corrupt("a bit-field mask of none or more than 8 bits");
    }
    if (offset < headers_end) corrupt("pixel data at " + std::to_string(offset) + ", inside the headers");
    if (paletted) {
        b.palette_at = headers_end;
        b.palette_entries = std::min<size_t>((offset - headers_end) / b.palette_entry_bytes, size_t{1} << b.bpp);
        if (b.palette_entries == 0) corrupt("no palette");
        if (size < b.palette_at + b.palette_entries * b.palette_entry_bytes)
            fail_input(path + ": truncated BMP (the palette is cut)");
    }
    b.pixels_at = offset;
    return b;
}

}  // namespace

Image decode_bmp(const std::string& path, const uint8_t* data, size_t size) {
    const BmpLayout b = read_layout(path, data, size);
    // Rows are padded to 4 bytes; the last row's padding may be missing.
    const size_t row_bytes = (static_cast<size_t>(b.width) * b.bpp + 7) / 8;
    const size_t stride = (row_bytes + 3) / 4 * 4;
    const size_t needed = static_cast<size_t>(b.height - 1) * stride + row_bytes;
    if (b.pixels_at > size || size - b.pixels_at < needed)
        fail_input(path + ": truncated BMP (" + std::to_string(needed) + " bytes of pixel data expected, " +
                   std::to_string(b.pixels_at > size ? 0 : size - b.pixels_at) + " present)");

    uint8_t palette[256][3] = {};
    for (size_t i = 0; i < b.palette_entries; ++i)
        for (int c = 0; c < 3; ++c)  // stored B, G, R
            palette[i][c] = data[b.palette_at + i * b.palette_entry_bytes + 2 - c];
    const Channel red(b.masks[0]), green(b.masks[1]), blue(b.masks[2]);
    const bool plain32 = b.bpp == 32 && b.masks[0] == 0xff0000u && b.masks[1] == 0xff00u && b.masks[2] == 0xffu;

    Image image;
    image.height = static_cast<int>(b.height);
    image.width = static_cast<int>(b.width);
    image.rgb.resize(static_cast<size_t>(b.width) * b.height * 3);
    for (int64_t y = 0; y < b.height; ++y) {
        const uint8_t* in = data + b.pixels_at + static_cast<size_t>(y) * stride;
        uint8_t* out = image.rgb.data() + static_cast<size_t>(b.top_down ? y : b.height - 1 - y) * b.width * 3;
        for (int64_t x = 0; x < b.width; ++x, out += 3) {
            if (b.bpp <= 8) {
                const int per_byte = 8 / b.bpp;
                const unsigned byte = in[x / per_byte];
                const unsigned index = (byte >> ((per_byte - 1 - x % per_byte) * b.bpp)) & ((1u << b.bpp) - 1);
                if (index >= b.palette_entries)
                    fail_input(path + ": corrupt BMP (a pixel uses colour " + std::to_string(index) +
                               " of a palette of " + std::to_string(b.palette_entries) + ")");
                std::memcpy(out, palette[index], 3);
            } else if (b.bpp == 24 || plain32) {
                const uint8_t* p = in + x * (b.bpp / 8);
                out[0] = p[2];
                out[1] = p[1];
                out[2] = p[0];
            } else {
                const uint32_t v = b.bpp == 16 ? le16(in + 2 * x) : le32(in + 4 * x);
                out[0] = red(v);
                out[1] = green(v);
                out[2] = blue(v);
            }
        }
    }
    return image;
}

}  // namespace pda::image_detail
