// explain_cuda against explain_cpu (the reference), same seed: occlusion, marginal and conditional
// samplers on a tiny CNN (tight tolerance, logits and node maps), a quarter-width AlexNet with random
// weights, and the shared SqueezeNet on cat.png when present; two GPU runs bit-identical; batch-size
// invariance; TF32 maps vs FP32 (correlation and max error printed). Every number is printed with a
// "[ explain ]" prefix. Suites are CudaExplain* and skip visibly without a device.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "api/explain_setup.h"
#include "api/loader.h"
#include "engine/device.h"
#include "engine/explainer.h"
#include "engine/gaussian.h"
#include "engine/sampler_conditional.h"
#include "engine/samplers.h"
#include "kernels/cpu/context.h"
#include "networks/builtin.h"
#include "test_util.h"

namespace pda {
namespace {

// The fp32 goal for |GPU − CPU| / max |CPU| per map. Deep nets assert kDeepTol: their FP32 layers
// already differ by up to 1e-3 relative between cuDNN and oneDNN (tests/test_cuda_ops.cc).
constexpr double kGoal = 1e-4, kDeepTol = 1e-3;

// A smooth random picture in a network-input space of amplitude `amp` (sinusoids plus mild noise),
// so that a Gaussian fitted on such pictures is well conditioned.
Tensor smooth_image(int64_t c, int64_t h, int64_t w, uint32_t seed, float amp) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    Tensor t(Shape{1, c, h, w});
    for (int64_t ch = 0; ch < c; ++ch) {
        float fy[3], fx[3], ph[3];
        for (int i = 0; i < 3; ++i) fy[i] = 0.02f + 0.2f * u(rng), fx[i] = 0.02f + 0.2f * u(rng), ph[i] = 6.f * u(rng);
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
                float v = 0;
                for (int i = 0; i < 3; ++i) v += std::sin(fy[i] * y + fx[i] * x + ph[i]);
                t.data()[(ch * h + y) * w + x] = amp * (v / 3.f + 0.1f * (u(rng) - 0.5f));
            }
    }
    return t;
}

std::vector<Tensor> image_set(const Shape& s, int n, uint32_t seed, float amp) {
    std::vector<Tensor> v;
    for (int i = 0; i < n; ++i) v.push_back(smooth_image(s[1], s[2], s[3], seed + 100 * i, amp));
    return v;
}

using test::make_node;

Tensor uniform(const Shape& s, uint32_t seed, float lo, float hi) {
    Tensor t(s);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = u(rng);
    return t;
}

// x (1, 3, H, W) → Conv "c" (4 maps, 3×3, pad 1) → Relu "r" → GAP → Flatten → Gemm "z" (5 logits).
Graph tiny_cnn(int64_t H, int64_t W) {
    Graph g;
    g.name = "tiny_cnn";
    g.inputs = {{"x", Shape{1, 3, H, W}}};
    g.constants["conv.w"] = uniform(Shape{4, 3, 3, 3}, 11, -0.5f, 0.5f);
    g.constants["conv.b"] = uniform(Shape{4}, 12, -0.2f, 0.2f);
    g.constants["fc.w"] = uniform(Shape{5, 4}, 13, -2.f, 2.f);
    g.constants["fc.b"] = uniform(Shape{5}, 14, -0.5f, 0.5f);
    Node conv = make_node("conv", OpType::kConv, {"x", "conv.w", "conv.b"}, "c");
    conv.geo = Geometry::square(2, 3, 1, 1);
    Node fc = make_node("fc", OpType::kGemm, {"f", "fc.w", "fc.b"}, "z");
    fc.alpha = fc.beta = 1.f;
    fc.trans_b = true;
    g.nodes = {conv, make_node("relu", OpType::kRelu, {"c"}, "r"),
               make_node("gap", OpType::kGlobalAveragePool, {"r"}, "g"),
               make_node("flat", OpType::kFlatten, {"g"}, "f"), fc};
    g.outputs = {"z"};
    return g;
}

