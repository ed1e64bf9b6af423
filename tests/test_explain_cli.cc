// `pda explain` and `pda bench` end to end on a tiny ONNX classifier (16×16 input, 4 classes): the
// files of a result folder with their shapes, the summary's fields, heatmaps that decode at the
// crop's size, atomic replacement, and bad input → exit 2, one line, and no output folder at all.
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/gaussian.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/sampler_file.h"
#include "pda/explainer.h"
#include "tests/test_util.h"
#include "tests/tiny_model.h"

namespace fs = std::filesystem;
using pda::test::kTinySidecar;
using pda::test::random_photo;
using pda::test::run_pda;
using pda::test::tiny_model;
using pda::test::write_file;

namespace {

// A folder with the tiny model, its sidecar, three photos in photos/ and an empty folder empty/.
struct Fixture {
    pda::test::TempDir tmp;
    fs::path dir;
    std::string model, photos, empty;
    explicit Fixture(const std::string& name) : tmp("explain-" + name), dir(tmp.path()) {
        fs::create_directories(dir / "photos");
        fs::create_directories(dir / "empty");
        write_file(dir / "tiny.onnx", tiny_model());
        write_file(dir / "tiny.json", kTinySidecar);
        for (int i = 0; i < 3; ++i)
            pda::write_png((dir / "photos" / ("p" + std::to_string(i) + ".png")).string(), random_photo(20, 16, i));
        model = (dir / "tiny.onnx").string();
        photos = (dir / "photos").string();
        empty = (dir / "empty").string();
    }
    std::string photo(int i) const { return photos + "/p" + std::to_string(i) + ".png"; }
    std::string out() const { return (dir / "out").string(); }
};

void expect_input_error(const pda::test::CmdResult& r, const std::string& must_contain) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_EQ(r.output.rfind("pda: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(must_contain), std::string::npos) << "expected '" << must_contain << "' in: " << r.output;
}

// Writes a sampler file for the tiny model's input space (or a changed one) with the given k, pad.
void write_sampler(const fs::path& path, int64_t k, int64_t pad, float mean0 = 0.5f) {
    std::vector<pda::Tensor> imgs;
    for (int i = 0; i < 2; ++i) {
        pda::Tensor t(pda::Shape{1, 3, 16, 16});
        std::mt19937_64 rng(i);
        for (int64_t j = 0; j < t.numel(); ++j) t.data()[j] = static_cast<float>((rng() & 0xffff) / 65536.0 - 0.5);
        imgs.push_back(std::move(t));
    }
    pda::GaussianPatchModel g = pda::fit_gaussian(imgs, k, pad, 0, 0);
    pda::SamplerFileMeta meta;
    meta.pre.height = meta.pre.width = 16;
    meta.pre.resize_shorter = 16;
    meta.pre.scale = 1;
    meta.pre.mean = {mean0, 0.5f, 0.5f};
    meta.pre.std = {0.25f, 0.25f, 0.25f};
    meta.model = "tiny.onnx";
    pda::write_sampler_file(path.string(), g, meta);
}

}  // namespace

TEST(ExplainCli, ConditionalOnTheFlyWritesEverything) {
    Fixture f("cond");
    // p0 is explained and also in the fitting folder: it must be left out of its own fit; x is not.
    const std::string x = (f.dir / "x.png").string();
    pda::write_png(x, random_photo(16, 16, 7));
    auto r = run_pda("explain " + f.model + " " + f.photo(0) + " " + x + " --sample-images " + f.photos +
                     " --k 4 --pad 1 --samples 2 --stride 3 --classes all --node conv,r --out " + f.out());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const char* stem : {"photos/p0", "x"}) {  // names relative to the folder holding both
        fs::path d = fs::path(f.out()) / stem;
        pda::Tensor rel = pda::read_npy((d / "relevance.npy").string());
        EXPECT_EQ(rel.shape(), pda::Shape({4, 16, 16}));
        pda::Tensor counts = pda::read_npy((d / "counts.npy").string());
        EXPECT_EQ(counts.shape(), pda::Shape({16, 16}));
        // Stride 3, k 4 on 16 px: windows at 0,3,6,9,12 cover every pixel; pixel (0,0) by one window.
        EXPECT_EQ(counts.data()[0], 1.f);
        EXPECT_EQ(counts.data()[3 * 16 + 3], 4.f);
        for (int64_t i = 0; i < rel.numel(); ++i) ASSERT_TRUE(std::isfinite(rel.data()[i]));
        EXPECT_EQ(pda::read_npy((d / "node-conv.npy").string()).shape(), pda::Shape({4, 16, 16}));
        EXPECT_EQ(pda::read_npy((d / "node-r.npy").string()).shape(), pda::Shape({4, 16, 16}));
        for (int c = 0; c < 4; ++c) {
            pda::Image png = pda::load_image((d / ("heatmap-" + std::to_string(c) + ".png")).string());
            EXPECT_EQ(png.height, 16);
            EXPECT_EQ(png.width, 16);
        }
        std::ifstream in(d / "summary.json");
        auto j = nlohmann::json::parse(in);
        EXPECT_EQ(j["parameters"]["k"], 4);
        EXPECT_EQ(j["parameters"]["l"], 6);
        EXPECT_EQ(j["parameters"]["stride"], 3);
        EXPECT_EQ(j["seed"], 0);
        EXPECT_EQ(j["classes"].size(), 4u);
        double sum = 0;
        for (auto& c : j["classes"]) sum += c["probability"].get<double>();
        EXPECT_NEAR(sum, 1.0, 1e-5);
        EXPECT_EQ(j["uncovered_pixels"], 0);
        EXPECT_EQ(j["windows"], 25);
        EXPECT_EQ(j["forward_passes"], 50);
        EXPECT_EQ(j["sampler"]["kind"], "conditional");
        const bool in_set = std::string(stem) == "photos/p0";
        EXPECT_EQ(j["sampler"]["fitted_images"], in_set ? 2 : 3) << j["sampler"];
        EXPECT_EQ(j["sampler"]["excluded_explained_image"], in_set ? 1 : 0) << j["sampler"];
        EXPECT_EQ(j["device"], "cpu");
        EXPECT_TRUE(j.contains("version") && j.contains("date") && j.contains("timings") &&
                    j.contains("preprocessing"));
        EXPECT_EQ(j["model"]["spec"], f.model);
    }
    // Nothing but the two results and the job's logs (no temporaries).
    std::vector<std::string> entries;
    for (auto& e : fs::recursive_directory_iterator(f.out()))
        if (e.path().filename() != "photos" && e.path().parent_path().filename() != "p0" &&
            e.path().parent_path().filename() != "x")
            entries.push_back(fs::relative(e.path(), f.out()).string());
    std::sort(entries.begin(), entries.end());
    EXPECT_EQ(entries, (std::vector<std::string>{"job.json", "photos/p0", "progress.jsonl", "x"}));
}

