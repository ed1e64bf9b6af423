// The op cases of the CPU and CUDA op suites, declared once (op_cases.h): naive float64 references
// (written here from the ONNX definitions, independent of the kernels) and the table, each family
// with its tolerances: 1e-5 of max(1, max |reference|) on the CPU, the family's bound against the CPU
// on CUDA.
#include "tests/op_cases.h"

namespace pda::ops_test {
namespace {

using Ins = std::vector<const Tensor*>;

// ---- references ---------------------------------------------------------------------------------

// Spatial dims of an (N, C, ...) shape padded in front to three axes.
std::array<int64_t, 3> spatial3(const Shape& s) {
    std::array<int64_t, 3> r{1, 1, 1};
    for (int i = 0; i < s.rank - 2; ++i) r[3 - (s.rank - 2) + i] = s[2 + i];
    return r;
}
// Geometry padded in front to three axes (kernel 1, stride 1, no pads, dilation 1).
Geometry geo3(const Geometry& g) {
    Geometry r = Geometry::square(3, 1, 1, 0);
    for (int i = 0; i < g.nd; ++i) {
        int j = 3 - g.nd + i;
        r.kernel[j] = g.kernel[i];
        r.stride[j] = g.stride[i];
        r.pad_begin[j] = g.pad_begin[i];
        r.pad_end[j] = g.pad_end[i];
        r.dilation[j] = g.dilation[i];
    }
    return r;
}

Ref conv_ref(const Node& nd, const Ins& ins, const Shape& ys) {
    const Tensor &x = *ins[0], &w = *ins[1], *b = ins.size() > 2 ? ins[2] : nullptr;
    auto in = spatial3(x.shape()), out = spatial3(ys), k = spatial3(w.shape());
    Geometry g = geo3(nd.geo);
    const int64_t n = x.shape()[0], ci = x.shape()[1], co = w.shape()[0], cig = ci / nd.group, cog = co / nd.group;
    Ref y(ys.numel());
    size_t idx = 0;
    for (int64_t b0 = 0; b0 < n; ++b0)
        for (int64_t oc = 0; oc < co; ++oc)
            for (int64_t o0 = 0; o0 < out[0]; ++o0)
                for (int64_t o1 = 0; o1 < out[1]; ++o1)
                    for (int64_t o2 = 0; o2 < out[2]; ++o2) {
                        double s = b ? b->data()[oc] : 0.0;
                        for (int64_t c = 0; c < cig; ++c)
                            for (int64_t k0 = 0; k0 < k[0]; ++k0)
                                for (int64_t k1 = 0; k1 < k[1]; ++k1)
                                    for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                                        int64_t i0 = o0 * g.stride[0] - g.pad_begin[0] + k0 * g.dilation[0];
                                        int64_t i1 = o1 * g.stride[1] - g.pad_begin[1] + k1 * g.dilation[1];
                                        int64_t i2 = o2 * g.stride[2] - g.pad_begin[2] + k2 * g.dilation[2];
                                        if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2])
                                            continue;
                                        int64_t xc = (oc / cog) * cig + c;
                                        double xv = x.data()[(((b0 * ci + xc) * in[0] + i0) * in[1] + i1) * in[2] + i2];
                                        double wv = w.data()[(((oc * cig + c) * k[0] + k0) * k[1] + k1) * k[2] + k2];
                                        s += xv * wv;
                                    }
                        y[idx++] = nd.fused_relu ? std::max(s, 0.0) : s;
                    }
    return y;
}

// Pools with PyTorch's formulation of ONNX's divisor: window clipped to [−pad, in + pad) when
// padding counts, then to [0, in) for the values (and for the divisor otherwise).
Ref pool_ref(const Node& n, const Ins& ins, const Shape& ys) {
    const Tensor& x = *ins[0];
    const bool max = n.op == OpType::kMaxPool, include_pad = n.count_include_pad;
    auto in = spatial3(x.shape()), out = spatial3(ys);
    Geometry g = geo3(n.geo);
    const int64_t planes = x.shape()[0] * x.shape()[1];
    Ref y(ys.numel());
    size_t idx = 0;
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t o0 = 0; o0 < out[0]; ++o0)
            for (int64_t o1 = 0; o1 < out[1]; ++o1)
                for (int64_t o2 = 0; o2 < out[2]; ++o2) {
                    int64_t o[3] = {o0, o1, o2};
                    int64_t divisor = 1;
                    for (int a = 0; a < 3; ++a) {
                        int64_t start = o[a] * g.stride[a] - g.pad_begin[a];
                        int64_t cnt = 0;
                        for (int64_t t = 0; t < g.kernel[a]; ++t) {
                            int64_t pos = start + t * g.dilation[a];
                            int64_t lo = include_pad ? -g.pad_begin[a] : 0;
                            int64_t hi = include_pad ? in[a] + g.pad_end[a] : in[a];
                            if (pos >= lo && pos < hi) ++cnt;
                        }
                        divisor *= cnt;
                    }
                    double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
                    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0)
                        for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1)
                            for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                                int64_t i0 = o0 * g.stride[0] - g.pad_begin[0] + k0 * g.dilation[0];
                                int64_t i1 = o1 * g.stride[1] - g.pad_begin[1] + k1 * g.dilation[1];
                                int64_t i2 = o2 * g.stride[2] - g.pad_begin[2] + k2 * g.dilation[2];
                                if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2]) continue;
                                double v = x.data()[((p * in[0] + i0) * in[1] + i1) * in[2] + i2];
                                acc = max ? std::max(acc, v) : acc + v;
                            }
                    y[idx++] = max ? acc : acc / static_cast<double>(divisor);
                }
    return y;
}

