// Location conditioning (paper §4.2) and brain masks of the Gaussian fit: each cell's Gaussian
// against the global fit run on that cell's patches (the inputs cropped to them) and against the
// documented seeded subset; fallback cells; masked fits against direct moments of the patches centred
// inside the mask; zero variances at a mask's edge; cells of pixels for images. The sampler and the
// sampler file with cells are in test_location_sampler.cc, `pda fit-sampler --cell/--mask` in
// test_location_cli.cc.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

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
using sampler_test::max_abs_diff;
using sampler_test::random_volume;
constexpr uint64_t kFitStream = 0x6669742d70617463ull;   // "fit-patc" (engine/gaussian.cc)
constexpr uint64_t kCellStream = 0x6669742d63656c6cull;  // "fit-cell" (engine/gaussian.cc)

std::vector<Tensor> volumes(int64_t n, int64_t C, int64_t D, int64_t H, int64_t W, uint32_t seed) {
    std::vector<Tensor> v;
    for (int64_t i = 0; i < n; ++i) v.push_back(random_volume(C, D, H, W, seed + static_cast<uint32_t>(i)));
    return v;
}

// x (1, C, D, H, W) cut to [z0, z1) × [y0, y1) × [x0, x1).
Tensor crop(const Tensor& x, int64_t z0, int64_t z1, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
    const int64_t C = x.shape()[1], D = x.shape()[2], H = x.shape()[3], W = x.shape()[4];
    Tensor out(Shape{1, C, z1 - z0, y1 - y0, x1 - x0});
    float* dst = out.data();
    for (int64_t c = 0; c < C; ++c)
        for (int64_t z = z0; z < z1; ++z)
            for (int64_t y = y0; y < y1; ++y)
                for (int64_t xx = x0; xx < x1; ++xx) *dst++ = x.data()[((c * D + z) * H + y) * W + xx];
    return out;
}

// One patch position: its volume, its corner and its global index (volume outer, slices, rows, columns).
struct Position {
    int64_t n, pz, py, px, t;
};

// Every patch position of `n` volumes D × H × W for context l, in the fit's order.
std::vector<Position> positions(int64_t n, int64_t D, int64_t H, int64_t W, int64_t l) {
    std::vector<Position> out;
    int64_t t = 0;
    for (int64_t v = 0; v < n; ++v)
        for (int64_t pz = 0; pz + l <= D; ++pz)
            for (int64_t py = 0; py + l <= H; ++py)
                for (int64_t px = 0; px + l <= W; ++px) out.push_back({v, pz, py, px, t++});
    return out;
}

std::vector<double> patch(const Tensor& x, const Position& p, int64_t l) {
    const int64_t C = x.shape()[1], D = x.shape()[2], H = x.shape()[3], W = x.shape()[4];
    std::vector<double> v;
    for (int64_t c = 0; c < C; ++c)
        for (int64_t z = 0; z < l; ++z)
            for (int64_t y = 0; y < l; ++y)
                for (int64_t xx = 0; xx < l; ++xx)
                    v.push_back(x.data()[((c * D + p.pz + z) * H + p.py + y) * W + p.px + xx]);
    return v;
}

// Selection sampling as documented (engine/gaussian.h): candidate i at position t is taken when
// u(t)·(count − i) < still needed.
std::vector<Position> documented_subset(const std::vector<Position>& candidates, int64_t want, uint64_t seed,
                                        uint64_t stream) {
    if (static_cast<int64_t>(candidates.size()) <= want) return candidates;
    std::vector<Position> out;
    int64_t needed = want, count = static_cast<int64_t>(candidates.size());
    for (int64_t i = 0; i < count && needed > 0; ++i) {
        const double u = (static_cast<double>(random_u32(seed, stream, candidates[i].t)) + 0.5) / 4294967296.0;
        if (u * static_cast<double>(count - i) < static_cast<double>(needed)) {
            out.push_back(candidates[i]);
            --needed;
        }
    }
    return out;
}

// ---- fitting ------------------------------------------------------------------------------------

