// Resize (PIL's antialiased bilinear, re-implemented so results equal torchvision's PIL pipeline),
// centre crop and normalisation. The resize follows Pillow's src/libImaging/Resample.c: the same
// coefficient computation, fixed-point rounding and pass order, because a one-level difference in a
// pixel is already a visible difference in the network's output.
#include "io/preprocess.h"

#include <algorithm>
#include <cmath>

#include "pda/error.h"

namespace pda {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // PIL's PRECISION_BITS for 8-bit images
constexpr int64_t kMaxPixels = int64_t{1} << 27;

double triangle(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

// Per output position: the first input index, how many inputs, and their fixed-point weights
// (ksize slots each).
struct Coeffs {
    int ksize = 0;
    std::vector<int> first, count;
    std::vector<int32_t> weight;
};

Coeffs precompute_coeffs(int in_size, int out_size) {
    const double scale = static_cast<double>(in_size) / out_size;
    const double filterscale = std::max(scale, 1.0);
    const double support = 1.0 * filterscale;  // the triangle's support, widened when downscaling
    Coeffs c;
    c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.first.resize(out_size);
    c.count.resize(out_size);
    c.weight.assign(static_cast<size_t>(out_size) * c.ksize, 0);
    std::vector<double> k(c.ksize);
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        int xmin = static_cast<int>(center - support + 0.5);  // truncation, as PIL does
        if (xmin < 0) xmin = 0;
        int xmax = static_cast<int>(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            k[x] = triangle((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < xmax; ++x) {
            const double w = ww != 0.0 ? k[x] / ww : k[x];
            c.weight[static_cast<size_t>(xx) * c.ksize + x] =
                static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
        }
        c.first[xx] = xmin;
        c.count[xx] = xmax;
    }
    return c;
}

uint8_t clip8(int32_t v) {
    if (v < 0) return 0;
    v >>= kPrecisionBits;
    return static_cast<uint8_t>(v > 255 ? 255 : v);
}

Image resize_horizontal(const Image& in, int out_w) {
    const Coeffs c = precompute_coeffs(in.width, out_w);
    Image out{in.height, out_w, std::vector<uint8_t>(static_cast<size_t>(in.height) * out_w * 3)};
    for (int y = 0; y < in.height; ++y) {
        const uint8_t* row = &in.rgb[static_cast<size_t>(y) * in.width * 3];
        uint8_t* dst = &out.rgb[static_cast<size_t>(y) * out_w * 3];
        for (int xx = 0; xx < out_w; ++xx) {
            const int32_t* k = &c.weight[static_cast<size_t>(xx) * c.ksize];
            const uint8_t* src = row + static_cast<size_t>(c.first[xx]) * 3;
            int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < c.count[xx]; ++x) {
                s0 += src[x * 3 + 0] * k[x];
                s1 += src[x * 3 + 1] * k[x];
                s2 += src[x * 3 + 2] * k[x];
            }
            dst[xx * 3 + 0] = clip8(s0);
            dst[xx * 3 + 1] = clip8(s1);
            dst[xx * 3 + 2] = clip8(s2);
        }
    }
    return out;
}

Image resize_vertical(const Image& in, int out_h) {
    const Coeffs c = precompute_coeffs(in.height, out_h);
    const size_t row_len = static_cast<size_t>(in.width) * 3;
    Image out{out_h, in.width, std::vector<uint8_t>(out_h * row_len)};
    for (int yy = 0; yy < out_h; ++yy) {
        const int32_t* k = &c.weight[static_cast<size_t>(yy) * c.ksize];
        const uint8_t* src = &in.rgb[static_cast<size_t>(c.first[yy]) * row_len];
        uint8_t* dst = &out.rgb[yy * row_len];
        for (size_t i = 0; i < row_len; ++i) {
            int32_t s = 1 << (kPrecisionBits - 1);
            for (int y = 0; y < c.count[yy]; ++y) s += src[y * row_len + i] * k[y];
            dst[i] = clip8(s);
        }
    }
    return out;
}

void check_image(const Image& image) {
    if (image.height <= 0 || image.width <= 0)
        fail_input("preprocess: empty image (" + std::to_string(image.height) + "x" + std::to_string(image.width) +
                   ")");
    if (image.rgb.size() != static_cast<size_t>(image.height) * image.width * 3)
        fail_internal("preprocess: image buffer holds " + std::to_string(image.rgb.size()) + " bytes for " +
                      std::to_string(image.height) + "x" + std::to_string(image.width) + " RGB");
}

void check_preprocess(const Preprocess& pre) {
    if (pre.height <= 0 || pre.width <= 0 || pre.height * pre.width > kMaxPixels)
        fail_input("preprocess: bad input size " + std::to_string(pre.height) + "x" + std::to_string(pre.width));
    if (pre.resize_shorter < 0) fail_input("preprocess: resize_shorter is negative");
    if (pre.crop != "center") fail_input("preprocess: unknown crop \"" + pre.crop + "\" (expected \"center\")");
    if (!std::isfinite(pre.scale) || pre.scale <= 0) fail_input("preprocess: scale must be > 0");
    for (int c = 0; c < 3; ++c) {
        if (!std::isfinite(pre.mean[c])) fail_input("preprocess: mean is not finite");
        if (!std::isfinite(pre.std[c]) || pre.std[c] <= 0) fail_input("preprocess: std must be > 0");
    }
}

}  // namespace

Image resize_bilinear(const Image& image, int out_h, int out_w) {
    check_image(image);
    if (out_h <= 0 || out_w <= 0 || static_cast<int64_t>(out_h) * out_w > kMaxPixels)
        fail_input("resize: bad output size " + std::to_string(out_h) + "x" + std::to_string(out_w));
    // Same pass order as PIL: horizontal first, then vertical; a pass whose size is unchanged is an
    // identity and is skipped.
    Image out = out_w != image.width ? resize_horizontal(image, out_w) : image;
    if (out_h != image.height) out = resize_vertical(out, out_h);
    return out;
}

CropGeometry crop_geometry(int64_t height, int64_t width, const Preprocess& pre) {
    check_preprocess(pre);
    int64_t new_h = pre.height, new_w = pre.width;
    if (pre.resize_shorter > 0) {
        const int64_t s = pre.resize_shorter;
        const int64_t shorter = std::min(height, width), longer = std::max(height, width);
        // torchvision: int(size * long / short), a float division truncated.
        const int64_t new_long = static_cast<int64_t>(static_cast<double>(s * longer) / static_cast<double>(shorter));
        new_w = width <= height ? s : new_long;
        new_h = width <= height ? new_long : s;
    }
    if (new_h * new_w > kMaxPixels)
        fail_input("preprocess: resizing a " + std::to_string(height) + "x" + std::to_string(width) + " image to " +
                   std::to_string(new_h) + "x" + std::to_string(new_w) + " is too large");
    if (new_h < pre.height || new_w < pre.width)
        fail_input("preprocess: the image resized to " + std::to_string(new_h) + "x" + std::to_string(new_w) +
                   " (resize_shorter " + std::to_string(pre.resize_shorter) + ") is smaller than the crop " +
                   std::to_string(pre.height) + "x" + std::to_string(pre.width));
    return {new_h, new_w, (new_h - pre.height) / 2, (new_w - pre.width) / 2};
}

Image displayed_crop(const Image& image, const Preprocess& pre) {
    check_image(image);
    const CropGeometry g = crop_geometry(image.height, image.width, pre);
    const int64_t new_h = g.resized_height, new_w = g.resized_width;
    const Image resized = resize_bilinear(image, static_cast<int>(new_h), static_cast<int>(new_w));

    const int top = static_cast<int>(g.top), left = static_cast<int>(g.left);
    Image out{static_cast<int>(pre.height), static_cast<int>(pre.width),
              std::vector<uint8_t>(static_cast<size_t>(pre.height) * pre.width * 3)};
    const size_t row_len = static_cast<size_t>(pre.width) * 3;
    for (int y = 0; y < out.height; ++y)
        std::copy_n(&resized.rgb[(static_cast<size_t>(top + y) * resized.width + left) * 3], row_len,
                    &out.rgb[y * row_len]);
    return out;
}

Tensor normalize_image(const Image& cropped, const Preprocess& pre) {
    check_image(cropped);
    check_preprocess(pre);
    // One table per network channel over the 256 pixel values. pixel·scale/255 is computed in double
    // and rounded once to float, which equals float32 p/255 for scale 1 and p exactly for scale 255;
    // the subtraction and division are float32, as in torchvision's Normalize.
    float table[3][256];
    for (int c = 0; c < 3; ++c)
        for (int p = 0; p < 256; ++p) {
            const float v = static_cast<float>(static_cast<double>(p) * static_cast<double>(pre.scale) / 255.0);
            table[c][p] = (v - pre.mean[c]) / pre.std[c];
        }
    const int64_t h = cropped.height, w = cropped.width, plane = h * w;
    Tensor t(Shape{1, 3, h, w});  // (1, 3, H, W)
    float* out = t.data();
    for (int c = 0; c < 3; ++c) {
        const int src = pre.bgr ? 2 - c : c;
        float* dst = out + c * plane;
        for (int64_t i = 0; i < plane; ++i) dst[i] = table[c][cropped.rgb[static_cast<size_t>(i) * 3 + src]];
    }
    return t;
}

Image denormalize_image(ConstTensorView x, const Preprocess& pre) {
    check_preprocess(pre);
    if (x.shape.rank != 4 || x.shape[0] != 1 || x.shape[1] != 3)
        fail_input("a preprocessed image must be (1, 3, H, W), got " + x.shape.str());
    Image img;
    img.height = static_cast<int>(x.shape[2]);
    img.width = static_cast<int>(x.shape[3]);
    const int64_t plane = x.shape[2] * x.shape[3];
    img.rgb.resize(static_cast<size_t>(plane) * 3);
    for (int c = 0; c < 3; ++c) {
        const int dst = pre.bgr ? 2 - c : c;
        for (int64_t i = 0; i < plane; ++i) {
            const double v =
                (static_cast<double>(x.data[c * plane + i]) * pre.std[c] + pre.mean[c]) * 255.0 / pre.scale;
            img.rgb[static_cast<size_t>(i) * 3 + dst] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
        }
    }
    return img;
}

Tensor preprocess(const Image& image, const Preprocess& pre) {
    return normalize_image(displayed_crop(image, pre), pre);
}

}  // namespace pda
