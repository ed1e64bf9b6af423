// oneDNN convolution: weights in the layout the primitive chooses, packed once; activations plain
// (the primitive chooses, reorders around it) or blocked (given as they are); the context's shared
// scratchpad.
#include "kernels/cpu/conv.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/check.h"

namespace pda {

namespace {

// A convolution whose kernel covers one position and whose output is its input padded: every output
// position outside the input sees only padding, so it is the bias (after the ReLU).
bool pointwise_padded(const ConvParams& p) {
    if (p.group != 1) return false;
    bool padded = false;
    for (int i = 0; i < p.x.rank - 2; ++i) {
        if (p.w[2 + i] != 1 || p.stride[i] != 1 || p.dilation[i] != 1 ||
            p.y[2 + i] != p.x[2 + i] + p.pad_begin[i] + p.pad_end[i])
            return false;
        padded = padded || p.pad_begin[i] > 0 || p.pad_end[i] > 0;
    }
    return padded;
}

// y (N, C, out...) = t (N, C, in...) at offset pad_begin, fill[c] around it; both in layout l, seen
// as (N, G, D, H, W, V) with (G, V) = (C, 1) plain, (C / B, B) blocked, (1, C) channels last.
void paste_padded(const float* t, float* y, const Shape& ts, const Shape& ys, const std::array<int64_t, 3>& pad_begin,
                  Layout l, const float* fill) {
    const int nd = ys.rank - 2;
    const int64_t c = ys[1], v = l == Layout::kPlain ? 1 : l == Layout::kBlocked ? channel_block() : c, g = c / v;
    std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1}, pb{0, 0, 0};
    for (int i = 0; i < nd; ++i) {
        in[3 - nd + i] = ts[2 + i];
        out[3 - nd + i] = ys[2 + i];
        pb[3 - nd + i] = pad_begin[i];
    }
    const int64_t rows = ys[0] * g * out[0] * out[1];
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t yy = r % out[1], z = r / out[1] % out[0], ng = r / (out[0] * out[1]), gi = ng % g;
        float* row = y + r * out[2] * v;
        const float* f = fill + gi * v;
        const int64_t tz = z - pb[0], ty = yy - pb[1];
        const bool inside = tz >= 0 && tz < in[0] && ty >= 0 && ty < in[1];
        for (int64_t x = 0; x < out[2]; ++x) {
            const int64_t tx = x - pb[2];
            if (inside && tx == 0) {  // the input's row, at once
                std::memcpy(row + x * v, t + ((ng * in[0] + tz) * in[1] + ty) * in[2] * v,
                            sizeof(float) * static_cast<size_t>(in[2] * v));
                x += in[2] - 1;
                continue;
            }
            std::memcpy(row + x * v, f, sizeof(float) * static_cast<size_t>(v));
        }
    }
}

// oneDNN's GEMM-based or reference convolution: several times slower than its direct kernels.
bool slow_kernel(const std::string& impl) {
    return impl.rfind("ref", 0) == 0 || impl.find("gemm") != std::string::npos;
}

}  // namespace

