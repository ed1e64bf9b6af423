// Constant folding in the ONNX importer (networks/onnx_fold.cc): Identity nodes become renamings,
// and Cast / Shape / Reshape / Flatten / Squeeze / Unsqueeze / Transpose / Concat / Gather / Slice of
// constants become constants, each checked against the op's definition; what cannot be folded is
// refused with an error that names the node and says why.
#include <gtest/gtest.h>

#include <limits>

#include "engine/program.h"
#include "kernels/cpu/context.h"
#include "networks/onnx_import.h"
#include "onnx_builder.h"

namespace pda {
namespace {

using test::OnnxBuilder;
using TP = onnx::TensorProto;

Graph import(const OnnxBuilder& b) { return import_onnx_bytes(b.bytes(), "fold.onnx"); }

std::string input_error(const OnnxBuilder& b) {
    try {
        import(b);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error thrown";
    return "";
}

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); }

std::vector<float> run(const Graph& g, const Tensor& x) {
    CpuContext ctx;
    std::unique_ptr<Program> p = compile_cpu(g, {x.shape()}, ctx);
    p->run({x.view()});
    ConstTensorView y = p->value(g.outputs[0]);
    return std::vector<float>(y.data, y.data + y.numel());
}

// Adds y = x + value with x of the value's (float) shape and returns the constant the importer made
// of value; the graph must be that one Add, so value was folded.
Tensor folded(OnnxBuilder& b, const std::string& value, const std::vector<int64_t>& dims) {
    b.input("x", dims).output("y");
    b.node("Add", {"x", value}, {"y"}, "add");
    Graph g = import(b);
    EXPECT_EQ(g.nodes.size(), 1u);
    if (g.nodes.size() != 1 || !g.is_constant(g.nodes[0].inputs[1])) return Tensor();
    return g.constant(g.nodes[0].inputs[1]).clone();
}

// An int64 value read back through a folded Cast to float.
Tensor folded_ints(OnnxBuilder& b, const std::string& value, const std::vector<int64_t>& dims) {
    auto* c = b.node("Cast", {value}, {value + "_f"});
    OnnxBuilder::attr(c, "to", int64_t{TP::FLOAT});
    return folded(b, value + "_f", dims);
}

TEST(OnnxFold, IdentityBecomesARenaming) {
    auto build = [](bool identities) {
        OnnxBuilder b;
        b.input("x", {1, 3, 5, 5}).output("y");
        std::vector<float> w(4 * 27), w2(16);
        for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i % 13) - 0.05f;
        for (size_t i = 0; i < w2.size(); ++i) w2[i] = 0.1f * static_cast<float>(i % 5) - 0.2f;
        b.floats("w", {4, 3, 3, 3}, w);
        b.floats("w2", {4, 4, 1, 1}, w2);
        b.floats("b", {4}, {0, 0, 0, 0});
        if (identities) {  // as torch.onnx.export shares equal biases
            b.node("Identity", {"b"}, {"b_conv1"});
            b.node("Identity", {"b_conv1"}, {"b_conv2"});
        }
        b.node("Conv", {"x", "w", identities ? "b_conv1" : "b"}, {"c"}, "conv1");
        b.node("Relu", {"c"}, {"r"});
        if (identities) b.node("Identity", {"r"}, {"r_alias"});  // an activation renamed
        b.node("Conv", {identities ? "r_alias" : "r", "w2", identities ? "b_conv2" : "b"}, {"c2"}, "conv2");
        b.node(identities ? "Identity" : "Relu", {"c2"}, {"y"});  // a graph output stays a node
        return b;
    };
    Graph g = import(build(true));
    ASSERT_EQ(g.nodes.size(), 4u);
    EXPECT_EQ(g.nodes[0].inputs[2], "b");
    EXPECT_EQ(g.nodes[2].inputs[0], "r");
    EXPECT_EQ(g.nodes[2].inputs[2], "b");
    EXPECT_EQ(g.nodes[3].op, OpType::kIdentity);
    EXPECT_FALSE(g.is_constant("b_conv1"));
    EXPECT_FALSE(g.is_constant("b_conv2"));
    Tensor x(Shape{1, 3, 5, 5});
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>(i % 7) - 3.f;
    std::vector<float> with = run(g, x), without = run(import(build(false)), x);
    // The reference ends in Relu, the folded one in Identity: equal where the output is positive.
    ASSERT_EQ(with.size(), without.size());
    int positive = 0;
    for (size_t i = 0; i < with.size(); ++i) {
        if (with[i] <= 0) continue;
        EXPECT_EQ(with[i], without[i]) << i;
        ++positive;
    }
    EXPECT_GT(positive, 0);
}