// Three 10 × 11 × 9 volumes, k 2, pad 1 (l 4, centre offset 1), cells of 4: a 3 × 3 × 3 grid whose
// last slabs along z and x hold no patch centre (centres lie at 1..7 and 1..6), so cells fall back
// with 0 candidates, and along y (centres 1..8: one row in the last cell) with a few.
TEST(LocationFit, EachCellIsTheGlobalFitOnItsOwnPatches) {
    const int64_t D = 10, H = 11, W = 9, l = 4, e = 4;
    const std::vector<Tensor> vols = volumes(3, 2, D, H, W, 500);
    PatchFitOptions o;
    o.cell = e;
    o.min_cell_patches = 40;
    const GaussianPatchModel m = fit_gaussian(vols, 2, 1, o);
    const GaussianPatchModel plain = fit_gaussian(vols, 2, 1, 0, 0);
    EXPECT_EQ(m.mean, plain.mean);  // the global Gaussian is the plain fit
    EXPECT_EQ(m.cov, plain.cov);
    EXPECT_EQ(m.patches, plain.patches);
    const LocationCells& loc = m.location;
    ASSERT_TRUE(loc.on());
    EXPECT_EQ(loc.cell, e);
    EXPECT_EQ(loc.cells(), 27);
    EXPECT_EQ(loc.min_patches, 40);

    // Candidates per cell by the patches' centres.
    std::vector<int64_t> available(27, 0);
    for (const Position& p : positions(3, D, H, W, l))
        ++available[((p.pz + 1) / e * 3 + (p.py + 1) / e) * 3 + (p.px + 1) / e];
    EXPECT_EQ(loc.available, available);
    std::set<int64_t> fitted;
    for (const CellGaussian& g : loc.fitted) {
        SCOPED_TRACE("cell " + std::to_string(g.cell));
        fitted.insert(g.cell);
        ASSERT_GE(available[g.cell], 40);
        // The corners whose centre lies in the cell: crop every volume to exactly those patches.
        const int64_t cz = g.cell / 9, cy = g.cell / 3 % 3, cx = g.cell % 3;
        auto span = [&](int64_t c, int64_t n) {
            return std::make_pair(std::max<int64_t>(c * e - 1, 0), std::min(c * e + e - 1, n - l + 1));
        };
        const auto [z0, z1] = span(cz, D);
        const auto [y0, y1] = span(cy, H);
        const auto [x0, x1] = span(cx, W);
        std::vector<Tensor> crops;
        for (const Tensor& v : vols) crops.push_back(crop(v, z0, z1 + l - 1, y0, y1 + l - 1, x0, x1 + l - 1));
        const GaussianPatchModel ref = fit_gaussian(crops, 2, 1, 0, 0);
        EXPECT_EQ(g.patches, available[g.cell]);
        EXPECT_EQ(g.patches, ref.patches);
        EXPECT_EQ(g.mean, ref.mean);  // bit for bit: the same patches in the same order through the same code
        EXPECT_EQ(g.cov, ref.cov);
        EXPECT_GT(max_abs_diff(g.cov, plain.cov), 0.05);  // and not the global Gaussian
    }
    int64_t with_few = 0;
    for (int64_t c : loc.fallback()) {
        EXPECT_LT(available[c], 40) << "cell " << c;
        EXPECT_EQ(fitted.count(c), 0u);
        with_few += available[c] > 0;
    }
    EXPECT_EQ(fitted.size() + loc.fallback().size(), 27u);
    EXPECT_EQ(loc.fallback().size(), 19u);  // 15 in the last z or x slab, 4 more in the last y row
    EXPECT_EQ(with_few, 4);
    std::printf("  %zu cells fitted, %zu fell back (%lld of them with 1-39 candidates)\n", fitted.size(),
                loc.fallback().size(), static_cast<long long>(with_few));
    check_gaussian_model(m, "fitted");

    // The default minimum is 10·d = 1280 patches: no cell of these volumes reaches it.
    PatchFitOptions dflt;
    dflt.cell = e;
    const GaussianPatchModel all_back = fit_gaussian(vols, 2, 1, dflt);
    EXPECT_EQ(all_back.location.min_patches, kMinCellPatchesPerDim * 128);
    EXPECT_TRUE(all_back.location.fitted.empty());
    EXPECT_EQ(all_back.location.fallback().size(), 27u);
}

