// Convolution on cuDNN (1-D, 2-D, 3-D; groups, strides, dilation, bias, fused ReLU). Built once per
// shape: descriptors are set and the algorithm chosen once per shape key (cudnnFind, cached in the
// CudaContext). FP32 sets CUDNN_FMA_MATH (cuDNN's default math may use TF32 on Hopper); TF32 lets
// cuDNN pick tensor-op algorithms; FP16 / BF16 convolve 16-bit copies of x and w with FP32 compute
// (tensor-op math) and convert the output back to FP32 with the bias and ReLU. Large batches run in
// chunks of at most ctx.conv_chunk_elements (x + y) so that workspaces, 16-bit copies and the
// algorithm choice stay those of a moderate batch. Asymmetric pads, which cuDNN cannot say, run on a
// zero-padded copy of the chunk's input in the workspace.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "kernels/conv_params.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/storage.h"
#include "kernels/shape.h"

namespace pda::cuda {

struct ConvParams : pda::ConvParams {
    bool tf32 = false;                // FP32 storage only
    Storage storage = Storage::kF32;  // FP16 / BF16: 16-bit x, w, y for cuDNN, FP32 compute
};

class ConvForward {
  public:
    // Chooses the algorithms (or takes them from ctx.conv_algos) and grows ctx's workspace to fit.
    ConvForward(const ConvParams& p, CudaContext& ctx);
    // 16-bit storage: converts the FP32 weights w (p.w, device) into the op's own 16-bit copy, once.
    void set_weights(const float* w, CudaContext& ctx);
    // x: p.x, w: p.w (ignored with 16-bit storage: set_weights' copy is used), b: (OC) or null,
    // y: p.y; device pointers, FP32, on ctx's stream.
    void run(const float* x, const float* w, const float* b, float* y, CudaContext& ctx);
    size_t workspace_bytes() const { return in_bytes_ + out_bytes_ + algo_workspace_; }
    const ConvAlgoChoice& choice() const { return parts_.front().choice; }
    int64_t chunk() const { return parts_.front().n; }  // images per cuDNN call

  private:
    // The descriptors of one cuDNN call over n images: the full chunk, and the remainder if any.
    struct Part {
        int64_t n = 0;
        TensorDesc x_desc, y_desc;
        ConvDesc conv_desc;
        ConvAlgoChoice choice;
    };
    void make_part(Part& part, CudaContext& ctx);
    std::string key(int64_t n, bool find) const;
    void run_part(const Part& part, const float* x, const void* w, const float* b, float* y, char* ws,
                  CudaContext& ctx);

    ConvParams p_;
    bool padded_ = false;  // asymmetric pads: convolve a zero-padded copy with pad 0
    Shape xp_;             // the padded input's shape, per image in dimension 0
    std::vector<int> pad_, stride_, dil_;
    size_t in_bytes_ = 0, out_bytes_ = 0, algo_workspace_ = 0;  // workspace: [input copy][16-bit y][cuDNN]
    bool fused_ = false;                                        // bias + ReLU in one cuDNN call
    std::vector<Part> parts_;
    TensorDesc b_desc_;
    FilterDesc w_desc_;
    ActivationDesc act_desc_;
    DeviceBuffer w16_;  // 16-bit weights
};

}  // namespace pda::cuda
