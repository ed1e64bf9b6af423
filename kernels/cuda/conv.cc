// ConvForward: cuDNN descriptors built once, the algorithm chosen once per shape key (cudnnFind,
// filtered by math type and the workspace limit, cached in the context), run with fused bias + ReLU
// where cuDNN accepts it, else convolution followed by one bias/ReLU kernel.
#include "kernels/cuda/conv.h"

#include <algorithm>
#include <vector>

#include "kernels/cuda/eltwise.h"

namespace pda::cuda {
namespace {

// cuDNN wants 4-D or 5-D tensors: a 1-D convolution runs as 2-D with height 1.
std::vector<int> cudnn_dims(const Shape& s) {
    std::vector<int> d;
    for (int i = 0; i < s.rank; ++i) {
        if (i == 2 && s.rank == 3) d.push_back(1);
        PDA_CHECK(s[i] < (int64_t{1} << 31), "conv: dimension too large for cuDNN " + s.str());
        d.push_back(static_cast<int>(s[i]));
    }
    return d;
}

void set_tensor(cudnnTensorDescriptor_t desc, const std::vector<int>& dims) {
    std::vector<int> strides(dims.size());
    int64_t s = 1;
    for (int i = static_cast<int>(dims.size()) - 1; i >= 0; --i) {
        PDA_CHECK(s < (int64_t{1} << 31), "conv: tensor above 2^31 elements; lower the batch size");
        strides[i] = static_cast<int>(s);
        s *= dims[i];
    }
    PDA_CUDA_CHECK(
        cudnnSetTensorNdDescriptor(desc, CUDNN_DATA_FLOAT, static_cast<int>(dims.size()), dims.data(), strides.data()));
}

}  // namespace

ConvForward::ConvForward(const ConvParams& p, CudaContext& ctx) : p_(p) {
    const int nd = p.x.rank - 2;
    PDA_CHECK(nd >= 1 && nd <= 3 && p.w.rank == p.x.rank && p.y.rank == p.x.rank, "conv ranks " + p.x.str());
    xp_ = p.x;
    for (int i = 0; i < nd; ++i)
        if (p.pad_begin[i] != p.pad_end[i]) padded_ = true;
    if (padded_) {
        for (int i = 0; i < nd; ++i) xp_[2 + i] = p.x[2 + i] + p.pad_begin[i] + p.pad_end[i];
        padded_bytes_ = ((sizeof(float) * static_cast<size_t>(xp_.numel()) + 255) / 256) * 256;
    }
    // Spatial parameters as cuDNN sees them (1-D: a leading axis of size 1).
    std::vector<int> pad, stride, dil;
    if (nd == 1) pad.push_back(0), stride.push_back(1), dil.push_back(1);
    for (int i = 0; i < nd; ++i) {
        pad.push_back(padded_ ? 0 : static_cast<int>(p.pad_begin[i]));
        stride.push_back(static_cast<int>(p.stride[i]));
        dil.push_back(static_cast<int>(p.dilation[i]));
    }
    x_desc_ = make_tensor_desc();
    y_desc_ = make_tensor_desc();
    w_desc_ = make_filter_desc();
    conv_desc_ = make_conv_desc();
    set_tensor(x_desc_.get(), cudnn_dims(xp_));
    set_tensor(y_desc_.get(), cudnn_dims(p.y));
    std::vector<int> wd = cudnn_dims(p.w);
    PDA_CUDA_CHECK(cudnnSetFilterNdDescriptor(w_desc_.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                              static_cast<int>(wd.size()), wd.data()));
    PDA_CUDA_CHECK(cudnnSetConvolutionNdDescriptor(conv_desc_.get(), static_cast<int>(pad.size()), pad.data(),
                                                   stride.data(), dil.data(), CUDNN_CROSS_CORRELATION,
                                                   CUDNN_DATA_FLOAT));
    PDA_CUDA_CHECK(cudnnSetConvolutionGroupCount(conv_desc_.get(), static_cast<int>(p.group)));
    PDA_CUDA_CHECK(cudnnSetConvolutionMathType(conv_desc_.get(), p.tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));

    // The output cuDNN computes must be the graph's.
    std::vector<int> yd(wd.size());
    PDA_CUDA_CHECK(cudnnGetConvolutionNdForwardOutputDim(conv_desc_.get(), x_desc_.get(), w_desc_.get(),
                                                         static_cast<int>(yd.size()), yd.data()));
    PDA_CHECK(yd == cudnn_dims(p.y), "conv: cuDNN's output shape differs from " + p.y.str());

    if (p.has_bias) {
        b_desc_ = make_tensor_desc();
        std::vector<int> bd(wd.size(), 1);
        bd[1] = static_cast<int>(p.w[0]);
        set_tensor(b_desc_.get(), bd);
        if (p.relu) {
            act_desc_ = make_activation_desc();
            PDA_CUDA_CHECK(
                cudnnSetActivationDescriptor(act_desc_.get(), CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
            fused_ = true;
        }
    }
    choose(ctx);
    ctx.workspace(workspace_bytes());
}

std::string ConvForward::key() const {
    std::string k = p_.x.str() + p_.w.str() + p_.y.str() + "g" + std::to_string(p_.group) + (p_.tf32 ? "tf32" : "fp32");
    k += ctx_find_ ? "/find" : "/heuristic";
    for (int i = 0; i < 3; ++i)
        k += "/" + std::to_string(p_.stride[i]) + "," + std::to_string(p_.pad_begin[i]) + "," +
             std::to_string(p_.pad_end[i]) + "," + std::to_string(p_.dilation[i]);
    return k;
}

void ConvForward::choose(CudaContext& ctx) {
    ctx_find_ = ctx.find_conv_algorithms;
    const std::string k = key();
    auto hit = ctx.conv_algos.find(k);
    if (hit != ctx.conv_algos.end()) {
        choice_ = hit->second;
    } else {
        std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
        int returned = 0;
        if (ctx.find_conv_algorithms) {
            PDA_CUDA_CHECK(cudnnFindConvolutionForwardAlgorithm(ctx.cudnn.get(), x_desc_.get(), w_desc_.get(),
                                                                conv_desc_.get(), y_desc_.get(),
                                                                static_cast<int>(perf.size()), &returned, perf.data()));
        } else {
            PDA_CUDA_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
                ctx.cudnn.get(), x_desc_.get(), w_desc_.get(), conv_desc_.get(), y_desc_.get(),
                static_cast<int>(perf.size()), &returned, perf.data()));
        }
        // Fastest first. FP32 must not run on tensor cores: keep FMA results only, else fall back to
        // the fastest usable one run with CUDNN_FMA_MATH forced on the descriptor.
        const cudnnConvolutionFwdAlgoPerf_t* best = nullptr;
        const cudnnConvolutionFwdAlgoPerf_t* any = nullptr;
        for (int i = 0; i < returned; ++i) {
            const auto& r = perf[i];
            if (r.status != CUDNN_STATUS_SUCCESS || r.memory > ctx.conv_workspace_limit) continue;
            if (!any) any = &r;
            if (!best && (p_.tf32 || r.mathType == CUDNN_FMA_MATH)) best = &r;
        }
        if (!best) best = any;
        PDA_CHECK(best, "conv " + k + ": cuDNN offers no algorithm within the workspace limit");
        choice_.algo = best->algo;
        choice_.math = p_.tf32 ? best->mathType : CUDNN_FMA_MATH;
        choice_.ms = ctx.find_conv_algorithms ? best->time : 0.f;
        PDA_CUDA_CHECK(cudnnSetConvolutionMathType(conv_desc_.get(), choice_.math));
        size_t ws = 0;
        PDA_CUDA_CHECK(cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn.get(), x_desc_.get(), w_desc_.get(),
                                                               conv_desc_.get(), y_desc_.get(), choice_.algo, &ws));
        choice_.workspace = std::max(ws, best->memory);
        ctx.conv_algos[k] = choice_;
    }
    PDA_CUDA_CHECK(cudnnSetConvolutionMathType(conv_desc_.get(), choice_.math));
}

