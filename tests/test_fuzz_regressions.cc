// Regression tests for what the libFuzzer campaign (fuzz/README.md) found in the parsers, one test
// per finding, each input rebuilt here in a few bytes or lines rather than committed as a file, and
// for the fixes of the same kind found beside them (is_utf8, the labels reader, the sampler writer).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "engine/gaussian.h"
#include "io/model_desc.h"
#include "io/sampler_file.h"
#include "kernels/utf8.h"
#include "networks/onnx_import.h"
#include "onnx_builder.h"
#include "tests/test_util.h"

namespace pda {
namespace {

using test::input_error;
using test::OnnxBuilder;

TEST(Utf8, AcceptsWellFormedAndRefusesMalformedSequences) {
    EXPECT_TRUE(is_utf8(""));
    EXPECT_TRUE(is_utf8("conv1/relu"));
    EXPECT_TRUE(is_utf8("caf\xC3\xA9"));            // é
    EXPECT_TRUE(is_utf8("\xE2\x82\xAC"));           // €
    EXPECT_TRUE(is_utf8("\xF0\x9F\x90\x88"));       // U+1F408
    EXPECT_TRUE(is_utf8("\xF4\x8F\xBF\xBF"));       // U+10FFFF, the last code point
    EXPECT_TRUE(is_utf8(std::string("a\0b", 3)));   // NUL is a character
    EXPECT_FALSE(is_utf8("con\xF6"));               // Latin-1 ö: what the fuzzer found
    EXPECT_FALSE(is_utf8("\x80"));                  // a continuation byte first
    EXPECT_FALSE(is_utf8("\xC3"));                  // cut short
    EXPECT_FALSE(is_utf8("\xE2\x82"));              // cut short
    EXPECT_FALSE(is_utf8("\xC3\x28"));              // not a continuation byte
    EXPECT_FALSE(is_utf8("\xC0\x80"));              // overlong NUL
    EXPECT_FALSE(is_utf8("\xE0\x80\xAF"));          // overlong '/'
    EXPECT_FALSE(is_utf8("\xF0\x80\x80\xAF"));      // overlong '/'
    EXPECT_FALSE(is_utf8("\xED\xA0\x80"));          // a UTF-16 surrogate
    EXPECT_FALSE(is_utf8("\xF4\x90\x80\x80"));      // above U+10FFFF
    EXPECT_FALSE(is_utf8("\xF8\x88\x80\x80\x80"));  // a five-byte form
}

// fuzz_onnx: a node name with a Latin-1 byte loaded, and `pda info --json` then failed with
// nlohmann's type_error 316 (an internal error, exit 1). Names are now checked at import.
TEST(FuzzRegressions, OnnxNamesThatAreNotUtf8AreRefusedAtImport) {
    auto model = [] {
        OnnxBuilder b;
        b.input("x", {1, 3}).output("y");
        b.node("Relu", {"x"}, {"y"}, "relu");
        return b;
    };
    OnnxBuilder b = model();
    b.graph().mutable_node(0)->set_name("con\xF6");
    std::string msg = input_error([&] { import_onnx_bytes(b.bytes(), "odd.onnx"); });
    EXPECT_NE(msg.find("odd.onnx: node name 'con\\xf6' is not UTF-8 text"), std::string::npos) << msg;

    b = model();
    b.graph().mutable_node(0)->set_output(0, "y\xFF");
    b.graph().mutable_output(0)->set_name("y\xFF");
    msg = input_error([&] { import_onnx_bytes(b.bytes(), "odd.onnx"); });
    EXPECT_NE(msg.find("is not UTF-8 text"), std::string::npos) << msg;

    b = model();
    b.graph().mutable_input(0)->set_name("\xC0\x80");
    msg = input_error([&] { import_onnx_bytes(b.bytes(), "odd.onnx"); });
    EXPECT_NE(msg.find("graph input name"), std::string::npos) << msg;

    b = model();
    b.graph().mutable_node(0)->set_name("caf\xC3\xA9");  // UTF-8 names load
    EXPECT_EQ(import_onnx_bytes(b.bytes(), "fine.onnx").nodes.at(0).name, "caf\xC3\xA9");
}

// Labels go into `predict --json` and summary.json: a line that is not UTF-8 is refused when the
// labels are read, not after the work; a UTF-8 byte order mark is not part of the first label.
TEST(FuzzRegressions, LabelsThatAreNotUtf8AreRefusedWhenRead) {
    test::TempDir dir("fuzz-regressions");
    const std::string path = dir.file("labels.txt");
    std::ofstream(path) << "n01440764 tench\ncaf\xE9\n";
    std::string msg = input_error([&] { load_labels(path); });
    EXPECT_NE(msg.find("line 2 of the labels file is not UTF-8 text"), std::string::npos) << msg;

    std::ofstream(path) << "\xEF\xBB\xBFn01440764 tench\ncaf\xC3\xA9\n";
    const std::vector<std::string> labels = load_labels(path);
    ASSERT_EQ(labels.size(), 2u);
    EXPECT_EQ(labels[0], "tench");
    EXPECT_EQ(labels[1], "caf\xC3\xA9");
}

// File names are bytes: fit-sampler on an image whose name is not UTF-8 used to fit, then fail to
// write the header (type_error 316, exit 1). The name is now written with U+FFFD.
TEST(FuzzRegressions, SamplerFileWithAFileNameThatIsNotUtf8IsWritten) {
    test::TempDir dir("fuzz-regressions");
    GaussianPatchModel m;
    m.k = 1;
    m.pad = 0;
    m.l = 1;
    m.channels = 3;
    m.mean = {0, 0, 0};
    m.cov = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    m.min = {-1, -1, -1};
    m.max = {1, 1, 1};
    m.patches = 10;
    SamplerFileMeta meta;
    meta.images = {"caf\xE9.png"};
    meta.model = "m\xFF.onnx";
    const std::string path = dir.file("s.pdas");
    write_sampler_file(path, m, meta);
    const SamplerFile f = read_sampler_file(path);
    ASSERT_EQ(f.meta.images.size(), 1u);
    EXPECT_EQ(f.meta.images[0], "caf\xEF\xBF\xBD.png");
    EXPECT_EQ(f.meta.model, "m\xEF\xBF\xBD.onnx");
}

}  // namespace
}  // namespace pda
