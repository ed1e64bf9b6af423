// `pda fit-sampler --cell N --mask M` end to end on small NIfTI volumes of a logistic-regression
// volume model whose sidecar names a mask: the sidecar's mask by default and --mask over it, a
// location-conditioned sampler file (version 3: cells fitted and fallen back where the mask leaves
// too few patches), `pda explain --sampler-file` saying so in summary.json; and bad masks or cells:
// exit 2, one line naming the file, no sampler file written.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "io/image.h"
#include "io/sampler_file.h"
#include "io/volume.h"
#include "tests/onnx_builder.h"
#include "tests/test_util.h"
#include "tests/tiny_model.h"

namespace fs = std::filesystem;

namespace {

constexpr int64_t kD = 12, kH = 12, kW = 12;  // nz, ny, nx
const std::array<double, 16> kAffine = {2, 0, 0, -10, 0, 2, 0, -12, 0, 0, 2, -8, 0, 0, 0, 1};

// Eight smooth random volumes, a model (Flatten → Gemm → Softmax) whose sidecar names mask.nii.gz
// (the lower half along z: slices 0–5), and a second mask (the lower half along x).
struct CellFixture {
    pda::test::TempDir tmp{"location-cli-" + pda::test::current_test_name()};
    std::string model, vols, out, pdas;
    CellFixture() {
        const int64_t d = kD * kH * kW;
        std::mt19937 rng(7);
        model = tmp.write("logreg.onnx", pda::test::logreg_volume_onnx(kD, kH, kW, rng));
        tmp.write("logreg.json", R"({"kind": "volume", "output_kind": "probabilities", "input_shape": [1, 12, 12, 12],
            "labels": ["control", "patient"], "mask": "mask.nii.gz"})");
        std::vector<float> lower_z(static_cast<size_t>(d), 0.f), lower_x(static_cast<size_t>(d), 0.f);
        for (int64_t z = 0; z < kD; ++z)
            for (int64_t y = 0; y < kH; ++y)
                for (int64_t x = 0; x < kW; ++x) {
                    lower_z[(z * kH + y) * kW + x] = z < 6 ? 1.f : 0.f;
                    lower_x[(z * kH + y) * kW + x] = x < 6 ? 1.f : 0.f;
                }
        write("mask.nii.gz", lower_z);
        write("xmask.nii.gz", lower_x);
        fs::create_directories(tmp.path() / "vols");
        std::normal_distribution<float> nd;
        for (int i = 0; i < 8; ++i) {
            std::vector<float> v(static_cast<size_t>(d));
            for (size_t j = 0; j < v.size(); ++j) v[j] = nd(rng) + (j > 0 ? 0.5f * v[j - 1] : 0.f);
            write("vols/v" + std::to_string(i) + ".nii.gz", v);
        }
        vols = tmp.file("vols");
        out = tmp.file("out");
        pdas = tmp.file("cells.pdas");
    }
    void write(const std::string& name, const std::vector<float>& v, int64_t d = kD, int64_t h = kH, int64_t w = kW,
               int64_t maps = 1) const {
        pda::write_nifti(tmp.file(name), v.data(), maps, d, h, w, kAffine);
    }
    std::string fit(const std::string& extra) const {
        return "fit-sampler " + model + " --images " + vols + " --k 1 --pad 1 " + extra + " -o " + pdas;
    }
};

nlohmann::json header_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char head[16];
    in.read(head, 16);
    uint64_t len = 0;
    std::memcpy(&len, head + 8, 8);
    std::string text(len, '\0');
    in.read(text.data(), static_cast<std::streamsize>(len));
    return nlohmann::json::parse(text);
}

