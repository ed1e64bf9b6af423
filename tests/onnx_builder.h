// Builds small ONNX models in memory for the importer's tests (constant folding, hostile files):
// float graph inputs, initializers of any element type, nodes with attributes. Nothing is written
// to disk unless a test does so itself, so no binary model is committed.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace pda::test {

class OnnxBuilder {
  public:
    using TP = onnx::TensorProto;

    explicit OnnxBuilder(int opset = 13) {
        m_.set_ir_version(8);
        auto* o = m_.add_opset_import();
        o->set_domain("");
        o->set_version(opset);
        g_ = m_.mutable_graph();
        g_->set_name("built");
    }

    // A float32 graph input of fixed dims.
    OnnxBuilder& input(const std::string& name, const std::vector<int64_t>& dims) {
        auto* v = g_->add_input();
        v->set_name(name);
        auto* tt = v->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(TP::FLOAT);
        for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
        return *this;
    }
    OnnxBuilder& output(const std::string& name) {
        g_->add_output()->set_name(name);
        return *this;
    }

    TP* floats(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v) {
        TP* t = tensor(name, TP::FLOAT, dims);
        for (float f : v) t->add_float_data(f);
        return t;
    }
    TP* int64s(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& v) {
        TP* t = tensor(name, TP::INT64, dims);
        for (int64_t i : v) t->add_int64_data(i);
        return t;
    }
    // An initializer with dims and type only; the test fills its data.
    TP* tensor(const std::string& name, int type, const std::vector<int64_t>& dims) {
        TP* t = g_->add_initializer();
        t->set_name(name);
        t->set_data_type(type);
        for (int64_t d : dims) t->add_dims(d);
        return t;
    }

    onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in,
                          const std::vector<std::string>& out, const std::string& name = "") {
        auto* n = g_->add_node();
        n->set_op_type(op);
        if (!name.empty()) n->set_name(name);
        for (const auto& i : in) n->add_input(i);
        for (const auto& o : out) n->add_output(o);
        return n;
    }
    static void attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
    }
    static void attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (int64_t i : v) a->add_ints(i);
    }
    // A Constant node holding tensor t (its name is set to the output).
    onnx::NodeProto* constant(const std::string& out, TP t) {
        auto* n = node("Constant", {}, {out});
        auto* a = n->add_attribute();
        a->set_name("value");
        a->set_type(onnx::AttributeProto::TENSOR);
        t.set_name(out);
        *a->mutable_t() = std::move(t);
        return n;
    }

    onnx::ModelProto& model() { return m_; }
    onnx::GraphProto& graph() { return *g_; }
    std::string bytes() const { return m_.SerializeAsString(); }

  private:
    onnx::ModelProto m_;
    onnx::GraphProto* g_;
};

// A logistic regression over a (1, 1, D, H, W) volume as pda's volume tests use it: input "volume" →
// Flatten → Gemm (2 classes, weights uniform in ±0.2 drawn from rng, bias ±0.1, transB) → Softmax
// "probabilities".
inline std::string logreg_volume_onnx(int64_t D, int64_t H, int64_t W, std::mt19937& rng) {
    const int64_t d = D * H * W;
    std::uniform_real_distribution<float> u(-0.2f, 0.2f);
    OnnxBuilder b;
    b.input("volume", {1, 1, D, H, W}).output("probabilities");
    std::vector<float> w(static_cast<size_t>(2 * d));
    for (float& v : w) v = u(rng);
    b.floats("W", {2, d}, w);
    b.floats("B", {2}, {0.1f, -0.1f});
    b.node("Flatten", {"volume"}, {"flat"});
    OnnxBuilder::attr(b.node("Gemm", {"flat", "W", "B"}, {"z"}), "transB", int64_t{1});
    OnnxBuilder::attr(b.node("Softmax", {"z"}, {"probabilities"}), "axis", int64_t{1});
    return b.bytes();
}

}  // namespace pda::test
