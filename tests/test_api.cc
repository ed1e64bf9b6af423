// The public C++ API (include/pda/) beyond files: an Explainer made from a loaded Model gives the same
// maps as one that loads the file itself; 8-bit RGB pixels in memory and an already preprocessed
// float32 tensor give the maps of the image file they come from, bit for bit; bad sizes are input
// errors; a Model's thread count leaves the caller's OpenMP setting as it was; a sampler fitted and
// saved through pda::FittedSampler gives the maps of the same fit made on the fly; photos in memory
// give the maps of their folder; options are refused before any work; bf16 on the CPU stays close to
// fp32.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/backend.h"
#include "io/image.h"
#include "pda/explainer.h"
#include "pda/sampler.h"
#include "tests/test_util.h"
#include "tests/tiny_model.h"

namespace fs = std::filesystem;

namespace {

struct ApiFixture {
    pda::test::TempDir tmp{"api"};
    fs::path dir = tmp.path();
    std::string model, photos;
    ApiFixture() {
        fs::create_directories(dir / "photos");
        model = tmp.write("tiny.onnx", pda::test::tiny_model());
        tmp.write("tiny.json", pda::test::kTinySidecar);
        for (int i = 0; i < 3; ++i)
            pda::write_png((dir / "photos" / ("p" + std::to_string(i) + ".png")).string(),
                           pda::test::random_photo(20, 16, i));
        photos = (dir / "photos").string();
    }
    std::string photo(int i) const { return photos + "/p" + std::to_string(i) + ".png"; }
};

pda::ExplainerOptions options(const ApiFixture& f) {
    pda::ExplainerOptions opt;
    opt.sampler = pda::SamplerKind::kMarginal;
    opt.sample_images = f.photos;
    opt.k = 4;
    opt.samples = 2;
    opt.stride = 3;
    opt.classes = pda::ClassSelection::all();
    return opt;
}

void expect_same(const pda::ExplainResult& a, const pda::ExplainResult& b, const char* what) {
    ASSERT_EQ(a.relevance.shape, b.relevance.shape) << what;
    float largest = 0.f;  // maps of zeros would be equal for any input
    for (float v : b.relevance.values) largest = std::max(largest, std::abs(v));
    EXPECT_GT(largest, 0.f) << what;
    EXPECT_EQ(a.relevance.values, b.relevance.values) << what;  // bit for bit
    EXPECT_EQ(a.counts.values, b.counts.values) << what;
    ASSERT_EQ(a.classes.size(), b.classes.size()) << what;
    for (size_t i = 0; i < a.classes.size(); ++i) EXPECT_EQ(a.classes[i].class_id, b.classes[i].class_id) << what;
}

TEST(PublicApi, ExplainerFromAModelEqualsExplainerFromItsFile) {
    const ApiFixture f;
    const pda::Model model = pda::Model::load(f.model);
    pda::Explainer from_model(model, options(f));
    pda::Explainer from_file(f.model, options(f));
    expect_same(from_model.explain(f.photo(0)), from_file.explain(f.photo(0)), "model vs file");
}

TEST(PublicApi, PixelsAndPreprocessedTensorsEqualTheirFile) {
    const ApiFixture f;
    const pda::Model model = pda::Model::load(f.model);
    pda::Explainer ex(model, options(f));
    const pda::ExplainResult file = ex.explain(f.photo(1));

    const pda::Image img = pda::load_image(f.photo(1));
    pda::RgbImage rgb;
    rgb.pixels = img.rgb.data();
    rgb.height = img.height;
    rgb.width = img.width;
    rgb.name = "p1";
    expect_same(ex.explain(rgb), file, "RGB pixels");

    const std::vector<float> x = model.preprocess(f.photo(1));  // (C, H, W)
    const pda::ExplainResult pre =
        ex.explain_preprocessed(x.data(), static_cast<int64_t>(x.size()), "p1", (f.dir / "out").string());
    expect_same(pre, file, "preprocessed tensor");
    EXPECT_TRUE(fs::exists(f.dir / "out" / "p1" / "summary.json"));
}

template <class F>
void expect_input(F fn, const std::string& needle) {
    try {
        fn();
        ADD_FAILURE() << "accepted; expected an error with '" << needle << "'";
    } catch (const pda::Error& e) {
        EXPECT_EQ(e.kind(), pda::ErrorKind::kInput) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(PublicApi, BadInMemoryImagesAreInputErrors) {
    const ApiFixture f;
    const pda::Model model = pda::Model::load(f.model);
    pda::Explainer ex(model, options(f));
    std::vector<float> x(3 * 16 * 16, 0.f);
    expect_input([&] { ex.explain_preprocessed(x.data(), 3 * 16 * 15); }, "768 floats");
    expect_input([&] { ex.explain_preprocessed(nullptr, 3 * 16 * 16); }, "768 floats");
    x[5] = std::nanf("");
    expect_input([&] { ex.explain_preprocessed(x.data(), 3 * 16 * 16); }, "non-finite");
    expect_input([&] { ex.explain(pda::RgbImage{}); }, "positive size");
}

TEST(PublicApi, ModelThreadsLeaveTheCallersSettingAlone) {
    const ApiFixture f;
    const int before = omp_get_max_threads();
    pda::ModelOptions mo;
    mo.threads = 1;
    const pda::Model model = pda::Model::load(f.model, mo);
    pda::Explainer ex(model, options(f));
    ex.explain(f.photo(2));
    EXPECT_EQ(omp_get_max_threads(), before);
    pda::ModelOptions bad;
    bad.threads = -1;
    EXPECT_THROW(pda::Model::load(f.model, bad), pda::Error);
}

// A random picture that is not in the fixture's folder (so no fit leaves it out).
pda::Image outsider() { return pda::test::random_photo(18, 17, 99); }

// The fixture's conditional fit: k 4, pad 1, 300 patches, seed 5.
pda::SamplerFitOptions fit_options() {
    pda::SamplerFitOptions fo;
    fo.k = 4;
    fo.pad = 1;
    fo.max_patches = 300;
    fo.seed = 5;
    return fo;
}

TEST(PublicApi, SavedFittedSamplerEqualsTheSameFitOnTheFly) {
    const ApiFixture f;
    const pda::Model model = pda::Model::load(f.model);
    pda::SamplerFitOptions fo = fit_options();
    const pda::FittedSampler g = pda::FittedSampler::fit(model, pda::list_images(f.photos), fo);
    EXPECT_EQ(g.dim(), 6 * 6 * 3);
    EXPECT_EQ(g.patches(), 300);
    EXPECT_EQ(g.images().size(), 3u);
    const std::string file = (f.dir / "tiny.sampler").string();
    g.save(file);

    pda::ExplainerOptions on_the_fly = options(f);
    on_the_fly.sampler = pda::SamplerKind::kConditional;
    on_the_fly.pad = 1;
    on_the_fly.max_patches = 300;
    on_the_fly.seed = 5;
    pda::ExplainerOptions from_file = on_the_fly;
    from_file.sample_images.clear();
    from_file.sampler_file = file;
    const pda::Image img = outsider();
    const pda::RgbImage rgb{img.rgb.data(), img.height, img.width, "outsider"};
    expect_same(pda::Explainer(model, from_file).explain(rgb), pda::Explainer(model, on_the_fly).explain(rgb),
                "sampler file vs fit on the fly");
    expect_input([&] { g.save((f.dir / "missing" / "x.sampler").string()); }, "does not exist");
    fo.pad = -1;
    expect_input([&] { pda::FittedSampler::fit(model, pda::list_images(f.photos), fo); }, "--pad");
}

// A fitted sampler handed over in memory (ExplainerOptions::fitted_sampler), the same loaded back
// from its file (FittedSampler::load) and the file itself give the same maps; it is checked against
// the run's k like a file, and refused beside a file or for another sampler kind. RGB pixels in
// memory preprocess as their file does.
TEST(PublicApi, FittedSamplerInMemoryEqualsItsFile) {
    const ApiFixture f;
    const pda::Model model = pda::Model::load(f.model);
    const pda::SamplerFitOptions fo = fit_options();
    auto fitted = std::make_shared<pda::FittedSampler>(pda::FittedSampler::fit(model, pda::list_images(f.photos), fo));
    EXPECT_EQ(fitted->path(), "");
    const std::string file = (f.dir / "mem.sampler").string();
    fitted->save(file);
    EXPECT_EQ(fitted->path(), file);
    auto loaded = std::make_shared<pda::FittedSampler>(pda::FittedSampler::load(file));
    EXPECT_EQ(loaded->path(), file);
    EXPECT_EQ(loaded->dim(), fitted->dim());
    EXPECT_EQ(loaded->patches(), fitted->patches());
    EXPECT_EQ(loaded->images(), fitted->images());

    pda::ExplainerOptions from_file = options(f);
    from_file.sampler = pda::SamplerKind::kConditional;
    from_file.sample_images.clear();
    from_file.pad = 1;
    from_file.sampler_file = file;
    pda::ExplainerOptions in_memory = from_file;
    in_memory.sampler_file.clear();
    in_memory.fitted_sampler = fitted;
    pda::ExplainerOptions reloaded = in_memory;
    reloaded.fitted_sampler = loaded;
    const pda::Image img = outsider();
    const pda::RgbImage rgb{img.rgb.data(), img.height, img.width, "outsider"};
    const pda::ExplainResult want = pda::Explainer(model, from_file).explain(rgb);
    const pda::ExplainResult mem = pda::Explainer(model, in_memory).explain(rgb);
    expect_same(mem, want, "fitted sampler in memory vs its file");
    expect_same(pda::Explainer(model, reloaded).explain(rgb), want, "loaded sampler vs its file");
    EXPECT_EQ(nlohmann::json::parse(mem.summary_json)["sampler"]["in_memory"], true);

    pda::ExplainerOptions wrong_k = in_memory;
    wrong_k.k = 3;
    expect_input([&] { pda::Explainer(model, wrong_k); }, "fitted for k 4 but this run uses 3");
    pda::ExplainerOptions both = in_memory;
    both.sampler_file = file;
    expect_input([&] { pda::check_options(both); }, "give one of");
    pda::ExplainerOptions marginal = in_memory;
    marginal.sampler = pda::SamplerKind::kMarginal;
    marginal.sample_images = f.photos;
    expect_input([&] { pda::check_options(marginal); }, "conditional sampler only");
    expect_input([&] { pda::FittedSampler::load(f.photo(0)); }, f.photo(0));

    const pda::Image p1 = pda::load_image(f.photo(1));
    const std::vector<float> from_pixels = model.preprocess(pda::RgbImage{p1.rgb.data(), p1.height, p1.width});
    EXPECT_EQ(from_pixels, model.preprocess(f.photo(1)));
    expect_input([&] { model.preprocess(pda::RgbImage{}); }, "positive size");
}

TEST(PublicApi, PicturesInMemoryEqualTheirFolderAndMaxWindowsLimits) {
    const ApiFixture f;
    const pda::Model model = pda::Model::load(f.model);
    std::vector<pda::Image> photos;
    for (const std::string& p : pda::list_images(f.photos)) photos.push_back(pda::load_image(p));
    pda::ExplainerOptions in_memory = options(f);
    in_memory.sample_images.clear();
    for (const pda::Image& p : photos) in_memory.sample_pictures.push_back({p.rgb.data(), p.height, p.width, ""});
    in_memory.sample_pictures_source = "the fixture's photos";
    pda::Explainer ex(model, in_memory);
    EXPECT_TRUE(ex.options().sample_pictures.empty());  // not kept
    const pda::Image img = outsider();
    const pda::RgbImage rgb{img.rgb.data(), img.height, img.width, "outsider"};
    expect_same(ex.explain(rgb), pda::Explainer(model, options(f)).explain(rgb), "pictures vs folder");
    const int64_t all = ex.explain(rgb).windows;
    EXPECT_EQ(all, ex.windows());
    ex.set_max_windows(2);
    EXPECT_EQ(ex.explain(rgb).windows, 2);
    EXPECT_LT(2, all);
}

TEST(PublicApi, OptionsAreRefusedBeforeAnyWork) {
    const ApiFixture f;
    pda::ExplainerOptions opt = options(f);
    opt.k = 0;
    expect_input([&] { pda::check_options(opt); }, "--k must be ≥ 1");
    opt = options(f);
    opt.sample_images.clear();
    expect_input([&] { pda::check_options(opt); }, "needs --sample-images");
    pda::ModelOptions mo;
    mo.device = pda::Device::cpu();
    mo.precision = pda::Precision::kFp16;
    expect_input([&] { pda::check_options(mo); }, "needs a CUDA device");
    mo.precision = pda::Precision::kBf16;
    if (pda::cpu_bf16_supported())
        EXPECT_NO_THROW(pda::check_options(mo));
    else
        expect_input([&] { pda::check_options(mo); }, "needs AVX-512-BF16 or AMX");
    mo.precision = pda::Precision::kWinograd;
    if (pda::cpu_winograd_supported())
        EXPECT_NO_THROW(pda::check_options(mo));
    else
        expect_input([&] { pda::check_options(mo); }, "needs AVX-512");
    EXPECT_EQ(pda::parse_precision("winograd"), pda::Precision::kWinograd);
    expect_input([] { pda::parse_precision("fp64"); }, "fp32, tf32, fp16, bf16 or winograd");
    expect_input([&] { pda::list_images((f.dir / "nothing").string()); }, "no such directory");
    expect_input([&] { pda::check_outputs((f.dir / "tiny.onnx").string(), {"a.png"}); }, "not a folder");
    expect_input([&] { pda::check_outputs((f.dir / "out").string(), {"x/a.png", "y/a.jpg"}); }, "share the name");
}

TEST(PublicApi, InfoDescribesTheModel) {
    const pda::Model model = pda::Model::load("alexnet");
    const nlohmann::json info = nlohmann::json::parse(model.info_json(10));
    EXPECT_TRUE(info["builtin"].get<bool>());
    EXPECT_EQ(info["input"]["shape"], (std::vector<int64_t>{1, 3, 227, 227}));
    EXPECT_GT(info["nodes"].size(), 10u);
    EXPECT_NEAR(info["gflop"].get<double>(), 1.456, 0.01);
    EXPECT_GT(info["incremental"]["ratio"].get<double>(), 2.0);
    expect_input([&] { model.info_json(228); }, "larger than");
}

// Occlusion, k 10, stride 16: a quick map of the shared SqueezeNet for comparing precisions.
pda::ExplainerOptions coarse_occlusion() {
    pda::ExplainerOptions opt;
    opt.sampler = pda::SamplerKind::kOcclusion;
    opt.k = 10;
    opt.stride = 16;
    return opt;
}

// bf16 convolutions on the CPU (where it has them): the maps of the shared SqueezeNet stay close to
// fp32's (occlusion, k 10, stride 16), and differ from them, so bf16 did run.
TEST(PublicApi, CpuBf16MapsStayCloseToFp32) {
    PDA_SKIP_WITHOUT_SHARED();
    if (!pda::cpu_bf16_supported()) GTEST_SKIP() << "skipped: this CPU has neither AVX-512-BF16 nor AMX";
    const std::string model = pda::test::shared_dir() + "/models/squeezenet1.1-caffe.onnx";
    const std::string image = pda::test::shared_dir() + "/images/cat.png";
    pda::ExplainerOptions opt = coarse_occlusion();
    pda::ExplainResult r[2];
    for (int i = 0; i < 2; ++i) {
        pda::ModelOptions mo;
        mo.precision = i == 0 ? pda::Precision::kFp32 : pda::Precision::kBf16;
        const pda::Model m = pda::Model::load(model, mo);
        EXPECT_EQ(m.precision(), mo.precision);
        r[i] = pda::Explainer(m, opt).explain(image);
    }
    const std::vector<float>&a = r[0].relevance.values, &b = r[1].relevance.values;
    ASSERT_EQ(a.size(), b.size());
    double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0, err = 0, top = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        sa += a[i], sb += b[i], sab += double(a[i]) * b[i], saa += double(a[i]) * a[i], sbb += double(b[i]) * b[i];
        err = std::max(err, std::fabs(double(a[i]) - b[i]));
        top = std::max(top, std::fabs(double(a[i])));
    }
    const double n = static_cast<double>(a.size());
    const double r_ab = (sab - sa * sb / n) / std::sqrt((saa - sa * sa / n) * (sbb - sb * sb / n));
    std::printf("[ bf16 ] SqueezeNet occlusion maps, bf16 vs fp32: r %.5f, max error %.2e of max |value|\n", r_ab,
                err / top);
    EXPECT_GT(r_ab, 0.995);
    EXPECT_LT(err / top, 0.1);
    EXPECT_GT(err, 0.0);
}

// Winograd convolutions on the CPU: the maps of the shared SqueezeNet (occlusion, k 10, stride 16)
// equal fp32's to rounding, full and incremental alike, and differ from them, so Winograd did run.
TEST(PublicApi, CpuWinogradMapsEqualFp32ToRounding) {
    PDA_SKIP_WITHOUT_SHARED();
    if (!pda::cpu_winograd_supported()) GTEST_SKIP() << "skipped: oneDNN's Winograd kernels need AVX-512";
    const std::string model = pda::test::shared_dir() + "/models/squeezenet1.1-caffe.onnx";
    const std::string image = pda::test::shared_dir() + "/images/cat.png";
    pda::ExplainerOptions opt = coarse_occlusion();
    pda::ModelOptions mo;
    const pda::Model fp32 = pda::Model::load(model, mo);
    mo.precision = pda::Precision::kWinograd;
    const pda::Model wino = pda::Model::load(model, mo);
    EXPECT_EQ(wino.precision(), pda::Precision::kWinograd);
    const std::vector<float> ref = pda::Explainer(fp32, opt).explain(image).relevance.values;
    for (const pda::Execution e : {pda::Execution::kFull, pda::Execution::kIncremental}) {
        opt.exec = e;
        const std::vector<float> w = pda::Explainer(wino, opt).explain(image).relevance.values;
        ASSERT_EQ(w.size(), ref.size());
        double err = 0, top = 0;
        for (size_t i = 0; i < w.size(); ++i) {
            err = std::max(err, std::fabs(double(w[i]) - ref[i]));
            top = std::max(top, std::fabs(double(ref[i])));
        }
        std::printf("[ winograd ] SqueezeNet occlusion maps, %s, against fp32: %.2e of max |value|\n",
                    pda::execution_name(e), err / top);
        EXPECT_LT(err / top, 1e-4);
        EXPECT_GT(err, 0.0);
    }
}

}  // namespace