TEST(OnnxFold, BiasComputedFromBuffersLikeAnUnfoldedTorchExport) {
    OnnxBuilder b;
    b.input("x", {1, 3, 2, 2}).output("y");
    TP* half = b.tensor("b_half", TP::FLOAT16, {3});
    for (int bits : {0x3800, 0xbd00, 0x4000}) half->add_int32_data(bits);  // 0.5, -1.25, 2
    b.floats("b_rest", {3}, {10, 20, 30});
    std::vector<float> w(18, 0.f);
    b.floats("w", {6, 3, 1, 1}, w);
    OnnxBuilder::attr(b.node("Cast", {"b_half"}, {"cast"}), "to", int64_t{TP::FLOAT});
    OnnxBuilder::attr(b.node("Concat", {"cast", "b_rest"}, {"cat"}), "axis", int64_t{0});
    TP shape;
    shape.set_data_type(TP::INT64);
    shape.add_dims(2);
    for (int64_t d : {2, 3}) shape.add_int64_data(d);
    b.constant("shape", shape);
    b.node("Reshape", {"cat", "shape"}, {"m"});
    b.node("Transpose", {"m"}, {"mt"});
    OnnxBuilder::attr(b.node("Flatten", {"mt"}, {"flat"}), "axis", int64_t{0});  // (1, 6)
    b.int64s("zero", {1}, {0});
    b.node("Squeeze", {"flat", "zero"}, {"v"});
    b.int64s("reverse", {6}, {5, 4, 3, 2, 1, 0});
    b.node("Gather", {"v", "reverse"}, {"bias"});
    b.node("Conv", {"x", "w", "bias"}, {"y"}, "conv");
    Graph g = import(b);
    ASSERT_EQ(g.nodes.size(), 1u);
    ASSERT_TRUE(g.is_constant(g.nodes[0].inputs[2]));
    // cat [.5 -1.25 2 10 20 30] → 2×3 → transposed [.5 10 -1.25 20 2 30] → reversed
    EXPECT_EQ(values(g.constant(g.nodes[0].inputs[2])), (std::vector<float>{30, 2, 20, -1.25f, 10, 0.5f}));
    EXPECT_EQ(g.constant(g.nodes[0].inputs[2]).shape(), Shape{6});
    Tensor x(Shape{1, 3, 2, 2});
    std::vector<float> y = run(g, x);
    EXPECT_EQ(y[0], 30.f);
    EXPECT_EQ(y[23], 0.5f);
}

TEST(OnnxFold, ShapeArithmeticFeedsAReshape) {
    OnnxBuilder b(15);
    b.input("x", {1, 12, 2}).output("y");
    b.tensor("w", TP::FLOAT, {2, 3, 4})->mutable_float_data()->Resize(24, 0.f);
    b.node("Shape", {"w"}, {"s"});  // [2, 3, 4]
    b.int64s("one", {1}, {1});
    b.int64s("end", {1}, {std::numeric_limits<int64_t>::max()});
    b.node("Slice", {"s", "one", "end"}, {"tail"});  // [3, 4]
    b.int64s("minus_one", {1}, {-1});
    OnnxBuilder::attr(b.node("Concat", {"tail", "minus_one"}, {"target"}), "axis", int64_t{0});
    b.node("Reshape", {"x", "target"}, {"y"}, "reshape");
    Graph g = import(b);
    ASSERT_EQ(g.nodes.size(), 1u);
    EXPECT_EQ(g.nodes[0].op, OpType::kReshape);
    EXPECT_EQ(g.nodes[0].shape, (std::vector<int64_t>{3, 4, -1}));
    EXPECT_EQ(infer_shapes(g, {Shape{1, 12, 2}}).at("y"), (Shape{3, 4, 2}));

    OnnxBuilder s(15);  // Shape's start and end (opset 15)
    s.tensor("w", TP::FLOAT, {2, 3, 4})->mutable_float_data()->Resize(24, 0.f);
    OnnxBuilder::attr(s.node("Shape", {"w"}, {"s"}), "start", int64_t{-2});
    EXPECT_EQ(values(folded_ints(s, "s", {2})), (std::vector<float>{3, 4}));
}

