// The incremental executor's kernels (crop.h) over the PDA_HD math the CPU runs (kernels/crop_math.h).
// One thread per output element, grid-stride loops, 64-bit indices; no sums, so results never depend
// on the launch configuration. Launchers pick the grid, launch on the stream, check the launch.
#include <algorithm>

#include "kernels/crop_math.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/crop.h"
#include "kernels/cuda/launch.h"

namespace pda::cuda {
namespace {

__global__ void gather_kernel(float* dst, CropTile t, CropSource s, CropWindows win) {
    const int64_t n = t.batch * t.channels * t.td * t.th * t.tw;
    PDA_GRID_LOOP(i, n) dst[i] = crop_batch_gather(i, t, s, win);
}

__global__ void broadcast_kernel(float* dst, const float* clean, int64_t n, int64_t total) {
    PDA_GRID_LOOP(i, total) dst[i] = clean[i % n];
}

__global__ void scale_kernel(float* y, const float* factor, CropTile t, int64_t map_h, int64_t map_w, CropWindows win) {
    const int64_t n = t.batch * t.channels * t.td * t.th * t.tw;
    PDA_GRID_LOOP(i, n) y[i] *= factor[crop_batch_factor_offset(i, t, map_h, map_w, win)];
}

__global__ void window_positions_kernel(int32_t* slices, int32_t* rows, int32_t* cols, int64_t images, PdaWindows w) {
    PDA_GRID_LOOP(b, images) {
        int64_t slice = 0, row = 0, col = 0;
        crop_image_window(b, w, &slice, &row, &col);
        slices[b] = static_cast<int32_t>(slice);
        rows[b] = static_cast<int32_t>(row);
        cols[b] = static_cast<int32_t>(col);
    }
}

}  // namespace

void crop_gather(float* dst, const CropTile& t, const CropSource& s, const CropWindows& win, cudaStream_t stream) {
    const int64_t n = t.batch * t.channels * t.td * t.th * t.tw;
    if (n <= 0) return;
    gather_kernel<<<blocks_for(n), kThreads, 0, stream>>>(dst, t, s, win);
    PDA_CUDA_CHECK_LAUNCH();
}

void crop_broadcast(float* dst, const float* clean, int64_t n, int64_t batch, cudaStream_t stream) {
    if (n <= 0 || batch <= 0) return;
    broadcast_kernel<<<blocks_for(n * batch), kThreads, 0, stream>>>(dst, clean, n, n * batch);
    PDA_CUDA_CHECK_LAUNCH();
}

void crop_scale(float* y, const float* factor, const CropTile& t, int64_t map_h, int64_t map_w, const CropWindows& win,
                cudaStream_t stream) {
    const int64_t n = t.batch * t.channels * t.td * t.th * t.tw;
    if (n <= 0) return;
    scale_kernel<<<blocks_for(n), kThreads, 0, stream>>>(y, factor, t, map_h, map_w, win);
    PDA_CUDA_CHECK_LAUNCH();
}

void crop_window_positions(int32_t* slices, int32_t* rows, int32_t* cols, int64_t images, const PdaWindows& b,
                           cudaStream_t stream) {
    if (images <= 0) return;
    window_positions_kernel<<<blocks_for(images), kThreads, 0, stream>>>(slices, rows, cols, images, b);
    PDA_CUDA_CHECK_LAUNCH();
}

}  // namespace pda::cuda