// A seeded subset per cell: exactly max_patches of its candidates, those the documented scheme picks
// on the cells' stream; the same seed the same bytes, on one thread or two; another seed another fit.
TEST(LocationFit, CellSubsetsAreTheSeededSelectionAndRepeatBitForBit) {
    const int64_t D = 10, H = 11, W = 9, l = 4, e = 4;
    const std::vector<Tensor> vols = volumes(3, 1, D, H, W, 600);
    PatchFitOptions o;
    o.cell = e;
    o.min_cell_patches = 40;
    o.max_patches = 50;
    o.seed = 7;
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);
    const GaussianPatchModel one = fit_gaussian(vols, 2, 1, o);
    omp_set_num_threads(2);
    const GaussianPatchModel m = fit_gaussian(vols, 2, 1, o);
    omp_set_num_threads(before);
    o.seed = 8;
    const GaussianPatchModel other = fit_gaussian(vols, 2, 1, o);
    EXPECT_EQ(m.patches, 50);
    ASSERT_EQ(m.location.fitted.size(), one.location.fitted.size());
    EXPECT_EQ(m.cov, one.cov);
    const std::vector<Position> all = positions(3, D, H, W, l);
    int64_t subsets = 0;
    for (size_t j = 0; j < m.location.fitted.size(); ++j) {
        const CellGaussian& g = m.location.fitted[j];
        SCOPED_TRACE("cell " + std::to_string(g.cell));
        EXPECT_EQ(g.mean, one.location.fitted[j].mean);
        EXPECT_EQ(g.cov, one.location.fitted[j].cov);
        std::vector<Position> candidates;
        for (const Position& p : all)
            if (((p.pz + 1) / e * 3 + (p.py + 1) / e) * 3 + (p.px + 1) / e == g.cell) candidates.push_back(p);
        const std::vector<Position> chosen = documented_subset(candidates, 50, 7, kCellStream);
        EXPECT_EQ(g.patches, std::min<int64_t>(50, static_cast<int64_t>(candidates.size())));
        std::vector<std::vector<double>> patches;
        for (const Position& p : chosen) patches.push_back(patch(vols[p.n], p, l));
        std::vector<double> mean, cov;
        direct_moments(patches, &mean, &cov);
        EXPECT_LT(max_abs_diff(g.mean, mean), 1e-9);
        EXPECT_LT(max_abs_diff(g.cov, cov), 1e-5);
        if (candidates.size() > 50) {
            ++subsets;
            EXPECT_NE(g.cov, other.location.fitted[j].cov);
        }
    }
    EXPECT_GT(subsets, 0);
}

