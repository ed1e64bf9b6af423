// LRN across channels: oneDNN lrn_forward on plain layout for odd sizes, a channel-window loop
// (double sums) for even sizes.
#include "kernels/cpu/lrn.h"

#include <algorithm>
#include <cmath>

#include "kernels/check.h"

namespace pda {

LrnForward::LrnForward(const LrnParams& p, CpuContext& ctx) : p_(p), ctx_(ctx) {
    PDA_CHECK(p.x.rank >= 2 && p.size >= 1, "lrn shape " + p.x.str());
    // oneDNN's plain layouts stop at rank 6 and its window is symmetric.
    plain_ = p.size % 2 == 0 || p.x.rank > 6 || p.x.rank < 3;
    if (plain_) return;
    // oneDNN: dst = src / (k + alpha/size · Σ src²)^beta over a symmetric window, as ONNX for odd sizes.
    dnnl::memory::desc md = dnnl_plain_md(p.x);
    dnnl::lrn_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::lrn_across_channels, md, p.size,
                              p.alpha, p.beta, p.bias);
    dnnl::lrn_forward::primitive_desc pd(d, dnnl_user_scratchpad_attr(), ctx.engine);
    prim_ = dnnl::lrn_forward(pd);
    src_ = dnnl::memory(md, ctx.engine, DNNL_MEMORY_NONE);
    dst_ = dnnl::memory(md, ctx.engine, DNNL_MEMORY_NONE);
    scratch_.init(pd.scratchpad_desc(), ctx.scratchpad, ctx.engine);
    args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}, {DNNL_ARG_SCRATCHPAD, scratch_.mem()}};
}

void LrnForward::run(const float* x, float* y) {
    if (plain_) return run_plain(x, y);
    src_.set_data_handle(const_cast<float*>(x));
    dst_.set_data_handle(y);
    scratch_.bind();
    prim_.execute(ctx_.stream, args_);
    ctx_.stream.wait();
}

void LrnForward::run_plain(const float* x, float* y) const {
    const int64_t n = p_.x[0], c = p_.x[1], inner = p_.x.numel() / std::max<int64_t>(n * c, 1);
    const int64_t before = (p_.size - 1) / 2, after = p_.size - 1 - before;
    const double scale = static_cast<double>(p_.alpha) / static_cast<double>(p_.size);
#pragma omp parallel for collapse(2)
    for (int64_t b = 0; b < n; ++b) {
        for (int64_t ch = 0; ch < c; ++ch) {
            const int64_t lo = std::max<int64_t>(0, ch - before), hi = std::min(c - 1, ch + after);
            const float* xb = x + b * c * inner;
            float* yp = y + (b * c + ch) * inner;
            for (int64_t i = 0; i < inner; ++i) {
                double sq = 0;
                for (int64_t k = lo; k <= hi; ++k) {
                    double v = xb[k * inner + i];
                    sq += v * v;
                }
                double den = std::pow(static_cast<double>(p_.bias) + scale * sq, static_cast<double>(p_.beta));
                yp[i] = static_cast<float>(xb[ch * inner + i] / den);
            }
        }
    }
}

}  // namespace pda
