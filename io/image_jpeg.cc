// JPEG decoding over libjpeg-turbo (Debian libjpeg62-turbo-dev) with the decoder's defaults, the
// settings PIL decodes with (accurate integer IDCT, fancy upsampling, block smoothing), so pixels
// match torchvision's. Fails closed: every libjpeg warning (premature end, corrupt data) stops the
// decode, and so does a progressive file with absurdly many scans. libjpeg reports errors through
// error_exit, which longjmps here; functions that arm setjmp hold only trivially destructible locals.
#include <cstdio>  // jpeglib.h needs FILE and size_t first
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <csetjmp>
#include <cstring>

#include "io/image_decoders.h"
#include "pda/error.h"

namespace pda::image_detail {
namespace {

// libjpeg's simple progression has 10 scans and encoders rarely exceed a few dozen; each scan of a
// progressive file walks the whole image, so thousands of tiny scans would be a cheap way to burn
// CPU (djpeg's -maxscans, TurboJPEG's scan limit).
constexpr int kMaxJpegScans = 500;

enum class JpegStop { kNone, kError, kWarning, kScans, kLayout };

struct JpegState {
    jpeg_decompress_struct cinfo{};
    jpeg_error_mgr err{};
    jpeg_progress_mgr progress{};
    std::jmp_buf jump{};
    JpegStop stop = JpegStop::kNone;
    char message[JMSG_LENGTH_MAX] = {};
    bool created = false;
    ~JpegState() {
        if (created) jpeg_destroy_decompress(&cinfo);  // safe on a half-created or failed decoder
    }
};

// The callbacks libjpeg calls from C; they never throw, and end a decode only by longjmp.
[[noreturn]] void stop_decoding(j_common_ptr c, JpegStop why) {
    auto* s = static_cast<JpegState*>(c->client_data);
    s->stop = why;
    (*c->err->format_message)(c, s->message);
    std::longjmp(s->jump, 1);
}

void jpeg_on_error(j_common_ptr c) { stop_decoding(c, JpegStop::kError); }

// Warnings (msg_level -1) mean the data was damaged and libjpeg patched it up (filler for missing
// data, a resynchronised scan): fatal, except those about metadata we do not use.
void jpeg_on_message(j_common_ptr c, int msg_level) {
    if (msg_level >= 0) return;  // trace messages
    const int code = c->err->msg_code;
    if (code == JWRN_JFIF_MAJOR || code == JWRN_BOGUS_ICC) return;
    stop_decoding(c, JpegStop::kWarning);
}

void jpeg_on_output(j_common_ptr) {}  // libjpeg's default prints to stderr; messages go in the error

void jpeg_on_progress(j_common_ptr c) {
    auto* d = reinterpret_cast<j_decompress_ptr>(c);
    if (c->is_decompressor && d->input_scan_number > kMaxJpegScans) {
        auto* s = static_cast<JpegState*>(c->client_data);
        s->stop = JpegStop::kScans;
        std::longjmp(s->jump, 1);
    }
}

// Creates the decoder over the bytes and reads the header up to the first scan. False when stopped.
bool jpeg_read_header_from(JpegState* s, const uint8_t* data, size_t size) {
    if (setjmp(s->jump)) return false;
    s->created = true;
    jpeg_create_decompress(&s->cinfo);  // keeps err and client_data, zeroes the rest
    s->cinfo.progress = &s->progress;
    jpeg_mem_src(&s->cinfo, data, static_cast<unsigned long>(size));
    jpeg_read_header(&s->cinfo, TRUE);
    return true;
}

// Decodes every scanline into `out` (rows of width × components bytes) and reads up to the
// end-of-image marker. False when stopped.
bool jpeg_read_pixels(JpegState* s, uint8_t* out, size_t row_bytes, int components) {
    if (setjmp(s->jump)) return false;
    j_decompress_ptr d = &s->cinfo;
    jpeg_start_decompress(d);
    if (d->output_width != d->image_width || d->output_height != d->image_height ||
        d->output_components != components) {
        s->stop = JpegStop::kLayout;
        return false;
    }
    while (d->output_scanline < d->output_height) {
        JSAMPROW row = out + static_cast<size_t>(d->output_scanline) * row_bytes;
        if (jpeg_read_scanlines(d, &row, 1) != 1) {  // only a suspending source returns 0; ours never does
            s->stop = JpegStop::kLayout;
            return false;
        }
    }
    jpeg_finish_decompress(d);
    return true;
}

[[noreturn]] void fail_jpeg(const std::string& path, const JpegState& s) {
    switch (s.stop) {
        case JpegStop::kWarning:
            fail_input(path + ": truncated or corrupt JPEG (" + s.message + ")");
        case JpegStop::kScans:
            fail_input(path + ": JPEG with more than " + std::to_string(kMaxJpegScans) +
                       " scans (a progressive JPEG has about 10), refused");
        case JpegStop::kLayout:
            fail_internal(path + ": libjpeg returned rows of an unexpected size");
        default:
            fail_input(path + ": corrupt or unsupported JPEG (" + s.message + ")");
    }
}

// PIL's conversion of a CMYK JPEG: the samples are read as Adobe's inverted CMYK ("CMYK;I") and
// cmyk2rgb gives R = (255 - K) - (C · (255 - K)) / 255 with its rounding MULDIV255; in libjpeg's raw
// samples (c = 255 - C, k = 255 - K) that is k - muldiv255(255 - c, k). In place: out ≤ in always.
void cmyk_to_rgb(std::vector<uint8_t>& px, size_t pixels) {
    auto muldiv255 = [](int a, int b) {
        const int t = a * b + 128;
        return ((t >> 8) + t) >> 8;
    };
    for (size_t i = 0; i < pixels; ++i) {
        const int k = px[i * 4 + 3];
        for (int ch = 0; ch < 3; ++ch) px[i * 3 + ch] = static_cast<uint8_t>(k - muldiv255(255 - px[i * 4 + ch], k));
    }
    px.resize(pixels * 3);
    px.shrink_to_fit();
}

}  // namespace

Image decode_jpeg(const std::string& path, const uint8_t* data, size_t size) {
    JpegState s;
    s.cinfo.err = jpeg_std_error(&s.err);
    s.err.error_exit = jpeg_on_error;
    s.err.emit_message = jpeg_on_message;
    s.err.output_message = jpeg_on_output;
    s.cinfo.client_data = &s;
    s.progress.progress_monitor = jpeg_on_progress;

    if (!jpeg_read_header_from(&s, data, size)) fail_jpeg(path, s);
    check_image_size(path, s.cinfo.image_width, s.cinfo.image_height);
    const bool cmyk = s.cinfo.jpeg_color_space == JCS_CMYK || s.cinfo.jpeg_color_space == JCS_YCCK;
    s.cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;  // libjpeg replicates grey into RGB itself
    const int components = cmyk ? 4 : 3;

    Image image;
    image.height = static_cast<int>(s.cinfo.image_height);
    image.width = static_cast<int>(s.cinfo.image_width);
    const size_t pixels = static_cast<size_t>(image.width) * image.height;
    image.rgb.resize(pixels * components);
    if (!jpeg_read_pixels(&s, image.rgb.data(), static_cast<size_t>(image.width) * components, components))
        fail_jpeg(path, s);
    if (cmyk) cmyk_to_rgb(image.rgb, pixels);
    return image;
}

}  // namespace pda::image_detail
