// Hostile ONNX files, built in memory: dimensions that claim more data than the file holds or more
// than kOnnxMaxTensorElements, products that would overflow, activations above
// kMaxActivationElements per image, window attributes that would overflow the size arithmetic,
// empty and corrupt op types and names. Each is one input error of one line, raised before anything
// large is allocated; the pda program exits 2 on it.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>

#include "networks/onnx_import.h"
#include "onnx_builder.h"
#include "test_util.h"
#include "tiny_model.h"
#include "weights/onnx_tensor.h"

namespace pda {
namespace {

using test::input_error;
using test::OnnxBuilder;
using TP = onnx::TensorProto;

std::string import_error(const OnnxBuilder& b) {
    return input_error([&] { import_onnx_bytes(b.bytes(), "hostile.onnx"); });
}

// y = x + b, x of 1×3; b as the test makes it.
OnnxBuilder add_model() {
    OnnxBuilder b;
    b.input("x", {1, 3}).output("y");
    b.node("Add", {"x", "b"}, {"y"}, "add");
    return b;
}

int64_t peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024;  // Linux: kilobytes
}

TEST(OnnxLimits, DimensionsAreCheckedAgainstTheDataBeforeAllocating) {
    const int64_t before = peak_rss_mb();
    OnnxBuilder b = add_model();  // 2·10⁹ floats claimed (8 GB), 3 stored
    TP* t = b.tensor("b", TP::FLOAT, {2000000000});
    for (float f : {1.f, 2.f, 3.f}) t->add_float_data(f);
    std::string msg = import_error(b);
    EXPECT_NE(msg.find("hostile.onnx: tensor 'b': tensor holds 3 values, its dimensions say 2000000000"),
              std::string::npos)
        << msg;
    t->clear_float_data();
    t->set_raw_data(std::string(12, '\0'));  // the same in raw_data
    msg = import_error(b);
    EXPECT_NE(msg.find("holds 3 values, its dimensions say 2000000000"), std::string::npos) << msg;
    t->set_data_type(TP::UINT8);  // and for the integer readers
    EXPECT_NE(input_error([&] { onnx_to_int64(*t, "t"); }).find("holds 12 values"), std::string::npos);
    EXPECT_NE(input_error([&] { onnx_to_raw(*t, "t"); }).find("holds 12 values"), std::string::npos);
    EXPECT_LT(peak_rss_mb() - before, 1000) << "the claimed 8 GB were allocated";
}

TEST(OnnxLimits, DimensionsOverTheLimitOrNegativeAreRefused) {
    OnnxBuilder b = add_model();
    TP* t = b.tensor("b", TP::FLOAT, {1 << 20, 1 << 20, 4});  // 2^42 elements, no data
    std::string msg = import_error(b);
    EXPECT_NE(msg.find("dimensions [1048576,1048576,4] claim 4.4e+12 elements, more than pda's limit of 2147483647"),
              std::string::npos)
        << msg;
    t->clear_dims();  // a product that overflows int64 is still just "too many"
    for (int64_t d : {int64_t{1} << 40, int64_t{1} << 40, int64_t{1} << 40}) t->add_dims(d);
    msg = import_error(b);
    EXPECT_NE(msg.find("more than pda's limit"), std::string::npos) << msg;
    t->clear_dims();
    for (int64_t d : {int64_t{3}, int64_t{-1}}) t->add_dims(d);
    msg = import_error(b);
    EXPECT_NE(msg.find("include a negative one"), std::string::npos) << msg;
    t->clear_dims();
    t->add_dims(3);
    t->set_raw_data(std::string(7, '\0'));  // not a whole number of floats
    msg = import_error(b);
    EXPECT_NE(msg.find("raw_data holds 7 bytes, not a whole number of float elements"), std::string::npos) << msg;
    t->set_data_type(TP::STRING);  // (the importer refuses it as an operand before it reads it)
    msg = input_error([&] { onnx_to_float(*t, "t"); });
    EXPECT_NE(msg.find("element type string is not supported"), std::string::npos) << msg;
}

TEST(OnnxLimits, ExternalDataIsRefusedBeforeItsDimensionsAreRead) {
    OnnxBuilder b = add_model();
    TP* t = b.tensor("b", TP::FLOAT, {int64_t{1} << 40});
    t->set_data_location(TP::EXTERNAL);
    auto* e = t->add_external_data();
    e->set_key("location");
    e->set_value("weights.bin");
    std::string msg = import_error(b);
    EXPECT_NE(msg.find("tensor 'b' keeps its data in an external file, which is not supported"), std::string::npos)
        << msg;
}

TEST(OnnxLimits, ActivationsOverTheLimitNameTheNodeAndShape) {
    OnnxBuilder b;  // 3×1000×1000 in, 4096 channels out: 4.1·10⁹ elements per image
    b.input("x", {1, 3, 1000, 1000}).output("y");
    b.tensor("w", TP::FLOAT, {4096, 3, 1, 1})->mutable_float_data()->Resize(4096 * 3, 0.f);
    b.node("Conv", {"x", "w"}, {"y"}, "wide");
    std::string msg = import_error(b);
    EXPECT_NE(msg.find("node 'wide' (Conv"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(1×4096×1000×1000)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("more than 2147483647 elements per image (kMaxActivationElements)"), std::string::npos) << msg;

    OnnxBuilder in;  // a graph input that is too large by itself (10^12 elements)
    in.input("x", {1, 1000, 1000, 1000, 1000}).output("y");
    in.node("Relu", {"x"}, {"y"}, "relu");
    msg = import_error(in);
    EXPECT_NE(msg.find("'x' of shape (1×1000×1000×1000×1000)"), std::string::npos) << msg;

    OnnxBuilder r;  // a Reshape target whose product would overflow
    r.input("x", {1, 3}).output("y");
    r.int64s("shape", {3}, {int64_t{1} << 40, int64_t{1} << 40, int64_t{1} << 40});
    r.node("Reshape", {"x", "shape"}, {"y"}, "reshape");
    msg = import_error(r);
    EXPECT_NE(msg.find("node 'reshape'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("more than 2147483647 elements"), std::string::npos) << msg;
}

TEST(OnnxLimits, TheActivationLimitIsPerImage) {
    Graph g;
    g.name = "batch";
    g.inputs.push_back({"x", Shape{1, 3, 1000, 1000}});
    g.outputs.push_back("y");
    g.nodes.push_back(test::make_node("relu", OpType::kRelu, {"x"}, "y"));
    // 1000 images of 3·10⁶ elements: 3·10⁹ in all, far below the limit per image.
    EXPECT_EQ(infer_shapes(g, {Shape{1000, 3, 1000, 1000}}).at("y"), (Shape{1000, 3, 1000, 1000}));
    std::string msg = input_error([&] { infer_shapes(g, {Shape{1, 3, 40000, 40000}}); });
    EXPECT_NE(msg.find("more than 2147483647 elements per image"), std::string::npos) << msg;
}

TEST(OnnxLimits, WindowAttributesThatWouldOverflowAreRefused) {
    OnnxBuilder b;
    b.input("x", {1, 1, 4, 4}).output("y");
    auto* n = b.node("MaxPool", {"x"}, {"y"}, "pool");
    OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
    OnnxBuilder::attr(n, "pads", std::vector<int64_t>{int64_t{1} << 62, 0, int64_t{1} << 62, 0});
    std::string msg = import_error(b);
    EXPECT_NE(msg.find("node 'pool' (MaxPool, opset 13)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("must be at most 2147483647"), std::string::npos) << msg;
}

TEST(OnnxLimits, EmptyAndCorruptOpTypes) {
    OnnxBuilder b;
    b.input("x", {1, 3}).output("y");
    b.node("Relu", {"x"}, {"r"});
    b.node("", {"r"}, {"y"});
    EXPECT_NE(import_error(b).find("hostile.onnx: node 1 has an empty op type"), std::string::npos);
    b.graph().mutable_node(1)->set_name("named");
    EXPECT_NE(import_error(b).find("hostile.onnx: node 'named' has an empty op type"), std::string::npos);

    b.graph().mutable_node(1)->set_op_type(std::string("Re\nlu\x01", 6));
    std::string msg = import_error(b);
    EXPECT_NE(msg.find("pda has no 'Re\\x0alu\\x01' op"), std::string::npos) << msg;
    b.graph().mutable_node(1)->set_op_type(std::string(100000, 'A'));  // shown, but not in full
    msg = import_error(b);
    EXPECT_LT(msg.size(), 400u) << msg.substr(0, 400);
    EXPECT_NE(msg.find("pda has no 'AAAA"), std::string::npos) << msg.substr(0, 400);
    b.graph().mutable_node(1)->set_op_type("Tan");  // a name with a line break: still one line
    b.graph().mutable_node(1)->set_name("two\nlines");
    msg = import_error(b);
    EXPECT_NE(msg.find("node 'two\\x0alines' (Tan, opset 13) is not supported: pda has no 'Tan' op"), std::string::npos)
        << msg;
}

TEST(OnnxLimits, ThePdaProgramExitsTwoWithOneLine) {
    onnx::ModelProto m;
    ASSERT_TRUE(m.ParseFromString(test::tiny_model()));
    TP* w = m.mutable_graph()->mutable_initializer(0);  // the conv weight claims 2·10⁹ floats
    w->clear_dims();
    w->add_dims(2000000000);
    test::TempDir d("onnx-limits");
    d.write("huge.json", test::kTinySidecar);
    test::CmdResult r = test::run_pda("info " + d.write("huge.onnx", m.SerializeAsString()));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("its dimensions say 2000000000"), std::string::npos) << r.output;
    std::string trimmed = r.output.substr(0, r.output.find_last_not_of('\n') + 1);
    EXPECT_EQ(trimmed.find('\n'), std::string::npos) << "one line: " << r.output;
}

}  // namespace
}  // namespace pda