// x (1, 3, H, W) → GlobalAveragePool → Flatten → Softmax "p" (3 classes): every op computes each
// image alone in a fixed order on both backends, so maps must not depend on the batch size at all.
Graph gap_net(int64_t H, int64_t W) {
    Graph g;
    g.name = "gap_net";
    g.inputs = {{"x", Shape{1, 3, H, W}}};
    g.nodes = {make_node("gap", OpType::kGlobalAveragePool, {"x"}, "g"),
               make_node("flat", OpType::kFlatten, {"g"}, "f"), make_node("softmax", OpType::kSoftmax, {"f"}, "p")};
    g.outputs = {"p"};
    return g;
}

// Worst |a − b| over max |b|, and the Pearson correlation, of one map (n values).
struct Diff {
    double worst = 0, ref = 0, rel = 0, corr = 1;
};
Diff diff(const float* a, const float* b, int64_t n) {
    Diff d;
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double x = a[i], y = b[i];
        d.worst = std::max(d.worst, std::isfinite(x) ? std::abs(x - y) : INFINITY);
        d.ref = std::max(d.ref, std::abs(y));
        sa += x, sb += y, saa += x * x, sbb += y * y, sab += x * y;
    }
    d.rel = d.worst / std::max(d.ref, 1e-30);
    const double cov = sab - sa * sb / n, va = saa - sa * sa / n, vb = sbb - sb * sb / n;
    d.corr = va > 0 && vb > 0 ? cov / std::sqrt(va * vb) : (d.worst == 0 ? 1.0 : 0.0);
    return d;
}

// Every map of `got` against `ref` (classes, counts, relevance per class, node maps per unit, the
// clean probabilities), printed. Each map's worst error must stay within tol × the explanation's
// scale (max |ref| over all class maps, or over all units of a node): a random net's runner-up class
// has a map near zero, where float noise alone is a large "relative" error (its own rel is printed).
void expect_close(const Explanation& got, const Explanation& ref, double tol, const std::string& what,
                  const char* got_name = "gpu", const char* ref_name = "cpu") {
    ASSERT_EQ(got.classes, ref.classes) << what;
    ASSERT_EQ(got.relevance.shape(), ref.relevance.shape()) << what;
    ASSERT_EQ(got.counts.shape(), ref.counts.shape()) << what;
    EXPECT_EQ(std::memcmp(got.counts.data(), ref.counts.data(), sizeof(float) * ref.counts.numel()), 0) << what;
    EXPECT_EQ(got.uncovered, ref.uncovered) << what;
    EXPECT_EQ(got.forward_passes, ref.forward_passes) << what;
    const Diff pd = diff(got.probabilities.data(), ref.probabilities.data(), ref.num_classes);
    std::printf("[ explain  ] %-44s p(c|x): max |%s-%s| %.3g\n", what.c_str(), got_name, ref_name, pd.worst);
    EXPECT_LE(pd.worst, 1e-4) << what;
    const int64_t plane = ref.counts.numel();
    const double scale = std::max(diff(ref.relevance.data(), ref.relevance.data(), ref.relevance.numel()).ref, 1e-30);
    for (size_t m = 0; m < ref.classes.size(); ++m) {
        const Diff d = diff(got.relevance.data() + m * plane, ref.relevance.data() + m * plane, plane);
        std::printf(
            "[ explain  ] %-44s class %4lld: max|%s-%s| %.3g, max|%s| %.3g, rel %.3g, rel to scale %.3g "
            "(goal %.0e %s), corr %.6f\n",
            what.c_str(), static_cast<long long>(ref.classes[m]), got_name, ref_name, d.worst, ref_name, d.ref, d.rel,
            d.worst / scale, kGoal, d.worst / scale <= kGoal ? "met" : "MISSED", d.corr);
        EXPECT_LE(d.worst, tol * scale) << what << " class " << ref.classes[m];
    }
    ASSERT_EQ(got.node_maps.size(), ref.node_maps.size()) << what;
    for (const auto& [name, r] : ref.node_maps) {
        const Tensor& gm = got.node_maps.at(name);
        ASSERT_EQ(gm.shape(), r.shape()) << what << " node " << name;
        const double node_scale = std::max(diff(r.data(), r.data(), r.numel()).ref, 1e-30);
        Diff worst;
        int64_t at = 0;
        for (int64_t u = 0; u < r.shape()[0]; ++u) {
            const Diff d = diff(gm.data() + u * plane, r.data() + u * plane, plane);
            if (d.worst >= worst.worst) worst = d, at = u;
        }
        std::printf(
            "[ explain  ] %-44s node %s (%lld units): worst unit %lld: max|%s-%s| %.3g, rel %.3g, rel to "
            "scale %.3g (goal %.0e %s)\n",
            what.c_str(), name.c_str(), static_cast<long long>(r.shape()[0]), static_cast<long long>(at), got_name,
            ref_name, worst.worst, worst.rel, worst.worst / node_scale, kGoal,
            worst.worst / node_scale <= kGoal ? "met" : "MISSED");
        EXPECT_LE(worst.worst, tol * node_scale) << what << " node " << name << " unit " << at;
    }
}

