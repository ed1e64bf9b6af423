// Convolution on cuDNN (1-D, 2-D, 3-D; groups, strides, dilation, bias, fused ReLU). Built once per
// shape: descriptors are set and the algorithm chosen once per shape key (cudnnFind, cached in the
// CudaContext). FP32 sets CUDNN_FMA_MATH (cuDNN's default math may use TF32 on Hopper); TF32 lets
// cuDNN pick tensor-op algorithms. Asymmetric pads, which cuDNN cannot say, run on a zero-padded
// copy of the input in the workspace. Bias + ReLU use cudnnConvolutionBiasActivationForward.
#pragma once

#include <array>
#include <string>

#include "kernels/cuda/context.h"
#include "kernels/shape.h"

namespace pda::cuda {

struct ConvParams {
    Shape x;  // (N, C, spatial...)
    Shape w;  // (OC, C / group, kernel...)
    Shape y;  // (N, OC, out...)
    int64_t group = 1;
    std::array<int64_t, 3> stride{1, 1, 1};
    std::array<int64_t, 3> pad_begin{};
    std::array<int64_t, 3> pad_end{};
    std::array<int64_t, 3> dilation{1, 1, 1};
    bool has_bias = false;
    bool relu = false;
    bool tf32 = false;
};

class ConvForward {
  public:
    // Chooses the algorithm (or takes it from ctx.conv_algos) and grows ctx's workspace to fit.
    ConvForward(const ConvParams& p, CudaContext& ctx);
    // x: p.x, w: p.w, b: (OC) or null, y: p.y; device pointers, on ctx's stream.
    void run(const float* x, const float* w, const float* b, float* y, CudaContext& ctx);
    size_t workspace_bytes() const { return padded_bytes_ + choice_.workspace; }
    const ConvAlgoChoice& choice() const { return choice_; }

  private:
    std::string key() const;
    void choose(CudaContext& ctx);

    ConvParams p_;
    bool padded_ = false;  // asymmetric pads: convolve a zero-padded copy with pad 0
    Shape xp_;             // the padded input's shape
    size_t padded_bytes_ = 0;
    bool fused_ = false;    // bias + ReLU in one cuDNN call
    bool ctx_find_ = true;  // the algorithm was timed (cudnnFind), not taken from heuristics
    ConvAlgoChoice choice_;
    TensorDesc x_desc_, y_desc_, b_desc_;
    FilterDesc w_desc_;
    ConvDesc conv_desc_;
    ActivationDesc act_desc_;
};

}  // namespace pda::cuda