// A patch counts only when the mask holds its centre voxel: the global fit and the cells against
// direct moments of exactly those patches; refusals name the mask.
TEST(MaskedFit, OnlyPatchesCentredInsideTheMaskCount) {
    const int64_t D = 8, H = 9, W = 10, l = 4, e = 5;
    const std::vector<Tensor> vols = volumes(3, 1, D, H, W, 700);
    std::vector<uint8_t> mask(static_cast<size_t>(D * H * W));
    std::mt19937 rng(5);
    for (uint8_t& v : mask) v = rng() % 5 < 2;  // 40 % inside
    PatchFitOptions o;
    o.mask = &mask;
    o.mask_name = "brain.nii.gz";
    const GaussianPatchModel g = fit_gaussian(vols, 2, 1, o);
    std::vector<std::vector<double>> inside;
    std::vector<Position> candidates;
    for (const Position& p : positions(3, D, H, W, l))
        if (mask[((p.pz + 1) * H + p.py + 1) * W + p.px + 1]) {
            inside.push_back(patch(vols[p.n], p, l));
            candidates.push_back(p);
        }
    const int64_t all = static_cast<int64_t>(positions(3, D, H, W, l).size());
    ASSERT_GT(static_cast<int64_t>(inside.size()), 10);
    ASSERT_LT(static_cast<int64_t>(inside.size()), all);
    EXPECT_EQ(g.patches, static_cast<int64_t>(inside.size()));
    std::vector<double> mean, cov;
    direct_moments(inside, &mean, &cov);
    EXPECT_LT(max_abs_diff(g.mean, mean), 1e-9);
    EXPECT_LT(max_abs_diff(g.cov, cov), 1e-5);
    const GaussianPatchModel unmasked = fit_gaussian(vols, 2, 1, 0, 0);
    EXPECT_GT(max_abs_diff(g.mean, unmasked.mean), 1e-3);  // the masked-out patches are not in it

    // A subset of the candidates: the documented selection over them, on the global stream.
    o.max_patches = 60;
    o.seed = 3;
    const GaussianPatchModel sub = fit_gaussian(vols, 2, 1, o);
    std::vector<std::vector<double>> chosen;
    for (const Position& p : documented_subset(candidates, 60, 3, kFitStream)) chosen.push_back(patch(vols[p.n], p, l));
    direct_moments(chosen, &mean, &cov);
    EXPECT_EQ(sub.patches, 60);
    EXPECT_LT(max_abs_diff(sub.mean, mean), 1e-9);
    EXPECT_LT(max_abs_diff(sub.cov, cov), 1e-5);

    // With cells: each cell's candidates are its patches centred inside the mask.
    o.max_patches = 0;
    o.cell = e;
    o.min_cell_patches = 30;
    const GaussianPatchModel cells = fit_gaussian(vols, 2, 1, o);
    EXPECT_FALSE(cells.location.fitted.empty());
    std::vector<int64_t> available(static_cast<size_t>(cells.location.cells()), 0);
    for (const Position& p : candidates) ++available[((p.pz + 1) / e * 2 + (p.py + 1) / e) * 2 + (p.px + 1) / e];
    EXPECT_EQ(cells.location.available, available);
    for (const CellGaussian& c : cells.location.fitted) {
        std::vector<std::vector<double>> in_cell;
        for (const Position& p : candidates)
            if (((p.pz + 1) / e * 2 + (p.py + 1) / e) * 2 + (p.px + 1) / e == c.cell)
                in_cell.push_back(patch(vols[p.n], p, l));
        direct_moments(in_cell, &mean, &cov);
        EXPECT_EQ(c.patches, static_cast<int64_t>(in_cell.size()));
        EXPECT_LT(max_abs_diff(c.cov, cov), 1e-5) << "cell " << c.cell;
    }

    // Refusals: a mask of another size, a mask holding no patch centre (only the corner voxel, which
    // no 4³ patch is centred on), cells or a mask over volumes of different sizes, too many cells.
    std::vector<uint8_t> small(static_cast<size_t>(D * H * (W - 1)), 1);
    PatchFitOptions bad;
    bad.mask = &small;
    bad.mask_name = "small.nii.gz";
    expect_input_error([&] { fit_gaussian(vols, 2, 1, bad); }, {"small.nii.gz", "has 648 voxels", "720"});
    std::vector<uint8_t> corner(static_cast<size_t>(D * H * W), 0);
    corner[0] = 1;
    bad.mask = &corner;
    bad.mask_name = "corner.nii.gz";
    expect_input_error([&] { fit_gaussian(vols, 2, 1, bad); }, {"no patch centre lies inside corner.nii.gz"});
    std::vector<Tensor> mixed = volumes(1, 1, D, H, W, 1);
    mixed.push_back(random_volume(1, D, H, W + 1, 2));
    PatchFitOptions cells_only;
    cells_only.cell = 4;
    expect_input_error([&] { fit_gaussian(mixed, 2, 1, cells_only); }, {"volume 1", "one grid"});
    const std::vector<Tensor> big = volumes(1, 1, 41, 41, 41, 3);
    cells_only.cell = 1;  // 41³ = 68921 cells
    expect_input_error([&] { fit_gaussian(big, 1, 0, cells_only); }, {"68921 cells", "65536"});
}

// At a mask's edge a cell's patches reach voxels outside the brain that are 0 in every volume: their
// variances are 0, which a cell may have (the conditional adds its recorded ridge), and the samples
// there stay at 0; the file keeps such a cell.
TEST(LocationFit, CellsAtTheMasksEdgeMayHaveZeroVariances) {
    const int64_t S = 8;
    std::vector<Tensor> vols = volumes(3, 1, S, S, S, 900);
    std::vector<uint8_t> mask(static_cast<size_t>(S * S * S));
    for (Tensor& v : vols)
        for (int64_t i = 0; i < S * S * S; ++i) {
            mask[static_cast<size_t>(i)] = i % S < 5;
            if (i % S >= 5) v.data()[i] = 0.f;  // outside the brain
        }
    PatchFitOptions o;
    o.mask = &mask;
    o.cell = 4;
    o.min_cell_patches = 20;
    const GaussianPatchModel m = fit_gaussian(vols, 2, 1, o);  // cell (0, 0, 1): centres x = 4, patches x 3..6
    const CellGaussian* edge = nullptr;
    for (const CellGaussian& g : m.location.fitted)
        if (g.cell == 1) edge = &g;
    ASSERT_NE(edge, nullptr);
    EXPECT_EQ(edge->patches, 27);
    EXPECT_EQ(edge->cov[2 * 64 + 2], 0.0);  // patch voxel (z, y, x) = (0, 0, 2): x 5, always 0
    check_gaussian_model(m, "edge");
    GaussianPatchModel strict = m;
    strict.location = {};
    strict.cov = edge->cov;
    expect_input_error([&] { check_gaussian_model(strict, "global"); }, {"global", "variance 2 is 0"});

    ConditionalSampler s(m, {});
    const WindowGrid grid(S, S, S, 2, 1);
    s.begin_image(vols[0].view(), grid, grid.count(), 3);
    std::vector<float> out(static_cast<size_t>(grid.count() * 4 * 8));
    s.draw(0, grid.count(), 4, out.data());
    int64_t checked = 0;
    for (int64_t w = 0; w < grid.count(); ++w) {
        if (s.window_cell(w) != 1 || grid.col(w) != 4) continue;
        for (int64_t t = 0; t < 4; ++t)
            for (int64_t j = 0; j < 8; ++j) {
                const float v = out[static_cast<size_t>((w * 4 + t) * 8 + j)];
                ASSERT_TRUE(std::isfinite(v));
                if (j % 2 == 1) {  // x = 5: outside the brain
                    EXPECT_LT(std::fabs(v), 1e-2) << "window " << w;
                    ++checked;
                }
            }
    }
    EXPECT_GT(checked, 0);
    EXPECT_NE(s.describe().at("ridge").find("cell 1 "), std::string::npos) << s.describe().at("ridge");
    test::TempDir dir("location-edge");
    write_sampler_file(dir.file("edge.pdas"), m, SamplerFileMeta{});
    EXPECT_EQ(read_sampler_file(dir.file("edge.pdas")).model.location.fitted.size(), m.location.fitted.size());
}

