// Convolution (1-D, 2-D, 3-D; groups, strides, asymmetric pads, dilation, bias, fused ReLU) on
// oneDNN. Built once per shape: the primitive picks its own layouts, the constant weights are
// reordered to them at construction; src/dst in the caller's layouts (kernels/cpu/dnnl_util.h),
// reordered from/to the primitive's own where they differ (never when both are blocked).
#pragma once

#include <array>
#include <dnnl.hpp>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/conv_params.h"
#include "kernels/cpu/context.h"
#include "kernels/cpu/dnnl_util.h"
#include "kernels/tensor.h"

namespace pda {

// kBoth: channels in whole blocks of 16 on both sides (per group too, or depthwise); kDst: only the
// output's (a first layer on an image's 3 channels); kLast: output channels that are no whole blocks
// (a last layer with 1000 classes, a volume's first layer with 8 maps), groups of one: the output
// channels last, the layout of oneDNN's brgconv kernels for it, and the input as the kernel reads it
// (given blocked where it has whole blocks, reordered); kNone: neither.
enum class ConvBlocking { kNone, kDst, kLast, kBoth };

class ConvForward {
  public:
    // weights: (OC, C/g, k...) plain, read once here. bias: (OC) or null; when has_bias and bias is
    // null here, run() receives it each time. src/dst: how x and y lie in the caller's memory.
    ConvForward(const ConvParams& p, const ConstFloats& weights, const float* bias, CpuContext& ctx,
                Layout src = Layout::kPlain, Layout dst = Layout::kPlain);
    void run(const float* x, float* y, const float* runtime_bias = nullptr);  // x: p.x, y: p.y
    // Which sides the convolution computes in the blocked or channels-last layout (those may be given so).
    static ConvBlocking blocking(const ConvParams& p);
    // Whether ctx.winograd asks oneDNN's Winograd kernel for it (2-D, 3 × 3, stride 1, no dilation,
    // no groups); it is taken where oneDNN has one for the shapes.
    static bool winograd_shape(const ConvParams& p);
    bool winograd() const { return winograd_; }
    const std::string& impl() const { return impl_; }  // oneDNN's name of the kernel that runs
    size_t scratchpad_bytes() const { return inner_ ? inner_bytes_ : scratch_.bytes(); }

  private:
    ConvParams p_;
    CpuContext& ctx_;
    dnnl::convolution_forward prim_;
    DnnlPlainInput src_;
    DnnlPlainOutput dst_;
    dnnl::memory weights_, bias_;
    DnnlScratchpad scratch_;
    std::unordered_map<int, dnnl::memory> args_;  // built once; handles are updated in place
    bool runtime_bias_ = false;
    bool winograd_ = false;
    // A padded convolution without a fast kernel for its padding runs unpadded (inner_), with a
    // buffer in the shared scratchpad after the inner one's own scratchpad (inner_offset_):
    // kPasteOutput: a 1 × 1 convolution, whose output lies there and is pasted into y inside fill_
    //   (per channel: the bias, after the ReLU);
    // kPadInput: any other (AlexNet's first layer below AVX-512), whose input is copied there inside
    //   zeros (fill_), the padding made explicit.
    enum class Around { kNone, kPasteOutput, kPadInput };
    void set_fill(const float* bias);
    bool take_padded_input(const ConstFloats& weights, const float* bias, Layout src, Layout dst);
    std::string impl_;  // oneDNN's implementation (of inner_ where there is one)
    Around around_ = Around::kNone;
    std::unique_ptr<ConvForward> inner_;
    Layout src_layout_ = Layout::kPlain, dst_layout_ = Layout::kPlain;
    std::vector<float> fill_;
    size_t inner_offset_ = 0, inner_bytes_ = 0;
};

}  // namespace pda
