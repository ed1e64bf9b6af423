// ConvForward: cuDNN descriptors built once per part (the batch chunk and its remainder), the
// algorithm chosen once per shape key (cudnnFind, filtered by math type and the workspace limit,
// cached in the context), run with fused bias + ReLU where cuDNN accepts it (FP32 / TF32), else
// convolution followed by one bias/ReLU kernel (for FP16 / BF16: the kernel that converts back).
#include "kernels/cuda/conv.h"

#include <algorithm>

#include "kernels/check.h"
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

cudnnDataType_t cudnn_type(Storage s) {
    return s == Storage::kF32 ? CUDNN_DATA_FLOAT : s == Storage::kF16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
}

void set_tensor(cudnnTensorDescriptor_t desc, const std::vector<int>& dims, cudnnDataType_t type) {
    std::vector<int> strides(dims.size());
    int64_t s = 1;
    for (int i = static_cast<int>(dims.size()) - 1; i >= 0; --i) {
        PDA_CHECK(s < (int64_t{1} << 31), "conv: tensor above 2^31 elements; lower the batch size");
        strides[i] = static_cast<int>(s);
        s *= dims[i];
    }
    PDA_CHECK(s < (int64_t{1} << 31), "conv: tensor above 2^31 elements; lower the batch size");
    PDA_CUDA_CHECK(cudnnSetTensorNdDescriptor(desc, type, static_cast<int>(dims.size()), dims.data(), strides.data()));
}

Shape with_n(Shape s, int64_t n) {
    s[0] = n;
    return s;
}

size_t align256(size_t b) { return (b + 255) / 256 * 256; }

}  // namespace

