// Local response normalisation across channels, ONNX definition:
//   y = x / (bias + alpha/size · Σ_{c' ∈ [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉]} x[c']²)^beta.
// oneDNN runs odd sizes (its window is symmetric); even sizes, whose window leans right, run in
// plain C++.
#pragma once

#include <dnnl.hpp>
#include <unordered_map>

#include "kernels/cpu/context.h"
#include "kernels/cpu/dnnl_util.h"
#include "kernels/tensor.h"

namespace pda {

struct LrnParams {
    Shape x;  // (N, C, ...)
    int64_t size = 5;
    float alpha = 1e-4f, beta = 0.75f, bias = 1.f;
};

class LrnForward {
  public:
    LrnForward(const LrnParams& p, CpuContext& ctx);
    void run(const float* x, float* y);
    size_t scratchpad_bytes() const { return scratch_.bytes(); }

  private:
    void run_plain(const float* x, float* y) const;

    LrnParams p_;
    CpuContext& ctx_;
    bool plain_ = false;
    dnnl::lrn_forward prim_;
    dnnl::memory src_, dst_;
    DnnlScratchpad scratch_;
    std::unordered_map<int, dnnl::memory> args_;
};

}  // namespace pda
