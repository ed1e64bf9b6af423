// Pooling on the CPU: MaxPool and AveragePool over 1-3 spatial axes (pads, strides, dilation, ceil
// mode, count_include_pad) on oneDNN, with two C++ paths: max pools on the blocked layout (oneDNN
// 2.6's AVX2 kernel moved 8 GB/s where this one moves about 20) and the one case oneDNN cannot say
// (averages whose window reaches the ceil-mode extension while padding counts); global pools.
#pragma once

#include <array>
#include <dnnl.hpp>
#include <unordered_map>

#include "kernels/cpu/context.h"
#include "kernels/cpu/dnnl_util.h"
#include "kernels/tensor.h"

namespace pda {

enum class PoolKind { kMax, kAverage };

struct PoolParams {
    PoolKind kind = PoolKind::kMax;
    Shape x;  // (N, C, spatial...)
    Shape y;  // (N, C, out...): in ceil mode the caller's output size decides the extra right padding
    std::array<int64_t, 3> kernel{1, 1, 1};
    std::array<int64_t, 3> stride{1, 1, 1};
    std::array<int64_t, 3> pad_begin{};
    std::array<int64_t, 3> pad_end{};
    std::array<int64_t, 3> dilation{1, 1, 1};
    // Average: padded positions count in the divisor; positions of the ceil-mode extension never do
    // (ONNX reference, PyTorch).
    bool count_include_pad = false;
};

class PoolForward {
  public:
    // src, dst: how x and y lie in memory (blocked only where runs_on_onednn(p)).
    PoolForward(const PoolParams& p, CpuContext& ctx, Layout src = Layout::kPlain, Layout dst = Layout::kPlain);
    void run(const float* x, float* y);
    size_t scratchpad_bytes() const { return scratch_.bytes(); }
    // Whether the C++ max pool on the blocked layout runs (else oneDNN or the plain average path).
    bool blocked_max() const { return blocked_max_; }
    // False for the averages oneDNN would divide wrongly, which run in plain C++ on plain layout.
    static bool runs_on_onednn(const PoolParams& p);

  private:
    void run_plain(const float* x, float* y) const;
    template <int64_t B>
    void run_blocked_max(const float* x, float* y) const;

    PoolParams p_;
    CpuContext& ctx_;
    bool plain_ = false;
    bool blocked_max_ = false;
    dnnl::pooling_v2_forward prim_;
    DnnlPlainInput src_;
    DnnlPlainOutput dst_;
    DnnlScratchpad scratch_;
    std::unordered_map<int, dnnl::memory> args_;
};

// y (N, C, 1, ...) = mean or max of x (N, C, spatial...) over the spatial axes; x in any layout
// (y, one value per channel, is the same in all; the same bits too: one summation order).
void global_pool_forward(PoolKind kind, ConstTensorView x, TensorView y, Layout x_layout = Layout::kPlain);

}  // namespace pda
