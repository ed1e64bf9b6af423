// The CUDA kernels of exact incremental inference (launchers; kernels in crop.cu), one element per
// thread over the PDA_HD functions of kernels/crop_math.h that the CPU runs too: gather an op's input
// tile or crop per image (and, with a whole-map tile, assemble full maps from the clean map and each
// image's crop), replicate a clean value over the batch, correct an average pool's divisor, and each
// image's window from a block of the PDA loop. Crop origins come from the plan's tables
// (engine/incremental_plan.h) indexed by each image's window slice, row and column, all on the device:
// the host writes nothing per image. Maps have three spatial axes (an image's depth 1). Pointers are
// device pointers; every launch is on `stream` and checked.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/crop_math.h"
#include "kernels/cuda/pda_kernels.h"

namespace pda::cuda {

// dst (B, C, td, th, tw) = crop_batch_gather of every element: each image's tile of s. win: B window
// front slices, top rows and left columns (device int32).
void crop_gather(float* dst, const CropTile& t, const CropSource& s, const CropWindows& win, cudaStream_t stream);

// dst (B, n) = clean (n) for every image.
void crop_broadcast(float* dst, const float* clean, int64_t n, int64_t batch, cudaStream_t stream);

// y (B, C, td, th, tw), each image's crop t of an output whose maps are (map_d, map_h, map_w): y *=
// factor (map_d, map_h, map_w) at crop_batch_factor_offset: an average pool's divisor, from the
// unpadded op's to the full op's (IncrementalPlan's avg_factor).
void crop_scale(float* y, const float* factor, const CropTile& t, int64_t map_h, int64_t map_w, const CropWindows& win,
                cudaStream_t stream);

// slices, rows, cols (images) = the window of each image of the PDA batch of block b
// (crop_image_window): images past b.count·S take the block's last window.
void crop_window_positions(int32_t* slices, int32_t* rows, int32_t* cols, int64_t images, const PdaWindows& b,
                           cudaStream_t stream);

}  // namespace pda::cuda
