// Preprocessing: photo → network input tensor, and the resized, cropped picture the heatmaps are
// drawn on. Resizing reproduces PIL's BILINEAR resize (what torchvision's Resize does to a PIL
// image), so inputs match a torchvision pipeline bit for bit on PNGs.
#pragma once

#include "io/image.h"
#include "io/model_desc.h"
#include "kernels/tensor.h"

namespace pda {

// The image after resize and centre crop, still 8-bit RGB (height×width = pre.height×pre.width).
// Resize: with pre.resize_shorter = s > 0 the shorter side becomes s and the longer one
// int(s · long / short) (torchvision's rule); with s = 0 the image is resized straight to
// height×width. The filter is PIL's antialiased bilinear: a triangle kernel widened by the
// downscale factor, half-pixel centres, 22-bit fixed-point weights, horizontal pass then vertical,
// rounded to 8 bits after each pass — deterministic and exactly PIL's output. Crop: offsets
// floor((h − H) / 2), floor((w − W) / 2) (Caffe's rule; torchvision rounds half to even, which
// differs by one pixel only when h − H or w − W is odd). An image smaller than the crop after
// resizing is an input error.
Image displayed_crop(const Image& image, const Preprocess& pre);

// Where displayed_crop takes its pixels from: the resized size and the crop's offsets in it.
// Input error as displayed_crop for a size the crop does not fit.
struct CropGeometry {
    int64_t resized_height = 0, resized_width = 0, top = 0, left = 0;
};
CropGeometry crop_geometry(int64_t height, int64_t width, const Preprocess& pre);

// (1, 3, H, W) float32 in the network's input space: displayed_crop, then channel order (BGR swaps
// R and B), then per channel value = pixel / 255 · scale and (value − mean[c]) / std[c], mean and
// std given in the network's channel order. The arithmetic matches torchvision's ToTensor +
// Normalize in float32 (scale 1) and Caffe's raw 0–255 values (scale 255) exactly.
Tensor preprocess(const Image& image, const Preprocess& pre);

// The 8-bit picture of a network input x (1, 3, H, W): normalize_image inverted and rounded, for
// drawing heatmaps of an image given already preprocessed.
Image denormalize_image(ConstTensorView x, const Preprocess& pre);

// Only the normalisation step, on an already-cropped image (H×W taken from the image).
Tensor normalize_image(const Image& cropped, const Preprocess& pre);

// PIL-compatible bilinear resize of an RGB image to out_h×out_w (exposed for tests and for code that
// resizes maps back onto photos).
Image resize_bilinear(const Image& image, int out_h, int out_w);

}  // namespace pda
