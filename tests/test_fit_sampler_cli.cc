// `pda fit-sampler` end to end: a fit on the shared photos for the Caffe SqueezeNet (timed), a fit on
// a tiny picture with the built-in GoogLeNet (runs everywhere; its random weights build ten times
// faster than AlexNet's), and bad input: exit 2, one line, no sampler file or .tmp left behind.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "api/loader.h"
#include "io/sampler_file.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using pda::test::run_pda;
using pda::test::TempDir;

namespace {

void expect_sound_model(const pda::GaussianPatchModel& m) {
    const int64_t d = m.dim();
    ASSERT_EQ(static_cast<int64_t>(m.cov.size()), d * d);
    for (int64_t i = 0; i < d; ++i) {
        EXPECT_GT(m.cov[i * d + i], 0.0);
        for (int64_t j = 0; j < i; ++j) ASSERT_EQ(m.cov[i * d + j], m.cov[j * d + i]);
    }
    for (double v : m.mean) ASSERT_TRUE(std::isfinite(v));
    for (int64_t c = 0; c < m.channels; ++c) EXPECT_LT(m.min[c], m.max[c]);
}

TEST(FitSamplerCli, FitsTheSharedPhotosForSqueezeNet) {
    PDA_SKIP_WITHOUT_SHARED();
    TempDir dir("fit-shared");
    const std::string model = pda::test::shared_dir() + "/models/squeezenet1.1-caffe.onnx";
    const std::string images = pda::test::shared_dir() + "/images";
    const std::string out = (dir.path() / "squeezenet.pdas").string();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = run_pda("fit-sampler " + model + " --images " + images + " --k 10 --pad 2 -o " + out);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::printf("  pda fit-sampler on %s: %.2f s wall (load + fit + write)\n  %s", images.c_str(), s, r.output.c_str());
    EXPECT_NE(r.output.find("d = 588"), std::string::npos) << r.output;

    int64_t photos = 0;
    for (const auto& e : fs::directory_iterator(images)) {
        const std::string ext = e.path().extension().string();
        photos += ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
    }
    const pda::SamplerFile f = pda::read_sampler_file(out);
    EXPECT_EQ(f.model.k, 10);
    EXPECT_EQ(f.model.pad, 2);
    EXPECT_EQ(f.model.l, 14);
    EXPECT_EQ(f.model.channels, 3);
    EXPECT_EQ(static_cast<int64_t>(f.meta.images.size()), photos);
    EXPECT_TRUE(std::is_sorted(f.meta.images.begin(), f.meta.images.end()));
    EXPECT_EQ(f.meta.model, "squeezenet1.1-caffe.onnx");
    EXPECT_EQ(f.model.patches, pda::kDefaultMaxPatches);
    expect_sound_model(f.model);
    // The file belongs to the model's own preprocessing, and to no other.
    pda::LoadedModel m = pda::load_model(model, {});
    pda::check_sampler_matches(f.meta, m.desc.pre, 3, 10, 2, out);
    pda::LoadedModel tv = pda::load_model(pda::test::shared_dir() + "/models/squeezenet1.1-torchvision.onnx", {});
    EXPECT_THROW(pda::check_sampler_matches(f.meta, tv.desc.pre, 3, 10, 2, out), pda::Error);
}

TEST(FitSamplerCli, FitsATinyPictureWithABuiltInNet) {
    TempDir dir("fit-tiny");
    fs::create_directories(dir.path() / "images");
    fs::copy_file(pda::test::source_dir() + "/tests/data/tiny.png", dir.path() / "images" / "tiny.png");
    const std::string out = (dir.path() / "googlenet.pdas").string();
    auto r = run_pda("fit-sampler googlenet --images " + (dir.path() / "images").string() +
                     " --k 4 --pad 1 --max-patches 3000 --seed 3 -o " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::printf("  %s", r.output.c_str());
    const pda::SamplerFile f = pda::read_sampler_file(out);
    EXPECT_EQ(f.model.k, 4);
    EXPECT_EQ(f.model.l, 6);
    EXPECT_EQ(f.model.patches, 3000);
    EXPECT_EQ(f.meta.seed, 3u);
    EXPECT_EQ(f.meta.model, "googlenet");
    EXPECT_EQ(f.meta.images, std::vector<std::string>{"tiny.png"});
    EXPECT_EQ(f.meta.pre.height, 224);
    EXPECT_TRUE(f.meta.pre.bgr);
    expect_sound_model(f.model);
    EXPECT_FALSE(fs::exists(out + ".tmp"));
}

TEST(FitSamplerCli, BadInputExitsTwoWithOneLineAndWritesNothing) {
    TempDir dir("fit-bad");
    fs::create_directories(dir.path() / "empty");
    fs::create_directories(dir.path() / "good");
    fs::create_directories(dir.path() / "broken");
    fs::copy_file(pda::test::source_dir() + "/tests/data/tiny.png", dir.path() / "good" / "tiny.png");
    std::ofstream(dir.path() / "broken" / "bad.png") << "not a png";
    const std::string out = (dir.path() / "s.pdas").string();
    const std::string good = (dir.path() / "good").string();
    struct Case {
        std::string args, message;
    };
    const Case cases[] = {
        {"--images " + (dir.path() / "empty").string() + " --k 10 --pad 2", "no images in"},
        {"--images " + (dir.path() / "missing").string() + " --k 10 --pad 2", "no such directory"},
        {"--images " + good + " --k 300 --pad 2", "larger than the network input"},
        {"--images " + good + " --k 200 --pad 20", "context l = k + 2·pad = 240"},
        {"--images " + good + " --k 10 --pad -1", "--pad must be ≥ 0"},
        {"--images " + good + " --k 0 --pad 1", "--k must be ≥ 1"},
        {"--images " + good + " --k 10 --pad 2 --max-patches -5", "--max-patches"},
        {"--images " + (dir.path() / "broken").string() + " --k 10 --pad 2", "bad.png"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.args);
        auto r = run_pda("fit-sampler googlenet " + c.args + " -o " + out);
        EXPECT_EQ(r.exit_code, 2) << r.output;
        EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
        EXPECT_FALSE(fs::exists(out));
        EXPECT_FALSE(fs::exists(out + ".tmp"));
    }
    // An output folder that does not exist: refused before any work.
    const std::string nowhere = (dir.path() / "no" / "s.pdas").string();
    auto r = run_pda("fit-sampler googlenet --images " + good + " --k 10 --pad 2 -o " + nowhere);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
}

}  // namespace
