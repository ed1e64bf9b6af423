// Tests of the io/ room: decoding photos (shared set and synthetic PNG/BMP/JPEG/grey/RGBA files),
// PNG writing, preprocessing checked against hand-computed values and against torchvision, the
// model sidecars, presets, labels and overrides, and that every bad input is an input error naming
// the offending file or field.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "io/image.h"
#include "io/model_desc.h"
#include "io/preprocess.h"
#include "pda/error.h"
#include "test_util.h"

namespace pda {
namespace {

namespace fs = std::filesystem;

// A fresh temporary folder per test, removed afterwards.
class IoTest : public ::testing::Test {
  protected:
    std::string path(const std::string& name) const { return dir_.file(name); }
    std::string write_text(const std::string& name, const std::string& bytes) const { return dir_.write(name, bytes); }
    test::TempDir dir_{"io-" + test::current_test_name()};
};

// Runs f, expects a pda::Error of kind kInput whose message contains every one of `needles`.
void expect_input_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
    try {
        f();
        ADD_FAILURE() << "no error thrown; expected one mentioning " << needles.front();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
        for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
    }
}

Image make_image(int h, int w, const std::function<uint8_t(int, int, int)>& f) {
    Image im{h, w, std::vector<uint8_t>(static_cast<size_t>(h) * w * 3)};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) im.rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = f(y, x, c);
    return im;
}

Image pattern_image(int h, int w) {
    return make_image(h, w, [](int y, int x, int c) { return static_cast<uint8_t>((y * 37 + x * 11 + c * 89) % 256); });
}

// ---------------------------------------------------------------------------------------------------
// Decoding and writing

TEST(IoImage, DecodesSharedPhotosWithKnownSizes) {
    PDA_SKIP_WITHOUT_SHARED();
    struct Expected {
        const char* name;
        int height, width;
    };
    const Expected photos[] = {{"bird.png", 343, 512},    {"cat.png", 341, 512},     {"dog.jpg", 576, 768},
                               {"eagle.jpg", 512, 773},   {"giraffe.jpg", 500, 500}, {"grace_hopper.png", 600, 512},
                               {"hot_dog.jpg", 384, 512}, {"parrot.jpg", 929, 512}};
    for (const auto& p : photos) {
        const Image im = load_image(test::shared_dir() + "/images/" + p.name);
        EXPECT_EQ(im.height, p.height) << p.name;
        EXPECT_EQ(im.width, p.width) << p.name;
        ASSERT_EQ(im.rgb.size(), static_cast<size_t>(p.height) * p.width * 3) << p.name;
        // A real colour photo: not constant, and not grey everywhere.
        int lo = 255, hi = 0;
        bool colour = false;
        for (size_t i = 0; i < im.rgb.size(); i += 3) {
            lo = std::min<int>(lo, im.rgb[i]);
            hi = std::max<int>(hi, im.rgb[i]);
            colour = colour || im.rgb[i] != im.rgb[i + 1] || im.rgb[i] != im.rgb[i + 2];
        }
        EXPECT_GT(hi - lo, 100) << p.name;
        EXPECT_TRUE(colour) << p.name;
    }
}

TEST_F(IoTest, ImagePngRoundTripIsExactAndAtomic) {
    const Image im = pattern_image(5, 7);
    write_png(path("a.png"), im);
    EXPECT_FALSE(fs::exists(path("a.png.tmp")));
    const Image back = load_image(path("a.png"));
    EXPECT_EQ(back.height, 5);
    EXPECT_EQ(back.width, 7);
    EXPECT_EQ(back.rgb, im.rgb);
    // Overwriting an existing file works too.
    write_png(path("a.png"), pattern_image(3, 2));
    EXPECT_EQ(load_image(path("a.png")).rgb, pattern_image(3, 2).rgb);
}

TEST_F(IoTest, ImageBmpRoundTripIsExact) {
    const Image im = pattern_image(6, 9);
    ASSERT_TRUE(stbi_write_bmp(path("a.bmp").c_str(), im.width, im.height, 3, im.rgb.data()));
    const Image back = load_image(path("a.bmp"));
    EXPECT_EQ(back.height, 6);
    EXPECT_EQ(back.width, 9);
    EXPECT_EQ(back.rgb, im.rgb);
}

