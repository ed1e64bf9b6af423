// make_cpu_op: the one place that turns a graph node into a CPU kernel. It reads the node's fields
// and shapes, checks what the kernels support (naming the node when not), fetches constant weights
// for pre-packing, and wraps the kernel (which knows nothing about graphs) in a CpuOp.
#include "engine/cpu/ops.h"

#include <algorithm>
#include <cstring>

#include "engine/node_checks.h"
#include "kernels/cpu/concat.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/eltwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/lrn.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/softmax.h"

namespace pda {
namespace {

// The constant behind input i, or null when it is computed (or absent); with its owner, for weights
// that the context's programs pack once (PackedWeights).
ConstFloats weights_or_null(const Graph& g, const Node& n, size_t i) {
    if (i >= n.inputs.size() || !g.is_constant(n.inputs[i])) return {};
    const Tensor& t = g.constant(n.inputs[i]);
    return {t.data(), t.owner()};
}
const float* constant_or_null(const Graph& g, const Node& n, size_t i) { return weights_or_null(g, n, i).data; }

class ConvOp : public CpuOp {
  public:
    ConvOp(const ConvParams& p, const ConstFloats& w, const float* b, CpuContext& ctx, Layout src, Layout dst)
        : k_(p, w, b, ctx, src, dst) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override {
        k_.run(in[0].data, out.data, in.size() > 2 ? in[2].data : nullptr);
    }

    size_t scratchpad_bytes() const override { return k_.scratchpad_bytes(); }

  private:
    ConvForward k_;
};

class PoolOp : public CpuOp {
  public:
    PoolOp(const PoolParams& p, CpuContext& ctx, Layout src, Layout dst) : k_(p, ctx, src, dst) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override { k_.run(in[0].data, out.data); }

    size_t scratchpad_bytes() const override { return k_.scratchpad_bytes(); }

  private:
    PoolForward k_;
};

class GlobalPoolOp : public CpuOp {
  public:
    GlobalPoolOp(PoolKind kind, Layout x) : kind_(kind), x_(x) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override {
        global_pool_forward(kind_, in[0], out, x_);
    }

  private:
    PoolKind kind_;
    Layout x_;
};

class LrnOp : public CpuOp {
  public:
    LrnOp(const LrnParams& p, CpuContext& ctx) : k_(p, ctx) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override { k_.run(in[0].data, out.data); }

    size_t scratchpad_bytes() const override { return k_.scratchpad_bytes(); }

  private:
    LrnForward k_;
};

class GemmOp : public CpuOp {
  public:
    GemmOp(const GemmParams& p, const ConstFloats& b, const float* c, CpuContext& ctx) : k_(p, b, c, ctx) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override {
        k_.run(in[0].data, in[1].data, in.size() > 2 ? in[2].data : nullptr, out.data);
    }

    size_t scratchpad_bytes() const override { return k_.scratchpad_bytes(); }

  private:
    GemmForward k_;
};

class MatmulOp : public CpuOp {
  public:
    MatmulOp(const MatmulParams& p, const ConstFloats& b, CpuContext& ctx) : k_(p, b, ctx) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override {
        k_.run(in[0].data, in[1].data, out.data);
    }

  private:
    MatmulForward k_;
};

class UnaryOp : public CpuOp {
  public:
    explicit UnaryOp(const UnaryParams& p) : p_(p) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override {
        unary_forward(p_, in[0].data, out.data, out.numel());
    }

  private:
    UnaryParams p_;
};

class BinaryOp : public CpuOp {
  public:
    BinaryOp(BinaryKind kind, const Shape& a, const Shape& b, const Shape& y) : k_(kind, a, b, y) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override {
        k_.run(in[0].data, in[1].data, out.data);
    }

  private:
    BinaryForward k_;
};

class BatchNormOp : public CpuOp {
  public:
    BatchNormOp(const Graph& g, const Node& n, const Shape& x)
        : k_(x, g.constant(n.inputs[1]).data(), g.constant(n.inputs[2]).data(), g.constant(n.inputs[3]).data(),
             g.constant(n.inputs[4]).data(), n.epsilon) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override { k_.run(in[0].data, out.data); }

  private:
    BatchNormForward k_;
};

class SoftmaxOp : public CpuOp {
  public:
    SoftmaxOp(int64_t outer, int64_t len, int64_t inner) : outer_(outer), len_(len), inner_(inner) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override {
        softmax_forward(in[0].data, out.data, outer_, len_, inner_);
    }

  private:
    int64_t outer_, len_, inner_;
};

class ConcatOp : public CpuOp {
  public:
    explicit ConcatOp(int axis) : axis_(axis) {}
    void run(const std::vector<ConstTensorView>& in, TensorView out) override { concat_forward(in, axis_, out); }

