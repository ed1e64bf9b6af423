// make_cuda_op: the one place that turns a graph node into CUDA kernels, mirroring make_cpu_op
// (engine/cpu/ops.cc): it reads the node's fields and shapes, checks what the kernels support
// (naming the node when not) and wraps the kernel (which knows nothing about graphs) in a CudaOp.
#include "engine/cuda/cuda_ops.h"

#include <cmath>

#include "engine/node_checks.h"
#include "kernels/cuda/concat.h"
#include "kernels/cuda/conv.h"
#include "kernels/cuda/eltwise.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/lrn.h"
#include "kernels/cuda/pool.h"
#include "kernels/cuda/softmax.h"

namespace pda {
namespace {

cuda::DeviceBuffer upload(const float* v, size_t n, CudaContext& ctx) {
    cuda::DeviceBuffer b(sizeof(float) * n);
    if (n > 0) PDA_CUDA_CHECK(cudaMemcpyAsync(b.data(), v, b.bytes(), cudaMemcpyHostToDevice, ctx.stream()));
    ctx.synchronize();  // v may be a temporary
    return b;
}
cuda::DeviceBuffer upload(const std::vector<float>& v, CudaContext& ctx) { return upload(v.data(), v.size(), ctx); }

cuda::Storage storage_of(Precision p) {
    return p == Precision::kFp16   ? cuda::Storage::kF16
           : p == Precision::kBf16 ? cuda::Storage::kBF16
                                   : cuda::Storage::kF32;
}

class ConvOp : public CudaOp {
  public:
    // w: the constant weights (host); 16-bit storage keeps a converted copy on the device.
    ConvOp(const cuda::ConvParams& p, const Tensor& w, CudaContext& ctx) : k_(p, ctx) {
        if (p.storage == cuda::Storage::kF32) return;
        cuda::DeviceBuffer tmp = upload(w.data(), static_cast<size_t>(w.numel()), ctx);
        k_.set_weights(tmp.floats(), ctx);
        ctx.synchronize();  // before tmp is freed
    }
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        k_.run(in[0], in[1], in.size() > 2 ? in[2] : nullptr, out, ctx);
    }
    size_t workspace_bytes() const override { return k_.workspace_bytes(); }
    std::string describe() const override {
        return "algo " + std::to_string(static_cast<int>(k_.choice().algo)) + " math " +
               std::to_string(static_cast<int>(k_.choice().math)) + " chunk " + std::to_string(k_.chunk()) +
               " workspace " + std::to_string(k_.choice().workspace >> 10) + " KiB " + std::to_string(k_.choice().ms) +
               " ms";
    }

  private:
    cuda::ConvForward k_;
};

class PoolOp : public CudaOp {
  public:
    PoolOp(cuda::PoolKind kind, const cuda::PoolGeometry& g) : kind_(kind), g_(g) {}
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        cuda::pool_forward(kind_, g_, in[0], out, ctx.stream());
    }

  private:
    cuda::PoolKind kind_;
    cuda::PoolGeometry g_;
};

class GlobalPoolOp : public CudaOp {
  public:
    GlobalPoolOp(cuda::PoolKind kind, const Shape& x) : kind_(kind), planes_(x[0] * x[1]) {
        size_ = planes_ > 0 ? x.numel() / planes_ : 0;
    }
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        cuda::global_pool_forward(kind_, in[0], out, planes_, size_, ctx.stream());
    }

  private:
    cuda::PoolKind kind_;
    int64_t planes_, size_ = 0;
};

class LrnOp : public CudaOp {
  public:
    explicit LrnOp(const cuda::LrnParams& p) : k_(p) {}
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override { k_.run(in[0], out, ctx); }
    std::string describe() const override { return k_.uses_cudnn() ? "cuDNN" : "custom kernel"; }

  private:
    cuda::LrnForward k_;
};

class GemmOp : public CudaOp {
  public:
    // b: the constant B (host) or null; 16-bit storage converts a constant B once.
    GemmOp(const cuda::GemmParams& p, const Tensor* b, CudaContext& ctx) : k_(p) {
        if (p.storage == cuda::Storage::kF32 || !b) return;
        cuda::DeviceBuffer tmp = upload(b->data(), static_cast<size_t>(b->numel()), ctx);
        k_.set_b(tmp.floats(), ctx);
        ctx.synchronize();  // before tmp is freed
    }
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        k_.run(in[0], in[1], in.size() > 2 ? in[2] : nullptr, out, ctx);
    }
    size_t workspace_bytes() const override { return k_.workspace_bytes(); }

  private:
    cuda::GemmForward k_;
};

class MatmulOp : public CudaOp {
  public:
    explicit MatmulOp(const cuda::MatmulParams& p) : k_(p) {}
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        k_.run(in[0], in[1], out, ctx);
    }

  private:
    cuda::MatmulForward k_;
};

