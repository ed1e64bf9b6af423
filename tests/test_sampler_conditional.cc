// The conditional sampler (METHOD.md §3): its algebra against a direct computation with an explicit
// inverse, the statistics of its samples (interior, edge and corner configurations, joint and
// per-channel) against μ_{i|o} and Σ_{i|o} within stated confidence bounds, determinism, clipping
// and its refusals. The fit and the sampler file are in test_gaussian_fit.cc.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "engine/gaussian.h"
#include "engine/sampler_conditional.h"
#include "kernels/philox.h"
#include "sampler_harness.h"

namespace pda {
namespace {

using sampler_test::expect_input_error;
using sampler_test::make_model;
using sampler_test::Mat;
using sampler_test::max_abs_diff;
using sampler_test::random_image;

// Gauss–Jordan inverse with partial pivoting: the "obviously right" reference the sampler must match.
Mat inverse(Mat a, int64_t n) {
    Mat inv(static_cast<size_t>(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i) inv[i * n + i] = 1;
    for (int64_t c = 0; c < n; ++c) {
        int64_t p = c;
        for (int64_t r = c + 1; r < n; ++r)
            if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
        for (int64_t j = 0; j < n; ++j) {
            std::swap(a[c * n + j], a[p * n + j]);
            std::swap(inv[c * n + j], inv[p * n + j]);
        }
        const double d = a[c * n + c];
        for (int64_t j = 0; j < n; ++j) {
            a[c * n + j] /= d;
            inv[c * n + j] /= d;
        }
        for (int64_t r = 0; r < n; ++r) {
            if (r == c) continue;
            const double f = a[r * n + c];
            for (int64_t j = 0; j < n; ++j) {
                a[r * n + j] -= f * a[c * n + j];
                inv[r * n + j] -= f * inv[c * n + j];
            }
        }
    }
    return inv;
}

// A and Σ_{i|o} computed directly: explicit inverse of Σ_oo, per channel block when per_channel.
struct RefCond {
    std::vector<int64_t> inner, ring;
    Mat a, cond;
};

RefCond reference(const GaussianPatchModel& m, int64_t oy, int64_t ox, bool per_channel) {
    RefCond r;
    const int64_t l = m.l, d = m.dim();
    for (int64_t c = 0; c < m.channels; ++c)
        for (int64_t y = 0; y < l; ++y)
            for (int64_t x = 0; x < l; ++x)
                (y >= oy && y < oy + m.k && x >= ox && x < ox + m.k ? r.inner : r.ring).push_back((c * l + y) * l + x);
    const int64_t di = r.inner.size(), dr = r.ring.size();
    r.a.assign(di * dr, 0.0);
    r.cond.assign(di * di, 0.0);
    // Channel groups: all at once (joint) or one channel at a time (per channel).
    const int64_t groups = per_channel ? m.channels : 1;
    for (int64_t g = 0; g < groups; ++g) {
        std::vector<int64_t> ii, oo;  // positions in r.inner / r.ring belonging to the group
        for (int64_t t = 0; t < di; ++t)
            if (!per_channel || r.inner[t] / (l * l) == g) ii.push_back(t);
        for (int64_t t = 0; t < dr; ++t)
            if (!per_channel || r.ring[t] / (l * l) == g) oo.push_back(t);
        const int64_t ni = ii.size(), no = oo.size();
        auto cov = [&](int64_t p, int64_t q) { return m.cov[p * d + q]; };
        Mat soo(no * no);
        for (int64_t p = 0; p < no; ++p)
            for (int64_t q = 0; q < no; ++q) soo[p * no + q] = cov(r.ring[oo[p]], r.ring[oo[q]]);
        Mat inv = no ? inverse(soo, no) : Mat();
        for (int64_t p = 0; p < ni; ++p)
            for (int64_t q = 0; q < no; ++q) {
                double acc = 0;
                for (int64_t t = 0; t < no; ++t) acc += cov(r.inner[ii[p]], r.ring[oo[t]]) * inv[t * no + q];
                r.a[ii[p] * dr + oo[q]] = acc;
            }
        for (int64_t p = 0; p < ni; ++p)
            for (int64_t q = 0; q < ni; ++q) {
                double acc = cov(r.inner[ii[p]], r.inner[ii[q]]);
                for (int64_t t = 0; t < no; ++t) acc -= r.a[ii[p] * dr + oo[t]] * cov(r.ring[oo[t]], r.inner[ii[q]]);
                r.cond[ii[p] * di + ii[q]] = acc;
            }
    }
    return r;
}

TEST(ConditionalAlgebra, MatchesExplicitInverseJointAndPerChannel) {
    const GaussianPatchModel m = make_model(2, 2, 1, 7);  // l = 4, d = 32, di = 8, do = 24
    for (bool per_channel : {false, true})
        for (auto [oy, ox] : {std::pair<int64_t, int64_t>{1, 1}, {0, 0}, {2, 1}, {0, 2}}) {
            SCOPED_TRACE("per_channel " + std::to_string(per_channel) + " config (" + std::to_string(oy) + "," +
                         std::to_string(ox) + ")");
            ConditionalConfig c = condition_gaussian(m, oy, ox, per_channel);
            RefCond r = reference(m, oy, ox, per_channel);
            EXPECT_EQ(c.inner, r.inner);
            EXPECT_EQ(c.ring, r.ring);
            EXPECT_LT(max_abs_diff(c.a, r.a), 1e-10);
            EXPECT_LT(max_abs_diff(c.cond_cov, r.cond), 1e-10);
            EXPECT_EQ(c.ridge_ring, 0.0);
            EXPECT_EQ(c.ridge_cond, 0.0);
            // L Lᵀ = Σ_{i|o}, L lower triangular.
            const int64_t di = c.inner.size();
            Mat llt(di * di, 0.0);
            for (int64_t i = 0; i < di; ++i)
                for (int64_t j = 0; j < di; ++j) {
                    if (j > i) {
                        EXPECT_EQ(c.chol[i * di + j], 0.0);
                    }
                    for (int64_t t = 0; t < di; ++t) llt[i * di + j] += c.chol[i * di + t] * c.chol[j * di + t];
                }
            EXPECT_LT(max_abs_diff(llt, r.cond), 1e-10);
            if (per_channel) {  // no cross-channel regression at all
                for (int64_t i = 0; i < di; ++i)
                    for (size_t j = 0; j < c.ring.size(); ++j)
                        if (c.inner[i] / 16 != c.ring[j] / 16) {
                            EXPECT_EQ(c.a[i * c.ring.size() + j], 0.0);
                        }
            }
        }
}

TEST(ConditionalAlgebra, PadZeroIsThePlainGaussianOfTheWindow) {
    const GaussianPatchModel m = make_model(2, 3, 0, 3);
    ConditionalConfig c = condition_gaussian(m, 0, 0, false);
    EXPECT_TRUE(c.ring.empty());
    EXPECT_TRUE(c.a.empty());
    EXPECT_EQ(c.cond_cov, m.cov);
    EXPECT_EQ(c.mean_inner, m.mean);
}

TEST(ConditionalAlgebra, SingularCovarianceGetsARecordedRidge) {
    GaussianPatchModel m = make_model(1, 2, 1, 5);
    const int64_t d = m.dim();
    for (int64_t i = 0; i < d; ++i)  // rank one: every pixel the same random variable
        for (int64_t j = 0; j < d; ++j) m.cov[i * d + j] = 2.0;
    ConditionalConfig c = condition_gaussian(m, 1, 1, false);
    EXPECT_GT(c.ridge_ring, 0.0);
    EXPECT_LE(c.ridge_ring, 2.0 * 1e-2);
    ConditionalSampler s(m, {});
    s.config(4);
    EXPECT_NE(s.describe().at("ridge"), "none");
    EXPECT_NE(s.describe().at("ridge").find("(1,1)"), std::string::npos);
}

// ---- the sampler ---------------------------------------------------------------------------------

// μ_{i|o} of window w computed by hand from the image: context shifted inside, explicit inverse.
std::vector<double> reference_mean(const GaussianPatchModel& m, const Tensor& x, const WindowGrid& g, int64_t w,
                                   bool per_channel, RefCond* out) {
    const int64_t H = x.shape()[2], W = x.shape()[3], l = m.l;
    const int64_t r = g.row(w), c = g.col(w);
    const int64_t cy = std::min(std::max<int64_t>(r - m.pad, 0), H - l),
                  cx = std::min(std::max<int64_t>(c - m.pad, 0), W - l);
    *out = reference(m, r - cy, c - cx, per_channel);
    auto value = [&](int64_t idx) {
        const int64_t ch = idx / (l * l), y = idx / l % l, xx = idx % l;
        return static_cast<double>(x.data()[(ch * H + cy + y) * W + cx + xx]);
    };
    return sampler_test::conditional_mean(*out, m.mean, value);
}

TEST(ConditionalSampler, SampleMeanAndCovarianceMatchTheConditional) {
    const GaussianPatchModel m = make_model(2, 2, 1, 11);
    const Tensor x = random_image(2, 8, 8, 12);
    const WindowGrid grid(8, 8, 2, 1);  // 7×7 windows
    const int64_t n = 20000, di = 8;
    // Corner (0,0) → config (0,0); top edge (0,3) → (0,1); interior (3,3) → (1,1); far corner (6,6) → (2,2).
    const std::pair<int64_t, int64_t> cases[] = {{0, 0}, {3, 1}, {24, 4}, {48, 8}};
    for (bool per_channel : {false, true}) {
        ConditionalOptions o;
        o.per_channel = per_channel;
        ConditionalSampler s(m, o);
        s.begin_image(x.view(), grid, grid.count(), 42);
        for (auto [w, cfg] : cases) {
            SCOPED_TRACE("window " + std::to_string(w) + (per_channel ? " per-channel" : " joint"));
            EXPECT_EQ(s.window_config(w), cfg);
            RefCond ref;
            std::vector<double> mu = reference_mean(m, x, grid, w, per_channel, &ref);
            for (int64_t j = 0; j < di; ++j) EXPECT_NEAR(s.window_mean(w)[j], mu[j], 1e-4 * (1 + std::fabs(mu[j])));

            std::vector<float> out(n * di);
            s.draw(w, w + 1, n, out.data());
            const sampler_test::SampleMoments sm = sampler_test::sample_moments(out.data(), n, di);
            const std::vector<double>& cov = sm.cov;
            const sampler_test::MomentCheck mc = sampler_test::expect_gaussian_moments(sm, n, mu, ref.cond.data());
            const double worst_z = mc.worst_z, rel = mc.rel, bound = mc.bound;
            std::printf(
                "  window %2lld config %lld %-11s: worst mean |z| %.2f (bound 5), cov rel. Frobenius error %.4f "
                "(bound %.4f)\n",
                static_cast<long long>(w), static_cast<long long>(cfg), per_channel ? "per-channel" : "joint", worst_z,
                rel, bound);
            if (per_channel) {  // cross-channel sample covariance ≈ 0 (5 standard errors)
                for (int64_t i = 0; i < 4; ++i)
                    for (int64_t j = 4; j < 8; ++j)
                        EXPECT_LE(std::fabs(cov[i * di + j]),
                                  5 * std::sqrt(ref.cond[i * di + i] * ref.cond[j * di + j] / n));
            }
        }
    }
}

TEST(ConditionalSampler, PadZeroIdentityGivesThePhiloxNormals) {
    GaussianPatchModel m = make_model(2, 2, 0, 1);
    const int64_t d = m.dim();
    m.cov.assign(d * d, 0.0);
    for (int64_t i = 0; i < d; ++i) m.cov[i * d + i] = 1.0;
    m.mean.assign(d, 0.0);
    ConditionalSampler s(m, {});
    const Tensor x = random_image(2, 3, 5, 2);
    const WindowGrid grid(3, 5, 2, 1);
    s.begin_image(x.view(), grid, grid.count(), 99);
    const int64_t S = 5, nw = grid.count();
    std::vector<float> out(nw * S * d);
    s.draw(0, nw, S, out.data());
    for (int64_t w = 0; w < nw; ++w)
        for (int64_t t = 0; t < S; ++t)
            for (int64_t j = 0; j < d; ++j)
                ASSERT_EQ(out[(w * S + t) * d + j], random_normal(99, w, t * d + j)) << w << " " << t << " " << j;
}

TEST(ConditionalSampler, SameSeedSameSamplesWhateverTheBlocksAndThreads) {
    const GaussianPatchModel m = make_model(3, 3, 2, 21);  // 25 configurations
    const Tensor x = random_image(3, 12, 11, 22);
    const WindowGrid grid(12, 11, 3, 1);
    const int64_t nw = grid.count(), S = 7, di = 27;
    auto draw = [&](uint64_t seed, std::vector<int64_t> cuts, int threads) {
        return sampler_test::draw_in_blocks(m, x, grid, S, di, seed, std::move(cuts), threads);
    };
    const std::vector<float> one = draw(5, {}, 2);
    ASSERT_EQ(static_cast<int64_t>(one.size()), nw * S * di);
    EXPECT_TRUE(one == draw(5, {13}, 2)) << "blocks [0,13) + [13,N) differ from [0,N)";
    EXPECT_TRUE(one == draw(5, {1, 2, 50, 51}, 1)) << "five blocks on one thread differ from one block on two";
    const std::vector<float> other = draw(6, {}, 2);
    int64_t same = 0;
    for (size_t i = 0; i < one.size(); ++i) same += one[i] == other[i];
    EXPECT_LT(same, static_cast<int64_t>(one.size() / 100));
}

TEST(ConditionalSampler, PreparingTheFirstWindowsOnlyGivesTheSameSamples) {
    const GaussianPatchModel m = make_model(3, 3, 2, 23);
    const Tensor x = random_image(3, 12, 11, 24);
    const WindowGrid grid(12, 11, 3, 1);
    const int64_t first = 17, S = 4, di = 27;  // windows of the first two rows and one of the third
    ConditionalSampler all(m, {}), some(m, {});
    all.begin_image(x.view(), grid, grid.count(), 3);
    some.begin_image(x.view(), grid, first, 3);
    std::vector<float> a(first * S * di), b(first * S * di);
    all.draw(0, first, S, a.data());
    some.draw(0, first, S, b.data());
    EXPECT_TRUE(a == b);
    for (int64_t w = 0; w < first; ++w) EXPECT_EQ(some.window_config(w), all.window_config(w));
    EXPECT_THROW(some.draw(first - 1, first + 1, S, b.data()), Error);
    EXPECT_THROW(some.window_mean(first), Error);
}

TEST(ConditionalSampler, ClipsToTheFittedRange) {
    GaussianPatchModel m = make_model(2, 2, 1, 31);
    m.min = {-0.5f, -0.25f};
    m.max = {0.5f, 0.75f};
    const Tensor x = random_image(2, 6, 6, 32);
    const WindowGrid grid(6, 6, 2, 1);
    const int64_t nw = grid.count(), S = 50, di = 8;
    for (bool clip : {false, true}) {
        ConditionalOptions o;
        o.clip = clip;
        ConditionalSampler s(m, o);
        s.begin_image(x.view(), grid, grid.count(), 1);
        std::vector<float> out(nw * S * di);
        s.draw(0, nw, S, out.data());
        int64_t outside = 0, at_bound = 0;
        for (int64_t i = 0; i < nw * S * di; ++i) {
            const int64_t c = i % di / 4;
            outside += out[i] < m.min[c] || out[i] > m.max[c];
            at_bound += out[i] == m.min[c] || out[i] == m.max[c];
        }
        if (clip) {
            EXPECT_EQ(outside, 0);
            EXPECT_GT(at_bound, 0);
        } else {
            EXPECT_GT(outside, 0);
        }
        EXPECT_EQ(s.describe().at("clip"), clip ? "true" : "false");
    }
}

TEST(ConditionalSampler, RefusesImagesItCannotServe) {
    const GaussianPatchModel m = make_model(2, 2, 3, 41);  // l = 8
    ConditionalOptions o;
    o.file = "fitted.pdas";
    ConditionalSampler s(m, o);
    const Tensor x = random_image(2, 7, 9, 1);
    expect_input_error([&] { s.begin_image(x.view(), WindowGrid(7, 9, 2, 1), 1, 0); },
                       {"fitted.pdas", "l = k + 2·pad = 8"});
    const Tensor y = random_image(2, 9, 9, 1);
    expect_input_error([&] { s.begin_image(y.view(), WindowGrid(9, 9, 3, 1), 1, 0); }, {"fitted.pdas", "k = 2"});
    const Tensor z = random_image(3, 9, 9, 1);
    expect_input_error([&] { s.begin_image(z.view(), WindowGrid(9, 9, 2, 1), 1, 0); }, {"fitted.pdas", "2 channels"});
}

}  // namespace
}  // namespace pda