TEST(OnnxFold, MovementOpsMatchTheirDefinitions) {
    const std::vector<float> m23 = {0, 1, 2, 3, 4, 5};  // 2×3
    {
        OnnxBuilder b;
        b.floats("m", {2, 3}, m23);
        b.node("Transpose", {"m"}, {"t"});
        EXPECT_EQ(values(folded(b, "t", {3, 2})), (std::vector<float>{0, 3, 1, 4, 2, 5}));
    }
    {
        OnnxBuilder b;  // Gather on axis 1 with a 1×2 index tensor and a negative index: 2×1×2
        b.floats("m", {2, 3}, m23);
        b.int64s("i", {1, 2}, {-1, 0});
        OnnxBuilder::attr(b.node("Gather", {"m", "i"}, {"g"}), "axis", int64_t{1});
        Tensor t = folded(b, "g", {2, 1, 2});
        EXPECT_EQ(t.shape(), (Shape{2, 1, 2}));
        EXPECT_EQ(values(t), (std::vector<float>{2, 0, 5, 3}));
    }
    {
        OnnxBuilder b;  // Slice with a negative step and the lowest int64 as end: every third from the back
        std::vector<float> ten;
        for (int i = 0; i < 10; ++i) ten.push_back(static_cast<float>(i));
        b.floats("v", {10}, ten);
        b.int64s("st", {1}, {-1});
        b.int64s("en", {1}, {std::numeric_limits<int64_t>::min()});
        b.int64s("ax", {1}, {0});
        b.int64s("sp", {1}, {-3});
        b.node("Slice", {"v", "st", "en", "ax", "sp"}, {"s"});
        EXPECT_EQ(values(folded(b, "s", {4})), (std::vector<float>{9, 6, 3, 0}));
    }
    {
        OnnxBuilder b(9);  // Slice before opset 10: attributes
        b.floats("m", {2, 3}, m23);
        auto* n = b.node("Slice", {"m"}, {"s"});
        OnnxBuilder::attr(n, "starts", std::vector<int64_t>{1});
        OnnxBuilder::attr(n, "ends", std::vector<int64_t>{3});
        OnnxBuilder::attr(n, "axes", std::vector<int64_t>{1});
        EXPECT_EQ(values(folded(b, "s", {2, 2})), (std::vector<float>{1, 2, 4, 5}));
    }
    {
        OnnxBuilder b;  // Unsqueeze (axes as an input from opset 13), then Squeeze of every 1
        b.floats("v", {3}, {7, 8, 9});
        b.int64s("axes", {2}, {0, -1});
        b.node("Unsqueeze", {"v", "axes"}, {"u"});  // 1×3×1
        b.node("Squeeze", {"u"}, {"s"});
        b.int64s("axes2", {1}, {1});
        b.node("Unsqueeze", {"s", "axes2"}, {"col"});  // 3×1
        EXPECT_EQ(folded(b, "col", {3, 1}).shape(), (Shape{3, 1}));
    }
    {
        OnnxBuilder b(11);  // Unsqueeze and Squeeze before opset 13: attributes
        b.floats("v", {3}, {7, 8, 9});
        OnnxBuilder::attr(b.node("Unsqueeze", {"v"}, {"u"}), "axes", std::vector<int64_t>{0, 2});  // 1×3×1
        OnnxBuilder::attr(b.node("Squeeze", {"u"}, {"s"}), "axes", std::vector<int64_t>{0});
        EXPECT_EQ(folded(b, "s", {3, 1}).shape(), (Shape{3, 1}));
    }
    {
        OnnxBuilder b;  // Reshape of a constant with 0 (copy) and -1 (inferred); Concat on axis -1; Flatten
        b.floats("m", {2, 3}, m23);
        b.int64s("shape", {3}, {0, -1, 1});
        b.node("Reshape", {"m", "shape"}, {"r"});                                     // 2×3×1
        OnnxBuilder::attr(b.node("Concat", {"r", "r"}, {"c"}), "axis", int64_t{-1});  // 2×3×2
        OnnxBuilder::attr(b.node("Flatten", {"c"}, {"f"}), "axis", int64_t{2});       // 6×2
        Tensor t = folded(b, "f", {6, 2});
        EXPECT_EQ(t.shape(), (Shape{6, 2}));
        EXPECT_EQ(values(t), (std::vector<float>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5}));
    }
}

