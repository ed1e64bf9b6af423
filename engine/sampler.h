// Samplers: where the values that replace a window come from (METHOD.md §3). One interface for
// occlusion (constant fill), marginal (same place in other images) and conditional (Gaussian of the
// window given its ring). Samplers work in the network's input space, on whole blocks of windows,
// and key every random number by (seed, window index, sample index), so results never depend on
// batch size or threads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/windows.h"
#include "kernels/tensor.h"

namespace pda {

class Sampler {
  public:
    virtual ~Sampler() = default;
    virtual std::string name() const = 0;
    // Samples per window actually drawn when `requested` are asked for (occlusion: always 1).
    virtual int64_t samples_per_window(int64_t requested) const { return requested; }
    // Called once per explained image x (1, C, H, W) before any draw; precomputes what is per image
    // (e.g. each window's conditional mean) for the first `windows` windows of the grid, the only
    // ones draw() will be asked for (grid.count() for a whole explanation, fewer in benchmarks).
    virtual void begin_image(ConstTensorView x, const WindowGrid& grid, int64_t windows, uint64_t seed) = 0;
    // Writes samples [0, S) of windows [w0, w1) into out, shape (w1 − w0, S, C, k, k); w1 ≤ the
    // windows prepared by begin_image.
    virtual void draw(int64_t w0, int64_t w1, int64_t S, float* out) = 0;
    // Facts for the summary (parameters, fitted file, ridge used, ...).
    virtual std::map<std::string, std::string> describe() const = 0;
};

}  // namespace pda
