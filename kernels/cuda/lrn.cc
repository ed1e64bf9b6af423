// LrnForward: cuDNN cross-channel LRN where it can say the node (odd sizes within its limits), in
// chunks of images of at most 2^30 elements, the custom kernel of lrn.cu otherwise.
#include "kernels/cuda/lrn.h"

#include <algorithm>
#include <vector>

#include "kernels/check.h"

namespace pda::cuda {

LrnForward::LrnForward(const LrnParams& p) : p_(p) {
    PDA_CHECK(p.x.rank >= 2 && p.size >= 1, "lrn shape " + p.x.str());
    const bool cudnn_ok = !p.force_custom && p.size % 2 == 1 && p.size <= CUDNN_LRN_MAX_N &&
                          p.size >= CUDNN_LRN_MIN_N && p.bias >= CUDNN_LRN_MIN_K && p.beta >= CUDNN_LRN_MIN_BETA &&
                          (p.x.rank == 4 || p.x.rank == 5) && p.x.numel() < (int64_t{1} << 31);
    if (!cudnn_ok) return;
    lrn_ = make_lrn_desc();
    // cuDNN: y = x / (k + alpha/n · Σ x²)^beta over a symmetric window of n channels — ONNX's formula.
    PDA_CUDA_CHECK(cudnnSetLRNDescriptor(lrn_.get(), static_cast<unsigned>(p.size), p.alpha, p.beta, p.bias));
    const int64_t n = p.x[0], per_image = std::max<int64_t>(p.x.numel() / std::max<int64_t>(n, 1), 1);
    chunk_ = std::clamp<int64_t>((int64_t{1} << 30) / per_image, 1, std::max<int64_t>(n, 1));
    auto describe = [&p](TensorDesc& d, int64_t images) {
        d = make_tensor_desc();
        std::vector<int> dims(p.x.rank), strides(p.x.rank);
        int64_t s = 1;
        for (int i = p.x.rank - 1; i >= 0; --i) {
            dims[i] = static_cast<int>(i == 0 ? images : p.x[i]);
            strides[i] = static_cast<int>(s);
            s *= dims[i];
        }
        PDA_CUDA_CHECK(cudnnSetTensorNdDescriptor(d.get(), CUDNN_DATA_FLOAT, p.x.rank, dims.data(), strides.data()));
    };
    describe(desc_, chunk_);
    if (n % chunk_) describe(rest_desc_, n % chunk_);
}

void LrnForward::run(const float* x, float* y, CudaContext& ctx) const {
    if (lrn_) {
        const float one = 1.f, zero = 0.f;
        const int64_t n = p_.x[0], per_image = p_.x.numel() / std::max<int64_t>(n, 1);
        for (int64_t done = 0; done < n;) {
            const bool full = n - done >= chunk_;
            const cudnnTensorDescriptor_t d = full ? desc_.get() : rest_desc_.get();
            PDA_CUDA_CHECK(cudnnLRNCrossChannelForward(ctx.cudnn.get(), lrn_.get(), CUDNN_LRN_CROSS_CHANNEL_DIM1, &one,
                                                       d, x + done * per_image, &zero, d, y + done * per_image));
            done += full ? chunk_ : n % chunk_;
        }
        return;
    }
    const int64_t n = p_.x[0], c = p_.x[1], inner = p_.x.numel() / std::max<int64_t>(n * c, 1);
    lrn_window_forward(x, y, n, c, inner, p_.size, p_.alpha, p_.beta, p_.bias, ctx.stream());
}

}  // namespace pda::cuda
