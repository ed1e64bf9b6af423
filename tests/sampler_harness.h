// Helpers shared by the Gaussian sampler suites (test_sampler_conditional.cc, test_gaussian_fit.cc,
// test_conditional_volume.cc, test_location_sampler.cc): seeded random patch models (of images or
// volumes) with strongly correlated SPD covariances, random images and volumes, draws block by block,
// the largest difference of two matrices, a check that a call fails with a one-line input error, and
// a sampler file with its header rewritten.
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine/gaussian.h"
#include "engine/sampler_conditional.h"
#include "engine/windows.h"

namespace pda::sampler_test {

using Mat = std::vector<double>;  // row-major

// A random SPD covariance (d, d) with unit-order variances and strong correlations.
inline Mat random_spd(int64_t d, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> nd;
    Mat b(static_cast<size_t>(d * d)), s(static_cast<size_t>(d * d));
    for (double& v : b) v = nd(rng);
    for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j) {
            double acc = i == j ? 0.3 * d : 0.0;
            for (int64_t t = 0; t < d; ++t) acc += b[i * d + t] * b[j * d + t];
            s[i * d + j] = acc / d;
        }
    return s;
}

// A random patch model (volume: l × l × l × C patches) with a strongly correlated SPD covariance.
inline GaussianPatchModel make_model(int64_t C, int64_t k, int64_t pad, uint32_t seed, bool volume = false) {
    GaussianPatchModel m;
    m.k = k;
    m.pad = pad;
    m.l = k + 2 * pad;
    m.channels = C;
    m.volume = volume;
    const int64_t d = m.dim();
    m.cov = random_spd(d, seed);
    std::mt19937 rng(seed + 1);
    std::uniform_real_distribution<double> u(-1, 1);
    for (int64_t i = 0; i < d; ++i) m.mean.push_back(u(rng));
    m.min.assign(C, -100.0f);
    m.max.assign(C, 100.0f);
    m.patches = 1000;
    return m;
}

// μ_i + A (x_o − μ_o) of a configuration c (inner and ring patch indices, A (di, do) row-major): the
// window's conditional mean given its context, whose values value(patch index) returns.
template <class Config, class F>
std::vector<double> conditional_mean(const Config& c, const std::vector<double>& mean, F value) {
    const int64_t di = static_cast<int64_t>(c.inner.size()), dr = static_cast<int64_t>(c.ring.size());
    std::vector<double> mu(static_cast<size_t>(di));
    for (int64_t i = 0; i < di; ++i) {
        mu[i] = mean[c.inner[i]];
        for (int64_t j = 0; j < dr; ++j) mu[i] += c.a[i * dr + j] * (value(c.ring[j]) - mean[c.ring[j]]);
    }
    return mu;
}

// The mean and unbiased covariance of patches (each d values), computed directly in double: the
// reference the fits are checked against.
inline void direct_moments(const std::vector<std::vector<double>>& patches, std::vector<double>* mean,
                           std::vector<double>* cov) {
    const int64_t d = static_cast<int64_t>(patches[0].size());
    const double n = static_cast<double>(patches.size());
    mean->assign(d, 0.0);
    cov->assign(d * d, 0.0);
    for (const auto& v : patches)
        for (int64_t i = 0; i < d; ++i) (*mean)[i] += v[i] / n;
    for (const auto& v : patches)
        for (int64_t i = 0; i < d; ++i)
            for (int64_t j = 0; j < d; ++j) (*cov)[i * d + j] += (v[i] - (*mean)[i]) * (v[j] - (*mean)[j]) / (n - 1);
}

// The sample mean and covariance of n draws of di values each (out: n × di, row-major).
struct SampleMoments {
    std::vector<double> mean, cov;
};
inline SampleMoments sample_moments(const float* out, int64_t n, int64_t di) {
    SampleMoments m{std::vector<double>(static_cast<size_t>(di), 0.0),
                    std::vector<double>(static_cast<size_t>(di * di), 0.0)};
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < di; ++j) m.mean[j] += out[t * di + j] / static_cast<double>(n);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < di; ++i)
            for (int64_t j = 0; j < di; ++j)
                m.cov[i * di + j] += (out[t * di + i] - m.mean[i]) * (out[t * di + j] - m.mean[j]) / (n - 1.0);
    return m;
}