// k 1, pad 1: l 3, d 27, a cell needs 270 patches. Cells of 6: 2 × 2 × 2; patch centres lie at 1..10
// along each axis, so the sidecar's mask (z < 6) leaves each lower cell 5 × 5 × 5 centres per volume,
// 1000 in all, and the upper cells none: 4 fitted, 4 fallen back.
TEST(LocationCli, FitsCellsInsideTheSidecarMaskAndExplainSaysSo) {
    CellFixture f;
    const pda::test::CmdResult r = pda::test::run_pda(f.fit("--cell 6 --max-patches 0"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::printf("  %s", r.output.c_str());
    EXPECT_NE(r.output.find("mask.nii.gz (864 voxels): 4000 of the 8000 positions"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("2×2×2 = 8 cells; 4 fitted, 4 fell back"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("fewer than 270 candidate patches): 4,5,6,7"), std::string::npos) << r.output;
    const nlohmann::json h = header_of(f.pdas);
    EXPECT_EQ(h.at("version"), 3);
    EXPECT_EQ(h.at("mask"), "mask.nii.gz");
    EXPECT_EQ(h.at("mask_voxels"), 864);
    EXPECT_EQ(h.at("location").at("fallback"), (nlohmann::json{4, 5, 6, 7}));
    const pda::SamplerFile s = pda::read_sampler_file(f.pdas);
    EXPECT_EQ(s.model.patches, 4000);  // the global Gaussian: the patches centred in the mask only
    ASSERT_EQ(s.model.location.fitted.size(), 4u);
    for (const pda::CellGaussian& g : s.model.location.fitted) EXPECT_EQ(g.patches, 5 * 5 * 5 * 8) << g.cell;

    const pda::test::CmdResult e =
        pda::test::run_pda("explain " + f.model + " " + f.vols + "/v0.nii.gz --sampler-file " + f.pdas +
                           " --k 1 --pad 1 --samples 2 --threads 2 --quiet --out " + f.out);
    ASSERT_EQ(e.exit_code, 0) << e.output;
    const nlohmann::json summary = nlohmann::json::parse(std::ifstream(fs::path(f.out) / "v0" / "summary.json"));
    const nlohmann::json& sampler = summary.at("sampler");
    EXPECT_EQ(sampler.at("location_conditioned"), "true");
    EXPECT_EQ(sampler.at("location_cell"), "6");
    EXPECT_EQ(sampler.at("location_grid"), "2×2×2");
    EXPECT_EQ(sampler.at("location_fallback_count"), "4");
    EXPECT_EQ(sampler.at("location_fallback_cells"), "4,5,6,7");
    EXPECT_EQ(sampler.at("location_cells_used"), "8");
    EXPECT_EQ(sampler.at("location_fallback_cells_used"), "4");
    std::printf("  summary.json sampler: %s\n", sampler.dump().c_str());

    // The same seed writes the same bytes on one thread or two (a subset per cell: max-patches 500).
    const std::string one = f.tmp.file("one.pdas"), two = f.tmp.file("two.pdas");
    ASSERT_EQ(pda::test::run_pda(f.fit("--cell 6 --max-patches 500 --seed 3 --threads 1")).exit_code, 0);
    fs::rename(f.pdas, one);
    ASSERT_EQ(pda::test::run_pda(f.fit("--cell 6 --max-patches 500 --seed 3 --threads 2")).exit_code, 0);
    fs::rename(f.pdas, two);
    auto bytes = [](const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    EXPECT_EQ(bytes(one), bytes(two));
    EXPECT_EQ(header_of(two).at("location").at("fitted_patches"), (nlohmann::json{500, 500, 500, 500}));

    // --mask replaces the sidecar's: the lower half along x keeps the cells with cx = 0.
    ASSERT_EQ(pda::test::run_pda(f.fit("--cell 6 --mask " + f.tmp.file("xmask.nii.gz"))).exit_code, 0);
    EXPECT_EQ(header_of(f.pdas).at("mask"), "xmask.nii.gz");
    EXPECT_EQ(header_of(f.pdas).at("location").at("fallback"), (nlohmann::json{1, 3, 5, 7}));
}

void expect_refused(const CellFixture& f, const pda::test::CmdResult& r, const std::string& needle) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.output;
    EXPECT_FALSE(fs::exists(f.pdas));
    EXPECT_FALSE(fs::exists(f.pdas + ".tmp"));
}

TEST(LocationCli, BadMasksAndCellsExit2AndWriteNothing) {
    CellFixture f;
    const int64_t d = kD * kH * kW;
    f.write("empty.nii.gz", std::vector<float>(static_cast<size_t>(d), 0.f));
    f.write("narrow.nii.gz", std::vector<float>(static_cast<size_t>(kD * kH * (kW - 1)), 1.f), kD, kH, kW - 1);
    f.write("two.nii.gz", std::vector<float>(static_cast<size_t>(2 * d), 1.f), kD, kH, kW, 2);
    std::vector<float> corner(static_cast<size_t>(d), 0.f);
    corner[0] = 1.f;  // voxel (0, 0, 0): no 3³ patch is centred there
    f.write("corner.nii.gz", corner);
    const std::string empty = f.tmp.file("empty.nii.gz"), narrow = f.tmp.file("narrow.nii.gz");
    expect_refused(f, pda::test::run_pda(f.fit("--mask " + empty)), empty + ": the mask is empty");
    expect_refused(f, pda::test::run_pda(f.fit("--mask " + narrow)), narrow + ": the mask is 11×12×12 voxels");
    expect_refused(f, pda::test::run_pda(f.fit("--mask " + f.tmp.file("two.nii.gz"))), "one 3-D volume");
    expect_refused(f, pda::test::run_pda(f.fit("--mask " + f.tmp.file("missing.nii.gz"))), "missing.nii.gz");
    expect_refused(f, pda::test::run_pda(f.fit("--mask " + f.tmp.file("corner.nii.gz"))),
                   "no patch centre lies inside " + f.tmp.file("corner.nii.gz"));
    expect_refused(f, pda::test::run_pda(f.fit("--cell -2")), "--cell");
    // The sidecar's mask is checked like one given: a sidecar naming an empty mask is refused.
    fs::copy_file(empty, f.tmp.file("mask.nii.gz"), fs::copy_options::overwrite_existing);
    expect_refused(f, pda::test::run_pda(f.fit("--cell 6")), "mask.nii.gz: the mask is empty");

    // An image model takes no mask.
    const std::string tiny = f.tmp.write("tiny.onnx", pda::test::tiny_model());
    f.tmp.write("tiny.json", pda::test::kTinySidecar);
    fs::create_directories(f.tmp.path() / "photos");
    pda::write_png(f.tmp.file("photos/p.png"), pda::test::random_photo(20, 20, 1));
    expect_refused(f,
                   pda::test::run_pda("fit-sampler " + tiny + " --images " + f.tmp.file("photos") +
                                      " --k 2 --pad 1 --mask " + f.tmp.file("xmask.nii.gz") + " -o " + f.pdas),
                   "masks apply to volume models");
}

}  // namespace
