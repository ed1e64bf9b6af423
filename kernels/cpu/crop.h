// The gathers of exact incremental inference on the CPU, with the names and arguments of their CUDA
// twins (kernels/cuda/crop.h) over the same index math (kernels/crop_math.h): an op input's tile or
// crop per image (or, with a whole-map tile, full maps assembled from the clean map and each image's
// crop), a clean value replicated over the batch, an average pool's divisor corrected. Maps have three
// spatial axes (an image's depth 1). The CPU gathers whole rows (crop_gather_row, and row copies inside
// the map), element for element what crop_batch_gather gives; parallel over (image, channel) maps.
#pragma once

#include <cstdint>

#include "kernels/crop_math.h"

namespace pda::cpu {

// dst (B, C, td, th, tw) = each image's tile of s; win: each image's window.
// v = B (channel_block()): source, clean map and tile in oneDNN's blocked layout (B, C/B, td, th, tw, B)
// (C a multiple of B); v = C: channels last (B, td, th, tw, C); the same values as the plain gather in
// that layout.
void crop_gather(float* dst, const CropTile& t, const CropSource& s, const CropWindows& win, int64_t v = 1);

// dst (B, n) = clean (n) for every image.
void crop_broadcast(float* dst, const float* clean, int64_t n, int64_t batch);

// y (B, C, td, th, tw), each image's crop t of an output whose maps are (map_d, map_h, map_w): y *=
// factor (map_d, map_h, map_w) at crop_batch_factor_offset.
void crop_scale(float* y, const float* factor, const CropTile& t, int64_t map_h, int64_t map_w, const CropWindows& win);

}  // namespace pda::cpu
