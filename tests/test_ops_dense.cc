// CPU op tests, dense and element-wise ops: Gemm, MatMul, activations, Add/Mul broadcasting,
// BatchNormalization, Softmax, Concat as one-node graphs compiled with compile_cpu on seeded random
// inputs, against naive double references written here.
#include "tests/ops_harness.h"

namespace pda {
namespace {

using namespace ops_test;

// Reference of Y = alpha·op(A)·op(B) + beta·C (C broadcast), optional ReLU.
Ref gemm_ref(const Tensor& a, const Tensor& b, const Tensor* c, bool ta, bool tb, float alpha, float beta, bool relu) {
    const int64_t m = ta ? a.shape()[1] : a.shape()[0], k = ta ? a.shape()[0] : a.shape()[1];
    const int64_t n = tb ? b.shape()[0] : b.shape()[1];
    Ref y(m * n);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double s = 0;
            for (int64_t q = 0; q < k; ++q)
                s += double(a.data()[ta ? q * m + i : i * k + q]) * b.data()[tb ? j * k + q : q * n + j];
            s *= alpha;
            if (c) {
                const Shape& cs = c->shape();
                int64_t ci = cs.rank == 2 && cs[0] > 1 ? i : 0, cj = cs.rank >= 1 && cs.at(-1) > 1 ? j : 0;
                int64_t cols = cs.rank >= 1 ? cs.at(-1) : 1;
                s += beta * double(c->data()[ci * cols + cj]);
            }
            y[i * n + j] = relu ? std::max(s, 0.0) : s;
        }
    return y;
}

TEST(OpsGemm, TransposesBiasShapesAlphaBeta) {
    const int64_t m = 5, k = 7, n = 6;
    const std::vector<Shape> c_shapes = {Shape{}, Shape{1}, Shape{n}, Shape{1, n}, Shape{m, 1}, Shape{m, n}};
    uint32_t seed = 300;
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb)
            for (size_t ci = 0; ci <= c_shapes.size(); ++ci)
                for (int variant = 0; variant < 4; ++variant) {
                    // variant: 0 B constant, 1 B input, 2 A constant and B input, 3 B and C inputs
                    const bool has_c = ci < c_shapes.size();
                    Node nd;
                    nd.name = "gemm";
                    nd.op = OpType::kGemm;
                    nd.trans_a = ta;
                    nd.trans_b = tb;
                    nd.alpha = variant == 0 ? 0.75f : variant == 1 ? 1.f : -1.5f;
                    nd.beta = variant == 1 ? 1.f : 0.5f;
                    nd.fused_relu = (ci + variant) % 2 == 1;
                    Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, seed++);
                    Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, seed++);
                    Tensor c = has_c ? random_tensor(c_shapes[ci], seed++) : Tensor();
                    if (has_c && c_shapes[ci].rank == 0) c = Tensor(Shape{}, std::vector<float>{0.7f}.data());
                    std::vector<std::pair<std::string, const Tensor*>> ins{{variant == 2 ? "const_a" : "a", &a},
                                                                           {variant == 0 ? "const_b" : "b", &b}};
                    if (has_c) ins.emplace_back(variant == 3 ? "c" : "const_c", &c);
                    OneNode one(nd, ins);
                    std::string what = "Gemm transA " + std::to_string(ta) + " transB " + std::to_string(tb) + " C " +
                                       (has_c ? c_shapes[ci].str() : "none") + " variant " + std::to_string(variant);
                    expect_close(run_one(one),
                                 gemm_ref(a, b, has_c ? &c : nullptr, ta, tb, nd.alpha, nd.beta, nd.fused_relu), what);
                }
}

