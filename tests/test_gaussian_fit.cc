// The Gaussian patch model behind the conditional sampler: fit_gaussian on a Gaussian field of
// known covariance and against a direct float64 computation (images, and volumes with all positions
// or a seeded subset), its refusals, and the sampler file (exact round trip of image and volume
// models, version 1 files read as image models, refusal of another preprocessing, k, pad, channel
// count or kind of input, damaged files).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/gaussian.h"
#include "engine/sampler_conditional.h"
#include "io/sampler_file.h"
#include "kernels/philox.h"
#include "sampler_harness.h"
#include "test_util.h"

namespace pda {
namespace {

using sampler_test::direct_moments;
using sampler_test::expect_input_error;
using sampler_test::make_model;
using sampler_test::max_abs_diff;
using sampler_test::random_image;
using sampler_test::random_volume;
using sampler_test::with_header;
using test::TempDir;

// ---- fitting ------------------------------------------------------------------------------------

// Images of a known stationary Gaussian field: x_c = μ_c + Σ_c' M[c][c'] (h ∗ n_c'), n white noise,
// h a 2×2 kernel, so Cov(x_c1(p), x_c2(p + δ)) = (M Mᵀ)[c1][c2] · Σ_ab h[a][b] h[a + δy][b + δx].
TEST(FitGaussian, RecoversTheMeanAndCovarianceOfAKnownField) {
    const double h[2][2] = {{1.0, 0.5}, {0.25, 0.5}}, M[2][2] = {{1.0, 0.0}, {0.6, 0.8}}, mu[2] = {0.3, -1.2};
    const int64_t H = 40, W = 40, N = 30;
    std::mt19937 rng(123);
    std::normal_distribution<double> nd;
    std::vector<Tensor> images;
    for (int64_t n = 0; n < N; ++n) {
        std::vector<double> noise(2 * (H + 1) * (W + 1));
        for (double& v : noise) v = nd(rng);
        Tensor t(Shape({1, 2, H, W}));
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                double f[2];
                for (int c = 0; c < 2; ++c) {
                    f[c] = 0;
                    for (int a = 0; a < 2; ++a)
                        for (int b = 0; b < 2; ++b) f[c] += h[a][b] * noise[(c * (H + 1) + y + a) * (W + 1) + x + b];
                }
                for (int c = 0; c < 2; ++c) t.data()[(c * H + y) * W + x] = mu[c] + M[c][0] * f[0] + M[c][1] * f[1];
            }
        images.push_back(std::move(t));
    }
    auto corr = [&](int64_t dy, int64_t dx) {
        double s = 0;
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
                if (a + dy >= 0 && a + dy < 2 && b + dx >= 0 && b + dx < 2) s += h[a][b] * h[a + dy][b + dx];
        return s;
    };
    const GaussianPatchModel g = fit_gaussian(images, 2, 1, 0, 0);
    ASSERT_EQ(g.l, 4);
    ASSERT_EQ(g.dim(), 32);
    EXPECT_EQ(g.patches, N * 37 * 37);
    double worst_mean = 0, worst_cov = 0;
    for (int64_t i = 0; i < 32; ++i) {
        worst_mean = std::max(worst_mean, std::fabs(g.mean[i] - mu[i / 16]));
        for (int64_t j = 0; j < 32; ++j) {
            const int64_t c1 = i / 16, c2 = j / 16;
            const double mm = M[c1][0] * M[c2][0] + M[c1][1] * M[c2][1];
            const double want = mm * corr(j / 4 % 4 - i / 4 % 4, j % 4 - i % 4);
            worst_cov = std::max(worst_cov, std::fabs(g.cov[i * 32 + j] - want));
        }
    }
    std::printf("  fit on %lld patches: worst |mean error| %.4f, worst |cov error| %.4f (variance 1.56)\n",
                static_cast<long long>(g.patches), worst_mean, worst_cov);
    EXPECT_LT(worst_mean, 0.05);
    EXPECT_LT(worst_cov, 0.06);
    for (int c = 0; c < 2; ++c) {
        float lo = INFINITY, hi = -INFINITY;
        for (const Tensor& t : images)
            for (int64_t i = c * H * W; i < (c + 1) * H * W; ++i) {
                lo = std::min(lo, t.data()[i]);
                hi = std::max(hi, t.data()[i]);
            }
        EXPECT_EQ(g.min[c], lo);
        EXPECT_EQ(g.max[c], hi);
    }