void ConvForward::run(const float* x, const float* w, const float* b, float* y, CudaContext& ctx) {
    char* ws = static_cast<char*>(ctx.workspace(workspace_bytes()));
    const float* xin = x;
    if (padded_) {
        pad_forward(x, reinterpret_cast<float*>(ws), p_.x, xp_, p_.pad_begin.data(), ctx.stream());
        xin = reinterpret_cast<const float*>(ws);
    }
    void* conv_ws = ws + padded_bytes_;
    const float one = 1.f, zero = 0.f;
    if (fused_ && b) {
        // y = relu(conv(x) + 0·y + b). cuDNN may refuse an algorithm/math pair for the fused call:
        // then run it unfused from now on.
        cudnnStatus_t s = cudnnConvolutionBiasActivationForward(
            ctx.cudnn.get(), &one, x_desc_.get(), xin, w_desc_.get(), w, conv_desc_.get(), choice_.algo, conv_ws,
            choice_.workspace, &zero, y_desc_.get(), y, b_desc_.get(), b, act_desc_.get(), y_desc_.get(), y);
        if (s == CUDNN_STATUS_SUCCESS) return;
        // cuDNN 9 statuses are families (NOT_SUPPORTED = 3000, its reasons 3001...; BAD_PARAM 2000...).
        const int family = static_cast<int>(s) / 1000;
        if (family != CUDNN_STATUS_NOT_SUPPORTED / 1000 && family != CUDNN_STATUS_BAD_PARAM / 1000) PDA_CUDA_CHECK(s);
        fused_ = false;
    }
    PDA_CUDA_CHECK(cudnnConvolutionForward(ctx.cudnn.get(), &one, x_desc_.get(), xin, w_desc_.get(), w,
                                           conv_desc_.get(), choice_.algo, conv_ws, choice_.workspace, &zero,
                                           y_desc_.get(), y));
    const int64_t n = p_.y[0], oc = p_.y[1], inner = p_.y.numel() / std::max<int64_t>(n * oc, 1);
    if (b) {
        channel_affine_forward(y, nullptr, b, y, n, oc, inner, p_.relu, ctx.stream());
    } else if (p_.relu) {
        unary_forward(UnaryParams{UnaryKind::kRelu, 0.f, 0.f, 0.f}, y, y, p_.y.numel(), ctx.stream());
    }
}

}  // namespace pda::cuda
