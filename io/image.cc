// load_image's front door: the file checks (a regular file, not too large, read whole), the choice of
// decoder by magic bytes (PNG, JPEG, BMP; anything else is refused, named when we know it), the one
// pixel limit all decoders share, and PNG writing over Debian's stb_image_write (which holds the
// implementation already, so STB_IMAGE_WRITE_IMPLEMENTATION is never defined here).
#include "io/image.h"

#include <fcntl.h>
#include <stb/stb_image_write.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "io/image_decoders.h"
#include "pda/error.h"

namespace pda {
namespace image_detail {

void check_image_size(const std::string& path, int64_t width, int64_t height) {
    if (width <= 0 || height <= 0)
        fail_input(path + ": image has no pixels (" + std::to_string(width) + " x " + std::to_string(height) + ")");
    if (width > kMaxImagePixels / height || width > kMaxImageSide || height > kMaxImageSide) {
        const uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
        fail_input(path + ": " + std::to_string(width) + " x " + std::to_string(height) + " = " +
                   std::to_string(pixels) + " pixels, too large (the limit is " + std::to_string(kMaxImagePixels) +
                   " pixels, " + std::to_string(kMaxImageSide) + " a side)");
    }
}

}  // namespace image_detail

namespace {

std::string errno_text() { return std::strerror(errno); }

const char* file_kind(mode_t mode) {
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a plain file";
}

void check_regular_file(const std::string& path, const struct stat& st) {
    if (S_ISDIR(st.st_mode)) fail_input(path + ": is a directory, not a regular file");
    if (!S_ISREG(st.st_mode)) fail_input(path + ": not a regular file (" + file_kind(st.st_mode) + ")");
    if (st.st_size > kMaxImageFileBytes) {
        const int64_t mib = (static_cast<int64_t>(st.st_size) + (1 << 20) - 1) >> 20;
        fail_input(path + ": " + std::to_string(mib) + " MiB, larger than the " +
                   std::to_string(kMaxImageFileBytes >> 20) + " MiB limit for an image file");
    }
}

struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
};

// The whole file, after checking (before opening, so that a FIFO is never opened, and again on the
// open descriptor, in case the path changed in between) that it is a regular file of at most
// kMaxImageFileBytes.
std::vector<uint8_t> read_image_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) fail_input(path + ": no such file");
        fail_input(path + ": cannot open (" + errno_text() + ")");
    }
    check_regular_file(path, st);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) fail_input(path + ": cannot open (" + errno_text() + ")");
    FdCloser closer{fd};
    if (::fstat(fd, &st) != 0) fail_input(path + ": cannot read (" + errno_text() + ")");
    check_regular_file(path, st);

    std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_input(path + ": read error (" + errno_text() + ")");
        if (n == 0) fail_input(path + ": file shrank while being read");
        done += static_cast<size_t>(n);
    }
    return bytes;
}

bool starts_with(const std::vector<uint8_t>& b, const char* magic, size_t at = 0) {
    const size_t n = std::strlen(magic);
    return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}

// Names the formats stb_image used to accept (and a few common others) so that the refusal can say
// what the file is; "" when unknown. TGA has no magic, only an optional footer.
std::string other_format(const std::vector<uint8_t>& b) {
    if (starts_with(b, "GIF87a") || starts_with(b, "GIF89a")) return "a GIF image";
    if (starts_with(b, "8BPS")) return "a Photoshop (PSD) image";
    if (starts_with(b, "#?RADIANCE") || starts_with(b, "#?RGBE")) return "a Radiance HDR image";
    if (starts_with(b, "\x53\x80\xF6\x34")) return "a Softimage PIC image";
    if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && b[2] != 0 && std::strchr(" \t\r\n", b[2]))
        return "a PNM (PBM/PGM/PPM/PAM) image";
    if (starts_with(b, "RIFF") && starts_with(b, "WEBP", 8)) return "a WebP image";
    if (starts_with(b, "II*") || (starts_with(b, "MM") && b.size() >= 4 && b[2] == 0 && b[3] == '*'))
        return "a TIFF image";
    if (starts_with(b, "ftypavif", 4) || starts_with(b, "ftypheic", 4) || starts_with(b, "ftypmif1", 4))
        return "an AVIF or HEIF image";
    if (starts_with(b, "qoif")) return "a QOI image";
    static const char kTgaFooter[] = "TRUEVISION-XFILE.";
    if (b.size() >= 26 && std::memcmp(b.data() + b.size() - 18, kTgaFooter, sizeof kTgaFooter) == 0)
        return "a TGA image";
    return "";
}

void append_bytes(void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* p = static_cast<const uint8_t*>(data);
    out->insert(out->end(), p, p + size);
}

}  // namespace

Image load_image(const std::string& path) {
    const std::vector<uint8_t> bytes = read_image_file(path);
    if (bytes.empty()) fail_input(path + ": empty file, not an image");
    if (starts_with(bytes, "\x89PNG\r\n\x1A\n")) return image_detail::decode_png(path, bytes.data(), bytes.size());
    if (starts_with(bytes, "\xFF\xD8\xFF")) return image_detail::decode_jpeg(path, bytes.data(), bytes.size());
    if (starts_with(bytes, "BM")) return image_detail::decode_bmp(path, bytes.data(), bytes.size());
    const std::string what = other_format(bytes);
    fail_input(path + ": not a PNG, JPEG or BMP file" + (what.empty() ? "" : " (it looks like " + what + ")"));
}

std::vector<uint8_t> encode_png(const Image& image) {
    if (image.height <= 0 || image.width <= 0 ||
        image.rgb.size() != static_cast<size_t>(image.height) * image.width * 3)
        fail_internal("PNG encoding: a " + std::to_string(image.height) + "x" + std::to_string(image.width) +
                      " image with " + std::to_string(image.rgb.size()) + " bytes");
    std::vector<uint8_t> png;
    if (!stbi_write_png_to_func(append_bytes, &png, image.width, image.height, 3, image.rgb.data(), image.width * 3))
        fail_internal("PNG encoding failed");
    return png;
}

void write_png(const std::string& path, const Image& image) {
    if (image.height <= 0 || image.width <= 0)
        fail_input(path + ": cannot write an empty image (" + std::to_string(image.height) + "x" +
                   std::to_string(image.width) + ")");
    if (image.rgb.size() != static_cast<size_t>(image.height) * image.width * 3)
        fail_internal(path + ": image buffer holds " + std::to_string(image.rgb.size()) + " bytes, expected " +
                      std::to_string(static_cast<size_t>(image.height) * image.width * 3));
    const std::vector<uint8_t> png = encode_png(image);

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