  private:
    int axis_;
};

// Reshape, Flatten, Identity: the executor treats them as views; a copy if ever asked to run one.
class CopyOp : public CpuOp {
  public:
    void run(const std::vector<ConstTensorView>& in, TensorView out) override {
        if (in[0].data != out.data) std::memcpy(out.data, in[0].data, sizeof(float) * static_cast<size_t>(out.numel()));
    }
};

std::unique_ptr<CpuOp> make_conv(const Graph& g, const Node& n, const std::vector<Shape>& in, const Shape& out,
                                 CpuContext& ctx, Layout src, Layout dst) {
    const ConvParams p = conv_params(g, n, in[0], in[1], out);
    return std::make_unique<ConvOp>(p, weights_or_null(g, n, 1), constant_or_null(g, n, 2), ctx, src, dst);
}

PoolParams pool_params(const Node& n, const std::vector<Shape>& in, const Shape& out) {
    check_window(n, in[0]);
    PoolParams p;
    p.kind = n.op == OpType::kMaxPool ? PoolKind::kMax : PoolKind::kAverage;
    p.x = in[0];
    p.y = out;
    for (int i = 0; i < n.geo.nd; ++i) {
        p.kernel[i] = n.geo.kernel[i];
        p.stride[i] = n.geo.stride[i];
        p.pad_begin[i] = n.geo.pad_begin[i];
        p.pad_end[i] = n.geo.pad_end[i];
        p.dilation[i] = n.geo.dilation[i];
        if (p.pad_begin[i] >= p.kernel[i] || p.pad_end[i] >= p.kernel[i])
            unsupported(n, "pads must be smaller than the kernel");
    }
    p.count_include_pad = n.count_include_pad;
    return p;
}

std::unique_ptr<CpuOp> make_gemm(const Graph& g, const Node& n, const std::vector<Shape>& in, const Shape& out,
                                 CpuContext& ctx) {
    GemmParams p;
    fill_gemm_params(n, in, out, p);
    return std::make_unique<GemmOp>(p, weights_or_null(g, n, 1), constant_or_null(g, n, 2), ctx);
}

std::unique_ptr<CpuOp> make_softmax(const Node& n, const Shape& x) {
    const SoftmaxDims d = softmax_dims(n, x);
    return std::make_unique<SoftmaxOp>(d.outer, d.len, d.inner);
}

std::unique_ptr<CpuOp> make_op(const Graph& g, const Node& n, const std::vector<Shape>& in_shapes,
                               const Shape& out_shape, CpuContext& ctx, Layout src, Layout dst) {
    if (in_shapes.size() != n.inputs.size()) unsupported(n, "input shapes do not match the node's inputs");
    if (in_shapes.empty() && n.op != OpType::kConcat) unsupported(n, "has no inputs");
    switch (n.op) {
        case OpType::kConv:
            return make_conv(g, n, in_shapes, out_shape, ctx, src, dst);
        case OpType::kMaxPool:
        case OpType::kAveragePool:
            return std::make_unique<PoolOp>(pool_params(n, in_shapes, out_shape), ctx, src, dst);
        case OpType::kGlobalAveragePool:
            return std::make_unique<GlobalPoolOp>(PoolKind::kAverage, src);
        case OpType::kGlobalMaxPool:
            return std::make_unique<GlobalPoolOp>(PoolKind::kMax, src);
        case OpType::kLRN: {
            if (n.size < 1) unsupported(n, "size must be positive");
            LrnParams p;
            p.x = in_shapes[0];
            p.size = n.size;
            p.alpha = n.alpha;
            p.beta = n.beta;
            p.bias = n.bias;
            return std::make_unique<LrnOp>(p, ctx);
        }
        case OpType::kGemm:
            return make_gemm(g, n, in_shapes, out_shape, ctx);
        case OpType::kMatMul:
            return std::make_unique<MatmulOp>(MatmulParams{in_shapes[0], in_shapes[1], out_shape},
                                              weights_or_null(g, n, 1), ctx);
        case OpType::kRelu:
            return std::make_unique<UnaryOp>(UnaryParams{UnaryKind::kRelu, 0.f, 0.f, 0.f});
        case OpType::kLeakyRelu:
            return std::make_unique<UnaryOp>(UnaryParams{UnaryKind::kLeakyRelu, n.alpha, 0.f, 0.f});
        case OpType::kClip:
            return std::make_unique<UnaryOp>(UnaryParams{UnaryKind::kClip, 0.f, n.min, n.max});
        case OpType::kSigmoid:
            return std::make_unique<UnaryOp>(UnaryParams{UnaryKind::kSigmoid, 0.f, 0.f, 0.f});
        case OpType::kAdd:
        case OpType::kMul:
            return std::make_unique<BinaryOp>(n.op == OpType::kAdd ? BinaryKind::kAdd : BinaryKind::kMul, in_shapes[0],
                                              in_shapes[1], out_shape);
        case OpType::kBatchNorm:
            if (n.inputs.size() != 5) unsupported(n, "expects 5 inputs");
            for (size_t i = 1; i < 5; ++i)
                if (!g.is_constant(n.inputs[i])) unsupported(n, "statistics must be constant");
            return std::make_unique<BatchNormOp>(g, n, in_shapes[0]);
        case OpType::kSoftmax:
            return make_softmax(n, in_shapes[0]);
        case OpType::kConcat:
            return std::make_unique<ConcatOp>(static_cast<int>(normalise_axis(n, n.axis, out_shape.rank)));
        case OpType::kFlatten:
        case OpType::kReshape:
        case OpType::kIdentity:
            return std::make_unique<CopyOp>();
    }
    unsupported(n, "has no CPU kernel");
}

}  // namespace

CpuLayoutTraits cpu_layout_traits(const Graph& g, const Node& n, const std::vector<Shape>& in, const Shape& out) {
    CpuLayoutTraits t;
    if (in.empty() || in.size() != n.inputs.size()) return t;
    switch (n.op) {
        case OpType::kConv: {
            if (in.size() < 2) return t;
            const ConvBlocking b = ConvForward::blocking(conv_params(g, n, in[0], in[1], out));
            t.reads_blocked = b == ConvBlocking::kBoth || (b == ConvBlocking::kLast && blockable(in[0]));
            t.emits_blocked = b == ConvBlocking::kBoth || b == ConvBlocking::kDst;
            t.emits_last = b == ConvBlocking::kLast;
            t.reads_last = channels_last_able(in[0]) && !blockable(in[0]);  // the primitive's choice either way
            return t;
        }
        case OpType::kMaxPool:
        case OpType::kAveragePool:
            if (in[0].rank < 3 || !PoolForward::runs_on_onednn(pool_params(n, in, out))) return t;
            t.reads_blocked = blockable(in[0]);
            t.emits_blocked = blockable(out);
            t.reads_last = !blockable(in[0]);  // channels that are no whole blocks: pooled channels last
            t.emits_last = !blockable(out);
            return t;
        case OpType::kGlobalAveragePool:
        case OpType::kGlobalMaxPool:
            t.reads_blocked = blockable(in[0]);
            t.reads_last = channels_last_able(in[0]);
            return t;
        case OpType::kRelu:
        case OpType::kLeakyRelu:
        case OpType::kClip:
        case OpType::kSigmoid:
            t.passes_through = blockable(out);
            t.passes_last = channels_last_able(out);
            return t;
        case OpType::kAdd:
        case OpType::kMul:
            // Only without broadcasting: then element i of each operand meets element i of the other.
            t.passes_last = channels_last_able(out) && in[0] == out && in[1] == out && !g.is_constant(n.inputs[0]) &&
                            !g.is_constant(n.inputs[1]);
            t.passes_through = t.passes_last && blockable(out);
            return t;
        case OpType::kConcat: {
            // Along channels, whole blocks per input: each image's part of an input is one run of
            // floats in either layout, so the plain concat copies blocked data as it is.
            if (!blockable(out) || normalise_axis(n, n.axis, out.rank) != 1) return t;
            for (size_t i = 0; i < in.size(); ++i)
                if (!blockable(in[i]) || g.is_constant(n.inputs[i])) return t;
            t.passes_through = true;
            return t;
        }
        default:
            return t;
    }
}

namespace {

bool is_plain(Layout l) { return l == Layout::kPlain; }

bool layouts_allowed(const CpuLayoutTraits& t, const CpuOpLayouts& l, size_t inputs) {
    if (l.in.size() != inputs) return false;
    if (t.passes_through || t.passes_last)
        return (l.out == Layout::kPlain || (l.out == Layout::kBlocked ? t.passes_through : t.passes_last)) &&
               std::all_of(l.in.begin(), l.in.end(), [&](Layout x) { return x == l.out; });
    auto readable = [&](Layout x) {
        return x == Layout::kPlain || (x == Layout::kBlocked ? t.reads_blocked : t.reads_last);
    };
    const bool writable = l.out == Layout::kPlain || (l.out == Layout::kBlocked ? t.emits_blocked : t.emits_last);
    return std::all_of(l.in.begin() + 1, l.in.end(), is_plain) && readable(l.in[0]) && writable;
}

}  // namespace

std::unique_ptr<CpuOp> make_cpu_op(const Graph& g, const Node& n, const std::vector<Shape>& in_shapes,
                                   const Shape& out_shape, CpuContext& ctx, const CpuOpLayouts& layouts) {
    const bool plain = is_plain(layouts.out) && std::all_of(layouts.in.begin(), layouts.in.end(), is_plain);
    if (!plain && !layouts_allowed(cpu_layout_traits(g, n, in_shapes, out_shape), layouts, n.inputs.size()))
        fail_internal("node '" + n.name + "': its CPU op cannot run in the layouts asked for");
    const Layout src = layouts.in.empty() ? Layout::kPlain : layouts.in[0];
    try {
        return make_op(g, n, in_shapes, out_shape, ctx, src, layouts.out);
    } catch (const dnnl::error& e) {
        // oneDNN refuses shapes or parameters it has no implementation for.
        unsupported(n, std::string("oneDNN cannot run it: ") + e.what());
    }
}

}  // namespace pda
