// ONNX ModelProto → Graph. One pass over the nodes in file order: each node is checked (opset,
// domain, attributes, value types, constant operands) and converted, and its output shape is
// inferred at once so that auto_pad can become explicit pads. Initializers, Constant nodes and
// frozen inputs are kept as raw TensorProtos and become float constants only where a node reads them.
#include "networks/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "weights/onnx_tensor.h"

namespace pda {
namespace {

using TP = onnx::TensorProto;
constexpr float kInf = std::numeric_limits<float>::infinity();

std::string join(const std::vector<int64_t>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}

// The attributes each supported op understands; any other attribute is refused, since ignoring it
// could change the meaning of the node.
const std::map<std::string, std::set<std::string>>& known_attributes() {
    static const std::map<std::string, std::set<std::string>> k = {
        {"Conv", {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}},
        {"MaxPool", {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"}},
        {"AveragePool", {"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"}},
        {"GlobalAveragePool", {}},
        {"GlobalMaxPool", {}},
        {"LRN", {"alpha", "beta", "bias", "size"}},
        {"Gemm", {"alpha", "beta", "transA", "transB"}},
        {"MatMul", {}},
        {"Flatten", {"axis"}},
        {"Reshape", {"allowzero"}},
        {"Concat", {"axis"}},
        {"Add", {}},
        {"Mul", {}},
        {"BatchNormalization", {"epsilon", "momentum", "training_mode", "spatial"}},
        {"Softmax", {"axis"}},
        {"Relu", {}},
        {"LeakyRelu", {"alpha"}},
        {"Clip", {"min", "max"}},
        {"Sigmoid", {}},
        {"Dropout", {"ratio", "seed"}},
        {"Identity", {}},
        {"Constant", {"value", "value_float", "value_floats", "value_int", "value_ints"}},
    };
    return k;
}

const std::map<std::string, OpType>& simple_ops() {
    static const std::map<std::string, OpType> k = {
        {"GlobalAveragePool", OpType::kGlobalAveragePool},
        {"GlobalMaxPool", OpType::kGlobalMaxPool},
        {"MatMul", OpType::kMatMul},
        {"Add", OpType::kAdd},
        {"Mul", OpType::kMul},
        {"Relu", OpType::kRelu},
        {"Sigmoid", OpType::kSigmoid},
        {"Identity", OpType::kIdentity},
    };
    return k;
}

class Importer {
  public:
    Importer(const onnx::ModelProto& m, std::string file, const OnnxImportOptions& opt)
        : m_(m), gp_(m.graph()), file_(std::move(file)), opt_(opt) {}

    Graph run() {
        find_opset();
        g_.name = gp_.name().empty() ? file_ : gp_.name();
        for (const TP& t : gp_.initializer()) {
            if (t.name().empty()) fail(file_ + ": an initializer has no name");
            raw_[t.name()] = &t;
            types_[t.name()] = t.data_type();
        }
        collect_types();
        read_inputs();
        for (int i = 0; i < gp_.node_size(); ++i) convert(gp_.node(i), i);
        for (const auto& o : gp_.output()) {
            bool is_float =
                !o.has_type() || (o.type().has_tensor_type() && (o.type().tensor_type().elem_type() == TP::FLOAT ||
                                                                 o.type().tensor_type().elem_type() == TP::UNDEFINED));
            if (!is_float) {
                if (const onnx::NodeProto* p = onnx_producer(o.name()))
                    refuse(*p, "output '" + o.name() + "' is " + type_of(o.type()) + "; pda computes in float32 only");
                fail(file_ + ": graph output '" + o.name() + "' is " + type_of(o.type()) +
                     "; pda computes in float32 only");
            }
            if (raw_.count(o.name())) float_const(o.name());
            g_.outputs.push_back(o.name());
        }
        for (const auto& [name, type] : deferred_inputs_)
            fail(file_ + ": graph input '" + name + "' is " + type + "; pda computes in float32 only");
        try {
            validate(g_);
            std::vector<Shape> in;
            for (const ValueInfo& v : g_.inputs) in.push_back(v.shape);
            infer_shapes(g_, in);
        } catch (const Error& e) {
            fail(file_ + ": " + e.what());
        }
        return std::move(g_);
    }

  private:
    [[noreturn]] static void fail(const std::string& what) { fail_input(what); }

    std::string node_name(const onnx::NodeProto& n, int index) const {
        return n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
    }

    [[noreturn]] void refuse(const onnx::NodeProto& n, const std::string& why) const {
        std::string name = n.name();
        for (int i = 0; name.empty() && i < gp_.node_size(); ++i)
            if (&gp_.node(i) == &n) name = node_name(n, i);
        fail(file_ + ": node '" + name + "' (" + n.op_type() + ", opset " + std::to_string(opset_) +
             ") is not supported: " + why);
    }

    const onnx::NodeProto* onnx_producer(const std::string& v) const {
        for (const onnx::NodeProto& n : gp_.node())
            for (const std::string& o : n.output())
                if (o == v) return &n;
        return nullptr;
    }

    static std::string type_of(const onnx::TypeProto& t) {
        if (t.has_tensor_type()) return onnx_type_name(t.tensor_type().elem_type());
        if (t.has_sequence_type()) return "a sequence";
        if (t.has_optional_type()) return "an optional";
        if (t.has_map_type()) return "a map";
        return "not a tensor";
    }

    void find_opset() {
        opset_ = -1;
        for (const auto& o : m_.opset_import())
            if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = static_cast<int>(o.version());
        if (opset_ < 0) {
            if (m_.ir_version() >= 3 || m_.opset_import_size() > 0)
                fail(file_ + ": the model imports no default-domain (ai.onnx) opset");
            opset_ = 1;  // IR versions 1–2 had no opset_import and meant opset 1
        }
        if (opset_ < kOnnxMinOpset || opset_ > kOnnxMaxOpset) {
            std::string why = "opset " + std::to_string(opset_) + " is outside the supported range " +
                              std::to_string(kOnnxMinOpset) + "–" + std::to_string(kOnnxMaxOpset);
            if (gp_.node_size() > 0) refuse(gp_.node(0), why);
            fail(file_ + ": " + why);
        }
    }

    // Element types of every value the file declares (inputs, outputs, value_info).
    void collect_types() {
        auto add = [&](const onnx::ValueInfoProto& v) {
            if (!v.has_type()) return;
            if (v.type().has_tensor_type()) {
                if (v.type().tensor_type().elem_type() != TP::UNDEFINED)
                    types_.emplace(v.name(), v.type().tensor_type().elem_type());
            } else {
                non_tensor_[v.name()] = type_of(v.type());
            }
        };
        for (const auto& v : gp_.input()) add(v);
        for (const auto& v : gp_.output()) add(v);
        for (const auto& v : gp_.value_info()) add(v);
    }

    void read_inputs() {
        for (const auto& v : gp_.input()) {
            const std::string& name = v.name();
            if (raw_.count(name)) continue;  // old files list initializers as inputs too
            auto fr = opt_.frozen_inputs.find(name);
            if (fr != opt_.frozen_inputs.end()) {
                owned_.emplace_back();
                read_tensor_pb(fr->second, owned_.back());
                raw_[name] = &owned_.back();
                types_[name] = owned_.back().data_type();
                continue;
            }
            if (!v.type().has_tensor_type() || v.type().tensor_type().elem_type() != TP::FLOAT) {
                deferred_inputs_[name] = type_of(v.type());  // refused by the first node reading it
                continue;
            }
            const auto& tt = v.type().tensor_type();
            if (!tt.has_shape()) fail(file_ + ": graph input '" + name + "' has no shape; pda needs fixed sizes");
            std::vector<int64_t> dims;
            for (int i = 0; i < tt.shape().dim_size(); ++i) {
                const auto& d = tt.shape().dim(i);
                if (d.has_dim_value() && d.dim_value() > 0) {
                    dims.push_back(d.dim_value());
                } else if (i == 0 && !d.has_dim_value()) {
                    dims.push_back(1);  // a symbolic batch: given per run
                } else {
                    fail(file_ + ": graph input '" + name + "' has dimension " +
                         (d.has_dim_param() ? "'" + d.dim_param() + "'" : std::to_string(d.dim_value())) + " at axis " +
                         std::to_string(i) + "; pda needs fixed, non-zero sizes");
                }
            }
            g_.inputs.push_back({name, Shape(dims)});
            shapes_[name] = Shape(dims);
        }
    }

    // ---- values ------------------------------------------------------------------------------

    const Tensor& float_const(const std::string& v) {
        auto it = g_.constants.find(v);
        if (it != g_.constants.end()) return it->second;
        const TP& t = *raw_.at(v);
        return g_.constants.emplace(v, onnx_to_float(t, file_ + ": tensor '" + v + "'")).first->second;
    }

    // A float operand: an activation of known float type, or a constant converted to float.
    void float_input(const onnx::NodeProto& n, const std::string& v) {
        auto d = deferred_inputs_.find(v);
        if (d != deferred_inputs_.end())
            refuse(n, "input '" + v + "' is " + d->second + "; pda computes in float32 only");
        auto nt = non_tensor_.find(v);
        if (nt != non_tensor_.end()) refuse(n, "input '" + v + "' is " + nt->second + ", not a tensor");
        auto t = types_.find(v);
        if (t != types_.end() && t->second != TP::FLOAT)
            refuse(n, "input '" + v + "' is " + onnx_type_name(t->second) + "; pda computes in float32 only");
        if (raw_.count(v)) {
            shapes_[v] = float_const(v).shape();
        } else if (!shapes_.count(v)) {
            refuse(n, "input '" + v + "' is not defined before this node");
        }
    }

    const TP& const_input(const onnx::NodeProto& n, const std::string& v, const std::string& role) {
        auto it = raw_.find(v);
        if (it == raw_.end()) refuse(n, role + " '" + v + "' must be a constant (initializer or Constant node)");
        return *it->second;
    }

    float scalar_input(const onnx::NodeProto& n, const std::string& v, const std::string& role) {
        const TP& t = const_input(n, v, role);
        Tensor f = onnx_to_float(t, file_ + ": tensor '" + v + "'");
        if (f.numel() != 1) refuse(n, role + " '" + v + "' must hold one value, it holds " + std::to_string(f.numel()));
        return f.data()[0];
    }

    bool output_used(const std::string& v) const {
        if (v.empty()) return false;
        for (const onnx::NodeProto& n : gp_.node())
            for (const std::string& i : n.input())
                if (i == v) return true;
        for (const auto& o : gp_.output())
            if (o.name() == v) return true;
        return false;
    }

    // ---- attributes --------------------------------------------------------------------------

    const onnx::AttributeProto* attr(const onnx::NodeProto& n, const char* name,
                                     onnx::AttributeProto::AttributeType type) const {
        for (const auto& a : n.attribute()) {
            if (a.name() != name) continue;
            if (a.has_ref_attr_name())
                refuse(n, std::string("attribute '") + name + "' refers to a function attribute");
            if (a.type() != type && a.type() != onnx::AttributeProto::UNDEFINED)
                refuse(n, std::string("attribute '") + name + "' has the wrong type");
            return &a;
        }
        return nullptr;
    }
    int64_t get_int(const onnx::NodeProto& n, const char* name, int64_t def) const {
        const auto* a = attr(n, name, onnx::AttributeProto::INT);
        return a ? a->i() : def;
    }
    float get_float(const onnx::NodeProto& n, const char* name, float def) const {
        const auto* a = attr(n, name, onnx::AttributeProto::FLOAT);
        return a ? a->f() : def;
    }
    std::vector<int64_t> get_ints(const onnx::NodeProto& n, const char* name) const {
        const auto* a = attr(n, name, onnx::AttributeProto::INTS);
        return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : std::vector<int64_t>{};
    }
    std::string get_string(const onnx::NodeProto& n, const char* name, const std::string& def) const {
        const auto* a = attr(n, name, onnx::AttributeProto::STRING);
        return a ? a->s() : def;
    }

    // ---- nodes -------------------------------------------------------------------------------

    void convert(const onnx::NodeProto& n, int index) {
        const std::string& op = n.op_type();
        if (!n.domain().empty() && n.domain() != "ai.onnx")
            refuse(n, "domain '" + n.domain() + "' is not supported (only the default ONNX domain)");
        auto known = known_attributes().find(op);
        if (known == known_attributes().end()) refuse(n, "pda has no " + op + " op");
        for (const auto& a : n.attribute())
            if (!known->second.count(a.name())) refuse(n, "attribute '" + a.name() + "' is not supported");
        if (n.output_size() < 1 || n.output(0).empty()) refuse(n, "the node has no output");
        for (const std::string& o : n.output()) {
            if (o.empty()) continue;
            auto nt = non_tensor_.find(o);
            if (nt != non_tensor_.end()) refuse(n, "output '" + o + "' is " + nt->second + ", not a tensor");
        }

        if (op == "Constant") return convert_constant(n);

        Node node;
        node.name = node_name(n, index);
        if (!node_names_.insert(node.name).second) node.name += "_" + std::to_string(index);
        node.output = n.output(0);
        if (raw_.count(node.output) || shapes_.count(node.output))
            refuse(n, "output '" + node.output + "' is defined twice");
        std::vector<std::string> in;  // present inputs, optional "" ones dropped at the end
        for (const std::string& v : n.input()) in.push_back(v);
        auto need_inputs = [&](size_t lo, size_t hi) {
            if (in.size() < lo || in.size() > hi || in[0].empty())
                refuse(n, "has " + std::to_string(in.size()) + " inputs, expects " + std::to_string(lo) +
                              (hi != lo ? "–" + std::to_string(hi) : ""));
        };
        auto data_inputs = [&](size_t count) {  // the first `count` inputs are float operands
            for (size_t i = 0; i < count && i < in.size(); ++i) {
                if (in[i].empty()) continue;
                float_input(n, in[i]);
                node.inputs.push_back(in[i]);
            }
        };
        auto only_first_output = [&](const char* what) {
            for (int i = 1; i < n.output_size(); ++i)
                if (output_used(n.output(i))) refuse(n, std::string("its ") + what + " output is used");
        };

        auto simple = simple_ops().find(op);
        if (simple != simple_ops().end()) {
            node.op = simple->second;
            size_t arity = (op == "MatMul" || op == "Add" || op == "Mul") ? 2 : 1;
            need_inputs(arity, arity);
            data_inputs(arity);
        } else if (op == "Conv") {
            node.op = OpType::kConv;
            need_inputs(2, 3);
            if (!raw_.count(in[1])) refuse(n, "weights '" + in[1] + "' must be a constant");
            if (in.size() > 2 && !in[2].empty() && !raw_.count(in[2]))
                refuse(n, "bias '" + in[2] + "' must be a constant");
            data_inputs(3);
            node.group = get_int(n, "group", 1);
            if (node.group < 1) refuse(n, "group must be positive");
            node.geo = geometry(n, in[0], shapes_.at(in[1]), false);
        } else if (op == "MaxPool" || op == "AveragePool") {
            node.op = op == "MaxPool" ? OpType::kMaxPool : OpType::kAveragePool;
            need_inputs(1, 1);
            data_inputs(1);
            if (op == "MaxPool") only_first_output("Indices");
            node.count_include_pad = get_int(n, "count_include_pad", 0) != 0;
            node.geo = geometry(n, in[0], Shape{}, true);
        } else if (op == "LRN") {
            node.op = OpType::kLRN;
            need_inputs(1, 1);
            data_inputs(1);
            node.alpha = get_float(n, "alpha", 1e-4f);
            node.beta = get_float(n, "beta", 0.75f);
            node.bias = get_float(n, "bias", 1.f);
            node.size = get_int(n, "size", 0);
            if (node.size < 1) refuse(n, "attribute 'size' is missing or not positive");
        } else if (op == "Gemm") {
            node.op = OpType::kGemm;
            need_inputs(2, 3);
            data_inputs(3);
            node.alpha = get_float(n, "alpha", 1.f);
            node.beta = get_float(n, "beta", 1.f);
            node.trans_a = get_int(n, "transA", 0) != 0;
            node.trans_b = get_int(n, "transB", 0) != 0;
        } else if (op == "Flatten") {
            node.op = OpType::kFlatten;
            need_inputs(1, 1);
            data_inputs(1);
            node.axis = get_int(n, "axis", 1);
        } else if (op == "Reshape") {
            node.op = OpType::kReshape;
            need_inputs(2, 2);
            data_inputs(1);
            auto t = types_.find(in[1]);
            if (t != types_.end() && t->second != TP::INT64)
                refuse(n, "shape '" + in[1] + "' is " + onnx_type_name(t->second) + ", expected int64");
            const TP& s = const_input(n, in[1], "shape");
            if (s.dims_size() != 1) refuse(n, "shape '" + in[1] + "' must be a 1-D tensor");
            node.shape = onnx_to_int64(s, file_ + ": tensor '" + in[1] + "'");
            node.allow_zero = opset_ >= 14 && get_int(n, "allowzero", 0) != 0;
        } else if (op == "Concat") {
            node.op = OpType::kConcat;
            need_inputs(1, 1u << 20);
            data_inputs(in.size());
            if (!attr(n, "axis", onnx::AttributeProto::INT)) refuse(n, "attribute 'axis' is missing");
            node.axis = get_int(n, "axis", 0);
        } else if (op == "BatchNormalization") {
            node.op = OpType::kBatchNorm;
            need_inputs(5, 5);
            for (size_t i = 1; i < 5; ++i)
                if (!raw_.count(in[i])) refuse(n, "statistic '" + in[i] + "' must be a constant");
            data_inputs(5);
            node.epsilon = get_float(n, "epsilon", 1e-5f);
            if (get_int(n, "training_mode", 0) != 0) refuse(n, "training_mode=1 (only inference is supported)");
            if (get_int(n, "spatial", 1) == 0) refuse(n, "spatial=0 (per-element statistics)");
            int listed = 0;
            for (int i = 1; i < n.output_size(); ++i) listed += !n.output(i).empty();
            // Before opset 14 the extra outputs themselves mean training mode (as onnxruntime reads it).
            if (opset_ < 14 && listed > 0) refuse(n, "it lists the training-mode outputs (mean, var, ...)");
            only_first_output("running mean/var");
        } else if (op == "Softmax") {
            node.op = OpType::kSoftmax;
            need_inputs(1, 1);
            data_inputs(1);
            // Before opset 13: coerce to 2-D at axis (default 1); flagged to the kernel by allow_zero.
            node.allow_zero = opset_ < 13;
            node.axis = get_int(n, "axis", opset_ < 13 ? 1 : -1);
        } else if (op == "LeakyRelu") {
            node.op = OpType::kLeakyRelu;
            need_inputs(1, 1);
            data_inputs(1);
            node.alpha = get_float(n, "alpha", 0.01f);
        } else if (op == "Clip") {
            node.op = OpType::kClip;
            need_inputs(1, opset_ < 11 ? 1 : 3);
            data_inputs(1);
            for (size_t i = 1; i < in.size(); ++i) {
                auto t = types_.find(in[i]);
                if (!in[i].empty() && t != types_.end() && t->second != TP::FLOAT)
                    refuse(n, "bound '" + in[i] + "' is " + onnx_type_name(t->second) + "; expected float");
            }
            bool has_min = in.size() > 1 && !in[1].empty(), has_max = in.size() > 2 && !in[2].empty();
            node.min = opset_ < 11 ? get_float(n, "min", -kInf) : has_min ? scalar_input(n, in[1], "min") : -kInf;
            node.max = opset_ < 11 ? get_float(n, "max", kInf) : has_max ? scalar_input(n, in[2], "max") : kInf;
        } else if (op == "Dropout") {
            node.op = OpType::kIdentity;
            need_inputs(1, 3);
            data_inputs(1);
            if (in.size() > 2 && !in[2].empty()) {
                const TP& t = const_input(n, in[2], "training_mode");
                std::vector<int64_t> v = onnx_to_int64(t, file_ + ": tensor '" + in[2] + "'");
                if (v.size() != 1) refuse(n, "training_mode must hold one value");
                if (v[0] != 0) refuse(n, "training_mode is true (only inference is supported)");
            }
            only_first_output("mask");
        } else {
            refuse(n, "pda has no " + op + " op");
        }
        infer_output(n, node);
        g_.nodes.push_back(std::move(node));
    }

    void convert_constant(const onnx::NodeProto& n) {
        if (n.attribute_size() != 1) refuse(n, "expects exactly one value attribute");
        const onnx::AttributeProto& a = n.attribute(0);
        owned_.emplace_back();
        TP& t = owned_.back();
        if (a.name() == "value") {
            if (!a.has_t()) refuse(n, "attribute 'value' holds no tensor");
            t = a.t();
        } else if (a.name() == "value_float") {
            t.set_data_type(TP::FLOAT);
            t.add_float_data(a.f());
        } else if (a.name() == "value_floats") {
            t.set_data_type(TP::FLOAT);
            t.add_dims(a.floats_size());
            for (float f : a.floats()) t.add_float_data(f);
        } else if (a.name() == "value_int") {
            t.set_data_type(TP::INT64);
            t.add_int64_data(a.i());
        } else {  // value_ints
            t.set_data_type(TP::INT64);
            t.add_dims(a.ints_size());
            for (int64_t i : a.ints()) t.add_int64_data(i);
        }
        const std::string& out = n.output(0);
        if (raw_.count(out) || shapes_.count(out)) refuse(n, "output '" + out + "' is defined twice");
        t.set_name(out);
        raw_[out] = &t;
        types_[out] = t.data_type();
    }

    // Kernel, strides, pads and dilations of Conv / pools; auto_pad becomes explicit pads.
    Geometry geometry(const onnx::NodeProto& n, const std::string& x, const Shape& w, bool pool) {
        std::vector<int64_t> k = get_ints(n, "kernel_shape");
        if (k.empty()) {
            if (pool) refuse(n, "attribute 'kernel_shape' is missing");
            k.assign(w.dims.begin() + 2, w.dims.begin() + std::max(w.rank, 2));
        }
        const int nd = static_cast<int>(k.size());
        if (nd < 1 || nd > kMaxSpatial) refuse(n, std::to_string(nd) + "-D windows are not supported (1-D to 3-D)");
        std::vector<int64_t> s = get_ints(n, "strides"), d = get_ints(n, "dilations"), p = get_ints(n, "pads");
        if (s.empty()) s.assign(nd, 1);
        if (d.empty()) d.assign(nd, 1);
        if (p.empty()) p.assign(2 * nd, 0);
        if (static_cast<int>(s.size()) != nd || static_cast<int>(d.size()) != nd ||
            static_cast<int>(p.size()) != 2 * nd)
            refuse(n, "strides [" + join(s) + "], dilations [" + join(d) + "] or pads [" + join(p) +
                          "] do not fit kernel_shape [" + join(k) + "]");
        Geometry g;
        g.nd = nd;
        g.ceil_mode = pool && get_int(n, "ceil_mode", 0) != 0;
        const Shape& xs = shapes_.at(x);
        if (xs.rank != nd + 2)
            refuse(n, "input " + xs.str() + " does not have " + std::to_string(nd) + " spatial axes");
        std::string auto_pad = get_string(n, "auto_pad", "NOTSET");
        for (int i = 0; i < nd; ++i) {
            if (k[i] < 1 || s[i] < 1 || d[i] < 1 || p[i] < 0 || p[nd + i] < 0)
                refuse(n, "kernel, strides and dilations must be positive and pads non-negative");
            g.kernel[i] = k[i];
            g.stride[i] = s[i];
            g.dilation[i] = d[i];
            g.pad_begin[i] = p[i];
            g.pad_end[i] = p[nd + i];
            if (auto_pad == "VALID") {
                g.pad_begin[i] = g.pad_end[i] = 0;
            } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
                int64_t in = xs[2 + i], out = (in + s[i] - 1) / s[i];
                int64_t total = std::max<int64_t>(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in);
                int64_t small = total / 2;
                g.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
                g.pad_end[i] = total - g.pad_begin[i];
            } else if (auto_pad != "NOTSET") {
                refuse(n, "auto_pad '" + auto_pad + "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
            }
        }
        return g;
    }

    // Output shape of the node just converted, from the graph's own shape rules.
    void infer_output(const onnx::NodeProto& n, const Node& node) {
        Graph one;
        one.name = g_.name;
        std::vector<Shape> in;
        for (const std::string& v : node.inputs) {
            one.inputs.push_back({v, shapes_.at(v)});
            in.push_back(shapes_.at(v));
        }
        one.nodes.push_back(node);
        try {
            shapes_[node.output] = infer_shapes(one, in).at(node.output);
        } catch (const Error& e) {
            refuse(n, e.what());
        }
    }

    const onnx::ModelProto& m_;
    const onnx::GraphProto& gp_;
    std::string file_;
    const OnnxImportOptions& opt_;
    int opset_ = 0;
    Graph g_;
    std::map<std::string, const TP*> raw_;  // initializers, Constant nodes, frozen inputs
    std::deque<TP> owned_;                  // the latter two
    std::map<std::string, int> types_;      // element types the file declares
    std::map<std::string, std::string> non_tensor_;
    std::map<std::string, std::string> deferred_inputs_;  // non-float graph inputs
    std::map<std::string, Shape> shapes_;
    std::set<std::string> node_names_;
};

Graph import_model(const onnx::ModelProto& m, const std::string& label, const OnnxImportOptions& opt) {
    if (m.ir_version() <= 0 || !m.has_graph())
        fail_input(label + ": not an ONNX model (no IR version or no graph; truncated or corrupt file?)");
    return Importer(m, label, opt).run();
}

}  // namespace

Graph import_onnx_bytes(const std::string& bytes, const std::string& label, const OnnxImportOptions& opt) {
    onnx::ModelProto m;
    if (!m.ParseFromString(bytes)) fail_input(label + ": not a valid ONNX model (truncated or corrupt file)");
    return import_model(m, label, opt);
}

Graph import_onnx(const std::string& path, const OnnxImportOptions& opt) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail_input(path + ": is a directory, not an ONNX model");
    std::ifstream f(path, std::ios::binary);
    if (!f) fail_input(path + ": cannot open the ONNX model (missing file or no permission)");
    std::stringstream ss;
    ss << f.rdbuf();
    if (f.bad()) fail_input(path + ": cannot read the ONNX model");
    return import_onnx_bytes(ss.str(), path, opt);
}

}  // namespace pda