bool identical(const Explanation& a, const Explanation& b) {
    if (a.relevance.shape() != b.relevance.shape() ||
        std::memcmp(a.relevance.data(), b.relevance.data(), sizeof(float) * a.relevance.numel()) != 0)
        return false;
    for (const auto& [name, t] : a.node_maps) {
        auto it = b.node_maps.find(name);
        if (it == b.node_maps.end() || it->second.shape() != t.shape() ||
            std::memcmp(t.data(), it->second.data(), sizeof(float) * t.numel()) != 0)
            return false;
    }
    return true;
}

// One problem: a network, an image, the samplers' sets, parameters. Builds fresh samplers per run.
struct Problem {
    std::string name;
    Graph graph;
    OutputSpec out;
    Tensor x;
    std::vector<Tensor> set;  // marginal's set, and the conditional's fit
    ExplainParams params;
    int64_t pad = 2;
    std::unique_ptr<GaussianPatchModel> gaussian;  // fitted once

    std::unique_ptr<Sampler> sampler(const std::string& kind) {
        if (kind == "occlusion") return make_occlusion_sampler(0.f);
        std::vector<Tensor> copy;
        for (const Tensor& t : set) copy.push_back(t.clone());
        if (kind == "marginal") return make_marginal_sampler(std::move(copy), "synthetic");
        if (!gaussian)
            gaussian = std::make_unique<GaussianPatchModel>(fit_gaussian(copy, params.k, pad, 6000, params.seed));
        return std::make_unique<ConditionalSampler>(*gaussian, ConditionalOptions{});
    }
    Explanation cpu(const std::string& kind, const ExplainParams& p) {
        CpuContext ctx;
        auto s = sampler(kind);
        return explain_cpu(graph, out, x.view(), *s, p, ctx);
    }
    Explanation gpu(const std::string& kind, const ExplainParams& p, CudaContext& ctx,
                    Precision precision = Precision::kFp32) {
        auto s = sampler(kind);
        return explain_cuda(graph, out, x.view(), *s, p, ctx, precision);
    }
};

Problem tiny_problem() {
    Problem pr;
    pr.name = "tiny_cnn";
    pr.graph = tiny_cnn(32, 32);
    pr.out = {"z", true};  // logits: softmax on the device, WE of the probabilities
    pr.x = smooth_image(3, 32, 32, 1, 1.f);
    pr.set = image_set(pr.x.shape(), 6, 2, 1.f);
    pr.params.k = 4;
    pr.params.samples = 4;
    pr.params.classes = ClassSelection::all();
    pr.params.nodes = {"c", "z"};  // a conv map (warp reduction) and the logits (one thread per unit)
    pr.params.batch = 40;          // 10 windows per batch, last batch partial
    pr.params.seed = 7;
    pr.pad = 1;
    return pr;
}

Problem alexnet_problem() {
    Problem pr;
    pr.name = "alexnet/0.25";
    BuildOptions bo;
    bo.width = 0.25f;
    bo.seed = 3;
    pr.graph = build_network("alexnet", bo);
    pr.out = {"prob", false};
    pr.x = smooth_image(3, 227, 227, 5, 60.f);
    pr.set = image_set(pr.x.shape(), 5, 6, 60.f);
    pr.params.k = 10;
    pr.params.stride = 24;  // 10 × 10 windows, border configurations included
    pr.params.samples = 4;
    pr.params.nodes = {"conv5"};
    pr.params.batch = 64;
    pr.params.seed = 11;
    return pr;
}

class CudaExplain : public ::testing::Test {
  protected:
    void SetUp() override {
        PDA_SKIP_WITHOUT_CUDA();
        ctx_ = make_cuda_context(0);
    }
    CudaContextPtr ctx_;
};