TEST_F(IoTest, ImageJpegRoundTripIsClose) {
    // Smooth content, quality 100: JPEG is lossy, but only by a few levels.
    const Image im =
        make_image(16, 24, [](int y, int x, int c) { return static_cast<uint8_t>(40 + 5 * x + 3 * y + 20 * c); });
    ASSERT_TRUE(stbi_write_jpg(path("a.jpg").c_str(), im.width, im.height, 3, im.rgb.data(), 100));
    const Image back = load_image(path("a.jpg"));
    ASSERT_EQ(back.height, 16);
    ASSERT_EQ(back.width, 24);
    int worst = 0;
    for (size_t i = 0; i < im.rgb.size(); ++i) worst = std::max(worst, std::abs(im.rgb[i] - back.rgb[i]));
    EXPECT_LE(worst, 6);
}

TEST_F(IoTest, ImageGreyIsReplicatedAndAlphaDropped) {
    const int h = 3, w = 4;
    std::vector<uint8_t> grey(h * w), grey_alpha(h * w * 2), rgba(h * w * 4);
    for (int i = 0; i < h * w; ++i) {
        grey[i] = static_cast<uint8_t>(i * 20);
        grey_alpha[i * 2] = static_cast<uint8_t>(250 - i * 7);
        grey_alpha[i * 2 + 1] = static_cast<uint8_t>(i * 23);  // includes fully transparent
        for (int c = 0; c < 3; ++c) rgba[i * 4 + c] = static_cast<uint8_t>(i * 10 + c * 50);
        rgba[i * 4 + 3] = static_cast<uint8_t>(i % 2 ? 0 : 128);
    }
    ASSERT_TRUE(stbi_write_png(path("g.png").c_str(), w, h, 1, grey.data(), w));
    ASSERT_TRUE(stbi_write_png(path("ga.png").c_str(), w, h, 2, grey_alpha.data(), w * 2));
    ASSERT_TRUE(stbi_write_png(path("rgba.png").c_str(), w, h, 4, rgba.data(), w * 4));
    ASSERT_TRUE(stbi_write_bmp(path("g.bmp").c_str(), w, h, 1, grey.data()));
    const Image g = load_image(path("g.png")), ga = load_image(path("ga.png")), ra = load_image(path("rgba.png")),
                gb = load_image(path("g.bmp"));
    for (int i = 0; i < h * w; ++i)
        for (int c = 0; c < 3; ++c) {
            EXPECT_EQ(g.rgb[i * 3 + c], grey[i]);
            EXPECT_EQ(gb.rgb[i * 3 + c], grey[i]);
            EXPECT_EQ(ga.rgb[i * 3 + c], grey_alpha[i * 2]);
            EXPECT_EQ(ra.rgb[i * 3 + c], rgba[i * 4 + c]);
        }
}

