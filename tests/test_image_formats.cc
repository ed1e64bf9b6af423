// Valid images of every kind load_image decodes, against independent decoders: PNG and BMP of every
// colour type, bit depth and header exactly as stb_image 2.27 (pda's decoder before libpng and its
// own BMP reader) decoded them, and JPEG (and the shared PNGs) exactly as PIL, torchvision's decoder.
// Fixtures are generated here (tests/image_fixtures.h).
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/image.h"
#include "tests/image_fixtures.h"
#include "tests/test_util.h"

namespace pda {
namespace {

namespace fs = std::filesystem;

// A fresh temporary folder per test, removed afterwards.
class ImageFormats : public ::testing::Test {
  protected:
    std::string path(const std::string& name) const { return dir_.file(name); }
    std::string write_text(const std::string& name, const std::string& bytes) const { return dir_.write(name, bytes); }
    test::TempDir dir_{"formats-" + test::current_test_name()};
};

// stb_image 2.27, load_image's decoder before libpng and our BMP reader, on the same bytes.
Image stb_decode(const std::string& bytes) {
    int w = 0, h = 0, n = 0;
    stbi_uc* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()),
                                        &w, &h, &n, 3);
    if (!px) return {};
    Image im{h, w, std::vector<uint8_t>(px, px + static_cast<size_t>(w) * h * 3)};
    stbi_image_free(px);
    return im;
}

std::vector<uint8_t> seeded_bytes(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) {
        seed = seed * 1664525u + 1013904223u;
        b = static_cast<uint8_t>(seed >> 24);
    }
    return v;
}

// Every PNG colour type and bit depth, plain and interlaced, with and without tRNS: the pixels stb
// gave (grey replicated, alpha dropped, 16 bits cut to the high byte, palettes expanded).
TEST_F(ImageFormats, PngOfEveryKindDecodesAsStbDid) {
    struct Kind {
        int colour, channels;
        std::vector<int> depths;
    };
    const Kind kinds[] = {{PNG_COLOR_TYPE_GRAY, 1, {1, 2, 4, 8, 16}},
                          {PNG_COLOR_TYPE_GRAY_ALPHA, 2, {8, 16}},
                          {PNG_COLOR_TYPE_RGB, 3, {8, 16}},
                          {PNG_COLOR_TYPE_RGB_ALPHA, 4, {8, 16}},
                          {PNG_COLOR_TYPE_PALETTE, 1, {1, 2, 4, 8}}};
    int checked = 0;
    for (const auto& k : kinds)
        for (int depth : k.depths)
            for (bool interlaced : {false, true})
                for (bool trns : {false, true}) {
                    test::PngSpec s;
                    s.width = 13;
                    s.height = 7;
                    s.colour_type = k.colour;
                    s.bit_depth = depth;
                    s.interlaced = interlaced;
                    if (k.colour == PNG_COLOR_TYPE_PALETTE) {
                        const std::vector<uint8_t> c = seeded_bytes(3 << depth, depth);
                        for (int i = 0; i < (1 << depth); ++i)
                            s.palette.push_back({c[i * 3], c[i * 3 + 1], c[i * 3 + 2]});
                        if (trns) s.palette_alpha = seeded_bytes(1 << (depth - 1), 99);
                    } else if (k.colour == PNG_COLOR_TYPE_GRAY && trns) {
                        s.grey_transparent = 1;
                    } else if (trns) {
                        continue;
                    }
                    const size_t row_bytes = (static_cast<size_t>(s.width) * k.channels * depth + 7) / 8;
                    const std::string png = test::encode_png(s, seeded_bytes(row_bytes * s.height, 17 + depth));
                    const std::string name = "c" + std::to_string(k.colour) + "_d" + std::to_string(depth) +
                                             (interlaced ? "_i" : "") + (trns ? "_t" : "") + ".png";
                    const Image ours = load_image(write_text(name, png)), stb = stb_decode(png);
                    ASSERT_EQ(stb.width, 13) << name;
                    EXPECT_EQ(ours.height, stb.height) << name;
                    EXPECT_EQ(ours.width, stb.width) << name;
                    EXPECT_EQ(ours.rgb, stb.rgb) << name;
                    ++checked;
                }
    EXPECT_EQ(checked, 2 * (5 + 2 + 2 + 2 + 4) + 2 * (5 + 4));
}