    // A seeded subset: exactly max_patches, reproducible, seed-dependent, close to the full fit.
    const GaussianPatchModel a = fit_gaussian(images, 2, 1, 5000, 9), b = fit_gaussian(images, 2, 1, 5000, 9),
                             c = fit_gaussian(images, 2, 1, 5000, 10);
    EXPECT_EQ(a.patches, 5000);
    EXPECT_EQ(a.cov, b.cov);
    EXPECT_EQ(a.mean, b.mean);
    EXPECT_NE(a.cov, c.cov);
    EXPECT_LT(max_abs_diff(a.cov, g.cov), 0.15);
}

// Every position, against a direct float64 computation: exact indexing and centring (values near
// 120, as in Caffe's 0–255 space, must not lose precision in the float32 GEMM).
TEST(FitGaussian, AllPositionsEqualADirectFloat64Computation) {
    std::vector<Tensor> images;
    for (uint32_t i = 0; i < 3; ++i) {
        images.push_back(random_image(3, 9 + i, 11, 70 + i));
        for (int64_t j = 0; j < images.back().numel(); ++j)
            images.back().data()[j] = 120 + 20 * images.back().data()[j];
    }
    const GaussianPatchModel g = fit_gaussian(images, 3, 1, 0, 0);
    const int64_t l = 5, d = 75;
    std::vector<std::vector<double>> patches;
    for (const Tensor& t : images)
        for (int64_t py = 0; py + l <= t.shape()[2]; ++py)
            for (int64_t px = 0; px + l <= 11; ++px) {
                std::vector<double> v;
                for (int64_t c = 0; c < 3; ++c)
                    for (int64_t y = 0; y < l; ++y)
                        for (int64_t x = 0; x < l; ++x)
                            v.push_back(t.data()[(c * t.shape()[2] + py + y) * 11 + px + x]);
                patches.push_back(v);
            }
    const double n = static_cast<double>(patches.size());
    ASSERT_EQ(g.patches, static_cast<int64_t>(patches.size()));
    std::vector<double> mean(d, 0.0), cov(d * d, 0.0);
    for (const auto& v : patches)
        for (int64_t i = 0; i < d; ++i) mean[i] += v[i] / n;
    for (const auto& v : patches)
        for (int64_t i = 0; i < d; ++i)
            for (int64_t j = 0; j < d; ++j) cov[i * d + j] += (v[i] - mean[i]) * (v[j] - mean[j]) / (n - 1);
    const double em = max_abs_diff(g.mean, mean), ec = max_abs_diff(g.cov, cov);
    std::printf("  all %lld positions: max |mean error| %.2g, max |cov error| %.2g (variances ≈ 900)\n",
                static_cast<long long>(g.patches), em, ec);
    EXPECT_LT(em, 1e-9 * 120);
    EXPECT_LT(ec, 1e-5 * 900);  // float32 products, float64 sums
}

TEST(FitGaussian, RefusesBadArguments) {
    std::vector<Tensor> small;
    small.push_back(random_image(3, 5, 5, 1));
    expect_input_error([&] { fit_gaussian({}, 2, 1, 0, 0); }, {"no images"});
    expect_input_error([&] { fit_gaussian(small, 0, 1, 0, 0); }, {"k"});
    expect_input_error([&] { fit_gaussian(small, 2, -1, 0, 0); }, {"pad"});
    expect_input_error([&] { fit_gaussian(small, 4, 1, 0, 0); }, {"smaller than the context"});
    small.push_back(random_image(2, 5, 5, 1));
    expect_input_error([&] { fit_gaussian(small, 2, 1, 0, 0); }, {"image 1"});
}

// ---- the sampler file ---------------------------------------------------------------------------

SamplerFileMeta caffe_meta() {
    SamplerFileMeta meta;
    meta.pre.height = meta.pre.width = 227;
    meta.pre.bgr = true;
    meta.pre.scale = 255;
    meta.pre.mean = {104, 117, 123};
    meta.model = "squeezenet1.1-caffe.onnx";
    meta.seed = 17;
    meta.max_patches = 200000;
    meta.images = {"a.png", "b.jpg"};
    return meta;
}

TEST(SamplerFile, RoundTripsExactly) {
    TempDir dir("sampler-file");
    const std::string path = dir.file("s.pdas");
    GaussianPatchModel m = make_model(3, 2, 1, 51);
    m.min = {-1.5f, -2.0f, 0.25f};
    m.max = {1.5f, 2.0f, 3.0f};
    write_sampler_file(path, m, caffe_meta());
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    const SamplerFile f = read_sampler_file(path);
    EXPECT_EQ(f.model.k, 2);
    EXPECT_EQ(f.model.pad, 1);
    EXPECT_EQ(f.model.l, 4);
    EXPECT_EQ(f.model.channels, 3);
    EXPECT_EQ(f.model.patches, m.patches);
    EXPECT_EQ(f.model.mean, m.mean);
    EXPECT_EQ(f.model.cov, m.cov);
    EXPECT_EQ(f.model.min, m.min);
    EXPECT_EQ(f.model.max, m.max);
    const SamplerFileMeta want = caffe_meta();
    EXPECT_EQ(f.meta.k, 2);
    EXPECT_EQ(f.meta.pad, 1);
    EXPECT_EQ(f.meta.channels, 3);
    EXPECT_EQ(f.meta.model, want.model);
    EXPECT_EQ(f.meta.seed, want.seed);
    EXPECT_EQ(f.meta.max_patches, want.max_patches);
    EXPECT_EQ(f.meta.images, want.images);
    EXPECT_TRUE(f.meta.pre.bgr);
    EXPECT_EQ(f.meta.pre.height, 227);
    EXPECT_EQ(f.meta.pre.mean, want.pre.mean);
    EXPECT_FALSE(f.meta.created_by.empty());
    check_sampler_matches(f.meta, want.pre, 3, 2, 1, path);  // its own run: accepted
}

TEST(SamplerFile, RefusesAnotherPreprocessingKPadOrChannelCount) {
    SamplerFileMeta meta = caffe_meta();
    meta.k = 10;
    meta.pad = 2;
    meta.l = 14;
    meta.channels = 3;
    const Preprocess ok = meta.pre;
    const std::string file = "/x/fitted.pdas";
    auto refuses = [&](const Preprocess& p, int64_t C, int64_t k, int64_t pad, const std::string& field) {
        SCOPED_TRACE(field);
        expect_input_error([&] { check_sampler_matches(meta, p, C, k, pad, file); }, {file, field});
    };
    refuses(ok, 1, 10, 2, "channels");
    refuses(ok, 3, 9, 2, "k 10");
    refuses(ok, 3, 10, 1, "pad 2");
    Preprocess p = ok;
    p.bgr = false;
    refuses(p, 3, 10, 2, "channel_order");
    p = ok;
    p.mean = {0.485f, 0.456f, 0.406f};
    refuses(p, 3, 10, 2, "mean");
    p = ok;
    p.std = {0.229f, 0.224f, 0.225f};
    refuses(p, 3, 10, 2, "std");
    p = ok;
    p.scale = 1;
    refuses(p, 3, 10, 2, "scale");
    p = ok;
    p.height = p.width = 224;
    refuses(p, 3, 10, 2, "input_size");
    p = ok;
    p.resize_shorter = 0;
    refuses(p, 3, 10, 2, "resize_shorter");
    check_sampler_matches(meta, ok, 3, 10, 2, file);
}

TEST(SamplerFile, RefusesDamagedFiles) {
    TempDir dir("sampler-file");
    const std::string good = dir.file("good.pdas");
    write_sampler_file(good, make_model(2, 2, 1, 61), caffe_meta());
    const auto size = std::filesystem::file_size(good);
    auto variant = [&](const std::string& name, const std::function<void(std::string&)>& damage) {
        std::ifstream in(good, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        damage(bytes);
        const std::string path = dir.file(name);
        std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        return path;
    };
    const std::string cut = variant("cut.pdas", [&](std::string& b) { b.resize(size - 9); });
    expect_input_error([&] { read_sampler_file(cut); }, {cut, "truncated"});
    const std::string stub = variant("stub.pdas", [&](std::string& b) { b.resize(12); });
    expect_input_error([&] { read_sampler_file(stub); }, {stub, "truncated"});
    const std::string magic = variant("magic.pdas", [&](std::string& b) { b[7] = '2'; });
    expect_input_error([&] { read_sampler_file(magic); }, {magic, "PDASAMP1"});
    const std::string json = variant("json.pdas", [&](std::string& b) { b[16] = 'x'; });
    expect_input_error([&] { read_sampler_file(json); }, {json, "corrupt"});
    const std::string tail = variant("tail.pdas", [&](std::string& b) { b += "extra"; });
    expect_input_error([&] { read_sampler_file(tail); }, {tail, "trailing"});
    const std::string missing = dir.file("none.pdas");
    expect_input_error([&] { read_sampler_file(missing); }, {missing});
    const std::string nodir = (dir.path() / "no" / "such" / "s.pdas").string();
    expect_input_error([&] { write_sampler_file(nodir, make_model(2, 2, 1, 61), caffe_meta()); }, {nodir});
    EXPECT_FALSE(std::filesystem::exists(nodir + ".tmp"));
}

// ---- volumes ------------------------------------------------------------------------------------

std::vector<Tensor> two(Tensor a, Tensor b) {  // Tensor is move-only: no initializer lists
    std::vector<Tensor> v;
    v.push_back(std::move(a));
    v.push_back(std::move(b));
    return v;
}

// Every l × l × l patch of the volumes, in the fit's numbering (volumes in order, then slices, rows,
// columns), as (c, z, y, x) vectors in float64.
std::vector<std::vector<double>> all_cubes(const std::vector<Tensor>& vols, int64_t l) {
    std::vector<std::vector<double>> out;
    for (const Tensor& t : vols) {
        const int64_t C = t.shape()[1], D = t.shape()[2], H = t.shape()[3], W = t.shape()[4];
        for (int64_t pz = 0; pz + l <= D; ++pz)
            for (int64_t py = 0; py + l <= H; ++py)
                for (int64_t px = 0; px + l <= W; ++px) {
                    std::vector<double> v;
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t z = 0; z < l; ++z)
                            for (int64_t y = 0; y < l; ++y)
                                for (int64_t x = 0; x < l; ++x)
                                    v.push_back(t.data()[((c * D + pz + z) * H + py + y) * W + px + x]);
                    out.push_back(std::move(v));
                }
    }
    return out;
}

// Volumes of different sizes, every position, against a direct float64 computation; values near 120
// as in the 2-D test, so centring matters.
TEST(FitGaussianVolume, AllPositionsEqualADirectFloat64Computation) {
    std::vector<Tensor> vols;
    const int64_t sizes[3][3] = {{5, 6, 7}, {6, 5, 5}, {4, 5, 6}};
    for (uint32_t i = 0; i < 3; ++i) {
        vols.push_back(random_volume(2, sizes[i][0], sizes[i][1], sizes[i][2], 80 + i));
        for (int64_t j = 0; j < vols.back().numel(); ++j) vols.back().data()[j] = 120 + 20 * vols.back().data()[j];
    }
    const GaussianPatchModel g = fit_gaussian(vols, 2, 1, 0, 0);
    EXPECT_TRUE(g.volume);
    EXPECT_EQ(g.l, 4);
    EXPECT_EQ(g.lz(), 4);
    ASSERT_EQ(g.dim(), 128);
    const auto patches = all_cubes(vols, 4);
    EXPECT_EQ(g.patches, 2 * 3 * 4 + 3 * 2 * 2 + 1 * 2 * 3);
    ASSERT_EQ(g.patches, static_cast<int64_t>(patches.size()));
    std::vector<double> mean, cov;
    direct_moments(patches, &mean, &cov);
    const double em = max_abs_diff(g.mean, mean), ec = max_abs_diff(g.cov, cov);
    std::printf("  volumes, all %lld positions: max |mean error| %.2g, max |cov error| %.2g (variances ≈ 900)\n",
                static_cast<long long>(g.patches), em, ec);
    EXPECT_LT(em, 1e-9 * 120);
    EXPECT_LT(ec, 1e-5 * 900);
    for (int c = 0; c < 2; ++c) {
        float lo = INFINITY, hi = -INFINITY;
        for (const Tensor& t : vols) {
            const int64_t per = t.numel() / 2;
            for (int64_t i = c * per; i < (c + 1) * per; ++i) {
                lo = std::min(lo, t.data()[i]);
                hi = std::max(hi, t.data()[i]);
            }
        }
        EXPECT_EQ(g.min[c], lo);
        EXPECT_EQ(g.max[c], hi);
    }
}

// A seeded subset: the positions the documented scheme picks (selection sampling over all
// positions, one philox number per position on the "fit-patc" stream), the moments of exactly those.
TEST(FitGaussianVolume, PatchSubsetIsTheSeededSelectionOverAllVolumes) {
    std::vector<Tensor> vols = two(random_volume(1, 7, 6, 8, 90), random_volume(1, 6, 7, 6, 91));
    const int64_t max_patches = 70;
    const uint64_t seed = 12;
    const GaussianPatchModel g = fit_gaussian(vols, 3, 1, max_patches, seed);  // l = 5, d = 125
    const auto all = all_cubes(vols, 5);
    ASSERT_EQ(all.size(), 3u * 2 * 4 + 2 * 3 * 2);  // 36 ≤ 70: every position
    EXPECT_EQ(g.patches, 36);

    vols.push_back(random_volume(1, 9, 9, 9, 92));  // 36 + 125 = 161 positions
    const auto every = all_cubes(vols, 5);
    ASSERT_EQ(every.size(), 161u);
    const GaussianPatchModel a = fit_gaussian(vols, 3, 1, max_patches, seed),
                             b = fit_gaussian(vols, 3, 1, max_patches, seed),
                             c = fit_gaussian(vols, 3, 1, max_patches, seed + 1);
    EXPECT_EQ(a.patches, max_patches);
    EXPECT_EQ(a.cov, b.cov);
    EXPECT_NE(a.cov, c.cov);
    constexpr uint64_t kFitStream = 0x6669742d70617463ull;  // "fit-patc" (engine/gaussian.cc)
    std::vector<std::vector<double>> chosen;
    int64_t needed = max_patches, total = static_cast<int64_t>(every.size());
    for (int64_t t = 0; t < total && needed > 0; ++t) {
        const double u = (static_cast<double>(random_u32(seed, kFitStream, t)) + 0.5) / 4294967296.0;
        if (u * static_cast<double>(total - t) < static_cast<double>(needed)) {
            chosen.push_back(every[t]);
            --needed;
        }
    }
    ASSERT_EQ(static_cast<int64_t>(chosen.size()), max_patches);
    std::vector<double> mean, cov;
    direct_moments(chosen, &mean, &cov);
    EXPECT_LT(max_abs_diff(a.mean, mean), 1e-9);
    EXPECT_LT(max_abs_diff(a.cov, cov), 1e-5);
}

TEST(FitGaussianVolume, RefusesBadVolumesAndOversizedCubes) {
    std::vector<Tensor> mixed = two(random_volume(1, 6, 6, 6, 1), sampler_test::random_image(1, 6, 6, 2));
    expect_input_error([&] { fit_gaussian(mixed, 2, 1, 0, 0); }, {"volume 1", "(1, 1, D, H, W)"});
    std::vector<Tensor> shallow = two(random_volume(1, 6, 6, 6, 1), random_volume(1, 3, 6, 6, 2));
    expect_input_error([&] { fit_gaussian(shallow, 2, 1, 0, 0); }, {"volume 1", "3×6×6", "smaller than the context"});
    std::vector<Tensor> channels = two(random_volume(1, 6, 6, 6, 1), random_volume(2, 6, 6, 6, 2));
    expect_input_error([&] { fit_gaussian(channels, 2, 1, 0, 0); }, {"volume 1"});
    // l = 19: 6859 values per cube is within the limit; l = 21: 9261 is not (an image would be 441).
    check_gaussian_dim(3, 8, 1, "x", true);
    check_gaussian_dim(5, 8, 1, "x", false);
    expect_input_error([&] { check_gaussian_dim(5, 8, 1, "--k 5 --pad 8", true); },
                       {"--k 5 --pad 8", "l × l × l × C", "9261", "8192"});
    // Memory: the volume model's configurations are (2·pad + 1)³.
    const double img = conditional_sampler_bytes(3, 2, 1, 1000, 1),
                 vol = conditional_sampler_bytes(3, 2, 1, 1000, 1, true);
    EXPECT_GT(vol, 125.0 * 316 * 27 * 12);  // 125 configurations, A (316 × 27) in float64 and float32 each
    EXPECT_GT(vol, 10 * img);
    EXPECT_GT(gaussian_fit_bytes(3, 2, 1, 1000, true), 20.0 * 343 * 343);
    EXPECT_EQ(gaussian_fit_bytes(3, 2, 3, 1000), gaussian_fit_bytes(3, 2, 3, 1000, false));
}

TEST(SamplerFileVolume, RoundTripsAVolumeModelAndRefusesTheWrongKindOfInput) {
    TempDir dir("sampler-file-volume");
    const std::string path = dir.file("brain.pdas");
    std::vector<Tensor> vols = two(random_volume(2, 6, 6, 7, 5), random_volume(2, 7, 6, 6, 6));
    const GaussianPatchModel m = fit_gaussian(vols, 2, 1, 0, 0);
    write_sampler_file(path, m, caffe_meta());
    nlohmann::json header;
    with_header(path, [&](nlohmann::json& h) { header = h; });
    EXPECT_EQ(header.at("version"), 2);
    EXPECT_EQ(header.at("volume"), true);
    EXPECT_EQ(header.at("lz"), 4);
    const SamplerFile f = read_sampler_file(path);
    EXPECT_TRUE(f.model.volume);
    EXPECT_TRUE(f.meta.volume);
    EXPECT_EQ(f.model.k, 2);
    EXPECT_EQ(f.model.l, 4);
    EXPECT_EQ(f.model.channels, 2);
    EXPECT_EQ(f.model.dim(), 128);
    EXPECT_EQ(f.model.patches, m.patches);
    EXPECT_EQ(f.model.mean, m.mean);
    EXPECT_EQ(f.model.cov, m.cov);
    EXPECT_EQ(f.model.min, m.min);
    EXPECT_EQ(f.model.max, m.max);
    const Preprocess pre = caffe_meta().pre;
    check_sampler_matches(f.meta, pre, 2, 2, 1, path, true);
    check_sampler_matches(f.meta, pre, 2, 2, 1, path);
    expect_input_error([&] { check_sampler_matches(f.meta, pre, 2, 2, 1, path, false); },
                       {path, "fitted on volumes", "an image"});
    // The sampler read from it refuses an image, naming the file.
    ConditionalOptions o;
    o.file = path;
    ConditionalSampler s(f.model, o);
    const Tensor image = random_image(2, 8, 8, 1);
    expect_input_error([&] { s.begin_image(image.view(), WindowGrid(8, 8, 2, 1), 1, 0); }, {path, "fitted on volumes"});

    // An image model: recorded as such, refused for a volume.
    const std::string flat = dir.file("flat.pdas");
    write_sampler_file(flat, make_model(2, 2, 1, 8), caffe_meta());
    const SamplerFile fi = read_sampler_file(flat);
    EXPECT_FALSE(fi.model.volume);
    expect_input_error([&] { check_sampler_matches(fi.meta, pre, 2, 2, 1, flat, true); },
                       {flat, "fitted on images", "a volume"});
    ConditionalOptions oi;
    oi.file = flat;
    ConditionalSampler si(fi.model, oi);
    const Tensor volume = random_volume(2, 6, 6, 6, 1);
    expect_input_error([&] { si.begin_image(volume.view(), WindowGrid(6, 6, 6, 2, 1), 1, 0); },
                       {flat, "fitted on images"});

    // Damaged kind fields.
    const std::string nokind =
        dir.write("nokind.pdas", with_header(path, [](nlohmann::json& h) { h.erase("volume"); }));
    expect_input_error([&] { read_sampler_file(nokind); }, {nokind, "volume"});
    const std::string badlz = dir.write("badlz.pdas", with_header(path, [](nlohmann::json& h) { h["lz"] = 1; }));
    expect_input_error([&] { read_sampler_file(badlz); }, {badlz, "lz = 1"});
    const std::string v4 = dir.write("v4.pdas", with_header(path, [](nlohmann::json& h) { h["version"] = 4; }));
    expect_input_error([&] { read_sampler_file(v4); }, {v4, "version 4"});
    // A volume header over an image model's data: the sizes disagree.
    auto grow = [](nlohmann::json& h) {
        h["version"] = 2;
        h["volume"] = true;
        h["lz"] = 4;
    };
    const std::string grown = dir.write("grown.pdas", with_header(flat, grow));
    expect_input_error([&] { read_sampler_file(grown); }, {grown, "truncated"});
}

// Image models are written as version 1, exactly as before volumes (so older readers keep reading
// them), and read as image models; a version 2 header may say "volume": false as well.
TEST(SamplerFileVolume, ImageModelsStayVersionOne) {
    TempDir dir("sampler-file-v1");
    const std::string now = dir.file("now.pdas");
    const GaussianPatchModel m = make_model(3, 2, 1, 9);
    write_sampler_file(now, m, caffe_meta());
    nlohmann::json header;
    with_header(now, [&](nlohmann::json& h) { header = h; });
    EXPECT_EQ(header.at("version"), 1);
    EXPECT_EQ(header.count("volume"), 0u);
    EXPECT_EQ(header.count("lz"), 0u);
    const SamplerFile f = read_sampler_file(now);
    EXPECT_FALSE(f.model.volume);
    EXPECT_FALSE(f.meta.volume);
    EXPECT_EQ(f.model.mean, m.mean);
    EXPECT_EQ(f.model.cov, m.cov);
    check_sampler_matches(f.meta, caffe_meta().pre, 3, 2, 1, now, false);
    auto as_v2 = [](int64_t lz) {
        return [lz](nlohmann::json& h) {
            h["version"] = 2;
            h["volume"] = false;
            h["lz"] = lz;
        };
    };
    const std::string v2 = dir.write("v2.pdas", with_header(now, as_v2(1)));
    const SamplerFile g = read_sampler_file(v2);
    EXPECT_FALSE(g.model.volume);
    EXPECT_EQ(g.model.cov, m.cov);
    const std::string v2bad = dir.write("v2bad.pdas", with_header(now, as_v2(4)));
    expect_input_error([&] { read_sampler_file(v2bad); }, {v2bad, "lz = 4"});
    // The fuzz corpus's files were written by the version 1 writer.
    const std::string corpus = test::source_dir() + "/fuzz/corpus/fuzz_sampler_file/k1_pad1_c1.pdas";
    const SamplerFile c = read_sampler_file(corpus);
    EXPECT_FALSE(c.model.volume);
    EXPECT_EQ(c.model.dim(), 9);
    ConditionalOptions o;
    o.file = corpus;
    ConditionalSampler s(c.model, o);
    const Tensor image = random_image(1, 5, 5, 3);
    s.begin_image(image.view(), WindowGrid(5, 5, 1, 1), 25, 0);
    const Tensor volume = random_volume(1, 5, 5, 5, 3);
    expect_input_error([&] { s.begin_image(volume.view(), WindowGrid(5, 5, 5, 1, 1), 1, 0); },
                       {corpus, "fitted on images"});
}

}  // namespace
}  // namespace pda