TEST_F(CudaExplain, TinyCnnMatchesCpuAllSamplers) {
    Problem pr = tiny_problem();
    for (const char* kind : {"occlusion", "marginal", "conditional"}) {
        const Explanation cpu = pr.cpu(kind, pr.params);
        const Explanation gpu = pr.gpu(kind, pr.params, *ctx_);
        expect_close(gpu, cpu, kGoal, pr.name + " " + kind);
    }
}

TEST_F(CudaExplain, AlexNetQuarterMatchesCpuAllSamplers) {
    Problem pr = alexnet_problem();
    for (const char* kind : {"occlusion", "marginal", "conditional"}) {
        const Explanation cpu = pr.cpu(kind, pr.params);
        const Explanation gpu = pr.gpu(kind, pr.params, *ctx_);
        expect_close(gpu, cpu, kDeepTol, pr.name + " " + kind);
    }
}

TEST_F(CudaExplain, SqueezeNetCatMatchesCpuAllSamplers) {
    PDA_SKIP_WITHOUT_SHARED();
    const std::string cat = test::shared_dir() + "/images/cat.png";
    if (!std::filesystem::exists(cat)) GTEST_SKIP() << "skipped: " << cat << " is absent (PDA_SHARED_DIR)";
    LoadedModel m = load_model(test::shared_dir() + "/models/squeezenet1.1-caffe.onnx", {});
    Problem pr;
    pr.name = "squeezenet1.1-caffe cat";
    pr.out = {m.desc.output, m.desc.output_kind == ModelDesc::OutputKind::kLogits};
    pr.x = load_explain_input(m, cat).x;
    pr.graph = std::move(m.graph);
    pr.set = image_set(pr.x.shape(), 5, 21, 60.f);  // Caffe BGR, mean-subtracted 0–255 space
    pr.params.k = 10;
    pr.params.stride = 20;
    pr.params.samples = 4;
    pr.params.seed = 5;
    pr.params.batch = 64;
    ExplainParams gp = pr.params;
    gp.batch = 0;  // the GPU sizes its batch from free memory (all 121 windows in one batch)
    for (const char* kind : {"occlusion", "marginal", "conditional"}) {
        const Explanation cpu = pr.cpu(kind, pr.params);
        const Explanation gpu = pr.gpu(kind, gp, *ctx_);
        std::printf("[ explain  ] %s %s: GPU batch %lld, %.2f s (network %.2f s); CPU %.2f s\n", pr.name.c_str(), kind,
                    static_cast<long long>(gpu.batch), gpu.seconds_total, gpu.seconds_network, cpu.seconds_total);
        expect_close(gpu, cpu, kDeepTol, pr.name + " " + kind);
    }
}

TEST_F(CudaExplain, TwoRunsAreIdentical) {
    for (int which = 0; which < 2; ++which) {
        Problem pr = which == 0 ? tiny_problem() : alexnet_problem();
        for (const char* kind : {"marginal", "conditional"}) {
            const Explanation a = pr.gpu(kind, pr.params, *ctx_), b = pr.gpu(kind, pr.params, *ctx_);
            const bool same = identical(a, b);
            std::printf("[ explain  ] %s %s: two GPU runs %s\n", pr.name.c_str(), kind,
                        same ? "bit-identical" : "DIFFER");
            EXPECT_TRUE(same) << pr.name << " " << kind;
        }
    }
}