Ref global_pool_ref(const Node& n, const Ins& ins, const Shape& ys) {
    const float* x = ins[0]->data();
    const int64_t planes = ys.numel(), len = ins[0]->numel() / planes;
    Ref y(planes);
    for (int64_t p = 0; p < planes; ++p) {
        double s = 0, m = -1e30;
        for (int64_t i = 0; i < len; ++i) s += x[p * len + i], m = std::max(m, double(x[p * len + i]));
        y[p] = n.op == OpType::kGlobalMaxPool ? m : s / len;
    }
    return y;
}

Ref lrn_ref(const Node& n, const Ins& ins, const Shape& ys) {
    const float* x = ins[0]->data();
    const int64_t ch = ys[1], inner = ys.numel() / (ys[0] * ch);
    const int64_t before = (n.size - 1) / 2, after = n.size - 1 - before;  // floor, ceil of (size−1)/2
    Ref y(ys.numel());
    for (int64_t b = 0; b < ys[0]; ++b)
        for (int64_t k = 0; k < ch; ++k)
            for (int64_t i = 0; i < inner; ++i) {
                double sq = 0;
                for (int64_t j = std::max<int64_t>(0, k - before); j <= std::min(ch - 1, k + after); ++j) {
                    double v = x[(b * ch + j) * inner + i];
                    sq += v * v;
                }
                int64_t at = (b * ch + k) * inner + i;
                y[at] = x[at] / std::pow(n.bias + n.alpha / n.size * sq, n.beta);
            }
    return y;
}

// Y = alpha·op(A)·op(B) + beta·C (C broadcast), optional ReLU.
Ref gemm_ref(const Node& nd, const Ins& ins, const Shape&) {
    const Tensor &a = *ins[0], &b = *ins[1], *c = ins.size() > 2 ? ins[2] : nullptr;
    const bool ta = nd.trans_a, tb = nd.trans_b;
    const int64_t m = ta ? a.shape()[1] : a.shape()[0], k = ta ? a.shape()[0] : a.shape()[1];
    const int64_t n = tb ? b.shape()[0] : b.shape()[1];
    Ref y(m * n);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double s = 0;
            for (int64_t q = 0; q < k; ++q)
                s += double(a.data()[ta ? q * m + i : i * k + q]) * b.data()[tb ? j * k + q : q * n + j];
            s *= nd.alpha;
            if (c) {
                const Shape& cs = c->shape();
                int64_t ci = cs.rank == 2 && cs[0] > 1 ? i : 0, cj = cs.rank >= 1 && cs.at(-1) > 1 ? j : 0;
                int64_t cols = cs.rank >= 1 ? cs.at(-1) : 1;
                s += nd.beta * double(c->data()[ci * cols + cj]);
            }
            y[i * n + j] = nd.fused_relu ? std::max(s, 0.0) : s;
        }
    return y;
}

// numpy matmul through explicit broadcasting of the batch axes.
Ref matmul_ref(const Node&, const Ins& ins, const Shape& ys) {
    const Tensor &a = *ins[0], &b = *ins[1];
    Shape as = a.shape(), bs = b.shape();
    if (as.rank == 1) as = Shape{1, as[0]};
    if (bs.rank == 1) bs = Shape{bs[0], 1};
    const int64_t m = as.at(-2), k = as.at(-1), n = bs.at(-1);
    const int br = std::max(as.rank, bs.rank) - 2;
    int64_t batches = ys.numel() / (m * n);
    Ref y(ys.numel());
    for (int64_t t = 0; t < batches; ++t) {
        // Decompose t over the broadcast batch dims (row-major), map into a and b.
        int64_t rem = t, ao = 0, bo = 0, astr = m * k, bstr = k * n;
        for (int i = br - 1; i >= 0; --i) {
            int ia = as.rank - 2 - br + i, ib = bs.rank - 2 - br + i;
            int64_t da = ia >= 0 ? as[ia] : 1, db = ib >= 0 ? bs[ib] : 1, d = std::max(da, db);
            int64_t idx = rem % d;
            rem /= d;
            ao += (da == 1 ? 0 : idx) * astr;
            bo += (db == 1 ? 0 : idx) * bstr;
            astr *= da;
            bstr *= db;
        }
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                double s = 0;
                for (int64_t q = 0; q < k; ++q) s += double(a.data()[ao + i * k + q]) * b.data()[bo + q * n + j];
                y[(t * m + i) * n + j] = s;
            }
    }
    return y;
}