// numpy matmul reference through explicit broadcasting of the batch axes.
Ref matmul_ref(const Tensor& a, const Tensor& b, const Shape& ys) {
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

TEST(OpsMatMul, BroadcastAndVectors) {
    struct C {
        Shape a, b;
        bool b_const;
    };
    const C cases[] = {{{4, 6}, {6, 3}, true},        {{4, 6}, {6, 3}, false},       {{2, 4, 6}, {6, 5}, true},
                       {{2, 3, 4, 6}, {6, 5}, false}, {{1, 4, 6}, {3, 6, 2}, false}, {{2, 1, 4, 6}, {3, 6, 2}, true},
                       {{3, 4, 6}, {3, 6, 2}, false}, {{6}, {6, 4}, true},           {{4, 6}, {6}, false},
                       {{6}, {2, 6, 3}, false},       {{2, 3, 6}, {6}, true},        {{6}, {6}, false}};
    uint32_t seed = 400;
    for (const C& c : cases) {
        Node nd;
        nd.name = "matmul";
        nd.op = OpType::kMatMul;
        Tensor a = random_tensor(c.a, seed++), b = random_tensor(c.b, seed++);
        OneNode one(nd, {{"a", &a}, {c.b_const ? "const_b" : "b", &b}});
        Shape ys;
        std::vector<float> got = run_one(one, &ys);
        expect_close(got, matmul_ref(a, b, ys), "MatMul " + c.a.str() + " x " + c.b.str());
    }
}

TEST(OpsEltwise, Activations) {
    Tensor x = random_tensor(Shape{2, 3, 5, 7}, 500, -4.f, 4.f);
    x.data()[0] = -90.f;  // sigmoid far left must not overflow
    x.data()[1] = 90.f;
    struct C {
        OpType op;
        float alpha, lo, hi;
        double (*f)(double, float, float, float);
    };
    const float inf = std::numeric_limits<float>::infinity();
    const C cases[] = {
        {OpType::kRelu, 0, 0, 0, [](double v, float, float, float) { return std::max(v, 0.0); }},
        {OpType::kLeakyRelu, 0.1f, 0, 0, [](double v, float a, float, float) { return v >= 0 ? v : a * v; }},
        {OpType::kClip, 0, -0.5f, 1.25f,
         [](double v, float, float lo, float hi) { return std::min(std::max(v, double(lo)), double(hi)); }},
        {OpType::kClip, 0, -inf, 0.3f,
         [](double v, float, float lo, float hi) { return std::min(std::max(v, double(lo)), double(hi)); }},
        {OpType::kSigmoid, 0, 0, 0, [](double v, float, float, float) { return 1.0 / (1.0 + std::exp(-v)); }},
    };
    for (const C& c : cases) {
        Node nd;
        nd.name = "act";
        nd.op = c.op;
        nd.alpha = c.alpha;
        nd.min = c.lo;
        nd.max = c.hi;
        OneNode one(nd, {{"x", &x}});
        Ref ref(x.numel());
        for (int64_t i = 0; i < x.numel(); ++i) ref[i] = c.f(x.data()[i], c.alpha, c.lo, c.hi);
        expect_close(run_one(one), ref, op_name(c.op));
    }
}

TEST(OpsEltwise, AddMulBroadcast) {
    struct C {
        Shape a, b;
        bool a_const, b_const;
    };
    const C cases[] = {{{2, 3, 4, 5}, {2, 3, 4, 5}, false, false},
                       {{2, 3, 4, 5}, {1, 3, 1, 1}, false, true},
                       {{2, 3, 4, 5}, {3, 1, 1}, false, false},
                       {{3, 1}, {2, 1, 4}, false, false},
                       {{2, 3, 4, 5}, {}, false, true},
                       {{5}, {2, 3, 4, 5}, true, false},
                       {{2, 1, 4, 1}, {1, 3, 1, 5}, false, false},
                       {{4, 5}, {2, 3, 4, 5}, false, false}};
    uint32_t seed = 600;
    for (const C& c : cases)
        for (OpType op : {OpType::kAdd, OpType::kMul}) {
            Node nd;
            nd.name = "bin";
            nd.op = op;
            Tensor a = random_tensor(c.a, seed++), b = random_tensor(c.b, seed++);
            OneNode one(nd, {{c.a_const ? "const_a" : "a", &a}, {c.b_const ? "const_b" : "b", &b}});
            Shape ys;
            std::vector<float> got = run_one(one, &ys);
            Ref ref(ys.numel());
            for (int64_t i = 0; i < ys.numel(); ++i) {
                int64_t rem = i, ia = 0, ib = 0, sa = 1, sb = 1;
                for (int d = ys.rank - 1; d >= 0; --d) {
                    int64_t idx = rem % ys[d];
                    rem /= ys[d];
                    int da = c.a.rank - ys.rank + d, db = c.b.rank - ys.rank + d;
                    if (da >= 0) ia += (c.a[da] == 1 ? 0 : idx) * sa, sa *= c.a[da];
                    if (db >= 0) ib += (c.b[db] == 1 ? 0 : idx) * sb, sb *= c.b[db];
                }
                double va = a.data()[ia], vb = b.data()[ib];
                ref[i] = op == OpType::kAdd ? va + vb : va * vb;
            }
            expect_close(got, ref, std::string(op_name(op)) + " " + c.a.str() + " with " + c.b.str());
        }
}

TEST(OpsBatchNorm, Ranks) {
    uint32_t seed = 700;
    for (Shape xs : {Shape{4, 6}, Shape{2, 5, 3, 4}, Shape{1, 3, 2, 3, 4}}) {
        const int64_t ch = xs[1];
        Tensor x = random_tensor(xs, seed++), scale = random_tensor(Shape{ch}, seed++),
               bias = random_tensor(Shape{ch}, seed++), mean = random_tensor(Shape{ch}, seed++),
               var = random_tensor(Shape{ch}, seed++, 0.1f, 2.f);
        Node nd;
        nd.name = "bn";
        nd.op = OpType::kBatchNorm;
        nd.epsilon = 1e-3f;
        OneNode one(nd, {{"x", &x}, {"const_s", &scale}, {"const_b", &bias}, {"const_m", &mean}, {"const_v", &var}});
        const int64_t inner = xs.numel() / (xs[0] * ch);
        Ref ref(x.numel());
        for (int64_t i = 0; i < x.numel(); ++i) {
            int64_t c = (i / inner) % ch;
            ref[i] =
                (x.data()[i] - double(mean.data()[c])) / std::sqrt(double(var.data()[c]) + 1e-3) * scale.data()[c] +
                bias.data()[c];
        }
        expect_close(run_one(one), ref, "BatchNorm " + xs.str());
    }
}

TEST(OpsSoftmax, AxisAndCoercedForms) {
    Tensor x = random_tensor(Shape{2, 3, 4, 5}, 800, -20.f, 20.f);
    x.data()[3] = 95.f;  // exp overflows unless the maximum is subtracted
    struct C {
        int64_t axis;
        bool coerce;  // opset < 13: flatten [axis, rank)
    };
    for (C c : {C{1, false}, C{-1, false}, C{0, false}, C{2, false}, C{1, true}, C{-2, true}, C{3, true}}) {
        Node nd;
        nd.name = "softmax";
        nd.op = OpType::kSoftmax;
        nd.axis = c.axis;
        nd.allow_zero = c.coerce;
        OneNode one(nd, {{"x", &x}});
        const Shape& s = x.shape();
        int64_t ax = c.axis < 0 ? c.axis + s.rank : c.axis, outer = 1, len = 1, inner = 1;
        for (int i = 0; i < s.rank; ++i) (i < ax ? outer : (i == ax || c.coerce) ? len : inner) *= s[i];
        Ref ref(x.numel());
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t i = 0; i < inner; ++i) {
                double m = -1e300, sum = 0;
                for (int64_t a = 0; a < len; ++a) m = std::max(m, double(x.data()[(o * len + a) * inner + i]));
                for (int64_t a = 0; a < len; ++a) sum += std::exp(x.data()[(o * len + a) * inner + i] - m);
                for (int64_t a = 0; a < len; ++a)
                    ref[(o * len + a) * inner + i] = std::exp(x.data()[(o * len + a) * inner + i] - m) / sum;
            }
        std::vector<float> got = run_one(one);
        expect_close(got, ref, "Softmax axis " + std::to_string(c.axis) + (c.coerce ? " coerced" : ""));
    }
}

