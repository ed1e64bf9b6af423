// `pda explain` on volumes end to end: a logistic-regression volume model (ONNX Flatten → Gemm →
// Softmax with a "kind": "volume" sidecar) on small NIfTI volumes with a rotated affine: the result
// folder (relevance.nii.gz and counts.nii.gz on the input's grid and affine, slice pictures per class
// and axis, summary.json), the linear head's exact update equal to full execution, and bad volumes →
// exit 2, one line, nothing written.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "io/volume.h"
#include "io/volume_slices.h"
#include "tests/onnx_builder.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

constexpr int64_t kD = 6, kH = 7, kW = 5;  // nz, ny, nx

const std::array<double, 16> kAffine = {0, -2, 0, 40, 2, 0, 0, -60, 0, 0, 2.5, -20, 0, 0, 0, 1};

struct VolumeFixture {
    pda::test::TempDir tmp{"volume-cli-" + pda::test::current_test_name()};
    std::string model, vols, out;
    VolumeFixture() {
        const int64_t d = kD * kH * kW;
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> u(-0.2f, 0.2f);
        model = tmp.write("logreg.onnx", pda::test::logreg_volume_onnx(kD, kH, kW, rng));
        tmp.write("logreg.json", R"({"kind": "volume", "output_kind": "probabilities", "input_shape": [1, 6, 7, 5],
            "normalization": {"mean": 0.5, "std": 2.0}, "labels": ["control", "patient"]})");
        fs::create_directories(tmp.path() / "vols");
        for (int i = 0; i < 5; ++i) {
            std::vector<float> v(static_cast<size_t>(d));
            for (float& x : v) x = 0.5f + u(rng) * 5.f;
            pda::write_nifti(tmp.file("vols/v" + std::to_string(i) + ".nii.gz"), v.data(), 1, kD, kH, kW, kAffine);
        }
        vols = tmp.file("vols");
        out = tmp.file("out");
    }
    std::string vol(int i) const { return vols + "/v" + std::to_string(i) + ".nii.gz"; }
};

void expect_input_error(const pda::test::CmdResult& r, const std::string& needle) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.output;
}

TEST(VolumeCli, ExplainWritesNiftiMapsOnTheInputGrid) {
    VolumeFixture f;
    const std::string common = "explain " + f.model + " " + f.vol(0) + " --sampler marginal --sample-images " + f.vols +
                               " --samples 3 --k 2 --threads 2 --quiet --classes all";
    const pda::test::CmdResult inc = pda::test::run_pda(common + " --node z --out " + f.out + "/inc");
    ASSERT_EQ(inc.exit_code, 0) << inc.output;
    const pda::test::CmdResult full = pda::test::run_pda(common + " --exec full --out " + f.out + "/full");
    ASSERT_EQ(full.exit_code, 0) << full.output;

    const fs::path dir = fs::path(f.out) / "inc" / "v0";  // the stem drops ".nii.gz"
    const pda::Volume rel = pda::read_volume((dir / "relevance.nii.gz").string());
    const pda::Volume counts = pda::read_volume((dir / "counts.nii.gz").string());
    EXPECT_EQ(rel.data.shape(), (pda::Shape{2, kD, kH, kW}));
    EXPECT_EQ(counts.data.shape(), (pda::Shape{1, kD, kH, kW}));
    for (int i = 0; i < 16; ++i) EXPECT_NEAR(rel.affine[i], kAffine[i], 1e-6) << i;
    // Windows 2 × 2 × 2 at stride 1: a corner voxel is covered once, an inner one 8 times.
    EXPECT_EQ(counts.data.data()[0], 1.f);
    EXPECT_EQ(counts.data.data()[(1 * kH + 1) * kW + 1], 8.f);
    for (const char* name : {"slice-0-x2.png", "slice-0-y3.png", "slice-0-z3.png", "slice-1-x2.png"})
        EXPECT_TRUE(fs::exists(dir / name)) << name;
    // A node's map (activation difference of the Gemm's two outputs) on the same grid and affine.
    const pda::Volume node = pda::read_volume((dir / "node-z.nii.gz").string());
    EXPECT_EQ(node.data.shape(), (pda::Shape{2, kD, kH, kW}));
    for (int i = 0; i < 16; ++i) EXPECT_NEAR(node.affine[i], kAffine[i], 1e-6) << i;
    EXPECT_GT(std::fabs(node.data.data()[(2 * kH + 3) * kW + 2]), 0.f);

    const nlohmann::json s = nlohmann::json::parse(std::ifstream(dir / "summary.json"));
    EXPECT_EQ(s["execution"], "incremental");
    EXPECT_EQ(s["volume"]["shape_xyz"], (nlohmann::json{kW, kH, kD}));
    EXPECT_EQ(s["windows"], (kD - 1) * (kH - 1) * (kW - 1));
    EXPECT_EQ(s["classes"][1]["label"], "patient");

    // The linear head's exact update against full execution.
    const pda::Volume rel_full = pda::read_volume((fs::path(f.out) / "full" / "v0" / "relevance.nii.gz").string());
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < rel.data.numel(); ++i) {
        diff = std::max(diff, std::fabs(double(rel.data.data()[i]) - rel_full.data.data()[i]));
        scale = std::max(scale, std::fabs(double(rel_full.data.data()[i])));
    }
    EXPECT_GT(scale, 0);
    EXPECT_LT(diff / scale, 1e-5);
}