class UnaryOp : public CudaOp {
  public:
    UnaryOp(const cuda::UnaryParams& p, int64_t n) : p_(p), n_(n) {}
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        cuda::unary_forward(p_, in[0], out, n_, ctx.stream());
    }

  private:
    cuda::UnaryParams p_;
    int64_t n_;
};

class BinaryOp : public CudaOp {
  public:
    BinaryOp(bool add, const Shape& a, const Shape& b, const Shape& y)
        : add_(add), idx_(cuda::broadcast_index(a, b, y)), n_(y.numel()) {}
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        cuda::binary_forward(add_, idx_, in[0], in[1], out, n_, ctx.stream());
    }

  private:
    bool add_;
    cuda::BroadcastIndex idx_;
    int64_t n_;
};

// Inference BatchNormalization: per-channel scale and shift folded once (in double, as on the CPU).
class BatchNormOp : public CudaOp {
  public:
    BatchNormOp(const Graph& g, const Node& n, const Shape& x, CudaContext& ctx) {
        n_ = x[0];
        c_ = x[1];
        inner_ = x.numel() / std::max<int64_t>(n_ * c_, 1);
        const float *scale = g.constant(n.inputs[1]).data(), *bias = g.constant(n.inputs[2]).data(),
                    *mean = g.constant(n.inputs[3]).data(), *var = g.constant(n.inputs[4]).data();
        std::vector<float> mul(c_), add(c_);
        for (int64_t c = 0; c < c_; ++c) {
            double s = scale[c] / std::sqrt(static_cast<double>(var[c]) + n.epsilon);
            mul[c] = static_cast<float>(s);
            add[c] = static_cast<float>(bias[c] - mean[c] * s);
        }
        mul_ = upload(mul, ctx);
        add_ = upload(add, ctx);
    }
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        cuda::channel_affine_forward(in[0], mul_.floats(), add_.floats(), out, n_, c_, inner_, false, ctx.stream());
    }

  private:
    int64_t n_ = 0, c_ = 0, inner_ = 0;
    cuda::DeviceBuffer mul_, add_;
};

class SoftmaxOp : public CudaOp {
  public:
    SoftmaxOp(int64_t outer, int64_t len, int64_t inner) : outer_(outer), len_(len), inner_(inner) {}
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        cuda::softmax_forward(in[0], out, outer_, len_, inner_, ctx.stream());
    }

  private:
    int64_t outer_, len_, inner_;
};

class ConcatOp : public CudaOp {
  public:
    ConcatOp(const std::vector<Shape>& in, int axis, const Shape& y) {
        for (int i = 0; i < axis; ++i) outer_ *= y[i];
        int64_t inner = 1;
        for (int i = axis + 1; i < y.rank; ++i) inner *= y[i];
        for (const Shape& s : in) lens_.push_back(s[axis] * inner);
    }
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        cuda::concat_forward(in, lens_, outer_, out, ctx.stream());
    }

  private:
    int64_t outer_ = 1;
    std::vector<int64_t> lens_;
};

// Reshape, Flatten, Identity as a copy of input 0 (the elements in order, as make_cpu_op's CopyOp).
class CopyOp : public CudaOp {
  public:
    explicit CopyOp(int64_t n) : n_(n) {}
    void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) override {
        if (n_ > 0 && in[0] != out)
            PDA_CUDA_CHECK(cudaMemcpyAsync(out, in[0], sizeof(float) * static_cast<size_t>(n_),
                                           cudaMemcpyDeviceToDevice, ctx.stream()));
    }

  private:
    int64_t n_;
};

std::unique_ptr<CudaOp> make_conv(const Graph& g, const Node& n, const std::vector<Shape>& in, const Shape& out,
                                  CudaContext& ctx, Precision precision) {
    cuda::ConvParams p;
    static_cast<ConvParams&>(p) = conv_params(g, n, in[0], in[1], out);
    p.tf32 = precision == Precision::kTf32;
    p.storage = storage_of(precision);
    return std::make_unique<ConvOp>(p, g.constant(n.inputs[1]), ctx);
}

