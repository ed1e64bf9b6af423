// Location conditioning (paper §4.2) in the conditional sampler on volumes: every window's cell and
// conditional mean against the conditional of that cell's Gaussian (the global one where the cell
// fell back); sample moments; the same bytes whatever the blocks and threads, and the global
// model's bytes in fallen-back cells; a volume of another grid refused; the sampler file (version 3
// round trip and damaged location blocks). The fit with cells and masks is in test_location_fit.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/gaussian.h"
#include "engine/sampler_conditional.h"
#include "io/sampler_file.h"
#include "sampler_harness.h"
#include "test_util.h"

namespace pda {
namespace {

using sampler_test::draw_in_blocks;
using sampler_test::expect_input_error;
using sampler_test::make_model;
using sampler_test::random_volume;
using sampler_test::with_header;

SamplerFileMeta volume_meta() {
    SamplerFileMeta meta;
    meta.model = "logreg.onnx";
    meta.images = {"a.nii.gz", "b.nii.gz"};
    meta.seed = 4;
    meta.max_patches = 100;
    meta.mask = "mask.nii.gz";
    meta.mask_voxels = 321;
    return meta;
}

// ---- the sampler ---------------------------------------------------------------------------------

// A location-conditioned model by hand: the global Gaussian and cells of 3 over an 8 × 7 × 9
// volume (3 × 3 × 3 cells), every cell whose index is not a multiple of 3 with a Gaussian of its own
// (random, unrelated to the global one), the others fallen back.
GaussianPatchModel location_model(int64_t C, int64_t k, int64_t pad, uint32_t seed) {
    GaussianPatchModel m = make_model(C, k, pad, seed, true);
    LocationCells& loc = m.location;
    loc.cell = 3;
    loc.depth = 8;
    loc.height = 7;
    loc.width = 9;
    loc.min_patches = 10;
    for (int64_t c = 0; c < loc.cells(); ++c) {
        loc.available.push_back(c % 3 == 0 ? 0 : 100);
        if (c % 3 == 0) continue;
        const GaussianPatchModel own = make_model(C, k, pad, seed + 10 + static_cast<uint32_t>(c), true);
        CellGaussian g;
        g.cell = c;
        g.patches = 100;
        g.mean = own.mean;
        g.cov = own.cov;
        loc.fitted.push_back(std::move(g));
    }
    check_gaussian_model(m, "location model");
    return m;
}

// The plain model of cell c's Gaussian (the global one where c fell back).
GaussianPatchModel cell_model(const GaussianPatchModel& m, int64_t c) {
    GaussianPatchModel out;
    out.k = m.k;
    out.pad = m.pad;
    out.l = m.l;
    out.channels = m.channels;
    out.volume = m.volume;
    out.mean = m.mean;
    out.cov = m.cov;
    out.min = m.min;
    out.max = m.max;
    for (const CellGaussian& g : m.location.fitted)
        if (g.cell == c) {
            out.mean = g.mean;
            out.cov = g.cov;
        }
    return out;
}

int64_t expected_cell(int64_t s, int64_t r, int64_t c, int64_t k) {
    const int64_t h = (k - 1) / 2;  // the window's centre
    return ((s + h) / 3 * 3 + (r + h) / 3) * 3 + (c + h) / 3;
}

TEST(LocationSampler, EveryWindowUsesTheConditionalOfItsCell) {
    for (int64_t k : {2, 3}) {
        const GaussianPatchModel m = location_model(2, k, 1, 11);
        const Tensor x = random_volume(2, 8, 7, 9, 12);
        const WindowGrid grid(8, 7, 9, k, 1);
        ConditionalSampler s(m, {});
        s.begin_image(x.view(), grid, grid.count(), 42);
        const int64_t side = 3, configs = 27, l = m.l, D = 8, H = 7, W = 9;
        std::vector<int64_t> slot(27, 0);
        for (size_t j = 0; j < m.location.fitted.size(); ++j) slot[m.location.fitted[j].cell] = 1 + j;
        std::set<int64_t> cells_met, fallback_met;
        std::map<int64_t, GaussianPatchModel> own;
        std::map<int64_t, ConditionalConfig> refs;
        double worst = 0;
        for (int64_t w = 0; w < grid.count(); ++w) {
            const int64_t sl = grid.slice(w), r = grid.row(w), c = grid.col(w);
            const int64_t cell = expected_cell(sl, r, c, k);
            auto corner = [&](int64_t p, int64_t n) { return std::min(std::max<int64_t>(p - 1, 0), n - l); };
            const int64_t cz = corner(sl, D), cy = corner(r, H), cx = corner(c, W);
            const int64_t cfg = ((sl - cz) * side + r - cy) * side + c - cx;
            ASSERT_EQ(s.window_cell(w), cell) << "window " << w;
            ASSERT_EQ(s.window_config(w), slot[cell] * configs + cfg) << "window " << w;
            cells_met.insert(cell);
            if (slot[cell] == 0) fallback_met.insert(cell);
            // The plain model of the cell's Gaussian and its conditional, computed once per (cell, configuration).
            if (!own.count(cell)) own.emplace(cell, cell_model(m, cell));
            const int64_t key = cell * configs + cfg;
            if (!refs.count(key)) refs.emplace(key, condition_gaussian(own.at(cell), sl - cz, r - cy, c - cx, false));
            const ConditionalConfig& ref = refs.at(key);
            auto value = [&](int64_t idx) {
                const int64_t ch = idx / (l * l * l), z = idx / (l * l) % l, y = idx / l % l, xx = idx % l;
                return static_cast<double>(x.data()[((ch * D + cz + z) * H + cy + y) * W + cx + xx]);
            };
            const std::vector<double> mu = sampler_test::conditional_mean(ref, own.at(cell).mean, value);
            for (size_t j = 0; j < mu.size(); ++j) {
                worst = std::max(worst, std::fabs(s.window_mean(w)[j] - mu[j]) / (1 + std::fabs(mu[j])));
                ASSERT_NEAR(s.window_mean(w)[j], mu[j], 1e-4 * (1 + std::fabs(mu[j]))) << "window " << w << " " << j;
            }
        }
        EXPECT_GT(fallback_met.size(), 0u);
        EXPECT_GT(cells_met.size(), fallback_met.size());
        const auto d = s.describe();
        EXPECT_EQ(d.at("location_conditioned"), "true");
        EXPECT_EQ(d.at("location_cell"), "3");
        EXPECT_EQ(d.at("location_grid"), "3×3×3");
        EXPECT_EQ(d.at("location_fallback_count"), "9");
        EXPECT_EQ(d.at("location_fallback_cells"), "0,3,6,9,12,15,18,21,24");
        EXPECT_EQ(d.at("location_cells_used"), std::to_string(cells_met.size()));
        EXPECT_EQ(d.at("location_fallback_cells_used"), std::to_string(fallback_met.size()));
        std::printf("  k %lld: %zu cells met (%zu fallen back), %s configurations, worst relative mean error %.2g\n",
                    static_cast<long long>(k), cells_met.size(), fallback_met.size(), d.at("configurations").c_str(),
                    worst);
    }
    // A model without cells says so.
    ConditionalSampler plain(make_model(1, 2, 1, 3, true), {});
    EXPECT_EQ(plain.describe().at("location_conditioned"), "false");
    EXPECT_EQ(plain.describe().count("location_cell"), 0u);
}

// Draws of a window in a fitted cell and of one in a fallen-back cell: sample mean and covariance
// against the conditional of the cell's own Gaussian (resp. the global one).
TEST(LocationSampler, SampleMomentsMatchTheCellsConditional) {
    const GaussianPatchModel m = location_model(1, 2, 1, 31);
    const Tensor x = random_volume(1, 8, 7, 9, 32);
    const WindowGrid grid(8, 7, 9, 2, 1);
    ConditionalSampler s(m, {});
    s.begin_image(x.view(), grid, grid.count(), 4);
    const int64_t n = 20000, di = 8, l = 4, H = 7, W = 9;
    // An interior window (context at (s − 1, r − 1, c − 1), configuration (1, 1, 1)) in a fitted cell
    // and one in a fallen-back cell.
    int64_t in_fitted = -1, in_fallback = -1;
    for (int64_t w = 0; w < grid.count(); ++w) {
        const int64_t cell = s.window_cell(w);
        const bool interior = grid.slice(w) >= 1 && grid.row(w) >= 1 && grid.col(w) >= 1 && grid.slice(w) <= 4 &&
                              grid.row(w) <= 3 && grid.col(w) <= 5;
        if (!interior) continue;
        if (cell % 3 != 0 && in_fitted < 0) in_fitted = w;
        if (cell % 3 == 0 && in_fallback < 0) in_fallback = w;
    }
    ASSERT_GE(in_fitted, 0);
    ASSERT_GE(in_fallback, 0);
    for (int64_t w : {in_fitted, in_fallback}) {
        const int64_t cell = s.window_cell(w);
        SCOPED_TRACE("window " + std::to_string(w) + " cell " + std::to_string(cell));
        const GaussianPatchModel own = cell_model(m, cell);
        const int64_t sl = grid.slice(w), r = grid.row(w), c = grid.col(w);
        const ConditionalConfig ref = condition_gaussian(own, 1, 1, 1, false);  // interior: context at (s−1, r−1, c−1)
        auto value = [&](int64_t idx) {
            const int64_t z = idx / (l * l) % l, y = idx / l % l, xx = idx % l;
            return static_cast<double>(x.data()[((sl - 1 + z) * H + r - 1 + y) * W + c - 1 + xx]);
        };
        const std::vector<double> mu = sampler_test::conditional_mean(ref, own.mean, value);
        std::vector<float> out(n * di);
        s.draw(w, w + 1, n, out.data());
        const sampler_test::SampleMoments sm = sampler_test::sample_moments(out.data(), n, di);
        const std::vector<double>& mean = sm.mean;
        const sampler_test::MomentCheck mc = sampler_test::expect_gaussian_moments(sm, n, mu, ref.cond_cov.data());
        const double rel = mc.rel, bound = mc.bound;
        // The other Gaussian's conditional is far from these samples: the test tells the cells apart.
        const GaussianPatchModel other = cell_model(m, cell % 3 == 0 ? 1 : 0);
        const ConditionalConfig wrong = condition_gaussian(other, 1, 1, 1, false);
        const std::vector<double> mu_wrong = sampler_test::conditional_mean(wrong, other.mean, value);
        double apart = 0;
        for (int64_t j = 0; j < di; ++j)
            apart = std::max(apart, std::fabs(mean[j] - mu_wrong[j]) / std::sqrt(ref.cond_cov[j * di + j] / n));
        EXPECT_GT(apart, 20);
        std::printf("  %s cell %lld: cov rel. Frobenius error %.4f (bound %.4f), %.0f σ from the other Gaussian\n",
                    cell % 3 == 0 ? "fallen-back" : "fitted", static_cast<long long>(cell), rel, bound, apart);
    }
}

// The same seed gives the same bytes whatever the blocks and threads; windows of fallen-back cells
// draw exactly what the plain (global) model draws for them, windows of fitted cells something else.
TEST(LocationSampler, SameSeedSameBytesAndFallbackCellsDrawTheGlobalSamples) {
    const GaussianPatchModel m = location_model(1, 3, 1, 21);  // l = 5, 27 values a window
    const Tensor x = random_volume(1, 8, 7, 9, 22);
    const WindowGrid grid(8, 7, 9, 3, 1);
    const int64_t nw = grid.count(), S = 3, di = 27;
    auto draw = [&](const GaussianPatchModel& model, uint64_t seed, std::vector<int64_t> cuts, int threads) {
        return draw_in_blocks(model, x, grid, S, di, seed, std::move(cuts), threads);
    };
    const std::vector<float> one = draw(m, 5, {}, 2);
    ASSERT_EQ(static_cast<int64_t>(one.size()), nw * S * di);
    EXPECT_TRUE(one == draw(m, 5, {37}, 2)) << "blocks [0,37) + [37,N) differ from [0,N)";
    EXPECT_TRUE(one == draw(m, 5, {1, 2, 100, 101, 200}, 1)) << "six blocks on one thread differ from one on two";
    EXPECT_FALSE(one == draw(m, 6, {}, 2));
    GaussianPatchModel global = m;
    global.location = {};
    const std::vector<float> plain = draw(global, 5, {}, 2);
    ConditionalSampler s(m, {});
    s.begin_image(x.view(), grid, nw, 5);
    int64_t fallen = 0, fitted = 0;
    for (int64_t w = 0; w < nw; ++w) {
        const bool same =
            std::equal(one.begin() + w * S * di, one.begin() + (w + 1) * S * di, plain.begin() + w * S * di);
        if (s.window_cell(w) % 3 == 0) {
            ++fallen;
            EXPECT_TRUE(same) << "window " << w << " of fallen-back cell " << s.window_cell(w);
        } else {
            ++fitted;
            EXPECT_FALSE(same) << "window " << w << " of fitted cell " << s.window_cell(w);
        }
    }
    EXPECT_GT(fallen, 0);
    EXPECT_GT(fitted, 0);
}

TEST(LocationSampler, RefusesAVolumeOfAnotherGrid) {
    ConditionalOptions o;
    o.file = "cells.pdas";
    ConditionalSampler s(location_model(1, 2, 1, 41), o);
    const Tensor wide = random_volume(1, 8, 7, 10, 1);
    expect_input_error([&] { s.begin_image(wide.view(), WindowGrid(8, 7, 10, 2, 1), 1, 0); },
                       {"cells.pdas", "location-conditioned", "8×7×9", "8×7×10"});
}

// ---- the sampler file ----------------------------------------------------------------------------

TEST(LocationSamplerFile, RoundTripsExactlyAsVersionThree) {
    test::TempDir dir("location-file");
    const std::string path = dir.file("cells.pdas");
    const GaussianPatchModel m = location_model(2, 2, 1, 51);
    write_sampler_file(path, m, volume_meta());
    nlohmann::json header;
    with_header(path, [&](nlohmann::json& h) { header = h; });
    EXPECT_EQ(header.at("version"), 3);
    EXPECT_EQ(header.at("volume"), true);
    EXPECT_EQ(header.at("mask"), "mask.nii.gz");
    EXPECT_EQ(header.at("mask_voxels"), 321);
    const nlohmann::json& loc = header.at("location");
    EXPECT_EQ(loc.at("cell"), 3);
    EXPECT_EQ(loc.at("grid"), (nlohmann::json{3, 3, 3}));
    EXPECT_EQ(loc.at("extent"), (nlohmann::json{8, 7, 9}));
    EXPECT_EQ(loc.at("fallback"), (nlohmann::json{0, 3, 6, 9, 12, 15, 18, 21, 24}));
    EXPECT_EQ(loc.at("fitted").size(), 18u);

    const SamplerFile f = read_sampler_file(path);
    EXPECT_EQ(f.meta.mask, "mask.nii.gz");
    EXPECT_EQ(f.meta.mask_voxels, 321);
    EXPECT_EQ(f.model.mean, m.mean);
    EXPECT_EQ(f.model.cov, m.cov);
    const LocationCells &a = f.model.location, &b = m.location;
    EXPECT_EQ(a.cell, b.cell);
    EXPECT_EQ(a.depth, b.depth);
    EXPECT_EQ(a.height, b.height);
    EXPECT_EQ(a.width, b.width);
    EXPECT_EQ(a.min_patches, b.min_patches);
    EXPECT_EQ(a.available, b.available);
    ASSERT_EQ(a.fitted.size(), b.fitted.size());
    for (size_t j = 0; j < a.fitted.size(); ++j) {
        EXPECT_EQ(a.fitted[j].cell, b.fitted[j].cell);
        EXPECT_EQ(a.fitted[j].patches, b.fitted[j].patches);
        EXPECT_EQ(a.fitted[j].mean, b.fitted[j].mean);
        EXPECT_EQ(a.fitted[j].cov, b.fitted[j].cov);
    }
    // The file's sampler draws what the model in memory draws.
    const Tensor x = random_volume(2, 8, 7, 9, 52);
    const WindowGrid grid(8, 7, 9, 2, 1);
    EXPECT_TRUE(draw_in_blocks(f.model, x, grid, 2, 16, 9, {}, 2) == draw_in_blocks(m, x, grid, 2, 16, 9, {}, 2));

    // A model without cells stays version 2 (volumes) and keeps the mask it was fitted on.
    GaussianPatchModel global = m;
    global.location = {};
    const std::string v2 = dir.file("global.pdas");
    write_sampler_file(v2, global, volume_meta());
    with_header(v2, [&](nlohmann::json& h) { header = h; });
    EXPECT_EQ(header.at("version"), 2);
    EXPECT_EQ(header.count("location"), 0u);
    const SamplerFile g = read_sampler_file(v2);
    EXPECT_FALSE(g.model.location.on());
    EXPECT_EQ(g.meta.mask, "mask.nii.gz");

    // The fuzz corpus's version 3 seed (fuzz/make_corpus.py, written without this writer) reads too.
    const std::string seed = test::source_dir() + "/fuzz/corpus/fuzz_sampler_file/k1_pad0_cells.pdas";
    const SamplerFile c = read_sampler_file(seed);
    EXPECT_TRUE(c.model.location.on());
    ASSERT_EQ(c.model.location.fitted.size(), 2u);
    EXPECT_EQ(c.model.location.fitted[1].cell, 5);
    EXPECT_EQ(c.model.location.fitted[1].cov, std::vector<double>{0.5});
    EXPECT_EQ(c.model.location.fallback(), (std::vector<int64_t>{1, 2, 3, 4, 6, 7}));
}

TEST(LocationSamplerFile, RefusesDamagedLocationBlocks) {
    test::TempDir dir("location-damaged");
    const std::string path = dir.file("cells.pdas");
    write_sampler_file(path, location_model(1, 2, 1, 61), volume_meta());
    struct Case {
        std::string name;
        std::function<void(nlohmann::json&)> edit;
        std::string message;
    };
    const Case cases[] = {
        {"fallback",
         [](nlohmann::json& h) {
             h["location"]["fallback"] = {0, 3};
         },
         "'location.fallback'"},
        {"grid",
         [](nlohmann::json& h) {
             h["location"]["grid"] = {3, 3, 4};
         },
         "'location.grid'"},
        {"available", [](nlohmann::json& h) { h["location"]["available"].erase(0); }, "26 candidate counts"},
        {"order",
         [](nlohmann::json& h) {
             auto& f = h["location"]["fitted"];
             std::swap(f[0], f[1]);
         },
         "out of order"},
        {"missing",  // a fitted cell dropped: it has candidates but no Gaussian
         [](nlohmann::json& h) {
             h["location"]["fitted"].erase(0);
             h["location"]["fitted_patches"].erase(0);
         },
         "has 100 candidate patches but no Gaussian"},
        {"patches", [](nlohmann::json& h) { h["location"]["fitted_patches"][0] = 101; }, "fitted on 101 of 100"},
        {"cell", [](nlohmann::json& h) { h["location"]["cell"] = 0; }, "cell ≥ 1"},
        {"huge",
         [](nlohmann::json& h) {
             h["location"]["extent"] = {8, 7, int64_t{1} << 40};
         },
         "inconsistent location cells"},
        {"types", [](nlohmann::json& h) { h["location"]["available"][0] = "x"; }, "must be integers"},
        {"v2", [](nlohmann::json& h) { h["version"] = 2; }, "trailing bytes"},  // version 2 knows no cells
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string bad = dir.write(c.name + ".pdas", with_header(path, c.edit));
        expect_input_error([&] { read_sampler_file(bad); }, {bad, c.message});
    }
    // A cell's covariance spoiled in the data: named by its cell.
    std::string bytes = with_header(path, [](nlohmann::json&) {});
    const int64_t d = 64;
    double nan = NAN;
    std::memcpy(&bytes[bytes.size() - 8 * static_cast<size_t>(d * d) + 8], &nan, 8);  // last cell, cov (0, 1)
    const std::string spoiled = dir.write("spoiled.pdas", bytes);
    expect_input_error([&] { read_sampler_file(spoiled); }, {spoiled, "cell 26", "non-finite"});
    const std::string cut = dir.write("cut.pdas", bytes.substr(0, bytes.size() - 8));
    expect_input_error([&] { read_sampler_file(cut); }, {cut, "truncated"});
}

}  // namespace
}  // namespace pda