ConvForward::ConvForward(const ConvParams& p, const ConstFloats& weights, const float* bias, CpuContext& ctx,
                         Layout src, Layout dst)
    : p_(p), ctx_(ctx) {
    using md = dnnl::memory::desc;
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const int nd = p.x.rank - 2;
    PDA_CHECK(nd >= 1 && nd <= 3 && p.w.rank == p.x.rank && p.y.rank == p.x.rank, "conv ranks " + p.x.str());

    dnnl::memory::dims strides, dil, pl, pr;
    for (int i = 0; i < nd; ++i) {
        int64_t ext = p.dilation[i] * (p.w[2 + i] - 1) + 1;
        // Right padding that makes oneDNN's floor formula give exactly the output size asked for.
        int64_t need = (p.y[2 + i] - 1) * p.stride[i] + ext - p.x[2 + i] - p.pad_begin[i];
        strides.push_back(p.stride[i]);
        dil.push_back(p.dilation[i] - 1);
        pl.push_back(p.pad_begin[i]);
        pr.push_back(std::max(p.pad_end[i], need));
    }

    // Weights as oneDNN sees them: (g, OC/g, C/g, k...) when grouped.
    dnnl::memory::dims wdims = dnnl_dims(p.w);
    md w_plain = dnnl_plain_md(p.w);
    if (p.group > 1) {
        wdims.insert(wdims.begin(), p.group);
        wdims[1] /= p.group;
        static const tag grouped[] = {tag::abcd, tag::abcde, tag::abcdef};
        w_plain = md(wdims, dt::f32, grouped[nd - 1]);
    }
    const dt in_type = ctx.bf16 ? dt::bf16 : dt::f32;  // source and weights as the primitive reads them
    md w_any(wdims, in_type, tag::any);
    md b_md = p.has_bias ? md({p.w[0]}, dt::f32, tag::a) : md();
    dnnl::primitive_attr attr = dnnl_user_scratchpad_attr();
    if (p.relu) {
        dnnl::post_ops ops;
        ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        attr.set_post_ops(ops);
    }
    auto make_pd = [&](const md& s, const md& y, dnnl::algorithm alg = dnnl::algorithm::convolution_direct) {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, alg, s, w_any, b_md, y, strides, dil, pl,
                                          pr);
        return dnnl::convolution_forward::primitive_desc(d, attr, ctx.engine);
    };
    // The kernel depends on the shapes only, never on the caller's layouts, so that a value computes
    // to the same bits whichever layout it lies in: oneDNN's blocked layout on each side whose
    // channels are whole blocks (blocking(p); the caller's plain side reordered to and from it), an
    // output with channels that are no whole blocks channels last, else the primitive's choice.
    // (Should oneDNN have only its reference kernel for a fixed case, the next is taken: still a
    // function of the shapes.)
    const md src_any(dnnl_dims(p.x), in_type, tag::any), dst_any(dnnl_dims(p.y), dt::f32, tag::any);
    dnnl::convolution_forward::primitive_desc pd = make_pd(src_any, dst_any);
    auto take_unless_ref = [&](const md& s, const md& y) {
        dnnl::convolution_forward::primitive_desc fixed = make_pd(s, y);
        if (std::string(fixed.impl_info_str()).rfind("ref", 0) == 0) return false;
        pd = fixed;
        return true;
    };
    // Winograd (ctx.winograd) where oneDNN has it for the shapes; its kernels compute blocked.
    auto take_winograd = [&] {
        try {
            pd = make_pd(dnnl_md(p.x, Layout::kBlocked, in_type), dnnl_md(p.y, Layout::kBlocked),
                         dnnl::algorithm::convolution_winograd);
            return true;
        } catch (const dnnl::error&) {
            return false;
        }
    };
    const ConvBlocking b = blocking(p);
    if (ctx.winograd && b == ConvBlocking::kBoth && winograd_shape(p) && take_winograd()) {
        winograd_ = true;
    } else if (b == ConvBlocking::kLast) {
        const md last = dnnl_md(p.y, Layout::kChannelsLast);
        if (!(blockable(p.x) && take_unless_ref(dnnl_md(p.x, Layout::kBlocked, in_type), last)))
            take_unless_ref(src_any, last);
    } else if (b != ConvBlocking::kNone) {
        take_unless_ref(b == ConvBlocking::kBoth ? dnnl_md(p.x, Layout::kBlocked, in_type) : src_any,
                        dnnl_md(p.y, Layout::kBlocked));
    }
    // A padded 1 × 1 convolution for which oneDNN 2.6 has only its GEMM on plain layouts or its
    // reference kernel (below AVX-512: SqueezeNet's last layer) runs unpadded into the shared
    // scratchpad, and the padding is pasted around it (the bias there).
    const std::string impl = pd.impl_info_str();
    if (pointwise_padded(p) && slow_kernel(impl)) {
        ConvParams q = p;
        for (int i = 0; i < nd; ++i) {
            q.y[2 + i] = p.x[2 + i];
            q.pad_begin[i] = q.pad_end[i] = 0;
        }
        inner_ = std::make_unique<ConvForward>(q, weights, bias, ctx, src, dst);
        around_ = Around::kPasteOutput;
        impl_ = inner_->impl_;
        dst_layout_ = dst;
        fill_.assign(static_cast<size_t>(p.y[1]), 0.f);
        runtime_bias_ = p.has_bias && bias == nullptr;
        if (bias) set_fill(bias);
        inner_offset_ = (inner_->scratchpad_bytes() + 63) / 64 * 64;
        inner_bytes_ = inner_offset_ + sizeof(float) * static_cast<size_t>(q.y.numel());
        ctx.scratchpad.reserve(inner_bytes_);
        return;
    }
    if (slow_kernel(impl) && take_padded_input(weights, bias, src, dst)) return;
    impl_ = impl;
    prim_ = dnnl::convolution_forward(pd);

    src_.init(dnnl_md(p.x, src), pd.src_desc(), ctx.engine);
    dst_.init(dnnl_md(p.y, dst), pd.dst_desc(), ctx.engine);
    weights_ = ctx.packed->get(weights, w_plain, pd.weights_desc(), ctx.engine, ctx.stream);
    if (p.has_bias) {
        bias_ = dnnl::memory(pd.bias_desc(), ctx.engine);
        runtime_bias_ = bias == nullptr;
        if (bias) std::copy(bias, bias + p.w[0], static_cast<float*>(bias_.get_data_handle()));
    }
    scratch_.init(pd.scratchpad_desc(), ctx.scratchpad, ctx.engine);
    args_ = {{DNNL_ARG_SRC, src_.mem()},
             {DNNL_ARG_WEIGHTS, weights_},
             {DNNL_ARG_DST, dst_.mem()},
             {DNNL_ARG_SCRATCHPAD, scratch_.mem()}};
    if (p.has_bias) args_.emplace(DNNL_ARG_BIAS, bias_);
}