// BMP headers of 12, 40, 108 and 124 bytes; 1/4/8-bit palettes, 16-bit 555 and 565, 24-bit
// bottom-up and top-down, 32-bit plain and with other masks: the pixels stb gave.
TEST_F(ImageFormats, BmpOfEveryKindDecodesAsStbDid) {
    struct Kind {
        const char* name;
        int header_size, bpp, palette_entries;
        uint32_t compression;
        std::vector<uint32_t> masks;
        bool top_down;
    };
    const Kind kinds[] = {
        {"1bit", 40, 1, 2, 0, {}, false},
        {"4bit", 40, 4, 16, 0, {}, false},
        {"8bit", 40, 8, 256, 0, {}, false},
        {"8bit_short_palette", 40, 8, 20, 0, {}, true},
        {"16bit_555", 40, 16, 0, 0, {}, false},
        {"16bit_565", 40, 16, 0, 3, {0xF800, 0x07E0, 0x001F}, false},
        {"24bit", 40, 24, 0, 0, {}, false},
        {"24bit_top_down", 40, 24, 0, 0, {}, true},
        {"32bit", 40, 32, 0, 0, {}, false},
        {"32bit_rgbx", 40, 32, 0, 3, {0x000000FF, 0x0000FF00, 0x00FF0000}, false},
        {"os2_24bit", 12, 24, 0, 0, {}, false},
        {"v4_32bit_bgra", 108, 32, 0, 3, {0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000}, false},
        {"v4_16bit_444", 108, 16, 0, 3, {0x0F00, 0x00F0, 0x000F, 0xF000}, true},
        {"v5_24bit", 124, 24, 0, 0, {}, false},
        {"v5_8bit", 124, 8, 256, 0, {}, false},
    };
    for (const auto& k : kinds) {
        test::BmpSpec s;
        s.header_size = k.header_size;
        s.width = 7;
        s.height = k.top_down ? -5 : 5;
        s.bpp = k.bpp;
        s.compression = k.compression;
        s.masks = k.masks;
        s.palette = seeded_bytes(4 * static_cast<size_t>(k.palette_entries), k.bpp);
        const size_t stride = (static_cast<size_t>(s.width) * k.bpp + 31) / 32 * 4;
        std::vector<uint8_t> pixels = seeded_bytes(stride * 5, 23 + k.bpp);
        if (k.palette_entries == 20)
            for (auto& p : pixels) p %= 20;
        const std::string bmp = test::encode_bmp(s, pixels);
        const Image ours = load_image(write_text(std::string(k.name) + ".bmp", bmp)), stb = stb_decode(bmp);
        ASSERT_EQ(stb.width, 7) << k.name << ": " << stbi_failure_reason();
        EXPECT_EQ(ours.height, stb.height) << k.name;
        EXPECT_EQ(ours.width, stb.width) << k.name;
        EXPECT_EQ(ours.rgb, stb.rgb) << k.name;
    }
}

// JPEGs decode exactly as PIL does (torchvision's decoder: the same libjpeg-turbo with its default
// settings): the shared photos and generated baseline 4:2:0 and 4:4:4, odd-sized, progressive, grey,
// CMYK and YCCK files. The shared PNGs are compared too (PIL has its own PNG decoder).
TEST_F(ImageFormats, JpegAndPngDecodeExactlyAsPil) {
    std::vector<std::string> files;
    if (test::have_shared())
        for (const char* p : {"bird.png", "cat.png", "grace_hopper.png", "dog.jpg", "eagle.jpg", "giraffe.jpg",
                              "hot_dog.jpg", "parrot.jpg"})
            files.push_back(test::shared_dir() + "/images/" + p);
    auto jpeg = [&](const std::string& name, test::JpegSpec s, int quality) {
        s.quality = quality;
        const std::vector<uint8_t> smooth = [&] {
            std::vector<uint8_t> v(static_cast<size_t>(s.width) * s.height * s.components);
            for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((i * 7 + i / 97 * 13) % 251);
            return v;
        }();
        files.push_back(write_text(name, test::encode_jpeg(s, smooth)));
    };
    test::JpegSpec rgb;
    rgb.width = 37;
    rgb.height = 23;
    jpeg("420.jpg", rgb, 85);
    test::JpegSpec full = rgb;
    full.full_chroma = true;
    jpeg("444.jpg", full, 95);
    test::JpegSpec prog = rgb;
    prog.progressive = true;
    jpeg("progressive.jpg", prog, 75);
    test::JpegSpec grey = rgb;
    grey.components = 1;
    grey.in_space = JCS_GRAYSCALE;
    jpeg("grey.jpg", grey, 90);
    test::JpegSpec cmyk = rgb;
    cmyk.components = 4;
    cmyk.in_space = JCS_CMYK;
    jpeg("cmyk.jpg", cmyk, 90);
    test::JpegSpec ycck = cmyk;
    ycck.jpeg_space = JCS_YCCK;
    jpeg("ycck.jpg", ycck, 90);

    const std::string script =
        "import sys\n"
        "from PIL import Image\n"
        "for f in sys.argv[2:]:\n"
        "    im = Image.open(f).convert('RGB')\n"
        "    open(sys.argv[1] + '/' + f.replace('/', '_') + '.rgb', 'wb').write(im.tobytes())\n";
    std::string cmd = std::string(PDA_PYTHON) + " " + write_text("pil.py", script) + " " + dir_.path().string();
    for (const auto& f : files) cmd += " " + f;
    if (std::system((cmd + " 2>/dev/null").c_str()) != 0)
        GTEST_SKIP() << "skipped: " << PDA_PYTHON << " with PIL is not available";
    for (const auto& f : files) {
        std::string name = f;
        std::replace(name.begin(), name.end(), '/', '_');
        std::ifstream in(path(name + ".rgb"), std::ios::binary);
        const std::string pil((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const Image ours = load_image(f);
        ASSERT_EQ(pil.size(), ours.rgb.size()) << f;
        size_t differ = 0;
        for (size_t i = 0; i < pil.size(); ++i) differ += static_cast<uint8_t>(pil[i]) != ours.rgb[i];
        EXPECT_EQ(differ, 0u) << f << ": " << differ << " of " << pil.size() << " samples differ from PIL";
    }
}

}  // namespace
}  // namespace pda