Ref activation_ref(const Node& n, const Ins& ins, const Shape&) {
    const Tensor& x = *ins[0];
    Ref y(x.numel());
    for (int64_t i = 0; i < x.numel(); ++i) {
        const double v = x.data()[i];
        if (n.op == OpType::kRelu) y[i] = std::max(v, 0.0);
        if (n.op == OpType::kLeakyRelu) y[i] = v >= 0 ? v : n.alpha * v;
        if (n.op == OpType::kClip) y[i] = std::min(std::max(v, double(n.min)), double(n.max));
        if (n.op == OpType::kSigmoid) y[i] = 1.0 / (1.0 + std::exp(-v));
    }
    return y;
}

// Add and Mul with numpy broadcasting.
Ref binary_ref(const Node& n, const Ins& ins, const Shape& ys) {
    const Shape &as = ins[0]->shape(), &bs = ins[1]->shape();
    Ref y(ys.numel());
    for (int64_t i = 0; i < ys.numel(); ++i) {
        int64_t rem = i, ia = 0, ib = 0, sa = 1, sb = 1;
        for (int d = ys.rank - 1; d >= 0; --d) {
            int64_t idx = rem % ys[d];
            rem /= ys[d];
            int da = as.rank - ys.rank + d, db = bs.rank - ys.rank + d;
            if (da >= 0) ia += (as[da] == 1 ? 0 : idx) * sa, sa *= as[da];
            if (db >= 0) ib += (bs[db] == 1 ? 0 : idx) * sb, sb *= bs[db];
        }
        double va = ins[0]->data()[ia], vb = ins[1]->data()[ib];
        y[i] = n.op == OpType::kAdd ? va + vb : va * vb;
    }
    return y;
}

// Inputs x, scale, bias, mean, var.
Ref batchnorm_ref(const Node& n, const Ins& in, const Shape& ys) {
    const int64_t ch = ys[1], inner = ys.numel() / (ys[0] * ch);
    Ref y(ys.numel());
    for (int64_t i = 0; i < ys.numel(); ++i) {
        int64_t c = (i / inner) % ch;
        y[i] = (in[0]->data()[i] - double(in[3]->data()[c])) / std::sqrt(double(in[4]->data()[c]) + n.epsilon) *
                   in[1]->data()[c] +
               in[2]->data()[c];
    }
    return y;
}

// allow_zero marks opset < 13: the softmax runs over the flattened [axis, rank).
Ref softmax_ref(const Node& n, const Ins& ins, const Shape& s) {
    const float* x = ins[0]->data();
    int64_t ax = n.axis < 0 ? n.axis + s.rank : n.axis, outer = 1, len = 1, inner = 1;
    for (int i = 0; i < s.rank; ++i) (i < ax ? outer : (i == ax || n.allow_zero) ? len : inner) *= s[i];
    Ref y(s.numel());
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            double m = -1e300, sum = 0;
            for (int64_t a = 0; a < len; ++a) m = std::max(m, double(x[(o * len + a) * inner + i]));
            for (int64_t a = 0; a < len; ++a) sum += std::exp(x[(o * len + a) * inner + i] - m);
            for (int64_t a = 0; a < len; ++a)
                y[(o * len + a) * inner + i] = std::exp(x[(o * len + a) * inner + i] - m) / sum;
        }
    return y;
}

// Per block of the axes before `axis`, each part's slab in turn.
Ref concat_ref(const Node& n, const Ins& ins, const Shape& ys) {
    const int ax = static_cast<int>(n.axis < 0 ? n.axis + ys.rank : n.axis);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < ax; ++i) outer *= ys[i];
    for (int i = ax + 1; i < ys.rank; ++i) inner *= ys[i];
    Ref y;
    for (int64_t o = 0; o < outer; ++o)
        for (const Tensor* t : ins) {
            const int64_t len = t->shape()[ax] * inner;
            y.insert(y.end(), t->data() + o * len, t->data() + (o + 1) * len);
        }
    return y;
}

// ---- the table ----------------------------------------------------------------------------------

Node node(OpType op) {
    Node n;
    n.name = op_name(op);
    n.op = op;
    return n;
}