// Expects the moments of n Gaussian draws to be those of N(mu, cond) (cond di × di): every mean
// coordinate within 5 standard errors, and the covariance's relative Frobenius error within 4× its
// RMS, E‖Ŝ − Σ‖²_F ≈ ((tr Σ)² + ‖Σ‖²_F) / n. Returns the worst |z| of the mean, the error and its bound.
struct MomentCheck {
    double worst_z = 0, rel = 0, bound = 0;
};
inline MomentCheck expect_gaussian_moments(const SampleMoments& s, int64_t n, const std::vector<double>& mu,
                                           const double* cond) {
    const int64_t di = static_cast<int64_t>(mu.size());
    MomentCheck c;
    for (int64_t j = 0; j < di; ++j) {
        const double se = std::sqrt(cond[j * di + j] / n);
        c.worst_z = std::max(c.worst_z, std::fabs(s.mean[j] - mu[j]) / se);
        EXPECT_LE(std::fabs(s.mean[j] - mu[j]), 5 * se) << "coordinate " << j;
    }
    double tr = 0, fro2 = 0, err2 = 0;
    for (int64_t i = 0; i < di; ++i) tr += cond[i * di + i];
    for (int64_t i = 0; i < di * di; ++i) {
        fro2 += cond[i] * cond[i];
        err2 += (s.cov[i] - cond[i]) * (s.cov[i] - cond[i]);
    }
    c.rel = std::sqrt(err2 / fro2);
    c.bound = 4 * std::sqrt((tr * tr + fro2) / n / fro2);
    EXPECT_LE(c.rel, c.bound);
    return c;
}

// A random volume (1, C, D, H, W).
inline Tensor random_volume(int64_t C, int64_t D, int64_t H, int64_t W, uint32_t seed) {
    Tensor t(Shape({1, C, D, H, W}));
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.5f);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = nd(rng);
    return t;
}

// Every window's S samples of x (di values each) drawn by a fresh sampler of m, block by block
// ([0, cuts[0]), [cuts[0], cuts[1]), ..., [last cut, all)) on `threads` OpenMP threads.
inline std::vector<float> draw_in_blocks(const GaussianPatchModel& m, const Tensor& x, const WindowGrid& grid,
                                         int64_t S, int64_t di, uint64_t seed, std::vector<int64_t> cuts, int threads) {
    const int64_t nw = grid.count();
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    ConditionalSampler s(m, {});
    s.begin_image(x.view(), grid, nw, seed);
    std::vector<float> out(static_cast<size_t>(nw * S * di));
    int64_t w0 = 0;
    cuts.push_back(nw);
    for (int64_t w1 : cuts) {
        s.draw(w0, w1, S, out.data() + w0 * S * di);
        w0 = w1;
    }
    omp_set_num_threads(before);
    return out;
}

inline double max_abs_diff(const Mat& a, const Mat& b) {
    EXPECT_EQ(a.size(), b.size());
    double m = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

inline Tensor random_image(int64_t C, int64_t H, int64_t W, uint32_t seed) {
    Tensor t(Shape({1, C, H, W}));
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.5f);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = nd(rng);
    return t;
}

template <typename F>
void expect_input_error(F f, const std::vector<std::string>& parts) {
    try {
        f();
        ADD_FAILURE() << "no error thrown";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
        for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    }
}

// The bytes of the sampler file at `path` with its header rewritten by `edit` (the data after it unchanged).
inline std::string with_header(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t len = 0;
    std::memcpy(&len, bytes.data() + 8, 8);
    nlohmann::json h = nlohmann::json::parse(bytes.substr(16, len));
    edit(h);
    std::string header = h.dump();
    header.append((8 - (16 + header.size()) % 8) % 8, ' ');
    const uint64_t n = header.size();
    std::string out = bytes.substr(0, 8);
    out.append(reinterpret_cast<const char*>(&n), 8);
    return out + header + bytes.substr(16 + len);
}

}  // namespace pda::sampler_test