bool ConvForward::winograd_shape(const ConvParams& p) {
    if (p.x.rank != 4 || p.group != 1) return false;
    for (int i = 0; i < 2; ++i)
        if (p.w[2 + i] != 3 || p.stride[i] != 1 || p.dilation[i] != 1) return false;
    return true;
}

ConvBlocking ConvForward::blocking(const ConvParams& p) {
    const int64_t g = p.group, c = p.x[1], oc = p.y[1];
    // Output channels that are no whole blocks (a last layer's classes, a first layer's few maps):
    // channels last, the layout oneDNN's fast kernels write them in.
    if (!blockable(p.y)) return g == 1 && channels_last_able(p.y) ? ConvBlocking::kLast : ConvBlocking::kNone;
    if (!blockable(p.x)) return g == 1 ? ConvBlocking::kDst : ConvBlocking::kNone;  // a first layer
    if (g == 1 || (g == c && g == oc)) return ConvBlocking::kBoth;                  // dense or depthwise
    const bool whole = c % g == 0 && oc % g == 0 && (c / g) % channel_block() == 0 && (oc / g) % channel_block() == 0;
    return whole ? ConvBlocking::kBoth : ConvBlocking::kNone;
}

// A padded convolution for which oneDNN has only its GEMM or reference kernel on the padding may
// have a direct kernel without it: below AVX-512 oneDNN 2.6 runs AlexNet's first layer (11 × 11,
// stride 4, pad 2, 3 channels) on `gemm:jit`, and the same layer on an input padded beforehand on
// `jit:avx2` (bench/RESULTS.md). Then the input is copied inside zeros and the convolution runs
// unpadded; the output is the same up to the kernels' order of summation.
bool ConvForward::take_padded_input(const ConstFloats& weights, const float* bias, Layout src, Layout dst) {
    ConvParams q = p_;
    bool padded = false;
    for (int i = 0; i < p_.x.rank - 2; ++i) {
        const int64_t ext = p_.dilation[i] * (p_.w[2 + i] - 1) + 1;
        // The padding after the input that the last output reads (none of it: the input's end
        // unread, a case left as it is).
        const int64_t end = (p_.y[2 + i] - 1) * p_.stride[i] + ext - p_.x[2 + i] - p_.pad_begin[i];
        if (end < 0) return false;
        q.x[2 + i] = p_.pad_begin[i] + p_.x[2 + i] + end;
        q.pad_begin[i] = q.pad_end[i] = 0;
        padded = padded || p_.pad_begin[i] > 0 || end > 0;
    }
    if (!padded) return false;
    auto inner = std::make_unique<ConvForward>(q, weights, bias, ctx_, src, dst);
    if (slow_kernel(inner->impl_)) return false;
    inner_ = std::move(inner);
    around_ = Around::kPadInput;
    impl_ = inner_->impl_;
    src_layout_ = src;
    fill_.assign(static_cast<size_t>(p_.x[1]), 0.f);
    inner_offset_ = (inner_->scratchpad_bytes() + 63) / 64 * 64;
    inner_bytes_ = inner_offset_ + sizeof(float) * static_cast<size_t>(q.x.numel());
    ctx_.scratchpad.reserve(inner_bytes_);
    return true;
}

void ConvForward::set_fill(const float* bias) {
    for (size_t c = 0; c < fill_.size(); ++c) fill_[c] = p_.relu ? std::max(bias[c], 0.f) : bias[c];
}

void ConvForward::run(const float* x, float* y, const float* runtime_bias) {
    if (around_ == Around::kPadInput) {  // the input inside zeros, after the inner one's scratchpad
        float* t = reinterpret_cast<float*>(static_cast<char*>(ctx_.scratchpad.data()) + inner_offset_);
        paste_padded(x, t, p_.x, inner_->p_.x, p_.pad_begin, src_layout_, fill_.data());
        inner_->run(t, y, runtime_bias);
        return;
    }
    if (inner_) {
        if (runtime_bias_) {
            PDA_CHECK(runtime_bias != nullptr, "conv: bias expected at run time");
            set_fill(runtime_bias);
        }
        // The inner convolution's scratchpad first, then its output: bound at each run, as the
        // shared buffer may have grown since.
        float* t = reinterpret_cast<float*>(static_cast<char*>(ctx_.scratchpad.data()) + inner_offset_);
        inner_->run(x, t, runtime_bias);
        paste_padded(t, y, inner_->p_.y, p_.y, p_.pad_begin, dst_layout_, fill_.data());
        return;
    }
    if (runtime_bias_) {
        PDA_CHECK(runtime_bias != nullptr, "conv: bias expected at run time");
        bias_.set_data_handle(const_cast<float*>(runtime_bias));
    }
    src_.prepare(x, ctx_.stream);
    dst_.target(y);
    scratch_.bind();
    prim_.execute(ctx_.stream, args_);
    dst_.finish(ctx_.stream);
    ctx_.stream.wait();
}

}  // namespace pda