// Per-axis geometry: kernel, stride, pads before and after, dilation.
Geometry geo(std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> pb, std::vector<int64_t> pe,
             std::vector<int64_t> d, bool ceil = false) {
    Geometry g;
    g.nd = static_cast<int>(k.size());
    for (int i = 0; i < g.nd; ++i) {
        g.kernel[i] = k[i];
        g.stride[i] = s[i];
        g.pad_begin[i] = pb[i];
        g.pad_end[i] = pe[i];
        g.dilation[i] = d[i];
    }
    g.ceil_mode = ceil;
    return g;
}
// The same on every axis.
Geometry square(int nd, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d = 1, bool ceil = false) {
    Geometry g = Geometry::square(nd, k, s, pb, ceil);
    for (int a = 0; a < nd; ++a) g.pad_end[a] = pe, g.dilation[a] = d;
    return g;
}
// (n, c, size, ..., size) with nd spatial axes.
Shape cube(int64_t n, int64_t c, int nd, int64_t size) {
    std::vector<int64_t> d{n, c};
    d.resize(2 + nd, size);
    return Shape(d);
}
std::string dims(const Shape& s) {
    std::string r = s.rank ? "" : "scalar";
    for (int i = 0; i < s.rank; ++i) r += (i ? "x" : "") + std::to_string(s[i]);
    return r;
}

OpCase conv(std::string name, Shape x, Shape w, Geometry g, int64_t group, bool bias, bool relu, uint32_t seed,
            uint32_t step = 1) {
    Node n = node(OpType::kConv);
    n.geo = g;
    n.group = group;
    n.fused_relu = relu;
    std::vector<OpInput> ins{{"x", x}, {"const_w", w}};
    if (bias) ins.push_back({"const_b", Shape{w[0]}});
    return {"Conv" + name, n, ins, seed, step, conv_ref, 1e-5, 1e-4};
}
OpCase pool(std::string name, OpType op, Shape x, Geometry g, bool include_pad, uint32_t seed) {
    Node n = node(op);
    n.geo = g;
    n.count_include_pad = include_pad;
    return {name, n, {{"x", x}}, seed, 1, pool_ref, 1e-5, 1e-6};
}
OpCase lrn(std::string name, Shape x, int64_t size, float alpha, float beta, float bias, uint32_t seed) {
    Node n = node(OpType::kLRN);
    n.size = size, n.alpha = alpha, n.beta = beta, n.bias = bias;
    return {"Lrn" + name, n, {{"x", x, -3.f, 3.f}}, seed, 1, lrn_ref, 1e-5, 1e-5};
}
// (m, k)·(k, n) from inputs named a, b and, when c is named, c of shape cs (a scalar is 0.7).
OpCase gemm(std::string name, bool ta, bool tb, float alpha, float beta, bool relu, int64_t m, int64_t k, int64_t n,
            const char* a, const char* b, const char* c, Shape cs, uint32_t seed, uint32_t step) {
    Node nd = node(OpType::kGemm);
    nd.trans_a = ta, nd.trans_b = tb, nd.alpha = alpha, nd.beta = beta, nd.fused_relu = relu;
    std::vector<OpInput> ins{{a, ta ? Shape{k, m} : Shape{m, k}}, {b, tb ? Shape{n, k} : Shape{k, n}}};
    if (c) ins.push_back({c, cs});
    if (c && cs.rank == 0) ins.back().pins = {{0, 0.7f}};
    return {"Gemm" + name, nd, ins, seed, step, gemm_ref, 1e-5, 1e-4};
}
// A name part for an axis: axis1, axis_minus1.
std::string axis_name(int64_t axis) {
    return "_axis" + std::string(axis < 0 ? "_minus" : "") + std::to_string(std::abs(axis));
}

OpCase matmul(const char* tag, Shape a, Shape b, bool b_const, uint32_t seed, uint32_t step) {
    const std::string name = "MatMul" + std::string(tag) + "_" + dims(a) + "_by_" + dims(b) + (b_const ? "_const" : "");
    return {name, node(OpType::kMatMul), {{"a", a}, {b_const ? "const_b" : "b", b}}, seed, step, matmul_ref, 1e-5,
            1e-4};
}
OpCase activation(std::string name, OpType op, float alpha, float lo, float hi, OpInput x, uint32_t seed) {
    Node n = node(op);
    n.alpha = alpha, n.min = lo, n.max = hi;
    return {name, n, {x}, seed, 1, activation_ref, 1e-5, 1e-6};
}
OpCase binary(const char* tag, OpType op, bool a_const, Shape a, bool b_const, Shape b, uint32_t seed, uint32_t step) {
    const std::string name = op_name(op) + std::string(tag) + "_" + dims(a) + (a_const ? "_const" : "") + "_with_" +
                             dims(b) + (b_const ? "_const" : "");
    std::vector<OpInput> ins{{a_const ? "const_a" : "a", a}, {b_const ? "const_b" : "b", b}};
    return {name, node(op), ins, seed, step, binary_ref, 1e-5, 1e-6};
}
// Inputs x, scale, bias, mean, var; the variance in [0.1, 2].
OpCase batchnorm(const char* tag, Shape x, uint32_t seed) {
    Node n = node(OpType::kBatchNorm);
    n.epsilon = 1e-3f;
    const Shape c{x[1]};
    std::vector<OpInput> ins{{"x", x}, {"const_s", c}, {"const_b", c}, {"const_m", c}, {"const_v", c, 0.1f, 2.f}};
    return {"BatchNorm" + std::string(tag) + "_" + dims(x), n, ins, seed, 1, batchnorm_ref, 1e-5, 1e-5};
}
OpCase softmax(const char* tag, int64_t axis, bool coerce, OpInput x, uint32_t seed) {
    Node n = node(OpType::kSoftmax);
    n.axis = axis;
    n.allow_zero = coerce;
    const std::string name = "Softmax" + std::string(tag) + "_" + dims(x.shape) + axis_name(axis);
    return {name + (coerce ? "_coerced" : ""), n, {x}, seed, 1, softmax_ref, 1e-5, 1e-6};
}
OpCase concat(const char* tag, int64_t axis, std::vector<OpInput> parts, uint32_t seed) {
    Node n = node(OpType::kConcat);
    n.axis = axis;
    return {"Concat" + std::string(tag) + axis_name(axis), n, parts, seed, 1, concat_ref, 1e-5, 0};
}

