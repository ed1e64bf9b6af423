// The gathers of exact incremental inference on the CPU, with the names and arguments of their CUDA
// twins (kernels/cuda/crop.h) over the same index math (kernels/crop_math.h): an op input's tile or
// crop per image (or, with a whole-map tile, full maps assembled from the clean map and each image's
// crop), a clean value replicated over the batch, an average pool's divisor corrected. The CPU gathers
// whole rows (crop_gather_row, and row copies inside the map), element for element what
// crop_batch_gather gives; parallel over (image, channel) planes.
#pragma once

#include <cstdint>

#include "kernels/crop_math.h"

namespace pda::cpu {

// dst (B, C, th, tw) = each image's tile of s; rows, cols: B window top rows and left columns.
// v = 16: source, clean map and tile in oneDNN's blocked layout (B, C/16, th, tw, 16) (C a multiple of
// 16), the same values as the plain gather in that layout.
void crop_gather(float* dst, const CropTile& t, const CropSource& s, const int32_t* rows, const int32_t* cols,
                 int64_t v = 1);

// dst (B, n) = clean (n) for every image.
void crop_broadcast(float* dst, const float* clean, int64_t n, int64_t batch);

// y (B, C, ch, cw) *= factor (map_h, map_w) at crop_batch_factor_offset.
void crop_scale(float* y, const float* factor, int64_t batch, int64_t channels, int64_t ch, int64_t cw, int64_t map_w,
                const int32_t* oy, const int32_t* ox, const int32_t* rows, const int32_t* cols);

}  // namespace pda::cpu