TEST(OnnxFold, CastsToFloatAndInt64) {
    {
        OnnxBuilder b;  // int64 → float
        b.int64s("i", {3}, {-2, 0, 40000000000});
        EXPECT_EQ(values(folded_ints(b, "i", {3})), (std::vector<float>{-2, 0, 4e10f}));
    }
    {
        OnnxBuilder b;  // float → int64 truncates toward zero, then serves as Reshape's target
        b.input("x", {1, 6}).output("y");
        b.floats("f", {2}, {3.9f, -1.5f});
        OnnxBuilder::attr(b.node("Cast", {"f"}, {"target"}), "to", int64_t{TP::INT64});
        b.node("Reshape", {"x", "target"}, {"y"});
        Graph g = import(b);
        ASSERT_EQ(g.nodes.size(), 1u);
        EXPECT_EQ(g.nodes[0].shape, (std::vector<int64_t>{3, -1}));
    }
    {
        OnnxBuilder b(5);  // Cast-1 names the type as a string
        b.int64s("i", {2}, {1, 2});
        auto* a = b.node("Cast", {"i"}, {"f"})->add_attribute();
        a->set_name("to");
        a->set_type(onnx::AttributeProto::STRING);
        a->set_s("FLOAT");
        EXPECT_EQ(values(folded(b, "f", {2})), (std::vector<float>{1, 2}));
    }
}

TEST(OnnxFold, WhatCannotBeFoldedIsRefusedByName) {
    {
        OnnxBuilder b;  // a fold-only op on a value computed at run time
        b.input("x", {1, 3}).output("y");
        OnnxBuilder::attr(b.node("Cast", {"x"}, {"c"}, "cast"), "to", int64_t{TP::FLOAT});
        b.node("Relu", {"c"}, {"y"});
        std::string msg = input_error(b);
        EXPECT_NE(msg.find("node 'cast' (Cast, opset 13) is not supported"), std::string::npos) << msg;
        EXPECT_NE(msg.find("only on constants"), std::string::npos) << msg;
        EXPECT_NE(msg.find("input 'x' is computed at run time"), std::string::npos) << msg;
    }
    auto refused = [](OnnxBuilder& b, const std::string& node, const std::string& why) {
        b.input("x", {1, 3}).output("y");
        b.node("Relu", {"x"}, {"y"});
        std::string msg = input_error(b);
        EXPECT_NE(msg.find("node '" + node + "'"), std::string::npos) << msg;
        EXPECT_NE(msg.find(why), std::string::npos) << msg;
    };
    {
        OnnxBuilder b;
        b.floats("m", {3}, {1, 2, 3});
        b.int64s("i", {1}, {7});
        b.node("Gather", {"m", "i"}, {"g"}, "gather");
        refused(b, "gather", "index 7 is out of range");
    }
    {
        OnnxBuilder b;
        b.floats("m", {3}, {1, 2, 3});
        b.int64s("axes", {2}, {0, 0});
        b.node("Unsqueeze", {"m", "axes"}, {"u"}, "unsq");
        refused(b, "unsq", "listed twice");
    }
    {
        OnnxBuilder b;
        b.floats("m", {3}, {1, 2, 3});
        OnnxBuilder::attr(b.node("Cast", {"m"}, {"c"}, "to_u8"), "to", int64_t{TP::UINT8});
        refused(b, "to_u8", "Cast to uint8 is not supported");
    }
    {
        OnnxBuilder b;
        b.floats("m", {2, 3}, {0, 1, 2, 3, 4, 5});
        b.int64s("shape", {1}, {4});
        b.node("Reshape", {"m", "shape"}, {"r"}, "reshape");
        refused(b, "reshape", "cannot reshape [2,3] to [4]");
    }
    {
        OnnxBuilder b;  // a fold whose output would pass the element limit: 65536 × 65536 from 1 MB of file
        b.tensor("rows", TP::FLOAT, {2, 65536})->mutable_float_data()->Resize(2 * 65536, 0.f);
        b.tensor("i", TP::INT64, {65536})->mutable_int64_data()->Resize(65536, 0);
        b.node("Gather", {"rows", "i"}, {"g"}, "blowup");
        refused(b, "blowup", "more than 2147483647 elements");
    }
    {
        OnnxBuilder b;  // an Identity may not redefine a value
        b.floats("m", {3}, {1, 2, 3});
        b.node("Identity", {"m"}, {"x"}, "again");
        refused(b, "again", "output 'x' is defined twice");
    }
}

}  // namespace
}  // namespace pda