std::unique_ptr<CudaOp> make_pool(const Node& n, const std::vector<Shape>& in, const Shape& out) {
    check_window(n, in[0]);
    const int nd = n.geo.nd;
    cuda::PoolGeometry g;
    g.planes = in[0][0] * in[0][1];
    for (int i = 0; i < nd; ++i) {
        const int j = 3 - nd + i;
        if (n.geo.pad_begin[i] >= n.geo.kernel[i] || n.geo.pad_end[i] >= n.geo.kernel[i])
            unsupported(n, "pads must be smaller than the kernel");
        g.in[j] = in[0][2 + i];
        g.out[j] = out[2 + i];
        g.kernel[j] = n.geo.kernel[i];
        g.stride[j] = n.geo.stride[i];
        g.pad_begin[j] = n.geo.pad_begin[i];
        g.pad_end[j] = n.geo.pad_end[i];
        g.dilation[j] = n.geo.dilation[i];
    }
    g.count_include_pad = n.count_include_pad;
    return std::make_unique<PoolOp>(n.op == OpType::kMaxPool ? cuda::PoolKind::kMax : cuda::PoolKind::kAverage, g);
}

std::unique_ptr<CudaOp> make_gemm(const Graph& g, const Node& n, const std::vector<Shape>& in, const Shape& out,
                                  CudaContext& ctx, Precision precision) {
    cuda::GemmParams p;
    fill_gemm_params(n, in, out, p);
    p.tf32 = precision == Precision::kTf32;
    p.storage = storage_of(precision);
    return std::make_unique<GemmOp>(p, g.is_constant(n.inputs[1]) ? &g.constant(n.inputs[1]) : nullptr, ctx);
}

std::unique_ptr<CudaOp> make_softmax(const Node& n, const Shape& x) {
    const SoftmaxDims d = softmax_dims(n, x);
    return std::make_unique<SoftmaxOp>(d.outer, d.len, d.inner);
}

cuda::UnaryParams unary(cuda::UnaryKind kind, float alpha = 0.f, float lo = 0.f, float hi = 0.f) {
    return cuda::UnaryParams{kind, alpha, lo, hi};
}

}  // namespace

std::unique_ptr<CudaOp> make_cuda_op(const Graph& g, const Node& n, const std::vector<Shape>& in, const Shape& out,
                                     CudaContext& ctx, Precision precision) {
    const bool tf32 = precision == Precision::kTf32;
    if (in.size() != n.inputs.size()) unsupported(n, "input shapes do not match the node's inputs");
    if (in.empty()) unsupported(n, "has no inputs");
    switch (n.op) {
        case OpType::kConv:
            return make_conv(g, n, in, out, ctx, precision);
        case OpType::kMaxPool:
        case OpType::kAveragePool:
            return make_pool(n, in, out);
        case OpType::kGlobalAveragePool:
            return std::make_unique<GlobalPoolOp>(cuda::PoolKind::kAverage, in[0]);
        case OpType::kGlobalMaxPool:
            return std::make_unique<GlobalPoolOp>(cuda::PoolKind::kMax, in[0]);
        case OpType::kLRN: {
            if (n.size < 1) unsupported(n, "size must be positive");
            cuda::LrnParams p;
            p.x = in[0];
            p.size = n.size;
            p.alpha = n.alpha;
            p.beta = n.beta;
            p.bias = n.bias;
            return std::make_unique<LrnOp>(p);
        }
        case OpType::kGemm:
            return make_gemm(g, n, in, out, ctx, precision);
        case OpType::kMatMul:
            return std::make_unique<MatmulOp>(cuda::MatmulParams{in[0], in[1], out, tf32});
        case OpType::kRelu:
            return std::make_unique<UnaryOp>(unary(cuda::UnaryKind::kRelu), out.numel());
        case OpType::kLeakyRelu:
            return std::make_unique<UnaryOp>(unary(cuda::UnaryKind::kLeakyRelu, n.alpha), out.numel());
        case OpType::kClip:
            return std::make_unique<UnaryOp>(unary(cuda::UnaryKind::kClip, 0.f, n.min, n.max), out.numel());
        case OpType::kSigmoid:
            return std::make_unique<UnaryOp>(unary(cuda::UnaryKind::kSigmoid), out.numel());
        case OpType::kAdd:
        case OpType::kMul:
            return std::make_unique<BinaryOp>(n.op == OpType::kAdd, in[0], in[1], out);
        case OpType::kBatchNorm:
            if (n.inputs.size() != 5) unsupported(n, "expects 5 inputs");
            for (size_t i = 1; i < 5; ++i)
                if (!g.is_constant(n.inputs[i])) unsupported(n, "statistics must be constant");
            return std::make_unique<BatchNormOp>(g, n, in[0], ctx);
        case OpType::kSoftmax:
            return make_softmax(n, in[0]);
        case OpType::kConcat:
            return std::make_unique<ConcatOp>(in, static_cast<int>(normalise_axis(n, n.axis, out.rank)), out);
        case OpType::kFlatten:
        case OpType::kReshape:
        case OpType::kIdentity:
            // Views: the full executor aliases them and never runs them; the incremental one copies.
            return std::make_unique<CopyOp>(out.numel());
    }
    unsupported(n, "has no CUDA kernel");
}

}  // namespace pda