TEST_F(IoTest, ImageBadInputsAreInputErrorsNamingThePath) {
    expect_input_error([&] { load_image(path("missing.png")); }, {path("missing.png"), "no such file"});
    const std::string text = write_text("notes.png", "this is a text file, not a picture\n");
    expect_input_error([&] { load_image(text); }, {text});
    const std::string empty = write_text("empty.jpg", "");
    expect_input_error([&] { load_image(empty); }, {empty, "empty"});
    expect_input_error([&] { load_image(dir_.path().string()); }, {dir_.path().string(), "directory"});

    // Truncated JPEG: cut a valid file (written here, so the test needs no shared data) in half.
    const Image im = pattern_image(64, 64);
    ASSERT_TRUE(stbi_write_jpg(path("full.jpg").c_str(), im.width, im.height, 3, im.rgb.data(), 90));
    EXPECT_NO_THROW(load_image(path("full.jpg")));
    std::ifstream in(path("full.jpg"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string cut = write_text("cut.jpg", bytes.substr(0, bytes.size() / 2));
    expect_input_error([&] { load_image(cut); }, {cut, "truncated"});
    const std::string header_only = write_text("header.jpg", bytes.substr(0, 20));
    expect_input_error([&] { load_image(header_only); }, {header_only});

    // Truncated PNG.
    write_png(path("full.png"), pattern_image(32, 32));
    std::ifstream pin(path("full.png"), std::ios::binary);
    std::string pbytes((std::istreambuf_iterator<char>(pin)), std::istreambuf_iterator<char>());
    const std::string pcut = write_text("cut.png", pbytes.substr(0, pbytes.size() / 2));
    expect_input_error([&] { load_image(pcut); }, {pcut});
}

TEST_F(IoTest, ImageTruncatedSharedJpegIsAnInputError) {
    PDA_SKIP_WITHOUT_SHARED();
    std::ifstream in(test::shared_dir() + "/images/dog.jpg", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string cut = write_text("dog_cut.jpg", bytes.substr(0, bytes.size() * 3 / 4));
    expect_input_error([&] { load_image(cut); }, {cut, "truncated"});
}

TEST_F(IoTest, ImageWritePngIntoMissingFolderIsAnInputError) {
    const std::string bad = path("no/such/folder/out.png");
    expect_input_error([&] { write_png(bad, pattern_image(2, 2)); }, {bad});
}

// ---------------------------------------------------------------------------------------------------
// Preprocessing

TEST(IoPreprocess, HandComputedCropChannelOrderAndNormalisation) {
    // 4×6 image, shorter side already 4 → no resize; centre crop 4×4 starts at column 1.
    const Image im = pattern_image(4, 6);
    Preprocess pre;
    pre.height = 4;
    pre.width = 4;
    pre.resize_shorter = 4;
    pre.bgr = true;
    pre.scale = 255.0f;
    pre.mean = {10.0f, 20.0f, 30.0f};  // B, G, R
    pre.std = {2.0f, 4.0f, 0.5f};
    const Tensor t = preprocess(im, pre);
    ASSERT_EQ(t.shape(), (Shape{1, 3, 4, 4}));
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 4; ++x) {
                const int rgb_channel = 2 - c;  // network channel 0 is blue
                const double pixel = (y * 37 + (x + 1) * 11 + rgb_channel * 89) % 256;
                const double expected = (pixel - pre.mean[c]) / pre.std[c];
                EXPECT_NEAR(t.data()[(c * 4 + y) * 4 + x], expected, 1e-5) << c << " " << y << " " << x;
            }

    // RGB, 0–1 scale.
    pre.bgr = false;
    pre.scale = 1.0f;
    pre.mean = {0.5f, 0.25f, 0.0f};
    pre.std = {0.25f, 0.5f, 2.0f};
    const Tensor u = preprocess(im, pre);
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 4; ++x) {
                const double pixel = (y * 37 + (x + 1) * 11 + c * 89) % 256;
                const double expected = (pixel / 255.0 - pre.mean[c]) / pre.std[c];
                EXPECT_NEAR(u.data()[(c * 4 + y) * 4 + x], expected, 1e-6) << c << " " << y << " " << x;
            }
}

TEST(IoPreprocess, CentreCropOffsetsAreFloorOfHalfTheMargin) {
    Preprocess pre;
    pre.height = 4;
    pre.width = 4;
    pre.resize_shorter = 4;
    // Wide 4×9: margin 5 → left 2. Tall 9×4: top 2.
    const Image wide = pattern_image(4, 9), tall = pattern_image(9, 4);
    const Image cw = displayed_crop(wide, pre), ct = displayed_crop(tall, pre);
    ASSERT_EQ(cw.height, 4);
    ASSERT_EQ(cw.width, 4);
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x)
            for (int c = 0; c < 3; ++c) {
                EXPECT_EQ(cw.at(y, x, c), wide.at(y, x + 2, c));
                EXPECT_EQ(ct.at(y, x, c), tall.at(y + 2, x, c));
            }
}