TEST(VolumeCli, SlicesAndThresholdPickThePictures) {
    VolumeFixture f;
    const std::string common = "explain " + f.model + " " + f.vol(1) + " --sampler occlusion --k 2 --quiet --classes 1";
    const pda::test::CmdResult r =
        pda::test::run_pda(common + " --slices x0,z5,y3 --threshold 0.5 --out " + f.out + "/a");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const fs::path dir = fs::path(f.out) / "a" / "v1";
    for (const char* name : {"slice-1-x0.png", "slice-1-z5.png", "slice-1-y3.png"})
        EXPECT_TRUE(fs::exists(dir / name)) << name;
    EXPECT_FALSE(fs::exists(dir / "slice-1-x2.png")) << "the centre slice is drawn only by default";
    const nlohmann::json s = nlohmann::json::parse(std::ifstream(dir / "summary.json"));
    EXPECT_FLOAT_EQ(s["slices"]["threshold"].get<float>(), 0.5f);
    EXPECT_EQ(s["classes"][0]["slices"], (nlohmann::json{"slice-1-x0.png", "slice-1-z5.png", "slice-1-y3.png"}));

    // The threshold decides what is drawn: none and 0.99 give different pictures of the same slice.
    const pda::test::CmdResult all = pda::test::run_pda(common + " --slices z3 --threshold 0 --out " + f.out + "/b");
    const pda::test::CmdResult few = pda::test::run_pda(common + " --slices z3 --threshold 0.99 --out " + f.out + "/c");
    ASSERT_EQ(all.exit_code, 0) << all.output;
    ASSERT_EQ(few.exit_code, 0) << few.output;
    EXPECT_NE(pda::test::read_file(f.out + "/b/v1/slice-1-z3.png"),
              pda::test::read_file(f.out + "/c/v1/slice-1-z3.png"));
}

// Slice pictures keep the voxels' proportions: 1 × 1 × 3 voxels give a sagittal slice (y by z)
// three times as tall as wide, isotropic ones a square; the affine's column lengths are the sizes.
TEST(VolumeSlices, AnisotropicVoxelsKeepTheirProportions) {
    std::vector<float> grey(64), map(64);
    for (size_t i = 0; i < 64; ++i) grey[i] = static_cast<float>(i), map[i] = static_cast<float>(i % 7) - 3.f;
    pda::SliceStyle style;
    const pda::Image iso = pda::volume_slice_figure(grey.data(), map.data(), 4, 4, 4, pda::SliceAxis::kX, 1, style);
    EXPECT_EQ(iso.height, 256);
    EXPECT_EQ(iso.width, 256 + 8 * 64);  // the map, a gap and the colour bar
    style.spacing = pda::affine_spacing({0, -1, 0, 0, 1, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1});
    EXPECT_EQ(style.spacing, (std::array<double, 3>{1, 1, 3}));
    const pda::Image tall = pda::volume_slice_figure(grey.data(), map.data(), 4, 4, 4, pda::SliceAxis::kX, 1, style);
    EXPECT_EQ(tall.height, 3 * 256);
    EXPECT_EQ(tall.width, 256 + 8 * 64);
    const pda::Image axial = pda::volume_slice_figure(grey.data(), map.data(), 4, 4, 4, pda::SliceAxis::kZ, 1, style);
    EXPECT_EQ(axial.height, 256) << "x by y: both 1 mm";
}

