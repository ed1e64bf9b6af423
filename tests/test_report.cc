// The report (include/pda/report.h, io/figure.h): figures at the photo's resolution with a colour bar,
// a report folder with an index, pages and figures written in one step, and bad input (not a result
// folder, missing or corrupt maps, an occupied report folder) refused in one line with nothing written.
// `pda explain --report` end to end on the tiny model. The pages in a browser: tests/browser/test_report_browser.py
// (ctest -L browser).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "api/report.h"
#include "io/figure.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/preprocess.h"
#include "pda/report.h"
#include "test_util.h"
#include "tests/tiny_model.h"

namespace fs = std::filesystem;

namespace pda {
namespace {

using test::input_error;
using test::read_file;
using test::TempDir;

Image gradient(int h, int w) {
    Image img{h, w, std::vector<uint8_t>(static_cast<size_t>(h) * w * 3)};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                img.rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<uint8_t>((x * 3 + y + c * 50) % 256);
    return img;
}

// A result folder as pda explain writes it: a 60 × 80 photo, a 32 × 32 crop, two classes.
void make_result(const fs::path& dir, const fs::path& photo, int classes = 2) {
    fs::create_directories(dir);
    Tensor rel(Shape{classes, 32, 32});
    for (int64_t i = 0; i < rel.numel(); ++i) rel.data()[i] = std::sin(static_cast<float>(i) * 0.05f);
    write_npy((dir / "relevance.npy").string(), rel.view());
    nlohmann::json s = {
        {"image", {{"path", photo.string()}, {"stem", dir.filename().string()}, {"height", 32}, {"width", 32}}},
        {"preprocessing", {{"input_size", {32, 32}}, {"resize_shorter", 40}, {"crop", "center"}}},
        {"parameters", {{"sampler", "occlusion"}, {"k", 4}, {"samples", 1}, {"stride", 2}}},
        {"classes",
         {{{"map", 0}, {"id", 7}, {"label", "seven"}, {"probability", 0.7}},
          {{"map", 1}, {"id", 3}, {"label", "</script><script>x()</script>"}, {"probability", 0.2}}}},
        {"predicted", {{{"id", 7}, {"label", "seven"}, {"probability", 0.7}}}},
        {"relevance", {{"file", "relevance.npy"}}},
        {"timings", {{"total_s", 0.5}}}};
    std::ofstream(dir / "summary.json") << s.dump(2);
}

struct Fixture {
    TempDir tmp{test::current_test_name()};
    fs::path photo = tmp.path() / "photo.png", job = tmp.path() / "job";
    Fixture() {
        write_png(photo.string(), gradient(60, 80));
        make_result(job / "a" / "cat", photo);
        make_result(job / "dog", photo);
    }
    // No report and no temporary folder beside the results.
    void expect_nothing_written() {
        EXPECT_FALSE(fs::exists(job / "report"));
        expect_no_temporary();
    }
    void expect_no_temporary() {
        for (const auto& e : fs::directory_iterator(job))
            EXPECT_EQ(e.path().filename().string().find(".report."), std::string::npos) << e.path();
    }
};

TEST(Figure, DrawnAtThePhotosResolutionWithABar) {
    const Image photo = gradient(60, 80);
    std::vector<float> map(32 * 32, 0.f);
    map[16 * 32 + 16] = 2.f;  // one strong pixel in the middle, one weak one
    map[2 * 32 + 2] = 0.1f;
    const CropBox box{10, 20, 40, 40};  // the crop: 40 × 40 photo pixels at (top 10, left 20)
    const Image fig = relevance_figure(photo, box, map.data(), 32, 32, FigureStyle{0.15f, 0.f, "bits"});
    EXPECT_GE(fig.height, photo.height);
    EXPECT_GT(fig.width, photo.width + 12);  // the bar and its labels
    const int y = 30, x = 40;                // photo pixel centres at crop (15.9, 15.9): next to the strong pixel
    EXPECT_GT(fig.at(y, x, 0), fig.at(y, x, 2)) << "evidence for is red";
    const uint8_t* p = &photo.rgb[(5 * 80 + 5) * 3];
    EXPECT_EQ(fig.at(5, 5, 0), heatmap_background(p[0], p[1], p[2])) << "outside the crop: the grey photo";
    EXPECT_EQ(fig.at(12, 22, 0), fig.at(12, 22, 2)) << "under the threshold: not drawn";
    EXPECT_NE(fig.at(0, photo.width + 8, 0), fig.at(0, photo.width + 8, 2)) << "the bar's top is coloured";
    EXPECT_NE(input_error([&] { relevance_figure(Image{}, box, map.data(), 32, 32, FigureStyle{}); }), "");
}

TEST(Figure, CropGeometryIsDisplayedCrops) {
    Preprocess pre;
    pre.height = pre.width = 32;
    pre.resize_shorter = 40;
    const Image photo = gradient(60, 80);
    const CropGeometry g = crop_geometry(60, 80, pre);
    EXPECT_EQ(g.resized_height, 40);
    EXPECT_EQ(g.resized_width, 53);
    const Image resized = resize_bilinear(photo, 40, 53), crop = displayed_crop(photo, pre);
    for (int c = 0; c < 3; ++c) EXPECT_EQ(crop.at(5, 7, c), resized.at(5 + g.top, 7 + g.left, c));
}

TEST(Report, WritesIndexPagesAndFigures) {
    Fixture f;
    ReportOptions o;
    o.runs = {f.job.string()};
    const ReportSummary r = write_report(o);
    EXPECT_EQ(r.items, 2);
    EXPECT_EQ(r.figures, 4);
    EXPECT_EQ(r.index, (f.job / "report" / "index.html").string());
    const std::string index = read_file(r.index);
    EXPECT_NE(index.find("\"a/cat\""), std::string::npos);
    EXPECT_EQ(index.find("http://"), std::string::npos) << "nothing from the network";
    EXPECT_EQ(index.find("https://"), std::string::npos);
    const fs::path page = f.job / "report" / "pages" / "a" / "cat";
    const std::string html = read_file((page / "index.html").string());
    EXPECT_EQ(html.find("</script><script>x()"), std::string::npos) << "a label cannot end the data's element";
    EXPECT_NE(html.find("\"index\":\"../../index.html\""), std::string::npos);
    const Image fig = load_image((page / "figure-7.png").string());
    EXPECT_EQ(fig.height, 60);  // the photo's resolution, not the 32 × 32 crop
    EXPECT_GT(fig.width, 80);
    EXPECT_TRUE(fs::exists(page / "thumb.png"));
    EXPECT_TRUE(fs::exists(f.job / "report" / "report.json"));
    // Again: the older report is replaced in one step.
    make_result(f.job / "bird", f.photo);
    EXPECT_EQ(write_report(o).items, 3);
    f.expect_no_temporary();
}

TEST(Report, RunsOfOneInputShareAPage) {
    Fixture f;
    make_result(f.tmp.path() / "other" / "dog", f.photo);
    ReportOptions o;
    o.runs = {f.job.string(), (f.tmp.path() / "other").string()};
    o.out = (f.tmp.path() / "cmp").string();
    const ReportSummary r = write_report(o);
    EXPECT_EQ(r.items, 2);
    EXPECT_EQ(r.runs, 2);
    EXPECT_TRUE(fs::exists(f.tmp.path() / "cmp" / "pages" / "dog" / "figure-7-run2.png"));
    EXPECT_FALSE(fs::exists(f.tmp.path() / "cmp" / "pages" / "a" / "cat" / "figure-7-run2.png"));
}

TEST(Report, ShowsTheMostProbableClasses) {
    Fixture f;
    ReportOptions o;
    o.runs = {f.job.string()};
    o.max_classes = 1;
    EXPECT_EQ(write_report(o).figures, 2);  // one per input: class 7 (p 0.7), not class 3 (p 0.2)
    EXPECT_TRUE(fs::exists(f.job / "report" / "pages" / "dog" / "figure-7.png"));
    EXPECT_FALSE(fs::exists(f.job / "report" / "pages" / "dog" / "figure-3.png"));
}

TEST(Report, BadInputIsOneLineAndWritesNothing) {
    Fixture f;
    auto report = [&](const std::vector<std::string>& runs) {
        ReportOptions o;
        o.runs = runs;
        if (!runs.empty()) o.out = (f.job / "report").string();
        return input_error([&] { write_report(o); });
    };
    EXPECT_NE(report({}).find("no result folders"), std::string::npos);
    EXPECT_NE(report({(f.tmp.path() / "missing").string()}).find("not a folder"), std::string::npos);
    fs::create_directories(f.tmp.path() / "empty");
    EXPECT_NE(report({(f.tmp.path() / "empty").string()}).find("no results"), std::string::npos);
    f.expect_nothing_written();

    std::ofstream(f.job / "dog" / "summary.json") << "{ not json";
    EXPECT_NE(report({f.job.string()}).find("not valid JSON"), std::string::npos);
    f.expect_nothing_written();
    make_result(f.job / "dog", f.photo);
    std::ofstream(f.job / "dog" / "relevance.npy", std::ios::trunc) << "garbage";
    EXPECT_NE(report({f.job.string()}).find("relevance.npy"), std::string::npos);
    f.expect_nothing_written();
    fs::remove(f.job / "dog" / "relevance.npy");
    EXPECT_NE(report({f.job.string()}).find("missing"), std::string::npos);
    f.expect_nothing_written();
    make_result(f.job / "dog", f.photo, 3);  // three maps, two classes in summary.json
    EXPECT_NE(report({f.job.string()}).find("not one map per"), std::string::npos);
    f.expect_nothing_written();
}

TEST(Report, RefusesToReplaceWhatIsNotAReport) {
    Fixture f;
    fs::create_directories(f.tmp.path() / "keep");
    std::ofstream(f.tmp.path() / "keep" / "notes.txt") << "mine";
    ReportOptions o;
    o.runs = {f.job.string()};
    o.out = (f.tmp.path() / "keep").string();
    EXPECT_NE(input_error([&] { write_report(o); }).find("is not a pda report"), std::string::npos);
    EXPECT_EQ(read_file((f.tmp.path() / "keep" / "notes.txt").string()), "mine");
    o.out.clear();
    o.threshold = 1.5f;
    EXPECT_NE(input_error([&] { write_report(o); }).find("--threshold"), std::string::npos);
}

TEST(ReportCli, ExitCodesAndOneLine) {
    Fixture f;
    test::CmdResult r = test::run_pda("report " + (f.tmp.path() / "missing").string());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    r = test::run_pda("report");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    r = test::run_pda("report " + f.job.string() + " --threshold -1");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    f.expect_nothing_written();
    r = test::run_pda("report " + f.job.string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("2 inputs, 1 run, 4 figures"), std::string::npos) << r.output;
}

TEST(ReportCli, ExplainWritesTheReportAtTheEnd) {
    TempDir tmp(test::current_test_name());
    test::write_file(tmp.path() / "tiny.onnx", test::tiny_model());
    test::write_file(tmp.path() / "tiny.json", test::kTinySidecar);
    fs::create_directories(tmp.path() / "photos");
    for (int i = 0; i < 2; ++i)
        write_png((tmp.path() / "photos" / ("p" + std::to_string(i) + ".png")).string(), test::random_photo(20, 16, i));
    const fs::path out = tmp.path() / "out";
    const test::CmdResult r =
        test::run_pda("explain " + (tmp.path() / "tiny.onnx").string() + " " + (tmp.path() / "photos").string() +
                      " --sampler occlusion --k 4 --stride 2 --classes top2 --quiet --report --out " + out.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::string index = read_file((out / "report" / "index.html").string());
    EXPECT_NE(index.find("\"p0\""), std::string::npos);
    EXPECT_NE(index.find("\"p1\""), std::string::npos);
    const Image fig = load_image((out / "report" / "pages" / "p0" / "thumb.png").string());
    EXPECT_GT(fig.width, 0);
    EXPECT_EQ(test::run_pda("status " + out.string()).exit_code, 0);  // the report is no result of the job
}

}  // namespace
}  // namespace pda