TEST(IoPreprocess, ResizeIsPilAntialiasedBilinear) {
    // Downscale 1×4 → 1×2: each output is a triangle of half-width 2 over the input, weights
    // 3/7, 3/7, 1/7 (PIL widens the filter by the scale factor; plain bilinear would give (a+b)/2).
    Image row{1, 4, {10, 10, 10, 20, 20, 20, 40, 40, 40, 80, 80, 80}};
    const Image down = resize_bilinear(row, 1, 2);
    EXPECT_EQ(down.at(0, 0, 0), 19);  // (3·10 + 3·20 + 40) / 7 = 18.57
    EXPECT_EQ(down.at(0, 1, 1), 54);  // (20 + 3·40 + 3·80) / 7 = 54.29
    // Upscale 1×2 → 1×4 with half-pixel centres: a, (3a+b)/4, (a+3b)/4, b.
    Image pair{1, 2, {0, 0, 0, 200, 200, 200}};
    const Image up = resize_bilinear(pair, 1, 4);
    EXPECT_EQ(up.at(0, 0, 2), 0);
    EXPECT_EQ(up.at(0, 1, 2), 50);
    EXPECT_EQ(up.at(0, 2, 2), 150);
    EXPECT_EQ(up.at(0, 3, 2), 200);
    // Vertical pass uses the same filter.
    Image col{4, 1, {10, 10, 10, 20, 20, 20, 40, 40, 40, 80, 80, 80}};
    const Image vdown = resize_bilinear(col, 2, 1);
    EXPECT_EQ(vdown.at(0, 0, 0), 19);
    EXPECT_EQ(vdown.at(1, 0, 0), 54);
    // A constant image stays constant at any size.
    const Image flat = make_image(13, 17, [](int, int, int c) { return static_cast<uint8_t>(100 + c * 70); });
    const Image r = resize_bilinear(flat, 5, 29);
    for (size_t i = 0; i < r.rgb.size(); ++i) EXPECT_EQ(r.rgb[i], 100 + (i % 3) * 70);
}

TEST(IoPreprocess, ResizeShorterSideRuleAndDirectResize) {
    Preprocess pre;
    pre.height = 5;
    pre.width = 5;
    pre.resize_shorter = 5;
    // 10×31 → shorter side 5, longer int(5·31/10) = 15; crop 5×5 from column 5. A constant image
    // checks only the geometry; the crop is the right size.
    const Image flat = make_image(10, 31, [](int, int, int) { return 77; });
    const Image c = displayed_crop(flat, pre);
    EXPECT_EQ(c.height, 5);
    EXPECT_EQ(c.width, 5);
    // resize_shorter 0: straight to H×W regardless of aspect ratio.
    pre.resize_shorter = 0;
    pre.height = 4;
    pre.width = 2;
    const Image im = pattern_image(8, 8);
    const Image d = displayed_crop(im, pre);
    EXPECT_EQ(d.height, 4);
    EXPECT_EQ(d.width, 2);
    EXPECT_EQ(d.rgb, resize_bilinear(im, 4, 2).rgb);
    // The tensor is the normalised displayed crop.
    const Tensor t = preprocess(im, pre), n = normalize_image(d, pre);
    ASSERT_EQ(t.shape(), (Shape{1, 3, 4, 2}));
    for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data()[i], n.data()[i]);
}

TEST(IoPreprocess, ImageSmallerThanCropIsAnInputError) {
    Preprocess pre;  // 224×224 crop
    pre.resize_shorter = 200;
    expect_input_error([&] { preprocess(pattern_image(300, 400), pre); }, {"smaller than the crop"});
    pre.std = {1.0f, 0.0f, 1.0f};
    expect_input_error([&] { preprocess(pattern_image(300, 400), pre); }, {"std"});
}

// cat.png through our pipeline and through torchvision (PIL Resize(256) + CenterCrop(224) +
// ToTensor + Normalize) in the Debian python; the two must agree to float rounding.
TEST_F(IoTest, PreprocessMatchesTorchvisionOnSharedPhoto) {
    PDA_SKIP_WITHOUT_SHARED();
    const std::string cat = test::shared_dir() + "/images/cat.png";
    const std::string raw = path("tv.f32");
    const std::string script =
        "import sys, numpy as np\n"
        "from PIL import Image\n"
        "import torchvision.transforms as T\n"
        "t = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),"
        " T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])\n"
        "x = t(Image.open(sys.argv[1]).convert('RGB')).numpy().astype(np.float32)\n"
        "x.tofile(sys.argv[2])\n";
    const std::string script_path = write_text("tv.py", script);
    const std::string cmd = std::string(PDA_PYTHON) + " " + script_path + " " + cat + " " + raw + " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0 || !fs::exists(raw))
        GTEST_SKIP() << "skipped: " << PDA_PYTHON << " with torchvision and PIL is not available";
    std::vector<float> ref(3 * 224 * 224);
    std::ifstream in(raw, std::ios::binary);
    in.read(reinterpret_cast<char*>(ref.data()), static_cast<std::streamsize>(ref.size() * sizeof(float)));
    ASSERT_TRUE(in.good());

    const ModelDesc d = load_sidecar(test::shared_dir() + "/models/squeezenet1.1-torchvision.json");
    const Tensor t = preprocess(load_image(cat), d.pre);
    ASSERT_EQ(t.numel(), static_cast<int64_t>(ref.size()));
    double worst = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(double(t.data()[i]) - ref[i]));
    std::printf("[ info ] max |pda - torchvision| on cat.png: %.3g\n", worst);
    EXPECT_LE(worst, 1e-6);
}

