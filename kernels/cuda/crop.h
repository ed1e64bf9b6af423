// The CUDA kernels of exact incremental inference (launchers; kernels in crop.cu), one element per
// thread over the PDA_HD functions of kernels/crop_math.h that the CPU runs too: gather an op's input
// tile or crop per image (and, with a whole-map tile, assemble full maps from the clean map and each
// image's crop), replicate a clean value over the batch, correct an average pool's divisor, and each
// image's window from a block of the PDA loop. Crop origins come from the plan's tables
// (engine/incremental_plan.h) indexed by each image's window row and column, both on the device: the
// host writes nothing per image. Pointers are device pointers; every launch is on `stream` and checked.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/crop_math.h"
#include "kernels/cuda/pda_kernels.h"

namespace pda::cuda {

// dst (B, C, th, tw) = crop_batch_gather of every element: each image's tile of s. rows, cols: B window
// top rows and left columns (device int32).
void crop_gather(float* dst, const CropTile& t, const CropSource& s, const int32_t* rows, const int32_t* cols,
                 cudaStream_t stream);

// dst (B, n) = clean (n) for every image.
void crop_broadcast(float* dst, const float* clean, int64_t n, int64_t batch, cudaStream_t stream);

// y (B, C, ch, cw) *= factor (map_h, map_w) at crop_batch_factor_offset: an average pool's divisor,
// from the unpadded op's to the full op's (IncrementalPlan's avg_factor).
void crop_scale(float* y, const float* factor, int64_t batch, int64_t channels, int64_t ch, int64_t cw, int64_t map_w,
                const int32_t* oy, const int32_t* ox, const int32_t* rows, const int32_t* cols, cudaStream_t stream);

// rows, cols (images) = the window of each image of the PDA batch of block b (crop_image_window):
// images past b.count·S take the block's last window.
void crop_window_positions(int32_t* rows, int32_t* cols, int64_t images, const PdaWindows& b, cudaStream_t stream);

}  // namespace pda::cuda
