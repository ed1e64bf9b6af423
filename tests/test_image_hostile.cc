// load_image on hostile input: other formats under a .png name, files that are not regular files or
// are too big, truncated and corrupt PNG/JPEG/BMP files, headers claiming huge sizes, progressive
// JPEGs with thousands of scans. Every one must be a pda::Error of kind kInput naming the file, the
// same error on every run, and the pda program must turn it into one line and exit code 2. Fixtures
// are generated here (tests/image_fixtures.h), none is committed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "io/image.h"
#include "pda/error.h"
#include "tests/image_fixtures.h"
#include "tests/test_util.h"
#include "tests/tiny_model.h"

namespace pda {
namespace {

namespace fs = std::filesystem;

class ImageHostile : public ::testing::Test {
  protected:
    std::string path(const std::string& name) const { return dir_.file(name); }
    std::string write(const std::string& name, const std::string& bytes) const { return dir_.write(name, bytes); }
    test::TempDir dir_{"image-" + test::current_test_name()};
};

// The outcome of one decode: "error <kind> <message>", or "image H x W <pixel hash>".
std::string outcome(const std::string& file) {
    try {
        const Image im = load_image(file);
        return "image " + std::to_string(im.height) + " x " + std::to_string(im.width) + " " +
               std::to_string(std::hash<std::string>()(std::string(im.rgb.begin(), im.rgb.end())));
    } catch (const Error& e) {
        return std::string("error ") + (e.kind() == ErrorKind::kInput ? "input " : "internal ") + e.what();
    }
}

// Expects an input error whose message contains each of `needles`; returns the message.
std::string expect_input_error(const std::string& file, const std::vector<std::string>& needles) {
    try {
        load_image(file);
        ADD_FAILURE() << file << ": decoded; expected an error mentioning " << needles.front();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
        EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
        for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
        return e.what();
    }
    return "";
}

// Seeded noise, so that compressed files have long entropy-coded data to damage.
std::vector<uint8_t> noise(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) {
        seed = seed * 1664525u + 1013904223u;
        b = static_cast<uint8_t>(seed >> 24);
    }
    return v;
}

std::string rgb_png(int h, int w) {
    test::PngSpec s;
    s.width = w;
    s.height = h;
    return test::encode_png(s, noise(static_cast<size_t>(h) * w * 3, 7));
}

std::string rgb_jpeg(int h, int w, bool progressive) {
    test::JpegSpec s;
    s.width = w;
    s.height = h;
    s.progressive = progressive;
    return test::encode_jpeg(s, noise(static_cast<size_t>(h) * w * 3, 11));
}

std::string with_byte(std::string s, size_t at, uint8_t v) {
    s[at] = static_cast<char>(v);
    return s;
}

// ---------------------------------------------------------------------------------------------------

TEST_F(ImageHostile, OtherFormatsNamedPngAreRefused) {
    struct Payload {
        const char* name;
        std::string bytes;
        const char* says;  // what the message names it as; "" for nothing
        bool stb_decodes;  // a real file of that format (stb_image 2.27 decodes it)
    };
    const std::string gif(
        "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x2c\x00\x00\x00\x00\x01\x00\x01"
        "\x00\x00\x02\x02\x44\x01\x00\x3b",
        35);
    std::string tga(18, '\0');
    tga[2] = 2;  // uncompressed true colour
    tga[12] = 2;
    tga[14] = 2;
    tga[16] = 24;
    tga += std::string(12, '\x7f');
    const std::string pnm = "P6\n2 2\n255\n" + std::string(12, '\x40');
    const std::string hdr = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n" + std::string(16, '\x80');
    std::string psd("8BPS\x00\x01\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00\x08\x00\x03", 26);
    psd += std::string(12, '\0') + std::string(2, '\0') + std::string(3, '\x55');  // three empty sections, raw data
    const Payload payloads[] = {
        {"gif", gif, "GIF", true},
        {"tga", tga, "", true},
        {"pnm", pnm, "PNM", true},
        {"hdr", hdr, "Radiance HDR", true},
        {"psd", psd, "Photoshop", true},
        {"pic", std::string("\x53\x80\xF6\x34PICT", 8) + std::string(100, '\0'), "Softimage PIC", false},
        {"webp", std::string("RIFF\x10\x00\x00\x00WEBPVP8 ", 16) + std::string(20, '\0'), "WebP", false},
        {"tiff", std::string("II*\0", 4) + std::string(20, '\0'), "TIFF", false},
        {"text", "this is a text file, not a picture\n", "", false},
    };
    for (const auto& p : payloads) {
        if (p.stb_decodes) {
            int w = 0, h = 0, n = 0;
            stbi_uc* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(p.bytes.data()),
                                                static_cast<int>(p.bytes.size()), &w, &h, &n, 3);
            EXPECT_NE(px, nullptr) << p.name << ": the fixture is not a real image: " << stbi_failure_reason();
            stbi_image_free(px);
        }
        const std::string file = write(std::string("x_") + p.name + ".png", p.bytes);
        const std::string message = expect_input_error(file, {"not a PNG, JPEG or BMP file", p.says});
        if (!*p.says) {
            EXPECT_EQ(message.find("looks like"), std::string::npos) << message;
        }
    }
}