ConvForward::ConvForward(const ConvParams& p, CudaContext& ctx) : p_(p) {
    const int nd = p.x.rank - 2;
    PDA_CHECK(nd >= 1 && nd <= 3 && p.w.rank == p.x.rank && p.y.rank == p.x.rank, "conv ranks " + p.x.str());
    PDA_CHECK(p.x[0] >= 1 && p.x[0] == p.y[0], "conv batch " + p.x.str() + " -> " + p.y.str());
    PDA_CHECK(!(p.tf32 && p.storage != Storage::kF32), "conv: TF32 applies to FP32 storage only");
    xp_ = p.x;
    for (int i = 0; i < nd; ++i)
        if (p.pad_begin[i] != p.pad_end[i]) padded_ = true;
    if (padded_)
        for (int i = 0; i < nd; ++i) xp_[2 + i] = p.x[2 + i] + p.pad_begin[i] + p.pad_end[i];
    // Spatial parameters as cuDNN sees them (1-D: a leading axis of size 1).
    if (nd == 1) pad_.push_back(0), stride_.push_back(1), dil_.push_back(1);
    for (int i = 0; i < nd; ++i) {
        pad_.push_back(padded_ ? 0 : static_cast<int>(p.pad_begin[i]));
        stride_.push_back(static_cast<int>(p.stride[i]));
        dil_.push_back(static_cast<int>(p.dilation[i]));
    }
    const cudnnDataType_t type = cudnn_type(p.storage);
    w_desc_ = make_filter_desc();
    std::vector<int> wd = cudnn_dims(p.w);
    PDA_CUDA_CHECK(
        cudnnSetFilterNdDescriptor(w_desc_.get(), type, CUDNN_TENSOR_NCHW, static_cast<int>(wd.size()), wd.data()));
    // Bias + ReLU fused into the convolution: FP32 storage only (16-bit outputs get them on conversion).
    if (p.has_bias && p.storage == Storage::kF32) {
        b_desc_ = make_tensor_desc();
        std::vector<int> bd(wd.size(), 1);
        bd[1] = static_cast<int>(p.w[0]);
        set_tensor(b_desc_.get(), bd, CUDNN_DATA_FLOAT);
        if (p.relu) {
            act_desc_ = make_activation_desc();
            PDA_CUDA_CHECK(
                cudnnSetActivationDescriptor(act_desc_.get(), CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
            fused_ = true;
        }
    }

    // Images per cuDNN call: as many as keep x + y within the context's chunk budget.
    const int64_t n = p.x[0];
    const int64_t per_image = std::max<int64_t>((xp_.numel() + p.y.numel()) / n, 1);
    const int64_t chunk = std::clamp<int64_t>(ctx.conv_chunk_elements / per_image, 1, n);
    parts_.resize(n % chunk ? 2 : 1);
    parts_[0].n = chunk;
    if (parts_.size() > 1) parts_[1].n = n % chunk;
    for (Part& part : parts_) make_part(part, ctx);

    const size_t bytes = storage_bytes(p.storage);
    if (padded_ || p.storage != Storage::kF32)
        in_bytes_ = align256(bytes * static_cast<size_t>(chunk * (xp_.numel() / n)));
    if (p.storage != Storage::kF32) out_bytes_ = align256(bytes * static_cast<size_t>(chunk * (p.y.numel() / n)));
    for (const Part& part : parts_) algo_workspace_ = std::max(algo_workspace_, part.choice.workspace);
    ctx.workspace(workspace_bytes());
}

std::string ConvForward::key(int64_t n, bool find) const {
    std::string k = with_n(p_.x, n).str() + p_.w.str() + with_n(p_.y, n).str() + "g" + std::to_string(p_.group) +
                    storage_name(p_.storage) + (p_.tf32 ? "tf32" : "");
    k += find ? "/find" : "/heuristic";
    for (int i = 0; i < 3; ++i)
        k += "/" + std::to_string(p_.stride[i]) + "," + std::to_string(p_.pad_begin[i]) + "," +
             std::to_string(p_.pad_end[i]) + "," + std::to_string(p_.dilation[i]);
    return k;
}

void ConvForward::make_part(Part& part, CudaContext& ctx) {
    const cudnnDataType_t type = cudnn_type(p_.storage);
    const bool any_math = p_.tf32 || p_.storage != Storage::kF32;  // FP32 proper: FMA only
    part.x_desc = make_tensor_desc();
    part.y_desc = make_tensor_desc();
    part.conv_desc = make_conv_desc();
    set_tensor(part.x_desc.get(), cudnn_dims(with_n(xp_, part.n)), type);
    set_tensor(part.y_desc.get(), cudnn_dims(with_n(p_.y, part.n)), type);
    // Compute type FLOAT for every storage: FP32 accumulation (cuDNN's PSEUDO_HALF / BFLOAT16 configs).
    PDA_CUDA_CHECK(cudnnSetConvolutionNdDescriptor(part.conv_desc.get(), static_cast<int>(pad_.size()), pad_.data(),
                                                   stride_.data(), dil_.data(), CUDNN_CROSS_CORRELATION,
                                                   CUDNN_DATA_FLOAT));
    PDA_CUDA_CHECK(cudnnSetConvolutionGroupCount(part.conv_desc.get(), static_cast<int>(p_.group)));
    PDA_CUDA_CHECK(cudnnSetConvolutionMathType(part.conv_desc.get(), any_math ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));

    // The output cuDNN computes must be the graph's.
    const std::vector<int> want = cudnn_dims(with_n(p_.y, part.n));
    std::vector<int> yd(want.size());
    PDA_CUDA_CHECK(cudnnGetConvolutionNdForwardOutputDim(part.conv_desc.get(), part.x_desc.get(), w_desc_.get(),
                                                         static_cast<int>(yd.size()), yd.data()));
    PDA_CHECK(yd == want, "conv: cuDNN's output shape differs from " + p_.y.str());

    const std::string k = key(part.n, ctx.find_conv_algorithms);
    auto hit = ctx.conv_algos.find(k);
    if (hit != ctx.conv_algos.end()) {
        part.choice = hit->second;
    } else {
        std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
        int returned = 0;
        if (ctx.find_conv_algorithms) {
            PDA_CUDA_CHECK(cudnnFindConvolutionForwardAlgorithm(ctx.cudnn.get(), part.x_desc.get(), w_desc_.get(),
                                                                part.conv_desc.get(), part.y_desc.get(),
                                                                static_cast<int>(perf.size()), &returned, perf.data()));
        } else {
            PDA_CUDA_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
                ctx.cudnn.get(), part.x_desc.get(), w_desc_.get(), part.conv_desc.get(), part.y_desc.get(),
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
            if (!best && (any_math || r.mathType == CUDNN_FMA_MATH)) best = &r;
        }
        if (!best) best = any;
        PDA_CHECK(best, "conv " + k + ": cuDNN offers no algorithm within the workspace limit");
        part.choice.algo = best->algo;
        part.choice.math = any_math ? best->mathType : CUDNN_FMA_MATH;
        part.choice.ms = ctx.find_conv_algorithms ? best->time : 0.f;
        PDA_CUDA_CHECK(cudnnSetConvolutionMathType(part.conv_desc.get(), part.choice.math));
        size_t ws = 0;
        PDA_CUDA_CHECK(cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn.get(), part.x_desc.get(), w_desc_.get(),
                                                               part.conv_desc.get(), part.y_desc.get(),
                                                               part.choice.algo, &ws));
        part.choice.workspace = std::max(ws, best->memory);
        ctx.conv_algos[k] = part.choice;
    }
    PDA_CUDA_CHECK(cudnnSetConvolutionMathType(part.conv_desc.get(), part.choice.math));
}

void ConvForward::set_weights(const float* w, CudaContext& ctx) {
    if (p_.storage == Storage::kF32) return;
    w16_ = DeviceBuffer(storage_bytes(p_.storage) * static_cast<size_t>(p_.w.numel()));
    convert_forward(w, w16_.data(), p_.storage, p_.w.numel(), ctx.stream());
}

void ConvForward::run(const float* x, const float* w, const float* b, float* y, CudaContext& ctx) {
    char* ws = static_cast<char*>(ctx.workspace(workspace_bytes()));
    const void* wk = w;
    if (p_.storage != Storage::kF32) {
        PDA_CHECK(w16_.data(), "conv: 16-bit weights were not set (ConvForward::set_weights)");
        wk = w16_.data();
    }
    const int64_t n = p_.x[0], x_image = p_.x.numel() / n, y_image = p_.y.numel() / n;
    for (int64_t done = 0; done < n;) {
        const Part& part = n - done >= parts_[0].n ? parts_[0] : parts_.back();
        run_part(part, x + done * x_image, wk, b, y + done * y_image, ws, ctx);
        done += part.n;
    }
}

void ConvForward::run_part(const Part& part, const float* x, const void* w, const float* b, float* y, char* ws,
                           CudaContext& ctx) {
    const bool half = p_.storage != Storage::kF32;
    const void* xin = x;
    if (padded_) {
        pad_forward(x, ws, p_.storage, with_n(p_.x, part.n), with_n(xp_, part.n), p_.pad_begin.data(), ctx.stream());
        xin = ws;
    } else if (half) {
        convert_forward(x, ws, p_.storage, part.n * (p_.x.numel() / p_.x[0]), ctx.stream());
        xin = ws;
    }
    void* yout = half ? static_cast<void*>(ws + in_bytes_) : static_cast<void*>(y);
    void* conv_ws = ws + in_bytes_ + out_bytes_;
    const float one = 1.f, zero = 0.f;
    if (fused_ && b) {
        // y = relu(conv(x) + 0·y + b). cuDNN may refuse an algorithm/math pair for the fused call:
        // then run it unfused from now on.
        cudnnStatus_t s = cudnnConvolutionBiasActivationForward(
            ctx.cudnn.get(), &one, part.x_desc.get(), xin, w_desc_.get(), w, part.conv_desc.get(), part.choice.algo,
            conv_ws, part.choice.workspace, &zero, part.y_desc.get(), y, b_desc_.get(), b, act_desc_.get(),
            part.y_desc.get(), y);
        if (s == CUDNN_STATUS_SUCCESS) return;
        // cuDNN 9 statuses are families (NOT_SUPPORTED = 3000, its reasons 3001...; BAD_PARAM 2000...).
        const int family = static_cast<int>(s) / 1000;
        if (family != CUDNN_STATUS_NOT_SUPPORTED / 1000 && family != CUDNN_STATUS_BAD_PARAM / 1000) PDA_CUDA_CHECK(s);
        fused_ = false;
    }
    PDA_CUDA_CHECK(cudnnConvolutionForward(ctx.cudnn.get(), &one, part.x_desc.get(), xin, w_desc_.get(), w,
                                           part.conv_desc.get(), part.choice.algo, conv_ws, part.choice.workspace,
                                           &zero, part.y_desc.get(), yout));
    const int64_t oc = p_.y[1], inner = p_.y.numel() / std::max<int64_t>(p_.y[0] * oc, 1);
    if (half) {
        convert_back_forward(yout, p_.storage, b, y, part.n, oc, inner, p_.relu, ctx.stream());
    } else if (b) {
        channel_affine_forward(y, nullptr, b, y, part.n, oc, inner, p_.relu, ctx.stream());
    } else if (p_.relu) {
        unary_forward(UnaryParams{UnaryKind::kRelu, 0.f, 0.f, 0.f}, y, y, part.n * oc * inner, ctx.stream());
    }
}

}  // namespace pda::cuda
