// Image decoding and PNG writing over Debian's libstb (which already holds the implementations, so
// STB_IMAGE_IMPLEMENTATION is never defined here). The file is read into memory first so that every
// failure names the path and its reason, and so that a truncated JPEG is called truncated (stb_image
// only says "expected marker").
#include "io/image.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <system_error>

#include "pda/error.h"

namespace pda {
namespace {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) fail_input(path + ": no such file");
    if (std::filesystem::is_directory(status)) fail_input(path + ": is a directory, not an image");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail_input(path + ": cannot open (" + std::strerror(errno) + ")");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) fail_input(path + ": read error");
    return bytes;
}

// A complete JPEG has an end-of-image marker (FF D9) after its last start-of-scan marker (FF DA);
// inside scan data a literal FF is always followed by 00 or a restart marker, so neither marker can
// appear by accident there. stb_image 2.27 rejects such files too (baseline and progressive), but
// older versions decoded them with grey filler; checking here keeps the behaviour and the message
// independent of the libstb version.
bool jpeg_is_truncated(const std::vector<uint8_t>& b) {
    size_t last_sos = std::string::npos;
    for (size_t i = 0; i + 1 < b.size(); ++i)
        if (b[i] == 0xFF && b[i + 1] == 0xDA) last_sos = i;
    if (last_sos == std::string::npos) return true;
    for (size_t i = last_sos + 2; i + 1 < b.size(); ++i)
        if (b[i] == 0xFF && b[i + 1] == 0xD9) return false;
    return true;
}

struct StbiFree {
    void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

void append_bytes(void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* p = static_cast<const uint8_t*>(data);
    out->insert(out->end(), p, p + size);
}

}  // namespace

Image load_image(const std::string& path) {
    std::vector<uint8_t> bytes = read_file_bytes(path);
    if (bytes.empty()) fail_input(path + ": empty file, not an image");
    if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
        fail_input(path + ": file too large to decode (" + std::to_string(bytes.size()) + " bytes)");
    const int n = static_cast<int>(bytes.size());

    int w = 0, h = 0, channels = 0;
    if (!stbi_info_from_memory(bytes.data(), n, &w, &h, &channels)) {
        const char* why = stbi_failure_reason();
        fail_input(path + ": not a readable image (" + (why ? why : "unknown format") + ")");
    }
    const bool is_jpeg = bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8;
    if (is_jpeg && jpeg_is_truncated(bytes)) fail_input(path + ": truncated JPEG (no end-of-image marker)");

    // Asking for 3 components makes stb replicate grey and drop alpha.
    std::unique_ptr<stbi_uc, StbiFree> pixels(stbi_load_from_memory(bytes.data(), n, &w, &h, &channels, 3));
    if (!pixels) {
        const char* why = stbi_failure_reason();
        fail_input(path + ": cannot decode image (" + (why ? why : "unknown reason") + ")");
    }
    if (w <= 0 || h <= 0) fail_input(path + ": image has zero size");

    Image image;
    image.height = h;
    image.width = w;
    image.rgb.assign(pixels.get(), pixels.get() + static_cast<size_t>(w) * h * 3);
    return image;
}

void write_png(const std::string& path, const Image& image) {
    if (image.height <= 0 || image.width <= 0)
        fail_input(path + ": cannot write an empty image (" + std::to_string(image.height) + "x" +
                   std::to_string(image.width) + ")");
    if (image.rgb.size() != static_cast<size_t>(image.height) * image.width * 3)
        fail_internal(path + ": image buffer holds " + std::to_string(image.rgb.size()) + " bytes, expected " +
                      std::to_string(static_cast<size_t>(image.height) * image.width * 3));

    std::vector<uint8_t> png;
    if (!stbi_write_png_to_func(append_bytes, &png, image.width, image.height, 3, image.rgb.data(), image.width * 3))
        fail_internal(path + ": PNG encoding failed");

    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) fail_input(tmp + ": cannot open for writing (" + std::strerror(errno) + ")");
        out.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
        out.flush();
        if (!out) {
            std::remove(tmp.c_str());
            fail_input(tmp + ": write failed (" + std::strerror(errno) + ")");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        fail_input(path + ": cannot rename " + tmp + " onto it (" + ec.message() + ")");
    }
}

}  // namespace pda
