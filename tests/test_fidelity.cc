// Fidelity of the explanations (issue 3). A tiny CNN whose class is decided, by construction, by one
// 6 × 6 pattern (tests/fidelity/make_pattern_model.py) must get its positive evidence placed on that
// pattern by `pda explain`, with the conditional and the marginal sampler; and pda's occlusion maps
// for the real SqueezeNet must equal those of an independent PyTorch implementation of PDA
// (bench/peers/pda_torch.py), which shares no code with pda.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/npy.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using pda::test::run_pda;

namespace {

// Explanation parameters of the fidelity runs: small windows (the pattern is 6 × 6), every position.
constexpr int kK = 4, kPad = 2, kSamples = 10;
constexpr int kLaplaceN = 4000;  // N of the Laplace correction: the pattern model's training-set size
// The measure: of all positive weight of evidence for the true class (sum over pixels of max(WE, 0)),
// the fraction inside the pattern's box dilated by k − 1 pixels (every window that touches the pattern
// lies inside it), clipped to the image. Required: ≥ kMinInside, and the map's maximum inside the box
// and at least kMinPeakBits (real evidence: an untrained net of the same shape peaks below 0.1 bit).
// The same fraction for a box elsewhere (the pattern box reflected through the image centre, when it
// does not overlap) must stay below kMinInside: the measure tells places apart, so this test can fail.
constexpr double kMinInside = 0.6;
constexpr double kMinPeakBits = 1.0;

std::string fidelity_dir() { return PDA_FIDELITY_DIR; }

pda::test::CmdResult run_shell(const std::string& cmd) {
    pda::test::CmdResult r;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

nlohmann::json read_json(const fs::path& p) {
    std::ifstream f(p);
    return nlohmann::json::parse(f);
}

struct Box {
    int top, left, bottom, right;  // [top, bottom) × [left, right)
    Box dilated(int d, int h, int w) const {
        return {std::max(0, top - d), std::max(0, left - d), std::min(h, bottom + d), std::min(w, right + d)};
    }
    bool contains(int y, int x) const { return y >= top && y < bottom && x >= left && x < right; }
    bool overlaps(const Box& o) const { return top < o.bottom && o.top < bottom && left < o.right && o.left < right; }
};

struct PatternImage {
    std::string file, label;
    int cls;
    Box box;
};

std::vector<PatternImage> pattern_images() {
    std::vector<PatternImage> v;
    const nlohmann::json boxes = read_json(fidelity_dir() + "/test/boxes.json");
    for (const auto& j : boxes["images"]) {
        auto b = j["box"];
        v.push_back({j["image"], j["label"], j["class"], {b[0], b[1], b[2], b[3]}});
    }
    return v;
}

// The (H, W) map of class `cls` from one explained image's folder.
std::vector<float> class_map(const fs::path& dir, int cls, int& h, int& w) {
    int index = -1;
    const nlohmann::json summary = read_json(dir / "summary.json");
    for (const auto& c : summary["classes"])
        if (c["id"].get<int>() == cls) index = c["map"].get<int>();
    EXPECT_GE(index, 0) << "class " << cls << " not in " << (dir / "summary.json");
    pda::Tensor rel = pda::read_npy((dir / "relevance.npy").string());
    EXPECT_EQ(rel.shape().rank, 3);
    h = static_cast<int>(rel.shape()[1]);
    w = static_cast<int>(rel.shape()[2]);
    if (index < 0) return {};
    const float* m = rel.data() + static_cast<size_t>(index) * h * w;
    return std::vector<float>(m, m + static_cast<size_t>(h) * w);
}

double positive_fraction_inside(const std::vector<float>& m, int w, const Box& b) {
    double all = 0, inside = 0;
    for (size_t i = 0; i < m.size(); ++i) {
        const double v = std::max(0.0f, m[i]);
        all += v;
        if (b.contains(static_cast<int>(i) / w, static_cast<int>(i) % w)) inside += v;
    }
    return all > 0 ? inside / all : 0.0;
}

// Explains every test image (two per class) with `sampler_flags`, then checks and prints the measure
// per image.
void check_fidelity(const std::string& name, const std::string& sampler_flags) {
    const pda::test::TempDir out_tmp("fidelity-" + name);
    const fs::path out = out_tmp.path();
    const std::vector<PatternImage> images = pattern_images();
    ASSERT_FALSE(images.empty());
    std::string args = "explain " + fidelity_dir() + "/pattern.onnx";
    for (const PatternImage& im : images) args += " " + fidelity_dir() + "/test/" + im.file;
    args += " " + sampler_flags + " --k " + std::to_string(kK) + " --pad " + std::to_string(kPad) + " --samples " +
            std::to_string(kSamples) + " --stride 1 --classes all --laplace-n " + std::to_string(kLaplaceN) +
            " --seed 0 --quiet --out " + out.string();
    auto r = run_pda(args);
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.output;
    double worst = 1.0;
    for (const PatternImage& im : images) {
        const fs::path dir = out / fs::path(im.file).stem();
        int h = 0, w = 0;
        std::vector<float> m = class_map(dir, im.cls, h, w);
        ASSERT_EQ(m.size(), static_cast<size_t>(h) * w) << dir;
        const Box box = im.box.dilated(kK - 1, h, w);
        const double inside = positive_fraction_inside(m, w, box);
        const size_t arg = static_cast<size_t>(std::max_element(m.begin(), m.end()) - m.begin());
        const bool max_inside = box.contains(static_cast<int>(arg) / w, static_cast<int>(arg) % w);
        const Box mirror =
            Box{h - im.box.bottom, w - im.box.right, h - im.box.top, w - im.box.left}.dilated(kK - 1, h, w);
        const bool control = !mirror.overlaps(box);
        const double elsewhere = control ? positive_fraction_inside(m, w, mirror) : 0.0;
        std::printf(
            "fidelity %-11s %s %-7s: positive evidence inside the box %.3f, max %.2f bits %s the box, "
            "reflected box %s\n",
            name.c_str(), im.file.c_str(), im.label.c_str(), inside, m[arg], max_inside ? "inside" : "OUTSIDE",
            control ? std::to_string(elsewhere).substr(0, 5).c_str() : "(overlaps)");
        EXPECT_GE(inside, kMinInside) << im.file << " (" << im.label << ")";
        EXPECT_TRUE(max_inside) << im.file << ": the map's maximum lies outside the pattern";
        EXPECT_GE(m[arg], kMinPeakBits) << im.file << ": no real evidence anywhere";
        if (control) {
            EXPECT_LT(elsewhere, kMinInside) << im.file << ": the measure does not tell places apart";
        }
        worst = std::min(worst, inside);
    }
    std::printf("fidelity %s: worst fraction %.3f (threshold %.2f)\n", name.c_str(), worst, kMinInside);
}

}  // namespace

TEST(Fidelity, PatternModelIsAccurate) {
    auto m = read_json(fidelity_dir() + "/manifest.json");
    std::printf("pattern model: %d training images, %.1f s, accuracy %.4f (train), %.4f (%d held out)\n",
                m["train_images"].get<int>(), m["train_seconds"].get<double>(), m["train_accuracy"].get<double>(),
                m["held_out_accuracy"].get<double>(), m["held_out_images"].get<int>());
    EXPECT_GE(m["held_out_accuracy"].get<double>(), 0.98);
    const nlohmann::json boxes = read_json(fidelity_dir() + "/test/boxes.json");
    for (const auto& im : boxes["images"])
        EXPECT_GE(im["probability"].get<double>(), 0.9) << im["image"];  // the maps explain confident decisions
}

TEST(Fidelity, ConditionalSamplerPutsEvidenceOnThePattern) {
    const pda::test::TempDir dir_tmp("fidelity-fit");
    const fs::path dir = dir_tmp.path();
    const std::string file = (dir / "pattern.pdas").string();
    auto r = run_pda("fit-sampler " + fidelity_dir() + "/pattern.onnx --images " + fidelity_dir() + "/fit --k " +
                     std::to_string(kK) + " --pad " + std::to_string(kPad) + " -o " + file);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    check_fidelity("conditional", "--sampler conditional --sampler-file " + file);
}

TEST(Fidelity, MarginalSamplerPutsEvidenceOnThePattern) {
    check_fidelity("marginal", "--sampler marginal --sample-images " + fidelity_dir() + "/fit");
}

// pda's occlusion maps (deterministic) against bench/peers/pda_torch.py on the real SqueezeNet:
// the same windows (k = 10, stride 24, with the border windows), the same constant, both in float32; WE maps must
// agree to float rounding (max |difference| ≤ 2e-3 bits, correlation ≥ 0.9999) with identical counts.
TEST(Fidelity, OcclusionMatchesPyTorchPeer) {
    PDA_SKIP_WITHOUT_SHARED();
    const pda::test::TempDir out_tmp("fidelity-peer");
    const fs::path out = out_tmp.path();
    const std::string model = pda::test::shared_dir() + "/models/squeezenet1.1-caffe.onnx";
    const std::string image = pda::test::shared_dir() + "/images/cat.png";
    const std::string common = " --sampler occlusion --k 10 --stride 24 --laplace-n 100000";
    auto r =
        run_pda("explain " + model + " " + image + common + " --classes top3 --quiet --out " + (out / "pda").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const fs::path pdadir = out / "pda" / "cat";
    std::string ids;
    const nlohmann::json summary = read_json(pdadir / "summary.json");
    for (const auto& c : summary["classes"]) ids += (ids.empty() ? "" : ",") + std::to_string(c["id"].get<int>());
    const std::string peer = std::string(PDA_PYTHON) + " " + pda::test::source_dir() + "/bench/peers/pda_torch.py " +
                             model + " " + image + common + " --classes " + ids +
                             " --threads 2 --batch 64 --warmup 0 --save " + (out / "peer").string();
    auto p = run_shell(peer + " > " + (out / "peer.json").string());
    ASSERT_EQ(p.exit_code, 0) << peer << "\n" << p.output;

    pda::Tensor a = pda::read_npy((pdadir / "relevance.npy").string());
    pda::Tensor b = pda::read_npy((out / "peer" / "relevance.npy").string());
    ASSERT_EQ(a.shape().vec(), b.shape().vec());
    pda::Tensor ca = pda::read_npy((pdadir / "counts.npy").string());
    pda::Tensor cb = pda::read_npy((out / "peer" / "counts.npy").string());
    ASSERT_EQ(ca.numel(), cb.numel());
    for (int64_t i = 0; i < ca.numel(); ++i) ASSERT_EQ(ca.data()[i], cb.data()[i]) << "counts differ at " << i;
    double max_diff = 0, max_abs = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    const int64_t n = a.numel();
    for (int64_t i = 0; i < n; ++i) {
        const double x = a.data()[i], y = b.data()[i];
        max_diff = std::max(max_diff, std::fabs(x - y));
        max_abs = std::max(max_abs, std::fabs(x));
        sa += x, sb += y, saa += x * x, sbb += y * y, sab += x * y;
    }
    const double corr = (sab - sa * sb / n) / std::sqrt((saa - sa * sa / n) * (sbb - sb * sb / n));
    std::printf(
        "occlusion vs PyTorch peer (SqueezeNet Caffe, cat.png, classes %s): max |diff| %.2e bits "
        "(max |WE| %.3f), correlation %.7f\n",
        ids.c_str(), max_diff, max_abs, corr);
    EXPECT_LE(max_diff, 2e-3);
    EXPECT_GE(corr, 0.9999);
    EXPECT_GT(max_abs, 0.01) << "the maps are flat: the comparison says nothing";
}