TEST(ExplainCli, MarginalOcclusionSamplerFileAndReplace) {
    Fixture f("samplers");
    auto r = run_pda("explain " + f.model + " " + f.photo(2) + " --sampler marginal --sample-images " + f.photos +
                     " --k 5 --samples 2 --stride 4 --classes 1,3 --quiet --out " + f.out());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(r.output.empty()) << r.output;  // --quiet
    fs::path d = fs::path(f.out()) / "p2";
    EXPECT_EQ(pda::read_npy((d / "relevance.npy").string()).shape(), pda::Shape({2, 16, 16}));
    EXPECT_TRUE(fs::exists(d / "heatmap-1.png") && fs::exists(d / "heatmap-3.png"));
    // Stride 4, k 5: windows at 0, 4, 8 and the border window at 11 cover every pixel.
    std::ifstream in(d / "summary.json");
    const nlohmann::json summary = nlohmann::json::parse(in);
    EXPECT_EQ(summary["uncovered_pixels"], 0);
    EXPECT_EQ(summary["windows"], 4 * 4);
    // The same stem again (occlusion now) replaces the folder as a whole.
    r = run_pda("explain " + f.model + " " + f.photo(2) + " --sampler occlusion --k 4 --stride 4 --classes 0 --out " +
                f.out());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_FALSE(fs::exists(d / "heatmap-1.png"));
    std::ifstream in2(d / "summary.json");
    auto j = nlohmann::json::parse(in2);
    EXPECT_EQ(j["sampler"]["kind"], "occlusion");
    EXPECT_EQ(j["forward_passes"], 16);
    // A matching sampler file.
    write_sampler(f.dir / "s.pdas", 4, 1);
    r = run_pda("explain " + f.model + " " + f.photo(1) + " --sampler-file " + (f.dir / "s.pdas").string() +
                " --k 4 --pad 1 --samples 2 --stride 6 --out " + f.out());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(fs::exists(fs::path(f.out()) / "p1" / "relevance.npy"));
}