// Images take cells of pixels the same way: a grid over H × W (depth 1), each cell the fit on its own
// patches, and every window the Gaussian of the cell of its centre.
TEST(LocationFit, ImagesTakeCellsOfPixels) {
    const int64_t H = 14, W = 13, l = 4, e = 5;
    std::vector<Tensor> images;
    for (uint32_t i = 0; i < 3; ++i) images.push_back(sampler_test::random_image(2, H, W, 800 + i));
    PatchFitOptions o;
    o.cell = e;
    o.min_cell_patches = 30;
    const GaussianPatchModel m = fit_gaussian(images, 2, 1, o);
    ASSERT_FALSE(m.volume);
    EXPECT_EQ(m.location.cells(), 9);  // 3 × 3
    EXPECT_EQ(m.location.depth, 1);
    ASSERT_FALSE(m.location.fitted.empty());
    for (const CellGaussian& g : m.location.fitted) {
        const int64_t cy = g.cell / 3, cx = g.cell % 3;
        const int64_t y0 = std::max<int64_t>(cy * e - 1, 0), y1 = std::min(cy * e + e - 1, H - l + 1);
        const int64_t x0 = std::max<int64_t>(cx * e - 1, 0), x1 = std::min(cx * e + e - 1, W - l + 1);
        std::vector<Tensor> crops;
        for (const Tensor& im : images) {
            Tensor c(Shape{1, 2, y1 - y0 + l - 1, x1 - x0 + l - 1});
            for (int64_t ch = 0; ch < 2; ++ch)
                for (int64_t y = 0; y < c.shape()[2]; ++y)
                    for (int64_t x = 0; x < c.shape()[3]; ++x)
                        c.data()[(ch * c.shape()[2] + y) * c.shape()[3] + x] =
                            im.data()[(ch * H + y0 + y) * W + x0 + x];
            crops.push_back(std::move(c));
        }
        const GaussianPatchModel ref = fit_gaussian(crops, 2, 1, 0, 0);
        EXPECT_EQ(g.mean, ref.mean) << "cell " << g.cell;
        EXPECT_EQ(g.cov, ref.cov) << "cell " << g.cell;
    }
    ConditionalSampler s(m, {});
    const Tensor x = sampler_test::random_image(2, H, W, 9);
    const WindowGrid grid(H, W, 2, 1);
    s.begin_image(x.view(), grid, grid.count(), 1);
    for (int64_t w = 0; w < grid.count(); ++w)
        ASSERT_EQ(s.window_cell(w), grid.row(w) / e * 3 + grid.col(w) / e) << "window " << w;
    EXPECT_EQ(s.describe().at("location_grid"), "3×3");
    // An image model's file: version 3 with volume false.
    test::TempDir dir("location-image");
    write_sampler_file(dir.file("img.pdas"), m, SamplerFileMeta{});
    const SamplerFile f = read_sampler_file(dir.file("img.pdas"));
    EXPECT_FALSE(f.model.volume);
    EXPECT_EQ(f.model.location.fallback(), m.location.fallback());
}

}  // namespace
}  // namespace pda