TEST_F(ImageHostile, OnlyRegularFilesOfBoundedSizeAreRead) {
    if (fs::exists("/dev/zero")) expect_input_error("/dev/zero", {"not a regular file", "character device"});
    expect_input_error(dir_.path().string(), {"not a regular file", "directory"});
    expect_input_error(write("empty.png", ""), {"empty"});
    fs::create_symlink("/dev/zero", path("zero.png"));
    expect_input_error(path("zero.png"), {"not a regular file"});

    // A FIFO: refused without opening it (opening one for reading blocks until a writer comes).
    ASSERT_EQ(::mkfifo(path("pipe.png").c_str(), 0600), 0);
    auto result = std::async(std::launch::async, [&] { return outcome(path("pipe.png")); });
    if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
        ADD_FAILURE() << "load_image blocked on a FIFO";
        const int fd = ::open(path("pipe.png").c_str(), O_WRONLY);  // releases the reader
        ::close(fd);
    }
    const std::string fifo = result.get();
    EXPECT_NE(fifo.find("error input"), std::string::npos) << fifo;
    EXPECT_NE(fifo.find("not a regular file (a FIFO)"), std::string::npos) << fifo;

    // 300 MiB (sparse: no disk used) is refused by its size, before anything is read.
    const std::string big = write("big.png", rgb_png(4, 4));
    fs::resize_file(big, 300u << 20);
    expect_input_error(big, {"300 MiB, larger than the 256 MiB limit for an image file"});
}

TEST_F(ImageHostile, TruncatedAndCorruptPngsAreInputErrors) {
    const std::string png = rgb_png(64, 64);
    ASSERT_EQ(load_image(write("full.png", png)).height, 64);
    // Cut after the signature, inside IHDR, inside IDAT, before IEND, one byte short.
    for (size_t cut : {size_t{8}, size_t{20}, png.size() / 2, png.size() - 12, png.size() - 1}) {
        const std::string file = write("cut" + std::to_string(cut) + ".png", png.substr(0, cut));
        expect_input_error(file, {"truncated PNG"});
        EXPECT_EQ(outcome(file), outcome(file));
    }
    // One byte changed inside the image data: IDAT's CRC fails. And IHDR's.
    expect_input_error(write("idat.png", with_byte(png, png.size() / 2, png[png.size() / 2] ^ 0x10)),
                       {"corrupt PNG", "CRC"});
    expect_input_error(write("ihdr.png", with_byte(png, 29, png[29] ^ 0x01)), {"corrupt PNG", "CRC"});
}

TEST_F(ImageHostile, TruncatedBaselineJpegsAreInputErrors) {
    const std::string jpg = rgb_jpeg(64, 64, false);
    ASSERT_EQ(load_image(write("full.jpg", jpg)).height, 64);
    const size_t scan = test::jpeg_first_scan_data(jpg);
    ASSERT_NE(scan, std::string::npos);
    // Cut in the headers, at the start of the scan, in the middle of it, and just the end-of-image marker.
    for (size_t cut : {size_t{40}, scan, (scan + jpg.size()) / 2, jpg.size() - 2}) {
        const std::string file = write("cut" + std::to_string(cut) + ".jpg", jpg.substr(0, cut));
        expect_input_error(file, {"truncated or corrupt JPEG"});
        EXPECT_EQ(outcome(file), outcome(file));
    }
}