// ---------------------------------------------------------------------------------------------------
// Sidecars, presets, labels, overrides

TEST(IoSidecar, SharedCaffeSidecar) {
    PDA_SKIP_WITHOUT_SHARED();
    const std::string p = test::shared_dir() + "/models/squeezenet1.1-caffe.json";
    EXPECT_EQ(sidecar_path(test::shared_dir() + "/models/squeezenet1.1-caffe.onnx"), p);
    const ModelDesc d = load_sidecar(p);
    EXPECT_EQ(d.input, "data");
    EXPECT_EQ(d.output, "prob");
    EXPECT_EQ(d.output_kind, ModelDesc::OutputKind::kProbabilities);
    EXPECT_EQ(d.pre.height, 227);
    EXPECT_EQ(d.pre.width, 227);
    EXPECT_EQ(d.pre.resize_shorter, 256);
    EXPECT_EQ(d.pre.crop, "center");
    EXPECT_TRUE(d.pre.bgr);
    EXPECT_EQ(d.pre.scale, 255.0f);
    EXPECT_EQ(d.pre.mean, (std::array<float, 3>{104.0f, 117.0f, 123.0f}));
    EXPECT_EQ(d.pre.std, (std::array<float, 3>{1.0f, 1.0f, 1.0f}));
    ASSERT_EQ(d.labels.size(), 1000u);
    EXPECT_EQ(d.labels[0], "tench, Tinca tinca");
    EXPECT_EQ(d.labels[999], "toilet tissue, toilet paper, bathroom tissue");
    EXPECT_EQ(fs::path(d.labels_path).filename(), "imagenet-synset-words.txt");
}

TEST(IoSidecar, SharedTorchvisionSidecar) {
    PDA_SKIP_WITHOUT_SHARED();
    const ModelDesc d = load_sidecar(test::shared_dir() + "/models/squeezenet1.1-torchvision.json");
    EXPECT_EQ(d.input, "in0");
    EXPECT_EQ(d.output, "out0");
    EXPECT_EQ(d.output_kind, ModelDesc::OutputKind::kLogits);
    EXPECT_EQ(d.pre.height, 224);
    EXPECT_EQ(d.pre.width, 224);
    EXPECT_EQ(d.pre.resize_shorter, 256);
    EXPECT_FALSE(d.pre.bgr);
    EXPECT_EQ(d.pre.scale, 1.0f);
    EXPECT_EQ(d.pre.mean, (std::array<float, 3>{0.485f, 0.456f, 0.406f}));
    EXPECT_EQ(d.pre.std, (std::array<float, 3>{0.229f, 0.224f, 0.225f}));
    ASSERT_EQ(d.labels.size(), 1000u);
    EXPECT_EQ(d.labels[1], "goldfish, Carassius auratus");
}

const char* const kGoodSidecar = R"({
  "input": "x", "output": "y", "output_kind": "logits", "input_size": [32, 48], "resize_shorter": 40,
  "crop": "center", "channel_order": "BGR", "scale": 2.5, "mean": [1, 2, 3], "std": [0.5, 1, 2],
  "labels": "labels.txt"
})";

// kGoodSidecar with `from` replaced by `to`.
std::string edited(const std::string& from, const std::string& to) {
    std::string s = kGoodSidecar;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? s : s.replace(at, from.size(), to);
}