TEST(OpsConcat, Axes) {
    uint32_t seed = 900;
    for (int64_t axis : {0, 1, 2, -1}) {
        std::vector<Tensor> parts;
        const int64_t sizes[] = {2, 3, 1};
        for (int k = 0; k < 3; ++k) {
            Shape s{2, 3, 4};
            s[axis < 0 ? axis + 3 : axis] = sizes[k];
            parts.push_back(random_tensor(s, seed++));
        }
        Node nd;
        nd.name = "concat";
        nd.op = OpType::kConcat;
        nd.axis = axis;
        OneNode one(nd, {{"a", &parts[0]}, {"const_b", &parts[1]}, {"c", &parts[2]}});
        Shape ys;
        std::vector<float> got = run_one(one, &ys);
        const int ax = static_cast<int>(axis < 0 ? axis + 3 : axis);
        Ref ref(ys.numel());
        for (int64_t i = 0; i < ys.numel(); ++i) {
            int64_t idx[3] = {i / (ys[1] * ys[2]), (i / ys[2]) % ys[1], i % ys[2]};
            int k = 0;
            while (idx[ax] >= parts[k].shape()[ax]) idx[ax] -= parts[k++].shape()[ax];
            const Shape& ps = parts[k].shape();
            ref[i] = parts[k].data()[(idx[0] * ps[1] + idx[1]) * ps[2] + idx[2]];
        }
        expect_close(got, ref, "Concat axis " + std::to_string(axis));
    }
}

}  // namespace
}  // namespace pda
