// The conditional sampler on volumes (1, C, D, H, W) (METHOD.md §3; the paper's MRI experiment: k = 3,
// l = 7): the 3-D conditional algebra against a dense Gaussian-elimination solve for centre, face,
// edge and corner configurations, joint and per channel; every window's conditional mean against
// μ_i + A (x_o − μ_o) computed here; draws keyed by (seed, window, sample) whatever the blocks and
// threads; sample statistics; clipping; refusals; an explanation of a logistic volume model against
// its closed form (one Gaussian, and location-conditioned); and (CudaConditionalVolume, label gpu)
// the device's draws against the CPU's, both ways. The 3-D fit and sampler file are in
// test_gaussian_fit.cc, location conditioning and masks in test_location_sampler.cc.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <set>

#include "engine/explainer.h"
#include "engine/gaussian.h"
#include "engine/sampler_conditional.h"
#include "kernels/cpu/context.h"
#include "kernels/philox.h"
#include "sampler_harness.h"
#include "test_util.h"

namespace pda {
namespace {

using sampler_test::draw_in_blocks;
using sampler_test::expect_input_error;
using sampler_test::make_model;
using sampler_test::Mat;
using sampler_test::max_abs_diff;
using sampler_test::random_spd;
using sampler_test::random_volume;

// Solves a X = b for X (n, m) by Gaussian elimination with partial pivoting (a (n, n), b (n, m)).
Mat solve(Mat a, Mat b, int64_t n, int64_t m) {
    for (int64_t c = 0; c < n; ++c) {
        int64_t p = c;
        for (int64_t r = c + 1; r < n; ++r)
            if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
        for (int64_t j = 0; j < n; ++j) std::swap(a[c * n + j], a[p * n + j]);
        for (int64_t j = 0; j < m; ++j) std::swap(b[c * m + j], b[p * m + j]);
        for (int64_t r = c + 1; r < n; ++r) {
            const double f = a[r * n + c] / a[c * n + c];
            if (f == 0) continue;
            for (int64_t j = c; j < n; ++j) a[r * n + j] -= f * a[c * n + j];
            for (int64_t j = 0; j < m; ++j) b[r * m + j] -= f * b[c * m + j];
        }
    }
    for (int64_t c = n - 1; c >= 0; --c)
        for (int64_t j = 0; j < m; ++j) {
            double s = b[c * m + j];
            for (int64_t t = c + 1; t < n; ++t) s -= a[c * n + t] * b[t * m + j];
            b[c * m + j] = s / a[c * n + c];
        }
    return b;
}

// The conditional of configuration (oz, oy, ox), dense: inner and ring by their (c, z, y, x)
// coordinates, A = (Σ_oo⁻¹ Σ_oi)ᵀ by one solve, Σ_{i|o} = Σ_ii − A Σ_oi. per_channel: the same with
// every cross-channel covariance entry zeroed.
struct Dense {
    std::vector<int64_t> inner, ring;
    Mat a, cond;
};

Dense dense_conditional(const GaussianPatchModel& m, int64_t oz, int64_t oy, int64_t ox, bool per_channel) {
    Dense r;
    const int64_t l = m.l, k = m.k, d = m.dim(), per = l * l * l;
    for (int64_t c = 0; c < m.channels; ++c)
        for (int64_t z = 0; z < l; ++z)
            for (int64_t y = 0; y < l; ++y)
                for (int64_t x = 0; x < l; ++x) {
                    const bool in = z >= oz && z < oz + k && y >= oy && y < oy + k && x >= ox && x < ox + k;
                    (in ? r.inner : r.ring).push_back(c * per + (z * l + y) * l + x);
                }
    auto cov = [&](int64_t i, int64_t j) { return per_channel && i / per != j / per ? 0.0 : m.cov[i * d + j]; };
    const int64_t di = r.inner.size(), dr = r.ring.size();
    Mat soo(dr * dr), soi(dr * di);
    for (int64_t p = 0; p < dr; ++p) {
        for (int64_t q = 0; q < dr; ++q) soo[p * dr + q] = cov(r.ring[p], r.ring[q]);
        for (int64_t q = 0; q < di; ++q) soi[p * di + q] = cov(r.ring[p], r.inner[q]);
    }
    const Mat x = solve(soo, soi, dr, di);  // Σ_oo⁻¹ Σ_oi (dr, di)
    r.a.assign(di * dr, 0.0);
    for (int64_t p = 0; p < di; ++p)
        for (int64_t q = 0; q < dr; ++q) r.a[p * dr + q] = x[q * di + p];
    r.cond.assign(di * di, 0.0);
    for (int64_t p = 0; p < di; ++p)
        for (int64_t q = 0; q < di; ++q) {
            double s = cov(r.inner[p], r.inner[q]);
            for (int64_t t = 0; t < dr; ++t) s -= r.a[p * dr + t] * soi[t * di + q];
            r.cond[p * di + q] = s;
        }
    return r;
}

// ---- the algebra ----------------------------------------------------------------------------------

TEST(ConditionalVolumeAlgebra, MatchesADenseSolveAtCentreFacesEdgesAndCorners) {
    const GaussianPatchModel m = make_model(2, 2, 1, 7, true);  // l = 4, d = 128, di = 16, do = 112
    ASSERT_EQ(m.dim(), 128);
    ASSERT_EQ(m.window_dim(), 16);
    const std::array<int64_t, 3> configs[] = {{1, 1, 1}, {0, 0, 0}, {2, 2, 2}, {0, 2, 0}, {2, 0, 2},
                                              {1, 1, 0}, {0, 1, 1}, {2, 1, 0}, {1, 2, 2}};
    for (bool per_channel : {false, true})
        for (const auto& o : configs) {
            SCOPED_TRACE(std::string(per_channel ? "per-channel" : "joint") + " config (" + std::to_string(o[0]) + "," +
                         std::to_string(o[1]) + "," + std::to_string(o[2]) + ")");
            const ConditionalConfig c = condition_gaussian(m, o[0], o[1], o[2], per_channel);
            const Dense r = dense_conditional(m, o[0], o[1], o[2], per_channel);
            EXPECT_EQ(c.oz, o[0]);
            EXPECT_EQ(c.inner, r.inner);
            EXPECT_EQ(c.ring, r.ring);
            EXPECT_LT(max_abs_diff(c.a, r.a), 1e-9);
            EXPECT_LT(max_abs_diff(c.cond_cov, r.cond), 1e-9);
            EXPECT_EQ(c.ridge_ring, 0.0);
            EXPECT_EQ(c.ridge_cond, 0.0);
            const int64_t di = c.inner.size(), dr = c.ring.size();
            for (int64_t i = 0; i < di; ++i) EXPECT_EQ(c.mean_inner[i], m.mean[r.inner[i]]);
            Mat llt(di * di, 0.0);
            for (int64_t i = 0; i < di; ++i)
                for (int64_t j = 0; j < di; ++j)
                    for (int64_t t = 0; t <= std::min(i, j); ++t)
                        llt[i * di + j] += c.chol[i * di + t] * c.chol[j * di + t];
            EXPECT_LT(max_abs_diff(llt, r.cond), 1e-9);
            if (per_channel)
                for (int64_t i = 0; i < di; ++i)
                    for (int64_t j = 0; j < dr; ++j)
                        if (c.inner[i] / 64 != c.ring[j] / 64) {
                            ASSERT_EQ(c.a[i * dr + j], 0.0);
                        }
        }
    // The image overload is the volume form at oz = 0, and an image model has no depth.
    const GaussianPatchModel img = sampler_test::make_model(2, 2, 1, 7);
    EXPECT_EQ(condition_gaussian(img, 1, 2, false).a, condition_gaussian(img, 0, 1, 2, false).a);
    EXPECT_THROW(condition_gaussian(img, 1, 1, 1, false), Error);
    EXPECT_THROW(condition_gaussian(m, 3, 1, 1, false), Error);
}

// The paper's MRI geometry: k = 3, l = 7 (343 values, 27 inside), one channel.
TEST(ConditionalVolumeAlgebra, PaperGeometryKThreeLSeven) {
    const GaussianPatchModel m = make_model(1, 3, 2, 9, true);
    ASSERT_EQ(m.dim(), 343);
    const std::array<int64_t, 3> configs[] = {{2, 2, 2}, {0, 4, 1}};  // centre, an edge
    for (const auto& o : configs) {
        const ConditionalConfig c = condition_gaussian(m, o[0], o[1], o[2], false);
        const Dense r = dense_conditional(m, o[0], o[1], o[2], false);
        ASSERT_EQ(c.inner.size(), 27u);
        ASSERT_EQ(c.ring.size(), 316u);
        EXPECT_EQ(c.inner, r.inner);
        EXPECT_LT(max_abs_diff(c.a, r.a), 1e-8);
        EXPECT_LT(max_abs_diff(c.cond_cov, r.cond), 1e-8);
    }
}

// ---- the sampler -----------------------------------------------------------------------------------

// μ_{i|o} of window w from the volume by hand: the context shifted inside along each axis.
std::vector<double> reference_mean(const GaussianPatchModel& m, const Tensor& x, const WindowGrid& g, int64_t w,
                                   bool per_channel, Dense* out, std::array<int64_t, 3>* config) {
    const int64_t D = x.shape()[2], H = x.shape()[3], W = x.shape()[4], l = m.l;
    const int64_t s = g.slice(w), r = g.row(w), c = g.col(w);
    auto corner = [&](int64_t p, int64_t n) { return std::min(std::max<int64_t>(p - m.pad, 0), n - l); };
    const int64_t cz = corner(s, D), cy = corner(r, H), cx = corner(c, W);
    *config = {s - cz, r - cy, c - cx};
    *out = dense_conditional(m, s - cz, r - cy, c - cx, per_channel);
    auto value = [&](int64_t idx) {
        const int64_t ch = idx / (l * l * l), z = idx / (l * l) % l, y = idx / l % l, xx = idx % l;
        return static_cast<double>(x.data()[((ch * D + cz + z) * H + cy + y) * W + cx + xx]);
    };
    return sampler_test::conditional_mean(*out, m.mean, value);
}

TEST(ConditionalVolumeSampler, EveryWindowMeanEqualsTheDirectConditional) {
    const GaussianPatchModel m = make_model(2, 2, 1, 11, true);
    const Tensor x = random_volume(2, 6, 7, 5, 12);
    for (int64_t stride : {1, 2}) {
        const WindowGrid grid(6, 7, 5, 2, stride);  // stride 2: the last window of each axis flush with the far face
        for (bool per_channel : {false, true}) {
            SCOPED_TRACE("stride " + std::to_string(stride) + (per_channel ? " per-channel" : " joint"));
            ConditionalOptions o;
            o.per_channel = per_channel;
            ConditionalSampler s(m, o);
            s.begin_image(x.view(), grid, grid.count(), 42);
            std::set<int64_t> seen;
            double worst = 0;
            for (int64_t w = 0; w < grid.count(); ++w) {
                Dense ref;
                std::array<int64_t, 3> cfg;
                const std::vector<double> mu = reference_mean(m, x, grid, w, per_channel, &ref, &cfg);
                ASSERT_EQ(s.window_config(w), (cfg[0] * 3 + cfg[1]) * 3 + cfg[2]) << "window " << w;
                seen.insert(s.window_config(w));
                for (size_t j = 0; j < mu.size(); ++j) {
                    worst = std::max(worst, std::fabs(s.window_mean(w)[j] - mu[j]) / (1 + std::fabs(mu[j])));
                    ASSERT_NEAR(s.window_mean(w)[j], mu[j], 1e-4 * (1 + std::fabs(mu[j])))
                        << "window " << w << " " << j;
                }
            }
            // Stride 1 meets all 27 configurations: the interior, 6 faces, 12 edges and 8 corners.
            if (stride == 1) {
                EXPECT_EQ(seen.size(), 27u);
            }
            std::printf("  stride %lld %s: %zu configurations, worst relative mean error %.2g\n",
                        static_cast<long long>(stride), per_channel ? "per-channel" : "joint", seen.size(), worst);
        }
    }
}

TEST(ConditionalVolumeSampler, PadZeroIdentityGivesThePhiloxNormalsInWindowLayout) {
    GaussianPatchModel m = make_model(2, 2, 0, 1, true);
    const int64_t d = m.dim();
    ASSERT_EQ(d, 16);
    m.cov.assign(d * d, 0.0);
    for (int64_t i = 0; i < d; ++i) m.cov[i * d + i] = 1.0;
    for (int64_t i = 0; i < d; ++i) m.mean[i] = static_cast<double>(i);
    ConditionalSampler s(m, {});
    const Tensor x = random_volume(2, 3, 4, 2, 2);
    const WindowGrid grid(3, 4, 2, 2, 1);
    s.begin_image(x.view(), grid, grid.count(), 99);
    const int64_t S = 3, nw = grid.count();
    std::vector<float> out(nw * S * d);
    s.draw(0, nw, S, out.data());
    for (int64_t w = 0; w < nw; ++w)
        for (int64_t t = 0; t < S; ++t)
            for (int64_t j = 0; j < d; ++j)
                ASSERT_EQ(out[(w * S + t) * d + j], static_cast<float>(j) + random_normal(99, w, t * d + j))
                    << w << " " << t << " " << j;
}

TEST(ConditionalVolumeSampler, SameSeedSameBytesWhateverTheBlocksAndThreads) {
    const GaussianPatchModel m = make_model(1, 3, 1, 21, true);  // l = 5, 27 configurations, 27 values a window
    const Tensor x = random_volume(1, 9, 8, 10, 22);
    const WindowGrid grid(9, 8, 10, 3, 1);
    const int64_t nw = grid.count(), S = 3, di = 27;
    auto draw = [&](uint64_t seed, std::vector<int64_t> cuts, int threads) {
        return draw_in_blocks(m, x, grid, S, di, seed, std::move(cuts), threads);
    };
    const std::vector<float> one = draw(5, {}, 2);
    ASSERT_EQ(static_cast<int64_t>(one.size()), nw * S * di);
    EXPECT_TRUE(one == draw(5, {37}, 2)) << "blocks [0,37) + [37,N) differ from [0,N)";
    EXPECT_TRUE(one == draw(5, {1, 2, 100, 101, 250}, 1)) << "six blocks on one thread differ from one on two";
    const std::vector<float> other = draw(6, {}, 2);
    int64_t same = 0;
    for (size_t i = 0; i < one.size(); ++i) same += one[i] == other[i];
    EXPECT_LT(same, static_cast<int64_t>(one.size() / 100));
    // Preparing only the first windows gives them the same samples.
    ConditionalSampler some(m, {});
    some.begin_image(x.view(), grid, 40, 5);
    std::vector<float> part(40 * S * di);
    some.draw(0, 40, S, part.data());
    EXPECT_TRUE(std::equal(part.begin(), part.end(), one.begin()));
}

TEST(ConditionalVolumeSampler, SampleMeanAndCovarianceMatchTheConditional) {
    const GaussianPatchModel m = make_model(2, 2, 1, 31, true);
    const Tensor x = random_volume(2, 6, 6, 6, 32);
    const WindowGrid grid(6, 6, 6, 2, 1);  // 5³ windows
    const int64_t n = 20000, di = 16;
    // Corner (0, 0, 0) → config 0; interior (2, 2, 2) → (1, 1, 1) = 13; edge (0, 4, 2) → (0, 2, 1) = 7.
    const std::pair<int64_t, int64_t> cases[] = {{0, 0}, {62, 13}, {22, 7}};
    for (bool per_channel : {false, true}) {
        ConditionalOptions o;
        o.per_channel = per_channel;
        ConditionalSampler s(m, o);
        s.begin_image(x.view(), grid, grid.count(), 4);
        for (auto [w, cfg] : cases) {
            SCOPED_TRACE("window " + std::to_string(w) + (per_channel ? " per-channel" : " joint"));
            ASSERT_EQ(s.window_config(w), cfg);
            Dense ref;
            std::array<int64_t, 3> c3;
            const std::vector<double> mu = reference_mean(m, x, grid, w, per_channel, &ref, &c3);
            std::vector<float> out(n * di);
            s.draw(w, w + 1, n, out.data());
            const sampler_test::MomentCheck mc = sampler_test::expect_gaussian_moments(
                sampler_test::sample_moments(out.data(), n, di), n, mu, ref.cond.data());
            const double rel = mc.rel, bound = mc.bound;
            std::printf("  window %lld config %lld %s: cov rel. Frobenius error %.4f (bound %.4f)\n",
                        static_cast<long long>(w), static_cast<long long>(cfg), per_channel ? "per-channel" : "joint",
                        rel, bound);
        }
    }
}

TEST(ConditionalVolumeSampler, ClipsEachChannelOfTheCube) {
    GaussianPatchModel m = make_model(2, 2, 1, 41, true);
    m.min = {-0.5f, -0.25f};
    m.max = {0.5f, 0.75f};
    const Tensor x = random_volume(2, 5, 5, 5, 42);
    const WindowGrid grid(5, 5, 5, 2, 1);
    const int64_t nw = grid.count(), S = 20, di = 16, per = 8;  // 2 channels × 2³ values
    for (bool clip : {false, true}) {
        ConditionalOptions o;
        o.clip = clip;
        ConditionalSampler s(m, o);
        s.begin_image(x.view(), grid, grid.count(), 1);
        std::vector<float> out(nw * S * di);
        s.draw(0, nw, S, out.data());
        int64_t outside = 0, at_bound[2] = {0, 0};
        for (int64_t i = 0; i < nw * S * di; ++i) {
            const int64_t c = i % di / per;
            outside += out[i] < m.min[c] || out[i] > m.max[c];
            at_bound[c] += out[i] == m.min[c] || out[i] == m.max[c];
        }
        if (clip) {
            EXPECT_EQ(outside, 0);
            EXPECT_GT(at_bound[0], 0);
            EXPECT_GT(at_bound[1], 0);
        } else {
            EXPECT_GT(outside, 0);
        }
    }
}

TEST(ConditionalVolumeSampler, RefusesInputsItCannotServe) {
    ConditionalOptions o;
    o.file = "brain.pdas";
    ConditionalSampler vol(make_model(1, 3, 2, 51, true), o);  // l = 7
    const Tensor image = sampler_test::random_image(1, 9, 9, 1);
    expect_input_error([&] { vol.begin_image(image.view(), WindowGrid(9, 9, 3, 1), 1, 0); },
                       {"brain.pdas", "fitted on volumes", "image"});
    const Tensor shallow = random_volume(1, 6, 9, 9, 1);
    expect_input_error([&] { vol.begin_image(shallow.view(), WindowGrid(6, 9, 9, 3, 1), 1, 0); },
                       {"brain.pdas", "l = k + 2·pad = 7", "6×9×9"});
    const Tensor narrow = random_volume(1, 9, 9, 6, 1);
    expect_input_error([&] { vol.begin_image(narrow.view(), WindowGrid(9, 9, 6, 3, 1), 1, 0); },
                       {"brain.pdas", "9×9×6"});
    const Tensor good = random_volume(1, 8, 8, 8, 1);
    expect_input_error([&] { vol.begin_image(good.view(), WindowGrid(8, 8, 8, 2, 1), 1, 0); }, {"brain.pdas", "k = 3"});
    const Tensor two = random_volume(2, 8, 8, 8, 1);
    expect_input_error([&] { vol.begin_image(two.view(), WindowGrid(8, 8, 8, 3, 1), 1, 0); },
                       {"brain.pdas", "1 channels"});
    vol.begin_image(good.view(), WindowGrid(8, 8, 8, 3, 1), 1, 0);  // accepted

    ConditionalSampler img(sampler_test::make_model(1, 3, 2, 52), o);
    expect_input_error([&] { img.begin_image(good.view(), WindowGrid(8, 8, 8, 3, 1), 1, 0); },
                       {"brain.pdas", "fitted on images", "volume"});
    EXPECT_EQ(vol.describe().at("volume"), "true");
    EXPECT_EQ(img.describe().count("volume"), 0u);
}

// ---- an explanation ------------------------------------------------------------------------------

Node gemm_node(const std::string& name, const std::string& in, const std::string& out) {
    Node n = test::make_node(name, OpType::kGemm, {in, name + ".w", name + ".b"}, out);
    n.alpha = n.beta = 1.f;
    n.trans_b = true;
    return n;
}

// x (1, C, D, H, W) → Flatten → Gemm (K logits) → Softmax.
Graph logistic_volume_graph(const Shape& x, int64_t K, uint32_t seed) {
    Graph g;
    g.name = "logistic3d";
    g.inputs = {{"x", x}};
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-0.3f, 0.3f);
    Tensor w(Shape{K, x.numel()}), b(Shape{K});
    for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = u(rng);
    for (int64_t i = 0; i < K; ++i) b.data()[i] = 2 * u(rng);
    g.constants["fc.w"] = std::move(w);
    g.constants["fc.b"] = std::move(b);
    g.nodes = {test::make_node("flat", OpType::kFlatten, {"x"}, "f"), gemm_node("fc", "f", "z"),
               test::make_node("softmax", OpType::kSoftmax, {"z"}, "p")};
    g.outputs = {"p"};
    return g;
}

std::vector<double> softmax_of_logits(const Graph& g, const std::vector<double>& img) {
    const Tensor &w = g.constant("fc.w"), &b = g.constant("fc.b");
    const int64_t K = b.numel(), d = static_cast<int64_t>(img.size());
    std::vector<double> p(static_cast<size_t>(K));
    double mx = -INFINITY, sum = 0;
    for (int64_t c = 0; c < K; ++c) {
        double s = b.data()[c];
        for (int64_t i = 0; i < d; ++i) s += static_cast<double>(w.data()[c * d + i]) * img[i];
        p[c] = s;
        mx = std::max(mx, s);
    }
    for (double& v : p) sum += (v = std::exp(v - mx));
    for (double& v : p) v /= sum;
    return p;
}

// `model` made location-conditioned over a D × H × W volume with cells of 2: every other cell gets a
// Gaussian of its own, fitted on volumes of another scale and offset (so that it differs from the
// global one); the rest fall back.
GaussianPatchModel with_cells(GaussianPatchModel model, int64_t D, int64_t H, int64_t W, uint32_t seed) {
    LocationCells& loc = model.location;
    loc.cell = 2;
    loc.depth = D;
    loc.height = H;
    loc.width = W;
    loc.min_patches = 100;
    for (int64_t c = 0; c < loc.cells(); ++c) {
        loc.available.push_back(c % 2 ? 1000 : 0);
        if (c % 2 == 0) continue;
        std::vector<Tensor> set;
        for (uint32_t i = 0; i < 2; ++i) {
            set.push_back(random_volume(model.channels, 12, 12, 12, seed + 7 * static_cast<uint32_t>(c) + i));
            for (int64_t j = 0; j < set.back().numel(); ++j)
                set.back().data()[j] =
                    0.3f * static_cast<float>(c % 4) + (1.0f + 0.1f * static_cast<float>(c % 3)) * set.back().data()[j];
        }
        GaussianPatchModel own = fit_gaussian(set, model.k, model.pad, 1000, seed);
        CellGaussian cell;
        cell.cell = c;
        cell.patches = own.patches;
        cell.mean = std::move(own.mean);
        cell.cov = std::move(own.cov);
        loc.fitted.push_back(std::move(cell));
    }
    check_gaussian_model(model, "with_cells");
    return model;
}

// The explainer with the conditional sampler on a volume against the closed form: each window's S
// samples drawn here from a twin sampler (same model, same seed), pasted as (C, k, k, k) blocks,
// p(c|x\w) averaged in double, weight of evidence with the Laplace correction, averaged per voxel;
// with one Gaussian, and location-conditioned.
TEST(ConditionalVolumeExplain, LogisticVolumeModelMatchesItsClosedForm) {
    const Shape shape{1, 2, 5, 6, 4};
    const int64_t C = 2, D = 5, H = 6, W = 4, V = D * H * W, K = 3;
    const Graph g = logistic_volume_graph(shape, K, 3);
    const Tensor x = random_volume(C, D, H, W, 300);
    std::vector<Tensor> fit_set;  // 4 × 9³ positions for a Gaussian of dimension 128
    for (uint32_t i = 0; i < 4; ++i) fit_set.push_back(random_volume(C, 12, 12, 12, 310 + i));
    const GaussianPatchModel global = fit_gaussian(fit_set, 2, 1, 0, 0);
    ASSERT_TRUE(global.volume);
    std::vector<std::vector<float>> maps;
    for (const GaussianPatchModel& model : {global, with_cells(global, D, H, W, 320)}) {
        SCOPED_TRACE(model.location.on() ? "location-conditioned" : "one Gaussian");
        ConditionalSampler sampler(model, {});

        ExplainParams p;
        p.k = 2;
        p.samples = 4;
        p.seed = 17;
        p.classes = ClassSelection::all();
        p.batch = 12;
        p.exec = Execution::kFull;  // incremental execution of volumes is not supported yet
        CpuContext ctx;
        const Explanation e = explain_cpu(g, {"p", false}, x.view(), sampler, p, ctx);
        ASSERT_EQ(e.relevance.shape(), (Shape{K, D, H, W}));
        ASSERT_EQ(e.counts.shape(), (Shape{D, H, W}));
        EXPECT_EQ(e.samples_per_window, 4);
        for (int64_t i = 0; i < e.relevance.numel(); ++i) ASSERT_TRUE(std::isfinite(e.relevance.data()[i])) << i;

        const WindowGrid grid(D, H, W, 2, 1);
        ConditionalSampler twin(model, {});
        twin.begin_image(x.view(), grid, grid.count(), p.seed);
        const int64_t S = 4, di = 16;
        const double N = p.laplace_n;
        std::vector<float> samples(grid.count() * S * di);
        twin.draw(0, grid.count(), S, samples.data());
        const std::vector<double> clean(x.data(), x.data() + x.numel());
        const std::vector<double> p0 = softmax_of_logits(g, clean);
        auto log2_odds = [](double q) { return std::log2(q / (1 - q)); };
        std::vector<double> we(K * V, 0.0), counts(V, 0.0);
        for (int64_t w = 0; w < grid.count(); ++w) {
            std::vector<double> pm(K, 0.0);
            for (int64_t s = 0; s < S; ++s) {
                std::vector<double> img = clean;
                const float* v = samples.data() + (w * S + s) * di;
                for (int64_t c = 0, j = 0; c < C; ++c)
                    for (int64_t z = 0; z < 2; ++z)
                        for (int64_t y = 0; y < 2; ++y)
                            for (int64_t q = 0; q < 2; ++q, ++j)
                                img[((c * D + grid.slice(w) + z) * H + grid.row(w) + y) * W + grid.col(w) + q] = v[j];
                const std::vector<double> ps = softmax_of_logits(g, img);
                for (int64_t c = 0; c < K; ++c) pm[c] += ps[c] / S;
            }
            for (int64_t z = 0; z < 2; ++z)
                for (int64_t y = 0; y < 2; ++y)
                    for (int64_t q = 0; q < 2; ++q) {
                        const int64_t vox = ((grid.slice(w) + z) * H + grid.row(w) + y) * W + grid.col(w) + q;
                        counts[vox] += 1;
                        for (int64_t c = 0; c < K; ++c)
                            we[c * V + vox] +=
                                log2_odds((p0[c] * N + 1) / (N + K)) - log2_odds((pm[c] * N + 1) / (N + K));
                    }
        }
        double worst = 0, largest = 0;
        for (int64_t c = 0; c < K; ++c)
            for (int64_t i = 0; i < V; ++i) {
                const double ref = we[c * V + i] / counts[i];
                largest = std::max(largest, std::fabs(ref));
                worst = std::max(worst, std::fabs(e.relevance.data()[c * V + i] - ref));
            }
        for (int64_t i = 0; i < V; ++i) EXPECT_EQ(e.counts.data()[i], counts[i]);
        EXPECT_GT(largest, 1e-3);  // the samples move the prediction: a test that can fail
        EXPECT_LT(worst, 1e-5);
        std::printf("closed form, conditional, volume%s: max |WE| %.3g, max |WE − ref| = %.2e\n",
                    model.location.on() ? " (cells)" : "", largest, worst);
        maps.emplace_back(e.relevance.data(), e.relevance.data() + e.relevance.numel());
    }
    EXPECT_GT(max_abs_diff(std::vector<double>(maps[0].begin(), maps[0].end()),
                           std::vector<double>(maps[1].begin(), maps[1].end())),
              1e-3);  // the cells' Gaussians change the map
}

// The CUDA device draws the conditional samples itself (philox normals, mean + L·z, the clip per
// channel over kd·k·k values): its maps against the CPU's for the same seed. Skips without a device.
TEST(CudaConditionalVolume, DeviceDrawsGiveTheCpuMaps) {
    PDA_SKIP_WITHOUT_CUDA();
    const Shape shape{1, 2, 5, 6, 4};
    const Graph g = logistic_volume_graph(shape, 3, 4);
    const Tensor x = random_volume(2, 5, 6, 4, 400);
    std::vector<Tensor> fit_set;
    for (uint32_t i = 0; i < 4; ++i) fit_set.push_back(random_volume(2, 12, 12, 12, 410 + i));
    GaussianPatchModel global = fit_gaussian(fit_set, 2, 1, 0, 0);
    global.min = {-1.0f, -0.5f};  // narrow ranges, so that clipping changes many values
    global.max = {1.0f, 0.5f};
    ExplainParams p;
    p.k = 2;
    p.samples = 3;
    p.seed = 5;
    p.classes = ClassSelection::all();
    p.exec = Execution::kFull;
    const GaussianPatchModel cells = with_cells(global, 5, 6, 4, 420);
    for (const GaussianPatchModel* model : {static_cast<const GaussianPatchModel*>(&global), &cells})
        for (bool clip : {false, true}) {
            ConditionalOptions o;
            o.clip = clip;
            ConditionalSampler cpu_sampler(*model, o), gpu_sampler(*model, o);
            CpuContext cpu;
            const Explanation a = explain_cpu(g, {"p", false}, x.view(), cpu_sampler, p, cpu);
            CudaContextPtr ctx = make_cuda_context(0);
            const Explanation b = explain_cuda(g, {"p", false}, x.view(), gpu_sampler, p, *ctx, Precision::kFp32);
            ASSERT_EQ(a.relevance.shape(), b.relevance.shape());
            double worst = 0, largest = 0;
            for (int64_t i = 0; i < a.relevance.numel(); ++i) {
                largest = std::max(largest, std::fabs(static_cast<double>(a.relevance.data()[i])));
                worst = std::max(worst, std::fabs(static_cast<double>(a.relevance.data()[i] - b.relevance.data()[i])));
            }
            EXPECT_LE(worst, 1e-4 * largest) << (clip ? "clipped" : "unclipped") << (model == &cells ? ", cells" : "");
            std::printf("[ explain  ] volume conditional%s%s: max |GPU − CPU| %.2e of max |WE| %.3g\n",
                        model == &cells ? " location-conditioned" : "", clip ? " clipped" : "", worst, largest);
        }
}

}  // namespace
}  // namespace pda