TEST_F(IoTest, SidecarParsesAllFieldsAndLabelsRelativeToItself) {
    write_text("labels.txt", "n00000001 first thing\r\nplain second\n\n");
    const ModelDesc d = load_sidecar(write_text("m.json", kGoodSidecar));
    EXPECT_EQ(d.input, "x");
    EXPECT_EQ(d.output, "y");
    EXPECT_EQ(d.output_kind, ModelDesc::OutputKind::kLogits);
    EXPECT_EQ(d.pre.height, 32);
    EXPECT_EQ(d.pre.width, 48);
    EXPECT_EQ(d.pre.resize_shorter, 40);
    EXPECT_TRUE(d.pre.bgr);
    EXPECT_EQ(d.pre.scale, 2.5f);
    EXPECT_EQ(d.pre.mean, (std::array<float, 3>{1, 2, 3}));
    EXPECT_EQ(d.pre.std, (std::array<float, 3>{0.5f, 1, 2}));
    EXPECT_EQ(d.labels, (std::vector<std::string>{"first thing", "plain second"}));
    EXPECT_EQ(d.labels_path, path("labels.txt"));
    // Optional fields may be left out.
    const ModelDesc m = load_sidecar(
        write_text("min.json", R"({"output_kind": "probabilities", "input_size": [8, 8], "resize_shorter": 0,
                        "channel_order": "RGB", "scale": 1, "mean": [0, 0, 0], "std": [1, 1, 1]})"));
    EXPECT_EQ(m.input, "");
    EXPECT_EQ(m.pre.resize_shorter, 0);
    EXPECT_TRUE(m.labels.empty());
}

TEST_F(IoTest, SidecarErrorsNameTheFileAndTheField) {
    write_text("labels.txt", "a\nb\n");
    struct Case {
        std::string json, field;
    };
    const std::vector<Case> cases = {
        {edited("\"scale\": 2.5", "\"scale\": \"2.5\""), "scale"},  // wrong type
        {edited("\"mean\": [1, 2, 3], ", ""), "mean"},              // missing required field
        {edited("\"logits\"", "\"softmax\""), "output_kind"},       // unknown value
        {edited("\"BGR\"", "\"RGBA\""), "channel_order"},           // unknown value
        {edited("\"center\"", "\"random\""), "crop"},               // unknown value
        {edited("[0.5, 1, 2]", "[0.5, -1, 2]"), "std"},             // negative std
        {edited("[0.5, 1, 2]", "[0.5, 1]"), "std"},                 // not 3 numbers
        {edited("[1, 2, 3]", "[1, \"2\", 3]"), "mean"},             // not numbers
        {edited("\"scale\": 2.5", "\"scale\": 0"), "scale"},        // scale ≤ 0
        {edited("[32, 48]", "[32]"), "input_size"},                 // not 2 ints
        {edited("[32, 48]", "[0, 48]"), "input_size"},              // not positive
        {edited("[32, 48]", "[32.5, 48]"), "input_size"},           // not integers
        {edited("\"resize_shorter\": 40", "\"resize_shorter\": -1"), "resize_shorter"},
        {edited("\"labels.txt\"", "\"nowhere.txt\""), "labels"},    // missing labels file
        {edited("\"crop\"", "\"colour\": 1, \"crop\""), "colour"},  // unknown extra field
        {edited("\"input\": \"x\"", "\"input\": 3"), "input"},      // wrong type
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        const std::string p = write_text("bad" + std::to_string(i) + ".json", cases[i].json);
        expect_input_error([&] { load_sidecar(p); }, {p, cases[i].field});
    }
    const std::string broken = write_text("broken.json", "{\"scale\": ");
    expect_input_error([&] { load_sidecar(broken); }, {broken, "JSON"});
    const std::string array = write_text("array.json", "[1, 2]");
    expect_input_error([&] { load_sidecar(array); }, {array, "object"});
    expect_input_error([&] { load_sidecar(path("absent.json")); }, {path("absent.json")});
}

TEST(IoSidecar, SidecarPathAndPresets) {
    EXPECT_EQ(sidecar_path("a/b/model.onnx"), "a/b/model.json");
    EXPECT_EQ(sidecar_path("model.onnx"), "model.json");
    EXPECT_EQ(sidecar_path("/x/y.v2.onnx"), "/x/y.v2.json");

    const ModelDesc caffe = preset("caffe");
    EXPECT_TRUE(caffe.pre.bgr);
    EXPECT_EQ(caffe.pre.scale, 255.0f);
    EXPECT_EQ(caffe.pre.mean, (std::array<float, 3>{104.0f, 117.0f, 123.0f}));
    EXPECT_EQ(caffe.pre.std, (std::array<float, 3>{1.0f, 1.0f, 1.0f}));
    EXPECT_EQ(caffe.output_kind, ModelDesc::OutputKind::kProbabilities);
    EXPECT_EQ(caffe.pre.resize_shorter, 256);
    EXPECT_EQ(caffe.pre.height, 224);

    const ModelDesc tv = preset("torchvision");
    EXPECT_FALSE(tv.pre.bgr);
    EXPECT_EQ(tv.pre.scale, 1.0f);
    EXPECT_EQ(tv.pre.mean, (std::array<float, 3>{0.485f, 0.456f, 0.406f}));
    EXPECT_EQ(tv.pre.std, (std::array<float, 3>{0.229f, 0.224f, 0.225f}));
    EXPECT_EQ(tv.output_kind, ModelDesc::OutputKind::kLogits);
    EXPECT_EQ(std::string(output_kind_name(tv.output_kind)), "logits");

    expect_input_error([] { preset("keras"); }, {"keras"});
}

