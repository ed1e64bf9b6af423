// The cases both incremental suites run (tests/test_incremental.cc on the CPU, test_cuda_incremental.cc
// on the GPU; test_incremental_volume.cc for volumes): seeded random graphs with every op the paper's
// networks use and the border cases, the built-in networks at width 1/8, two hidden values per graph,
// and the batches of resampled images (or volumes) over window positions at every border and corner;
// the explain case for maps of every sampler.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/explainer.h"
#include "engine/gaussian.h"
#include "engine/program.h"
#include "engine/sampler_conditional.h"
#include "engine/samplers.h"
#include "networks/builtin.h"
#include "networks/graph.h"

namespace pda::incremental_test {

inline Tensor random_tensor(const Shape& s, std::mt19937& rng, float lo, float hi) {
    Tensor t(s);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = u(rng);
    return t;
}

// Window positions along an axis of length n: the first and last four of the stride grid (the last
// one flush with the border), two around the centre; every position when `all`.
inline std::vector<int64_t> positions(int64_t n, int64_t k, int64_t stride, bool all) {
    std::vector<int64_t> p;
    const int64_t last = n - k;
    for (int64_t a = 0; a <= last; a += stride) p.push_back(a);
    if (p.back() != last) p.push_back(last);
    if (all || p.size() <= 10) return p;
    std::vector<int64_t> q(p.begin(), p.begin() + 4);
    q.push_back(p[p.size() / 2 - 1]);
    q.push_back(p[p.size() / 2]);
    q.insert(q.end(), p.end() - 4, p.end());
    return q;
}

// A random clean image (or volume) of g's input and, batch after batch, `batch` resampled images, each
// changed (normal samples) inside its own window of the position grid (slices × rows × cols; k × k
// windows at slice 0 of an image, k × k × k in a volume); the last batch is padded with clean images
// naming its last window.
class WindowBatches {
  public:
    WindowBatches(const Graph& g, int64_t k, int64_t stride, bool all, int64_t batch, uint32_t seed)
        : k_(k), batch_(batch), rng_(seed) {
        Shape in = g.inputs[0].shape;
        in[0] = 1;
        const bool volume = in.rank == 5;
        kd_ = volume ? k : 1;
        x_ = random_tensor(in, rng_, -1.f, 1.f);
        const std::vector<int64_t> slices = volume ? positions(in[2], k, stride, all) : std::vector<int64_t>{0};
        for (int64_t z : slices)
            for (int64_t r : positions(in[in.rank - 2], k, stride, all))
                for (int64_t c : positions(in[in.rank - 1], k, stride, all)) windows_.push_back({z, r, c});
        in[0] = batch;
        images_ = Tensor(in);
        slices_.assign(static_cast<size_t>(batch), 0);
        rows_.assign(static_cast<size_t>(batch), 0);
        cols_.assign(static_cast<size_t>(batch), 0);
    }

    // Fills the next batch; false when every window has been run.
    bool next() {
        if (w0_ >= windows_.size()) return false;
        const Shape& s = x_.shape();
        const int64_t C = s[1], D = s.rank == 5 ? s[2] : 1, H = s[s.rank - 2], W = s[s.rank - 1], image = C * D * H * W;
        for (int64_t b = 0; b < batch_; ++b) {
            const size_t wi = std::min(windows_.size() - 1, w0_ + static_cast<size_t>(b));
            slices_[b] = windows_[wi][0];
            rows_[b] = windows_[wi][1];
            cols_[b] = windows_[wi][2];
            float* img = images_.data() + b * image;
            std::copy(x_.data(), x_.data() + image, img);
            if (w0_ + b >= windows_.size()) continue;  // padding: a clean image
            for (int64_t c = 0; c < C; ++c)
                for (int64_t p = 0; p < kd_; ++p)
                    for (int64_t r = 0; r < k_; ++r)
                        for (int64_t q = 0; q < k_; ++q)
                            img[((c * D + slices_[b] + p) * H + rows_[b] + r) * W + cols_[b] + q] = normal_(rng_);
        }
        w0_ += static_cast<size_t>(batch_);
        return true;
    }

    const Tensor& x() const { return x_; }
    const Tensor& images() const { return images_; }
    size_t windows() const { return windows_.size(); }
    const std::vector<int64_t>& slices() const { return slices_; }
    const std::vector<int64_t>& rows() const { return rows_; }
    const std::vector<int64_t>& cols() const { return cols_; }