TEST_F(CudaExplain, BatchSizeInvariance) {
    // The GAP net's ops compute each image alone: maps bit-identical whatever the batch.
    Problem gap;
    gap.name = "gap_net";
    gap.graph = gap_net(24, 24);
    gap.out = {"p", false};
    gap.x = smooth_image(3, 24, 24, 31, 1.f);
    gap.set = image_set(gap.x.shape(), 6, 32, 1.f);
    gap.params.k = 5;
    gap.params.stride = 2;
    gap.params.samples = 3;
    gap.params.classes = ClassSelection::all();
    gap.params.seed = 9;
    gap.pad = 1;
    for (const char* kind : {"occlusion", "marginal", "conditional"}) {
        ExplainParams p = gap.params;
        p.batch = 3;  // one window per batch
        const Explanation one = gap.gpu(kind, p, *ctx_);
        for (int64_t batch : {int64_t{17}, int64_t{0}}) {
            p.batch = batch;
            const Explanation other = gap.gpu(kind, p, *ctx_);
            const bool same = identical(one, other);
            std::printf("[ explain  ] gap_net %s: batch %lld vs %lld (images): %s\n", kind,
                        static_cast<long long>(one.batch), static_cast<long long>(other.batch),
                        same ? "bit-identical" : "DIFFER");
            EXPECT_TRUE(same) << kind << " batch " << batch;
        }
        expect_close(one, gap.cpu(kind, gap.params), kGoal, std::string("gap_net ") + kind);
    }
    // AlexNet: cuDNN may pick other algorithms per batch size, so the maps agree within tolerance.
    Problem pr = alexnet_problem();
    ExplainParams small = pr.params, large = pr.params;
    small.batch = 8;
    large.batch = 0;
    const Explanation a = pr.gpu("conditional", small, *ctx_), b = pr.gpu("conditional", large, *ctx_);
    std::printf("[ explain  ] alexnet/0.25 conditional: batch %lld vs %lld\n", static_cast<long long>(a.batch),
                static_cast<long long>(b.batch));
    expect_close(a, b, kDeepTol, "alexnet/0.25 batch small vs auto", "small", "auto");
}

TEST_F(CudaExplain, ReducedPrecisionMapsVsFp32) {
    // Reported, not hidden: correlation and max error of TF32 / FP16 / BF16 maps against FP32 maps,
    // all on the GPU (FP32 accumulation in every precision).
    auto report = [](const Explanation& t, const Explanation& f, const std::string& what) -> double {
        if (t.classes != f.classes) {
            ADD_FAILURE() << what << ": the reduced precision explains other classes than fp32";
            return 0.0;
        }
        const int64_t plane = f.counts.numel();
        double worst_corr = 1;
        for (size_t m = 0; m < f.classes.size(); ++m) {
            const Diff d = diff(t.relevance.data() + m * plane, f.relevance.data() + m * plane, plane);
            std::printf("[ explain  ] %-46s vs fp32 class %4lld: corr %.6f, max err %.3g (rel %.3g of %.3g)\n",
                        what.c_str(), static_cast<long long>(f.classes[m]), d.corr, d.worst, d.rel, d.ref);
            worst_corr = std::min(worst_corr, d.corr);
        }
        return worst_corr;
    };
    const Precision reduced[] = {Precision::kTf32, Precision::kFp16, Precision::kBf16};
    Problem pr = alexnet_problem();
    pr.params.nodes.clear();
    const Explanation alex32 = pr.gpu("conditional", pr.params, *ctx_);
    for (Precision q : reduced) {
        const double c = report(pr.gpu("conditional", pr.params, *ctx_, q), alex32,
                                std::string("alexnet/0.25 conditional ") + precision_name(q));
        EXPECT_TRUE(std::isfinite(c));  // random weights: small effects, measured only
    }
    PDA_SKIP_WITHOUT_SHARED();
    const std::string cat = test::shared_dir() + "/images/cat.png";
    if (!std::filesystem::exists(cat)) GTEST_SKIP() << "skipped: " << cat << " is absent (PDA_SHARED_DIR)";
    LoadedModel m = load_model(test::shared_dir() + "/models/squeezenet1.1-caffe.onnx", {});
    Problem sq;
    sq.out = {m.desc.output, m.desc.output_kind == ModelDesc::OutputKind::kLogits};
    sq.x = load_explain_input(m, cat).x;
    sq.graph = std::move(m.graph);
    sq.set = image_set(sq.x.shape(), 5, 21, 60.f);
    sq.params.k = 10;
    sq.params.stride = 8;
    sq.params.samples = 4;
    sq.params.seed = 5;
    sq.params.batch = 512;  // bounds the compile's algorithm search
    const Explanation sq32 = sq.gpu("conditional", sq.params, *ctx_);
    for (Precision q : reduced) {
        const double c = report(sq.gpu("conditional", sq.params, *ctx_, q), sq32,
                                std::string("squeezenet cat conditional ") + precision_name(q));
        // A real network's maps keep the FP32 pattern; BF16's 8-bit mantissa is allowed more scatter.
        EXPECT_GT(c, q == Precision::kBf16 ? 0.7 : 0.9) << precision_name(q);
    }
}

}  // namespace
}  // namespace pda