TEST_F(ImageHostile, CorruptProgressiveJpegFailsTheSameWayEveryTime) {
    const std::string jpg = rgb_jpeg(96, 128, true);
    const Image clean = load_image(write("clean.jpg", jpg));
    ASSERT_EQ(clean.width, 128);
    // A restart marker planted in the middle of the entropy-coded data of the third scan: the decoder
    // runs out of data inside the scan ("premature end of data segment").
    size_t at = 0;
    for (int sos = 0; sos < 3; ++sos) {
        at = jpg.find("\xFF\xDA", at + 1);
        ASSERT_NE(at, std::string::npos);
    }
    const size_t next = jpg.find("\xFF\xDA", at + 1);
    ASSERT_NE(next, std::string::npos);
    ASSERT_GT(next - at, 64u) << "the third scan is too short to damage in its middle";
    std::string bad = jpg;
    bad[(at + next) / 2] = '\xFF';
    bad[(at + next) / 2 + 1] = '\xD3';
    const std::string file = write("bad.jpg", bad);
    const std::string first = expect_input_error(file, {"truncated or corrupt JPEG"});
    EXPECT_EQ(expect_input_error(file, {"truncated or corrupt JPEG"}), first);
    // Cut inside a later scan.
    expect_input_error(write("cut.jpg", jpg.substr(0, next + 40)), {"truncated or corrupt JPEG"});
}

// Bytes changed anywhere in a baseline or progressive JPEG: whatever the result (an error, or a
// picture when the change happens to decode), it is the same on every run. (stb_image 2.27 returned
// uninitialised heap memory here: a different picture each time.)
TEST_F(ImageHostile, DamagedJpegsDecodeDeterministically) {
    int errors = 0, pictures = 0;
    for (bool progressive : {false, true}) {
        const std::string jpg = rgb_jpeg(48, 64, progressive);
        for (int i = 0; i < 24; ++i) {
            const size_t at = 20 + (jpg.size() - 22) * i / 24;
            const uint8_t b = static_cast<uint8_t>(jpg[at]);
            const std::string file =
                write("d" + std::to_string(i) + ".jpg", with_byte(jpg, at, b == 0x5A ? 0 : b ^ 0x5A));
            const std::string a = outcome(file), again = outcome(file);
            EXPECT_EQ(a, again) << (progressive ? "progressive" : "baseline") << ", byte " << at;
            EXPECT_EQ(a.find("error internal"), std::string::npos) << a;
            (a.rfind("error", 0) == 0 ? errors : pictures) += 1;
        }
    }
    EXPECT_GT(errors, 0);
    std::printf("[ info ] damaged JPEGs: %d errors, %d pictures\n", errors, pictures);
}

// A grey progressive JPEG whose 63 AC coefficients are each sent in 9 successive-approximation scans:
// 568 scans, a valid file, refused by the scan limit; the same coefficients in 64 scans decode.
TEST_F(ImageHostile, JpegWithThousandsOfScansIsRefused) {
    test::JpegSpec s;
    s.width = s.height = 16;
    s.components = 1;
    s.in_space = JCS_GRAYSCALE;
    const std::vector<uint8_t> grey = noise(16 * 16, 3);
    auto scan = [](int ss, int se, int ah, int al) {
        jpeg_scan_info i{};
        i.comps_in_scan = 1;
        i.component_index[0] = 0;
        i.Ss = ss;
        i.Se = se;
        i.Ah = ah;
        i.Al = al;
        return i;
    };
    s.scans = {scan(0, 0, 0, 0)};
    for (int k = 1; k < 64; ++k) s.scans.push_back(scan(k, k, 0, 0));
    const Image few = load_image(write("few.jpg", test::encode_jpeg(s, grey)));
    EXPECT_EQ(few.width, 16);
    s.scans = {scan(0, 0, 0, 0)};
    for (int k = 1; k < 64; ++k) {
        s.scans.push_back(scan(k, k, 0, 8));
        for (int al = 7; al >= 0; --al) s.scans.push_back(scan(k, k, al + 1, al));
    }
    ASSERT_EQ(s.scans.size(), 568u);
    expect_input_error(write("many.jpg", test::encode_jpeg(s, grey)), {"more than 500 scans"});
}