TEST_F(IoTest, SidecarLabelsFile) {
    const std::string p = write_text("l.txt",
                                     "n01440764 tench, Tinca tinca\n"
                                     "n0144 too short id\n"
                                     "cat\r\n"
                                     "\n"
                                     "n12345678\tdog\n"
                                     "\n\n");
    EXPECT_EQ(load_labels(p), (std::vector<std::string>{"tench, Tinca tinca", "n0144 too short id", "cat", "", "dog"}));
    const std::string empty = write_text("e.txt", "\n\n");
    expect_input_error([&] { load_labels(empty); }, {empty});
    expect_input_error([&] { load_labels(path("none.txt")); }, {path("none.txt")});
}

TEST_F(IoTest, SidecarOverrides) {
    ModelDesc d = preset("torchvision");
    apply_override(d, "input", "data");
    apply_override(d, "output", "prob");
    apply_override(d, "output_kind", "probabilities");
    apply_override(d, "channel_order", "BGR");
    apply_override(d, "scale", "255");
    apply_override(d, "mean", "103.939, 116.779,123.68");
    apply_override(d, "std", "1,2,3");
    apply_override(d, "resize_shorter", "0");
    apply_override(d, "input_size", "227x229");
    EXPECT_EQ(d.input, "data");
    EXPECT_EQ(d.output, "prob");
    EXPECT_EQ(d.output_kind, ModelDesc::OutputKind::kProbabilities);
    EXPECT_TRUE(d.pre.bgr);
    EXPECT_EQ(d.pre.scale, 255.0f);
    EXPECT_EQ(d.pre.mean, (std::array<float, 3>{103.939f, 116.779f, 123.68f}));
    EXPECT_EQ(d.pre.std, (std::array<float, 3>{1, 2, 3}));
    EXPECT_EQ(d.pre.resize_shorter, 0);
    EXPECT_EQ(d.pre.height, 227);
    EXPECT_EQ(d.pre.width, 229);
    apply_override(d, "input_size", "100,120");
    EXPECT_EQ(d.pre.height, 100);
    EXPECT_EQ(d.pre.width, 120);
    apply_override(d, "labels", write_text("l.txt", "n00000001 one\nn00000002 two\n"));
    EXPECT_EQ(d.labels, (std::vector<std::string>{"one", "two"}));

    const ModelDesc before = d;
    expect_input_error([&] { apply_override(d, "scale", "-1"); }, {"scale"});
    expect_input_error([&] { apply_override(d, "scale", "abc"); }, {"scale", "abc"});
    expect_input_error([&] { apply_override(d, "mean", "1,2"); }, {"mean"});
    expect_input_error([&] { apply_override(d, "std", "1,0,1"); }, {"std"});
    expect_input_error([&] { apply_override(d, "input_size", "224"); }, {"input_size"});
    expect_input_error([&] { apply_override(d, "input_size", "0x224"); }, {"input_size"});
    expect_input_error([&] { apply_override(d, "resize_shorter", "2.5"); }, {"resize_shorter"});
    expect_input_error([&] { apply_override(d, "output_kind", "softmax"); }, {"output_kind"});
    expect_input_error([&] { apply_override(d, "channel_order", "rgb"); }, {"channel_order"});
    expect_input_error([&] { apply_override(d, "labels", path("none.txt")); }, {path("none.txt")});
    expect_input_error([&] { apply_override(d, "colour", "1"); }, {"colour"});
    // A rejected override leaves the description unchanged.
    EXPECT_EQ(d.pre.scale, before.pre.scale);
    EXPECT_EQ(d.pre.mean, before.pre.mean);
    EXPECT_EQ(d.pre.std, before.pre.std);
    EXPECT_EQ(d.pre.height, before.pre.height);
    EXPECT_EQ(d.labels, before.labels);
}

}  // namespace
}  // namespace pda
