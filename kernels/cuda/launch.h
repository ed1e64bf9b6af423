// Launch shape of the element-wise kernels: 256 threads a block, a grid of at most 65535·8 blocks,
// and grid-stride loops over 64-bit indices, so any size runs and results never depend on the grid.
#pragma once

#include <algorithm>
#include <cstdint>

namespace pda::cuda {

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n) {
    const int64_t b = (n + kThreads - 1) / kThreads;
    return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(b, 1), 65535 * 8));
}

}  // namespace pda::cuda

// for (int64_t i = this thread's first index; i < n; i += all threads of the grid)
#define PDA_GRID_LOOP(i, n) \
    for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (n); i += int64_t{gridDim.x} * blockDim.x)
