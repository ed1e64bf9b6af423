// Local response normalisation across channels on CUDA, ONNX definition:
//   y = x / (bias + alpha/size · Σ_{c' ∈ [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉]} x[c']²)^beta.
// cuDNN's cross-channel LRN uses the same alpha/size convention and a symmetric window, so it runs
// odd sizes within its limits (1 ≤ size ≤ 16, bias ≥ 1e-5, beta ≥ 0.01, rank 4-5); everything else
// (even sizes, whose window leans right) runs the custom kernel in lrn.cu. cuDNN gets at most 2^30
// elements per call (batches above run in chunks of images), far from its 2^31 limit.
#pragma once

#include "kernels/cuda/context.h"
#include "kernels/shape.h"

namespace pda::cuda {

struct LrnParams {
    Shape x;  // (N, C, ...)
    int64_t size = 5;
    float alpha = 1e-4f, beta = 0.75f, bias = 1.f;
    bool force_custom = false;  // tests: run the custom kernel even where cuDNN could
};

// The custom kernel: any size, x and y (n, c, inner).
void lrn_window_forward(const float* x, float* y, int64_t n, int64_t c, int64_t inner, int64_t size, float alpha,
                        float beta, float bias, cudaStream_t stream);

class LrnForward {
  public:
    explicit LrnForward(const LrnParams& p);
    void run(const float* x, float* y, CudaContext& ctx) const;
    bool uses_cudnn() const { return static_cast<bool>(lrn_); }

  private:
    LrnParams p_;
    LrnDesc lrn_;
    int64_t chunk_ = 0;            // images per cuDNN call
    TensorDesc desc_, rest_desc_;  // the chunk and the remainder (if any)
};

}  // namespace pda::cuda