TEST(ExplainCli, BadInputExits2WithoutOutput) {
    Fixture f("bad");
    write_sampler(f.dir / "k4.pdas", 4, 1);
    write_sampler(f.dir / "other.pdas", 4, 1, 0.4f);  // another model's preprocessing (mean)
    const std::string base = "explain " + f.model + " " + f.photo(0) + " --out " + f.out() + " ";
    const std::string set = " --sample-images " + f.photos;
    expect_input_error(run_pda(base + "--sampler-file " + (f.dir / "other.pdas").string() + " --k 4 --pad 1"),
                       "other.pdas");
    expect_input_error(run_pda(base + "--sampler-file " + (f.dir / "k4.pdas").string() + " --k 3 --pad 1"), "k4.pdas");
    expect_input_error(run_pda(base + "--sampler-file " + (f.dir / "k4.pdas").string() + " --k 4 --pad 2"), "k4.pdas");
    expect_input_error(run_pda(base + "--sampler occlusion --k 17"), "larger than");
    expect_input_error(run_pda(base + "--k 8 --pad 5" + set), "larger than");
    expect_input_error(run_pda(base + "--sampler occlusion --node nosuch"), "nosuch");
    expect_input_error(run_pda(base + "--sampler occlusion --classes 1,7"), "unknown class id 7");
    expect_input_error(run_pda(base + "--sampler marginal --sample-images " + f.empty), "no images");
    expect_input_error(run_pda(base + "--sample-images " + f.empty), "no images");
    expect_input_error(run_pda(base + "--sampler marginal"), "--sample-images");
    expect_input_error(run_pda(base + "--sampler marginal --samples 9" + set), "holds only 3");
    expect_input_error(run_pda(base + "--sampler occlusion --device cuda"), "CUDA backend not available");
    expect_input_error(run_pda(base + "--sampler occlusion " + (f.dir / "missing.png").string()), "missing.png");
    write_file(f.dir / "p0.png", "not a png");  // a file named on the command line: checked before any work
    expect_input_error(run_pda(base + "--sampler occlusion " + (f.dir / "p0.png").string()), "not a PNG");
    pda::write_png((f.dir / "photos" / "p0.bmp").string(), random_photo(16, 16, 3));  // two results named p0
    expect_input_error(run_pda(base + "--sampler occlusion " + (f.dir / "photos" / "p0.bmp").string()),
                       "would share the result folder 'p0'");
    fs::remove(f.dir / "photos" / "p0.bmp");
    EXPECT_FALSE(fs::exists(f.out()));
    // An existing output folder keeps exactly what it had.
    fs::create_directories(fs::path(f.out()) / "keep");
    expect_input_error(run_pda(base + "--sampler occlusion --classes 9"), "unknown class id 9");
    int entries = 0;
    for (auto& e : fs::directory_iterator(f.out())) entries += 1 + 0 * e.path().empty();
    EXPECT_EQ(entries, 1);
}

// The library API runs the same setup: maps with shapes, a parsable summary, the same bad-input errors.
TEST(ExplainApi, ExplainerGivesMapsAndSummary) {
    Fixture f("api");
    pda::ExplainerOptions opt;
    opt.sampler = pda::SamplerKind::kMarginal;
    opt.sample_images = f.photos;
    opt.k = 4;
    opt.samples = 2;
    opt.stride = 4;
    opt.classes = pda::parse_classes("top2");
    opt.nodes = {"mid"};
    pda::Explainer ex(f.model, opt);
    EXPECT_EQ(ex.windows(), 16);
    pda::ExplainResult r = ex.explain(f.photo(0));
    ASSERT_EQ(r.classes.size(), 2u);
    EXPECT_GE(r.classes[0].probability, r.classes[1].probability);
    EXPECT_EQ(r.relevance.shape, (std::vector<int64_t>{2, 16, 16}));
    EXPECT_EQ(r.relevance.values.size(), 2u * 16 * 16);
    EXPECT_EQ(r.counts.shape, (std::vector<int64_t>{16, 16}));
    ASSERT_EQ(r.nodes.size(), 1u);
    EXPECT_EQ(r.nodes[0].name, "mid");
    EXPECT_EQ(r.nodes[0].shape, (std::vector<int64_t>{4, 16, 16}));
    EXPECT_TRUE(r.folder.empty());
    auto j = nlohmann::json::parse(r.summary_json);
    EXPECT_EQ(j["sampler"]["kind"], "marginal");
    EXPECT_EQ(j["forward_passes"], 32);
    opt.classes = pda::parse_classes("99");
    try {
        pda::Explainer bad(f.model, opt);
        FAIL() << "an unknown class id was accepted";
    } catch (const pda::Error& e) {
        EXPECT_EQ(e.kind(), pda::ErrorKind::kInput);
        EXPECT_NE(std::string(e.what()).find("unknown class id 99"), std::string::npos) << e.what();
    }
}

TEST(BenchCli, BuiltinNetWithoutFiles) {
    auto r = run_pda("bench alexnet --windows 4 --samples 2 --repeat 1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("resampled images/s"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("GFLOP/s"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("s per image, stride 1"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("synthetic"), std::string::npos) << r.output;
}

TEST(BenchCli, JsonOnTinyModel) {
    Fixture f("bench");
    auto j = run_pda("bench " + f.model +
                     " --k 4 --windows 3 --samples 2 --repeat 2 --sampler occlusion --device cpu --json");
    ASSERT_EQ(j.exit_code, 0) << j.output;
    auto js = nlohmann::json::parse(j.output);
    EXPECT_GT(js["images_per_s"].get<double>(), 0);
    EXPECT_GT(js["gflop_per_s"].get<double>(), 0);
    EXPECT_EQ(js["resampled_images_per_run"], 3);  // occlusion: one sample per window
    EXPECT_EQ(js["precision"], "fp32");
    EXPECT_EQ(js["execution"], "incremental");  // the default on the CPU
    EXPECT_EQ(js["device"], "cpu");
    EXPECT_EQ(js["windows_stride1"], 13 * 13);
}