// A volume's hidden layer in the report: its channels shown by default, none with --channels 0.
TEST(VolumeCli, ReportShowsHiddenLayersUnlessChannelsIsZero) {
    VolumeFixture f;
    ASSERT_EQ(pda::test::run_pda("explain " + f.model + " " + f.vol(1) +
                                 " --sampler occlusion --k 2 --quiet --node z --out " + f.out)
                  .exit_code,
              0);
    for (const char* channels : {"32", "0"}) {
        const std::string dir = f.out + "/report-" + channels;
        const pda::test::CmdResult r =
            pda::test::run_pda("report " + f.out + " --quiet --channels " + channels + " --out " + dir);
        ASSERT_EQ(r.exit_code, 0) << r.output;
        const std::string html = pda::test::read_file(dir + "/pages/v1/index.html");
        const bool shown = html.find("\"channels\":[{") != std::string::npos;
        EXPECT_EQ(shown, std::string(channels) != "0") << "--channels " << channels;
    }
}

// One pda explain over two volumes reuses the linear head's program for the second (z₀ of the new
// clean volume): its maps equal the second volume's explained alone, bit for bit.
TEST(VolumeCli, ReusedLinearHeadGivesTheSameBits) {
    VolumeFixture f;
    const std::string common = "explain " + f.model + " --sampler marginal --sample-images " + f.vols +
                               " --samples 3 --k 2 --quiet --classes all --out ";
    ASSERT_EQ(pda::test::run_pda(common + f.out + "/both " + f.vol(0) + " " + f.vol(1)).exit_code, 0);
    ASSERT_EQ(pda::test::run_pda(common + f.out + "/alone " + f.vol(1)).exit_code, 0);
    const pda::Volume both = pda::read_volume(f.out + "/both/v1/relevance.nii.gz");
    const pda::Volume alone = pda::read_volume(f.out + "/alone/v1/relevance.nii.gz");
    ASSERT_EQ(both.data.shape(), alone.data.shape());
    EXPECT_TRUE(std::equal(both.data.data(), both.data.data() + both.data.numel(), alone.data.data()));
    const nlohmann::json s = nlohmann::json::parse(std::ifstream(f.out + "/both/v1/summary.json"));
    EXPECT_EQ(s["timings"]["program"], "reused");
}

TEST(VolumeCli, BadSlicesAndThresholdExit2WithoutOutput) {
    VolumeFixture f;
    const std::string base =
        "explain " + f.model + " " + f.vol(0) + " --sampler occlusion --k 2 --quiet --out " + f.out;
    expect_input_error(pda::test::run_pda(base + " --slices x5"), "the volume has 5 slices across x (0 to 4)");
    expect_input_error(pda::test::run_pda(base + " --slices z6"), "the volume has 6 slices across z");
    expect_input_error(pda::test::run_pda(base + " --slices q3"), "'q3' is not a slice");
    expect_input_error(pda::test::run_pda(base + " --slices x1,x1"), "x1 is listed twice");
    expect_input_error(pda::test::run_pda(base + " --slices x1,"), "names no slice");
    expect_input_error(pda::test::run_pda(base + " --threshold 1.5"), "--threshold must be a fraction in [0, 1)");
    expect_input_error(pda::test::run_pda(base + " --threshold -0.1"), "--threshold must be a fraction in [0, 1)");
    EXPECT_FALSE(fs::exists(f.out));
}

TEST(VolumeCli, BadVolumesExit2WithoutOutput) {
    VolumeFixture f;
    std::vector<float> small(static_cast<size_t>(4 * 4 * 4), 1.f);
    pda::write_nifti(f.tmp.file("small.nii.gz"), small.data(), 1, 4, 4, 4, kAffine);
    const std::string base = "explain " + f.model + " --sampler occlusion --k 2 --quiet --out " + f.out + " ";
    expect_input_error(pda::test::run_pda(base + f.tmp.file("small.nii.gz")), "no resampling");
    f.tmp.write("fake.nii", "this is not a NIfTI file at all, just some bytes of text....");
    expect_input_error(pda::test::run_pda(base + f.tmp.file("fake.nii")), "not a NIfTI");
    expect_input_error(
        pda::test::run_pda("explain " + f.model + " " + f.vol(0) + " --sampler occlusion --k 6 --quiet --out " + f.out),
        "larger than the model's 6×7×5 input");
    EXPECT_FALSE(fs::exists(f.out));
}

}  // namespace