std::vector<OpCase> make_cases() {
    const OpType kMax = OpType::kMaxPool, kAvg = OpType::kAveragePool;
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<OpCase> t = {
        conv("2d_groups_dilation_asymmetric_pads_stride", {2, 6, 9, 11}, {4, 3, 3, 2},
             geo({3, 2}, {2, 1}, {1, 0}, {2, 1}, {2, 1}), 2, true, false, 1),
        conv("2d_depthwise_relu", {3, 8, 7, 7}, {8, 1, 3, 3}, square(2, 3, 1, 1, 1), 8, true, true, 4),
        conv("2d_no_bias_stride4_alexnet_conv1", {2, 3, 23, 23}, {16, 3, 11, 11}, square(2, 11, 4, 2, 2), 1, false,
             false, 7),
        conv("2d_64_channels_relu", {2, 32, 13, 13}, {64, 32, 3, 3}, square(2, 3, 1, 1, 1), 1, true, true, 10),
        conv("1d_stride_pads_dilation", {2, 4, 20}, {6, 4, 3}, geo({3}, {2}, {2}, {1}, {2}), 1, true, false, 13),
        conv("1d_groups_relu", {1, 6, 15}, {9, 2, 4}, geo({4}, {1}, {0}, {3}, {1}), 3, true, true, 16),
        conv("3d_asymmetric", {2, 3, 6, 7, 5}, {4, 3, 3, 2, 3},
             geo({3, 2, 3}, {1, 2, 1}, {1, 0, 1}, {0, 1, 2}, {1, 1, 2}), 1, true, false, 19),
        conv("3d_groups_relu", {1, 4, 5, 5, 5}, {6, 2, 2, 2, 2},
             geo({2, 2, 2}, {2, 1, 1}, {0, 1, 0}, {1, 0, 0}, {1, 2, 1}), 2, false, true, 22),
        // Inputs x, w, b drawn with seeds s, s + 10, s + 20.
        conv("2d_3_to_8", cube(2, 3, 2, 13), cube(8, 3, 2, 3), square(2, 3, 1, 1, 1), 1, true, false, 10, 10),
        conv("2d_k5_stride2_groups_relu", cube(2, 8, 2, 11), cube(12, 4, 2, 5), square(2, 5, 2, 2, 2), 2, true, true,
             11, 10),
        conv("2d_depthwise_no_bias_relu", cube(2, 6, 2, 9), cube(6, 1, 2, 3), square(2, 3, 1, 1, 1), 6, false, true, 12,
             10),
        conv("2d_asymmetric_stride2_relu", cube(2, 4, 2, 10), cube(8, 4, 2, 3), square(2, 3, 2, 0, 1), 1, true, true,
             13, 10),
        conv("2d_pad2_dilation2", cube(2, 4, 2, 12), cube(4, 4, 2, 3), square(2, 3, 1, 2, 2, 2), 1, true, false, 14,
             10),
        conv("1d_stride2_asymmetric", cube(2, 3, 1, 17), cube(5, 3, 1, 3), square(1, 3, 2, 1, 0), 1, true, false, 15,
             10),
        conv("3d_relu", cube(2, 2, 3, 7), cube(4, 2, 3, 3), square(3, 3, 1, 1, 1), 1, true, true, 16, 10),
        conv("2d_alexnet_conv1_full_width", cube(2, 3, 2, 57), cube(96, 3, 2, 11), square(2, 11, 4, 0, 0), 1, true,
             true, 17, 10),
        // 1 × 1 with padding, as SqueezeNet's last layer: below AVX-512 the convolution runs unpadded
        // and the bias is pasted around it (kernels/cpu/conv.cc).
        conv("2d_1x1_pad1_relu_squeezenet_conv10", {2, 32, 6, 5}, {24, 32, 1, 1}, square(2, 1, 1, 1, 1), 1, true, true,
             18),
        conv("3d_1x1_asymmetric_pads_no_bias", {1, 16, 3, 4, 5}, {16, 16, 1, 1, 1},
             geo({1, 1, 1}, {1, 1, 1}, {1, 0, 2}, {0, 1, 1}, {1, 1, 1}), 1, false, false, 19),

        pool("MaxPool2d_pads_stride", kMax, {2, 3, 9, 10}, geo({3, 3}, {2, 2}, {1, 0}, {1, 1}, {1, 1}), false, 100),
        pool("MaxPool2d_ceil_alexnet", kMax, {2, 4, 13, 13}, square(2, 3, 2, 0, 0, 1, true), false, 101),
        pool("MaxPool2d_ceil_extension", kMax, {1, 3, 10, 8}, geo({3, 2}, {2, 3}, {1, 0}, {0, 0}, {1, 1}, true), false,
             102),
        pool("MaxPool2d_dilation", kMax, {2, 2, 11, 9}, geo({3, 2}, {1, 2}, {1, 1}, {1, 0}, {2, 3}), false, 103),
        pool("MaxPool1d", kMax, {2, 3, 17}, geo({4}, {3}, {1}, {2}, {1}), false, 104),
        pool("MaxPool3d_ceil", kMax, {1, 2, 7, 6, 5}, geo({2, 3, 2}, {2, 2, 2}, {0, 1, 0}, {1, 0, 0}, {1, 1, 1}, true),
             false, 105),
        pool("AvgPool2d_exclude_pad", kAvg, {2, 3, 9, 10}, square(2, 3, 2, 1, 1), false, 106),
        pool("AvgPool2d_include_pad", kAvg, {2, 3, 9, 10}, geo({3, 3}, {2, 2}, {1, 0}, {1, 2}, {1, 1}), true, 107),
        pool("AvgPool2d_ceil_exclude_pad", kAvg, {1, 3, 10, 10}, square(2, 3, 2, 1, 0, 1, true), false, 108),
        // The ceil-mode extension past the pads is not counted.
        pool("AvgPool2d_ceil_include_pad_extension", kAvg, {2, 3, 10, 10},
             geo({3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 1}, true), true, 109),
        pool("AvgPool2d_ceil_include_pad", kAvg, {1, 2, 9, 9}, square(2, 3, 2, 1, 1, 1, true), true, 110),
        pool("AvgPool1d_include_pad", kAvg, {2, 3, 16}, geo({5}, {2}, {2}, {1}, {1}), true, 111),
        pool("AvgPool3d_ceil_include_pad", kAvg, {1, 2, 6, 7, 5},
             geo({2, 3, 2}, {2, 2, 2}, {1, 1, 0}, {0, 1, 0}, {1, 1, 1}, true), true, 112),
        pool("AvgPool3d_exclude_pad", kAvg, {2, 2, 5, 6, 7}, geo({3, 3, 3}, {1, 2, 2}, {1, 1, 1}, {1, 0, 1}, {1, 1, 1}),
             false, 113),
        pool("MaxPool2d_ceil_googlenet", kMax, cube(2, 5, 2, 13), square(2, 3, 2, 0, 0, 1, true), false, 40),
        pool("MaxPool2d_asymmetric", kMax, cube(2, 5, 2, 12), square(2, 3, 2, 1, 0), false, 41),
        pool("MaxPool2d_dilation2", kMax, cube(2, 5, 2, 11), square(2, 2, 2, 0, 0, 2), false, 42),
        pool("AvgPool2d_ceil_pads_include_pad", kAvg, cube(2, 5, 2, 13), square(2, 3, 2, 1, 1, 1, true), true, 43),
        pool("AvgPool2d_ceil_pads_exclude_pad", kAvg, cube(2, 5, 2, 13), square(2, 3, 2, 1, 1, 1, true), false, 44),
        pool("AvgPool2d_asymmetric_include_pad", kAvg, cube(2, 5, 2, 10), square(2, 3, 1, 0, 2), true, 45),
        pool("AvgPool1d_ceil_include_pad", kAvg, cube(2, 5, 1, 15), square(1, 4, 3, 1, 2, 1, true), true, 46),
        pool("MaxPool3d_ceil_pads", kMax, cube(2, 5, 3, 7), square(3, 3, 2, 1, 1, 1, true), false, 47),

        // Odd sizes run on cuDNN (rank 4), even sizes and other ranks on the custom CUDA kernel.
        lrn("5_2d", {2, 16, 5, 6}, 5, 1e-2f, 0.75f, 2.f, 200),
        lrn("4_2d", {2, 16, 5, 6}, 4, 5e-2f, 0.6f, 1.f, 201),
        lrn("3_2d", {1, 7, 3, 4}, 3, 0.3f, 0.5f, 1.5f, 202),
        lrn("2_1d", {1, 9, 4}, 2, 0.2f, 0.9f, 1.f, 203),
        lrn("6_3d", {2, 10, 3, 3, 2}, 6, 0.1f, 0.75f, 1.f, 204),
        lrn("5_3d", {2, 10, 3, 3, 2}, 5, 0.1f, 0.75f, 1.f, 205),
        lrn("5_alexnet", {2, 16, 9, 9}, 5, 1e-4f, 0.75f, 1.f, 50),
        lrn("5_large_alpha", {2, 16, 9, 9}, 5, 0.5f, 0.75f, 2.f, 51),  // the convention shows
        lrn("3_7_channels", {2, 7, 5, 5}, 3, 0.3f, 0.5f, 1.f, 52),
        lrn("4_9x9", {2, 16, 9, 9}, 4, 0.3f, 0.75f, 1.f, 53),
        lrn("2_11", {2, 6, 11}, 2, 0.3f, 0.75f, 1.f, 54),

        // k = 300: long sums; inputs a, b, c drawn with seeds s, s + 10, s + 20.
        gemm("_k300_tB", false, true, 1.f, 1.f, false, 7, 300, 33, "a", "const_b", "const_c", {33}, 60, 10),
        gemm("_k300_tB_relu", false, true, 1.f, 1.f, true, 7, 300, 33, "a", "const_b", "const_c", {33}, 61, 10),
        gemm("_k300_tA_C_7x33", true, false, 0.5f, 2.f, false, 7, 300, 33, "a", "const_b", "const_c", {7, 33}, 62, 10),
        gemm("_k300_tA_tB_C_7x1_computed_B", true, true, 1.f, 0.5f, false, 7, 300, 33, "a", "b", "const_c", {7, 1}, 63,
             10),
        gemm("_k300_no_C_relu_computed_B", false, false, 2.f, 1.f, true, 7, 300, 33, "a", "b", nullptr, {}, 64, 10),
        gemm("_k300_C_1", false, false, 1.f, 3.f, false, 7, 300, 33, "a", "const_b", "const_c", {1}, 65, 10),

        matmul("", {4, 6}, {6, 3}, true, 400, 1),
        matmul("", {4, 6}, {6, 3}, false, 402, 1),
        matmul("", {2, 4, 6}, {6, 5}, true, 404, 1),
        matmul("", {2, 3, 4, 6}, {6, 5}, false, 406, 1),
        matmul("", {1, 4, 6}, {3, 6, 2}, false, 408, 1),
        matmul("", {2, 1, 4, 6}, {3, 6, 2}, true, 410, 1),
        matmul("", {3, 4, 6}, {3, 6, 2}, false, 412, 1),
        matmul("", {6}, {6, 4}, true, 414, 1),
        matmul("", {4, 6}, {6}, false, 416, 1),
        matmul("", {6}, {2, 6, 3}, false, 418, 1),
        matmul("", {2, 3, 6}, {6}, true, 420, 1),
        matmul("", {6}, {6}, false, 422, 1),
        matmul("_k40", {5, 40}, {40, 9}, false, 90, 10),
        matmul("_k40", {2, 3, 5, 40}, {40, 9}, false, 91, 10),
        matmul("_k40", {2, 1, 5, 40}, {3, 40, 9}, false, 92, 10),
        matmul("_k40", {40}, {2, 40, 9}, false, 93, 10),
        matmul("_k40", {4, 5, 40}, {40}, false, 94, 10),
    };
    for (OpType op : {OpType::kGlobalAveragePool, OpType::kGlobalMaxPool}) {
        t.push_back({op_name(op), node(op), {{"x", {3, 5, 6, 7}}}, 7, 1, global_pool_ref, 1e-5, 1e-5});
        t.push_back({op_name(op) + std::string("_13x13"),
                     node(op),
                     {{"x", {3, 7, 13, 13}}},
                     5,
                     1,
                     global_pool_ref,
                     1e-5,
                     1e-5});
    }
    // Sigmoid far left must not overflow.
    const OpInput small{"x", {2, 3, 5, 7}, -4.f, 4.f, {{0, -90.f}, {1, 90.f}}}, wide{"x", {3, 5, 7, 11}, -8.f, 8.f};
    // (x, seed, name suffix, the two Clips' upper bounds)
    const std::tuple<OpInput, uint32_t, const char*, float, float> acts[] = {{small, 500, "", 1.25f, 0.3f},
                                                                             {wide, 7, "_wide", 0.25f, 0.5f}};
    for (const auto& [x, seed, tag, hi, hi2] : acts) {
        t.push_back(activation(std::string("Relu") + tag, OpType::kRelu, 0, 0, 0, x, seed));
        t.push_back(activation(std::string("LeakyRelu") + tag, OpType::kLeakyRelu, 0.1f, 0, 0, x, seed));
        t.push_back(activation(std::string("Clip") + tag, OpType::kClip, 0, -0.5f, hi, x, seed));
        t.push_back(activation(std::string("Clip_no_min") + tag, OpType::kClip, 0, -inf, hi2, x, seed));
        t.push_back(activation(std::string("Sigmoid") + tag, OpType::kSigmoid, 0, 0, 0, x, seed));
    }
    // (a, b, a constant, b constant)
    const std::tuple<Shape, Shape, bool, bool> broadcasts[] = {{{2, 3, 4, 5}, {2, 3, 4, 5}, false, false},
                                                               {{2, 3, 4, 5}, {1, 3, 1, 1}, false, true},
                                                               {{2, 3, 4, 5}, {3, 1, 1}, false, false},
                                                               {{3, 1}, {2, 1, 4}, false, false},
                                                               {{2, 3, 4, 5}, {}, false, true},
                                                               {{5}, {2, 3, 4, 5}, true, false},
                                                               {{2, 1, 4, 1}, {1, 3, 1, 5}, false, false},
                                                               {{4, 5}, {2, 3, 4, 5}, false, false}};
    uint32_t seed = 600;
    for (const auto& [a, b, ac, bc] : broadcasts)
        for (OpType op : {OpType::kAdd, OpType::kMul}) t.push_back(binary("", op, ac, a, bc, b, seed, 1)), seed += 2;
    const std::pair<Shape, Shape> broadcasts2[] = {{{2, 3, 4, 5}, {2, 3, 4, 5}},
                                                   {{2, 3, 4, 5}, {3, 1, 1}},
                                                   {{2, 1, 4, 1}, {1, 3, 1, 5}},
                                                   {{5}, {2, 3, 4, 5}},
                                                   {{2, 3, 4, 5}, {1}}};
    uint32_t i = 0;  // a, b drawn with seeds 110 + i, 120 + i; b constant for odd i
    for (OpType op : {OpType::kAdd, OpType::kMul})
        for (const auto& [a, b] : broadcasts2) t.push_back(binary("_2", op, false, a, i % 2, b, 110 + i, 10)), ++i;
    t.push_back(batchnorm("", {4, 6}, 700));
    t.push_back(batchnorm("", {2, 5, 3, 4}, 705));
    t.push_back(batchnorm("", {1, 3, 2, 3, 4}, 710));
    t.push_back(batchnorm("_2", {2, 6, 5, 7}, 1));
    // exp overflows unless the maximum is subtracted
    const OpInput logits{"x", {2, 3, 4, 5}, -20.f, 20.f, {{3, 95.f}}};
    const std::pair<int64_t, bool> axes[] = {{1, false}, {-1, false}, {0, false}, {2, false},
                                             {1, true},  {-2, true},  {3, true}};  // (axis, coerced)
    for (auto [axis, coerce] : axes) t.push_back(softmax("", axis, coerce, logits, 800));
    const std::tuple<Shape, int64_t, bool> axes2[] = {{{4, 1000}, 1, false},
                                                      {{2, 5, 3, 4}, 1, false},
                                                      {{2, 5, 3, 4}, -1, false},
                                                      {{2, 5, 3, 4}, 1, true},
                                                      {{3, 300}, 0, false}};
    for (auto [x, axis, coerce] : axes2) t.push_back(softmax("_2", axis, coerce, {"x", x, -10.f, 10.f}, 9));
    seed = 900;
    for (int64_t axis : {0, 1, 2, -1}) {
        std::vector<OpInput> parts{{"a", {2, 3, 4}}, {"const_b", {2, 3, 4}}, {"c", {2, 3, 4}}};
        for (int k = 0; k < 3; ++k) parts[k].shape[axis < 0 ? 2 : static_cast<int>(axis)] = k == 0 ? 2 : k == 1 ? 3 : 1;
        t.push_back(concat("", axis, parts, seed)), seed += 3;
    }
    for (int64_t axis : {1, 2, -1})
        t.push_back(concat("_2", axis, {{"a", {2, 3, 4, 5}}, {"b", {2, 3, 4, 5}}, {"const_c", {2, 3, 4, 5}}}, 1));
    // Every transpose, every C shape (and none), four input forms: 0 B constant, 1 B input, 2 A
    // constant and B input, 3 B and C inputs.
    const std::vector<Shape> c_shapes = {Shape{}, Shape{1}, Shape{6}, Shape{1, 6}, Shape{5, 1}, Shape{5, 6}};
    seed = 300;
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb)
            for (size_t ci = 0; ci <= c_shapes.size(); ++ci)
                for (int v = 0; v < 4; ++v) {
                    const bool has_c = ci < c_shapes.size();
                    const Shape cs = has_c ? c_shapes[ci] : Shape{};
                    const std::string name = "_tA" + std::to_string(ta) + "_tB" + std::to_string(tb) + "_C_" +
                                             (has_c ? dims(cs) : "none") + "_form" + std::to_string(v);
                    const float alpha = v == 0 ? 0.75f : v == 1 ? 1.f : -1.5f, beta = v == 1 ? 1.f : 0.5f;
                    const char* c = has_c ? (v == 3 ? "c" : "const_c") : nullptr;
                    t.push_back(gemm(name, ta, tb, alpha, beta, (ci + v) % 2 == 1, 5, 7, 6, v == 2 ? "const_a" : "a",
                                     v == 0 ? "const_b" : "b", c, cs, seed, 1));
                    seed += has_c ? 3 : 2;
                }
    return t;
}

}  // namespace

const std::vector<OpCase>& op_cases() {
    static const std::vector<OpCase> cases = make_cases();
    return cases;
}

}  // namespace pda::ops_test