TEST_F(ImageHostile, HugeHeadersAreTooLargeBeforeAnyPixelIsAllocated) {
    // A PNG signature and IHDR claiming 100000 x 100000 (30 GB of RGB), nothing after them.
    test::PngSpec header;
    header.width = header.height = 100000;
    header.header_only = true;
    const std::vector<std::string> huge = {"100000 x 100000 = 10000000000 pixels, too large",
                                           "the limit is " + std::to_string(kMaxImagePixels) + " pixels"};
    expect_input_error(write("huge.png", test::encode_png(header, {})), huge);
    // Few pixels, but one side longer than 2^24.
    header.width = 1 << 25;
    header.height = 1;
    expect_input_error(write("long.png", test::encode_png(header, {})),
                       {"33554432 x 1 = 33554432 pixels, too large", "16777216 a side"});

    // A complete, valid PNG of 20000 x 10000 1-bit pixels (25 KB on disk): too large too.
    test::PngSpec valid;
    valid.width = 20000;
    valid.height = 10000;
    valid.colour_type = PNG_COLOR_TYPE_GRAY;
    valid.bit_depth = 1;
    const std::string png = test::encode_png(valid, std::vector<uint8_t>(size_t{2500} * 10000, 0));
    EXPECT_LT(png.size(), 1u << 20);
    expect_input_error(write("valid_huge.png", png), {"20000 x 10000 = 200000000 pixels, too large"});

    // A JPEG whose frame header is patched to 60000 x 60000, and a BMP patched to 100000 x 100000.
    std::string jpg = rgb_jpeg(16, 16, false);
    const size_t sof = jpg.find("\xFF\xC0");
    ASSERT_NE(sof, std::string::npos);
    for (size_t i : {sof + 5, sof + 7}) {
        jpg[i] = static_cast<char>(60000 >> 8);
        jpg[i + 1] = static_cast<char>(60000 & 0xFF);
    }
    expect_input_error(write("huge.jpg", jpg), {"60000 x 60000 = 3600000000 pixels, too large"});
    test::BmpSpec b;
    b.width = b.height = 100000;
    expect_input_error(write("huge.bmp", test::encode_bmp(b, std::vector<uint8_t>(16, 0))),
                       {"100000 x 100000 = 10000000000 pixels, too large"});
}

TEST_F(ImageHostile, TruncatedAndCorruptBmpsAreInputErrors) {
    test::BmpSpec s;
    s.width = 5;
    s.height = 4;
    const std::vector<uint8_t> px = noise(16 * 4, 5);  // 5 × 3 bytes + 1 padding per row
    const std::string bmp = test::encode_bmp(s, px);
    ASSERT_EQ(load_image(write("ok.bmp", bmp)).width, 5);
    expect_input_error(write("cut.bmp", bmp.substr(0, bmp.size() - 10)),
                       {"truncated BMP", "63 bytes of pixel data expected, 54 present"});
    expect_input_error(write("hdr.bmp", bmp.substr(0, 30)), {"truncated BMP"});
    // Without the last row's padding it is still whole.
    EXPECT_EQ(load_image(write("nopad.bmp", bmp.substr(0, bmp.size() - 1))).rgb, load_image(path("ok.bmp")).rgb);

    // 8-bit, a palette of 2 colours, a pixel using colour 7: an error, not uninitialised memory.
    test::BmpSpec p;
    p.width = 4;
    p.bpp = 8;
    p.palette = {0, 0, 0, 0, 255, 255, 255, 0};
    expect_input_error(write("index.bmp", test::encode_bmp(p, {0, 1, 7, 0})), {"colour 7 of a palette of 2"});
    EXPECT_EQ(load_image(write("in_range.bmp", test::encode_bmp(p, {0, 1, 1, 0}))).at(0, 1, 0), 255);

    test::BmpSpec rle = p;
    rle.compression = 1;
    expect_input_error(write("rle.bmp", test::encode_bmp(rle, {0, 1, 1, 0})), {"RLE"});
    test::BmpSpec odd = s;
    odd.header_size = 64;
    expect_input_error(write("odd.bmp", test::encode_bmp(odd, px)), {"a header of 64 bytes"});
}

// The pda program on hostile images: one line, exit code 2.
TEST_F(ImageHostile, CliSaysOneLineAndExits2) {
    test::write_file(dir_.path() / "tiny.onnx", test::tiny_model());
    test::write_file(dir_.path() / "tiny.json", test::kTinySidecar);
    const std::string gif(
        "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x2c\x00\x00\x00\x00\x01\x00\x01"
        "\x00\x00\x02\x02\x44\x01\x00\x3b",
        35);
    const std::string jpg = rgb_jpeg(96, 128, true);
    struct Case {
        std::string file, says;
    };
    const Case cases[] = {
        {write("gif.png", gif), "not a PNG, JPEG or BMP file (it looks like a GIF image)"},
        {write("cut.jpg", jpg.substr(0, jpg.size() * 2 / 3)), "truncated or corrupt JPEG"},
        {dir_.path().string(), "not a regular file"},
    };
    for (const auto& c : cases) {
        const auto r = test::run_pda("predict " + path("tiny.onnx") + " " + c.file);
        EXPECT_EQ(r.exit_code, 2) << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
        EXPECT_EQ(r.output.rfind("pda: ", 0), 0u) << r.output;
        EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
    }
}

}  // namespace
}  // namespace pda