  private:
    int64_t k_, kd_ = 1, batch_;
    std::mt19937 rng_;
    std::normal_distribution<float> normal_{0.f, 1.f};
    Tensor x_, images_;
    std::vector<std::array<int64_t, 3>> windows_;  // (slice, row, column)
    std::vector<int64_t> slices_, rows_, cols_;
    size_t w0_ = 0;
};

// max |a − b| over max |b|: the relative difference the incremental suites assert; infinite where a
// value is not finite in either (a NaN must not hide in a maximum).
inline double relative_difference(ConstTensorView a, ConstTensorView b) {
    double m = 0, d = 0;
    for (int64_t e = 0; e < b.numel(); ++e) {
        const double x = a.data[e], y = b.data[e];
        if (!std::isfinite(x) || !std::isfinite(y)) return INFINITY;
        m = std::max(m, std::fabs(y));
        d = std::max(d, std::fabs(x - y));
    }
    return d / std::max(m, 1e-30);
}

// Two hidden values of g: a quarter and half way through its nodes, on spatial maps when possible.
inline std::vector<std::string> hidden_values(const Graph& g) {
    std::vector<std::string> r;
    for (double f : {0.25, 0.5}) {
        size_t i = static_cast<size_t>(f * static_cast<double>(g.nodes.size()));
        r.push_back(g.nodes.at(i).output);
    }
    return r;
}

struct Maker {
    Graph g;
    std::mt19937 rng;
    explicit Maker(uint32_t seed, const Shape& in) : rng(seed) {
        g.name = "random" + std::to_string(seed);
        g.inputs = {{"x", in}};
    }
    std::map<std::string, Shape> shapes() { return infer_shapes(g, {g.inputs[0].shape}); }
    std::string add(Node n) {
        n.name = "n" + std::to_string(g.nodes.size());
        n.output = n.name;
        g.nodes.push_back(n);
        return n.name;
    }
    std::string conv(const std::string& x, int64_t out, const Geometry& geo, int64_t group = 1) {
        Node n;
        n.op = OpType::kConv;
        n.geo = geo;
        n.group = group;
        const std::string name = "n" + std::to_string(g.nodes.size());
        const int64_t c = shapes().at(x)[1];
        std::vector<int64_t> w{out, c / group};  // (out, c / group, kernel per spatial axis)
        for (int i = 0; i < geo.nd; ++i) w.push_back(geo.kernel[i]);
        g.constants[name + ".w"] = random_tensor(Shape(w), rng, -0.5f, 0.5f);
        g.constants[name + ".b"] = random_tensor(Shape{out}, rng, -0.5f, 0.5f);
        n.inputs = {x, name + ".w", name + ".b"};
        return add(n);
    }
    std::string pool(const std::string& x, OpType op, const Geometry& geo, bool include_pad = false) {
        Node n;
        n.op = op;
        n.geo = geo;
        n.count_include_pad = include_pad;
        n.inputs = {x};
        return add(n);
    }
    std::string op(OpType op, const std::vector<std::string>& xs) {
        Node n;
        n.op = op;
        n.inputs = xs;
        n.axis = 1;
        if (op == OpType::kLRN) {
            n.size = 3;
            n.alpha = 1e-2f;
            n.beta = 0.75f;
            n.bias = 1.f;
        }
        return add(n);
    }
    std::string batch_norm(const std::string& x) {
        Node n;
        n.op = OpType::kBatchNorm;
        const std::string name = "n" + std::to_string(g.nodes.size());
        const int64_t c = shapes().at(x)[1];
        g.constants[name + ".g"] = random_tensor(Shape{c}, rng, 0.5f, 1.5f);
        g.constants[name + ".b"] = random_tensor(Shape{c}, rng, -0.5f, 0.5f);
        g.constants[name + ".m"] = random_tensor(Shape{c}, rng, -0.5f, 0.5f);
        g.constants[name + ".v"] = random_tensor(Shape{c}, rng, 0.5f, 1.5f);
        n.inputs = {x, name + ".g", name + ".b", name + ".m", name + ".v"};
        return add(n);
    }
    std::string gemm(const std::string& x, int64_t out) {
        Node n;
        n.op = OpType::kGemm;
        n.alpha = n.beta = 1.f;
        n.trans_b = true;
        const std::string name = "n" + std::to_string(g.nodes.size());
        const int64_t in = shapes().at(x)[1];
        g.constants[name + ".w"] = random_tensor(Shape{out, in}, rng, -0.5f, 0.5f);
        g.constants[name + ".b"] = random_tensor(Shape{out}, rng, -0.5f, 0.5f);
        n.inputs = {x, name + ".w", name + ".b"};
        return add(n);
    }
};

inline Geometry geo(int64_t k, int64_t s, int64_t pb, int64_t pe, bool ceil_mode = false) {
    Geometry g = Geometry::square(2, k, s, pb, ceil_mode);
    g.pad_end[0] = g.pad_end[1] = pe;
    return g;
}

// average pool with pads → conv (pads) → BN → ReLU → LRN → max pool (ceil mode) → two branches (1×1 conv,
// grouped 3×3 conv + average pool counting or not counting pads) → concat → Add with a skip → softmax over
// channels → average pool (ceil mode, pads) → strided conv → global pool → flatten → fully connected → softmax.
inline Graph random_graph(uint32_t seed, bool include_pad) {
    Maker m(seed, Shape{1, 3, 41, 37});
    std::string x = m.pool("x", OpType::kAveragePool, geo(3, 1, 1, 1), include_pad);
    x = m.conv(x, 8, geo(3, 1, 1, 1));
    x = m.batch_norm(x);
    x = m.op(OpType::kRelu, {x});
    x = m.op(OpType::kLRN, {x});
    x = m.pool(x, OpType::kMaxPool, geo(3, 2, 0, 0, true));
    std::string a = m.conv(x, 4, geo(1, 1, 0, 0));
    std::string b = m.conv(x, 4, geo(3, 1, 1, 1), 2);
    b = m.pool(b, OpType::kAveragePool, geo(3, 1, 1, 1), include_pad);
    std::string c = m.op(OpType::kConcat, {a, b});
    std::string s = m.conv(x, 8, geo(3, 1, 1, 1));
    x = m.op(OpType::kAdd, {c, s});
    x = m.op(OpType::kSoftmax, {x});
    x = m.pool(x, OpType::kAveragePool, geo(2, 2, 1, 1, true), include_pad);
    x = m.conv(x, 4, geo(3, 2, 1, 0));
    x = m.op(OpType::kGlobalAveragePool, {x});
    x = m.op(OpType::kFlatten, {x});
    x = m.gemm(x, 5);
    x = m.op(OpType::kSoftmax, {x});
    m.g.outputs = {x};
    validate(m.g);
    return std::move(m.g);
}

inline Geometry geo3(int64_t k, int64_t s, int64_t pb, int64_t pe, bool ceil_mode = false) {
    Geometry g = Geometry::square(3, k, s, pb, ceil_mode);
    for (int i = 0; i < 3; ++i) g.pad_end[i] = pe;
    return g;
}

// The volume twin of random_graph, on (1, 2, 13, 11, 17) (no window side > 1 divides an axis), its
// pools of stride 2 late so that most nodes run on crops: average pool with pads → Conv3d (16, pads) →
// BN → ReLU → three branches (1³ conv; depthwise 2³ conv of dilation 2 + average pool counting or
// not counting pads; a 3 × 1 × 3 conv with pads (1, 0, 1)) → concat of the first two → Add with the
// third → ReLU → max pool (2³, stride 2, ceil mode) → softmax over channels → average pool (2³, stride
// 2, ceil mode, pads) → conv (stride (2, 1, 2), pads 1 before, 0 after) → global pool → flatten → fully
// connected → softmax. The 16- and 32-channel chain between oneDNN ops lies in its blocked layout.
inline Graph random_volume_graph(uint32_t seed, bool include_pad) {
    Maker m(seed, Shape{1, 2, 13, 11, 17});
    m.g.name = "volume" + std::to_string(seed);
    std::string x = m.pool("x", OpType::kAveragePool, geo3(3, 1, 1, 1), include_pad);
    x = m.conv(x, 16, geo3(3, 1, 1, 1));
    x = m.batch_norm(x);
    x = m.op(OpType::kRelu, {x});
    std::string a = m.conv(x, 16, geo3(1, 1, 0, 0));
    Geometry dilated = geo3(2, 1, 1, 1);
    dilated.dilation = {2, 2, 2};
    std::string b = m.conv(x, 16, dilated, 16);  // depthwise
    b = m.pool(b, OpType::kAveragePool, geo3(3, 1, 1, 1), include_pad);
    std::string c = m.op(OpType::kConcat, {a, b});
    Geometry flat = geo3(3, 1, 1, 1);
    flat.kernel[1] = 1;
    flat.pad_begin[1] = flat.pad_end[1] = 0;
    std::string s = m.conv(x, 32, flat);
    x = m.op(OpType::kAdd, {c, s});
    x = m.op(OpType::kRelu, {x});
    x = m.pool(x, OpType::kMaxPool, geo3(2, 2, 0, 0, true));
    x = m.op(OpType::kSoftmax, {x});
    x = m.pool(x, OpType::kAveragePool, geo3(2, 2, 1, 1, true), include_pad);
    Geometry strided = geo3(3, 2, 1, 0);
    strided.stride[1] = 1;
    x = m.conv(x, 8, strided);
    x = m.op(OpType::kGlobalAveragePool, {x});
    x = m.op(OpType::kFlatten, {x});
    x = m.gemm(x, 5);
    x = m.op(OpType::kSoftmax, {x});
    m.g.outputs = {x};
    validate(m.g);
    return std::move(m.g);
}

// Worst relative difference between an incremental program and a full CPU forward over `values` and
// the graph outputs, for every window of the position grid (rows × cols) in batches of `batch` images
// (the last one padded with clean images); each one beyond `tol` is a test failure. make(x, keep)
// builds the program for clean image x (run(images, rows, cols), value(name) as IncrementalProgram).
template <class Make>
double worst_against_full(const Graph& g, const std::vector<std::string>& values, int64_t k, int64_t stride, bool all,
                          int64_t batch, uint32_t seed, double tol, Make make) {
    CpuContext ctx;
    WindowBatches wb(g, k, stride, all, batch, seed);
    const std::set<std::string> keep(values.begin(), values.end());
    auto inc = make(wb.x().view(), keep);
    CompileOptions opt;
    opt.keep = keep;
    std::unique_ptr<Program> full = compile_cpu(g, {wb.images().shape()}, ctx, opt);
    std::vector<std::string> compared = values;
    for (const std::string& o : g.outputs) compared.push_back(o);
    double worst = 0;
    while (wb.next()) {
        inc->run(wb.images().data(), wb.slices(), wb.rows(), wb.cols());
        full->run({wb.images().view()});
        for (const std::string& v : compared) {
            const ConstTensorView a = inc->value(v), f = full->value(v);
            EXPECT_EQ(a.shape, f.shape) << v;
            const double rel = relative_difference(a, f);
            if (!(rel <= tol))
                ADD_FAILURE() << g.name << " k=" << k << " stride=" << stride << " value '" << v << "' windows from ("
                              << wb.slices()[0] << "," << wb.rows()[0] << "," << wb.cols()[0]
                              << "): relative difference " << rel;
            worst = std::max(worst, rel);
        }
    }
    return worst;
}

// A built-in network at width 1/8 with seeded random weights, BN/ReLU folded when `fused`.
inline Graph builtin(const std::string& name, bool fused) {
    BuildOptions o;
    o.width = 0.125f;
    o.seed = 5;
    Graph g = build_network(name, o);
    g.name += fused ? " fused" : "";
    if (fused) fuse(g);
    return g;
}

// Explain maps of every sampler: AlexNet at width 1/8 (seed 9), a random image and four random sample
// images (the marginal set, the conditional fit), k 10, stride 31 (8 × 8 windows, flush with every
// border: (227 − 10) / 31 = 7 steps), 3 samples per window, conv3's activation difference, batch 12.
struct ExplainCase {
    Graph g;
    Tensor x;
    std::vector<Tensor> set;
    ExplainParams p;

    ExplainCase() {
        BuildOptions o;
        o.width = 0.125f;
        o.seed = 9;
        g = build_network("alexnet", o);
        std::mt19937 rng(4);
        Shape in = g.inputs[0].shape;
        in[0] = 1;
        x = random_tensor(in, rng, -1.f, 1.f);
        for (int i = 0; i < 4; ++i) set.push_back(random_tensor(in, rng, -1.f, 1.f));
        p.k = 10;
        p.stride = 31;
        p.samples = 3;
        p.nodes = {"conv3"};
        p.batch = 12;  // 4 windows per batch: 16 batches
    }

    // kind: occlusion (fill 0.5) | marginal | conditional (fitted on the set, pad 2).
    std::unique_ptr<Sampler> sampler(const std::string& kind) const {
        if (kind == "occlusion") return make_occlusion_sampler(0.5f);
        if (kind == "marginal") {
            std::vector<Tensor> copy;
            for (const Tensor& t : set) copy.push_back(t.clone());
            return make_marginal_sampler(std::move(copy));
        }
        return std::make_unique<ConditionalSampler>(fit_gaussian(set, p.k, 2, 3000, 1), ConditionalOptions{});
    }
};

}  // namespace pda::incremental_test
