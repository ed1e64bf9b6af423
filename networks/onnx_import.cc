// ONNX ModelProto → Graph. First constant folding (onnx_fold.cc): Constant nodes, Identity
// renamings and nodes computed from constants alone become constants; then one pass over the other
// nodes in file order: each is checked (opset, domain, attributes, value types, constant operands) and
// converted (onnx_ops.cc), and its output shape is inferred at once so that auto_pad can become
// explicit pads. Initializers, Constant nodes, folded values and frozen inputs are kept as raw
// TensorProtos and become float constants only where a node reads them.
#include "networks/onnx_import.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "kernels/utf8.h"
#include "networks/onnx_importer.h"
#include "weights/onnx_tensor.h"

namespace pda {
namespace onnx_detail {

std::string join(const std::vector<int64_t>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}

std::string shown(const std::string& s, size_t max) {
    std::string out;
    size_t i = 0;
    for (; i < s.size() && out.size() < max; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != 0x7f) {
            out += s[i];
        } else {
            char e[8];
            std::snprintf(e, sizeof e, "\\x%02x", c);
            out += e;
        }
    }
    return i < s.size() ? out + "…" : out;
}

Graph Importer::run() {
    check_names();
    find_opset();
    g_.name = gp_.name().empty() ? file_ : gp_.name();
    for (const TP& t : gp_.initializer()) {
        if (t.name().empty()) fail(file_ + ": an initializer has no name");
        raw_[t.name()] = &t;
        types_[t.name()] = t.data_type();
        value_names_.insert(t.name());
    }
    for (const auto& v : gp_.input()) value_names_.insert(v.name());
    for (const onnx::NodeProto& n : gp_.node()) {
        value_names_.insert(n.input().begin(), n.input().end());
        value_names_.insert(n.output().begin(), n.output().end());
    }
    collect_types();
    read_inputs();
    fold_constants();
    for (int i = 0; i < gp_.node_size(); ++i)
        if (!folded_[i]) convert(gp_.node(i), i);
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

// Every name that can reach the graph (and so `pda info --json` and summary.json) is UTF-8, as ONNX
// requires of its strings; protobuf does not check that for ONNX's proto2 files.
void Importer::check_names() const {
    auto check = [&](const std::string& name, const std::string& what) {
        if (is_utf8(name)) return;
        std::string escaped;  // the name with its bytes above 0x7f escaped, so that the message is UTF-8
        for (const char c : name) {
            char e[8];
            std::snprintf(e, sizeof e, "\\x%02x", static_cast<unsigned char>(c));
            escaped += static_cast<unsigned char>(c) < 0x80 ? std::string(1, c) : std::string(e);
        }
        fail(file_ + ": " + what + " '" + shown(escaped) + "' is not UTF-8 text (ONNX names are UTF-8)");
    };
    for (const TP& t : gp_.initializer()) check(t.name(), "initializer name");
    for (const auto& v : gp_.input()) check(v.name(), "graph input name");
    for (const auto& v : gp_.output()) check(v.name(), "graph output name");
    for (const onnx::NodeProto& n : gp_.node()) {
        check(n.name(), "node name");
        check(n.op_type(), "op type");
        for (const std::string& v : n.input()) check(v, "value name");
        for (const std::string& v : n.output()) check(v, "value name");
    }
}

void Importer::refuse(const onnx::NodeProto& n, const std::string& why) const {
    std::string name = n.name();
    for (int i = 0; name.empty() && i < gp_.node_size(); ++i)
        if (&gp_.node(i) == &n) name = node_name(n, i);
    fail(file_ + ": node '" + shown(name) + "' (" + shown(n.op_type()) + ", opset " + std::to_string(opset_) +
         ") is not supported: " + why);
}

const onnx::NodeProto* Importer::onnx_producer(const std::string& v) const {
    for (const onnx::NodeProto& n : gp_.node())
        for (const std::string& o : n.output())
            if (o == v) return &n;
    return nullptr;
}

std::string Importer::type_of(const onnx::TypeProto& t) {
    if (t.has_tensor_type()) return onnx_type_name(t.tensor_type().elem_type());
    if (t.has_sequence_type()) return "a sequence";
    if (t.has_optional_type()) return "an optional";
    if (t.has_map_type()) return "a map";
    return "not a tensor";
}

void Importer::find_opset() {
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
void Importer::collect_types() {
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

void Importer::read_inputs() {
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

// ---- values ------------------------------------------------------------------------------------

const Tensor& Importer::float_const(const std::string& v) {
    auto it = g_.constants.find(v);
    if (it != g_.constants.end()) return it->second;
    const TP& t = *raw_.at(v);
    return g_.constants.emplace(v, onnx_to_float(t, file_ + ": tensor '" + v + "'")).first->second;
}

// A float operand: an activation of known float type, or a constant converted to float.
void Importer::float_input(const onnx::NodeProto& n, const std::string& v) {
    auto d = deferred_inputs_.find(v);
    if (d != deferred_inputs_.end()) refuse(n, "input '" + v + "' is " + d->second + "; pda computes in float32 only");
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

const TP& Importer::const_input(const onnx::NodeProto& n, const std::string& v, const std::string& role) {
    auto it = raw_.find(v);
    if (it == raw_.end()) refuse(n, role + " '" + v + "' must be a constant (initializer or Constant node)");
    return *it->second;
}

float Importer::scalar_input(const onnx::NodeProto& n, const std::string& v, const std::string& role) {
    const TP& t = const_input(n, v, role);
    Tensor f = onnx_to_float(t, file_ + ": tensor '" + v + "'");
    if (f.numel() != 1) refuse(n, role + " '" + v + "' must hold one value, it holds " + std::to_string(f.numel()));
    return f.data()[0];
}

bool Importer::output_used(const std::string& v) const {
    if (v.empty()) return false;
    for (const onnx::NodeProto& n : gp_.node())
        for (const std::string& i : n.input())
            if (i == v) return true;
    for (const auto& o : gp_.output())
        if (o.name() == v) return true;
    return false;
}

std::string Importer::fresh_name(const std::string& base) {
    std::string name = base;
    for (int k = 2; value_names_.count(name) || g_.constants.count(name); ++k) name = base + "_" + std::to_string(k);
    value_names_.insert(name);
    return name;
}

// ---- attributes --------------------------------------------------------------------------------

const onnx::AttributeProto* Importer::attr(const onnx::NodeProto& n, const char* name,
                                           onnx::AttributeProto::AttributeType type) const {
    for (const auto& a : n.attribute()) {
        if (a.name() != name) continue;
        if (a.has_ref_attr_name()) refuse(n, std::string("attribute '") + name + "' refers to a function attribute");
        if (a.type() != type && a.type() != onnx::AttributeProto::UNDEFINED)
            refuse(n, std::string("attribute '") + name + "' has the wrong type");
        return &a;
    }
    return nullptr;
}

int64_t Importer::get_int(const onnx::NodeProto& n, const char* name, int64_t def) const {
    const auto* a = attr(n, name, onnx::AttributeProto::INT);
    return a ? a->i() : def;
}

float Importer::get_float(const onnx::NodeProto& n, const char* name, float def) const {
    const auto* a = attr(n, name, onnx::AttributeProto::FLOAT);
    return a ? a->f() : def;
}

std::vector<int64_t> Importer::get_ints(const onnx::NodeProto& n, const char* name) const {
    const auto* a = attr(n, name, onnx::AttributeProto::INTS);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : std::vector<int64_t>{};
}

std::string Importer::get_string(const onnx::NodeProto& n, const char* name, const std::string& def) const {
    const auto* a = attr(n, name, onnx::AttributeProto::STRING);
    return a ? a->s() : def;
}

}  // namespace onnx_detail

namespace {

Graph import_model(const onnx::ModelProto& m, const std::string& label, const OnnxImportOptions& opt) {
    if (m.ir_version() <= 0 || !m.has_graph())
        fail_input(onnx_detail::shown(label, std::string::npos) +
                   ": not an ONNX model (no IR version or no graph; truncated or corrupt file?)");
    try {
        return onnx_detail::Importer(m, label, opt).run();
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::kInput) throw;
        fail_input(onnx_detail::shown(e.what(), std::string::npos));  // one line, whatever the file's names hold
    }
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
    // Parsed as it is read: the file's bytes are never held whole (a VGG16 is 0.55 GB), so the weights
    // are copied once, into the message, instead of through a growing buffer and two more copies.
    onnx::ModelProto m;
    const bool parsed = m.ParseFromIstream(&f);
    if (f.bad()) fail_input(path + ": cannot read the ONNX model");
    if (!parsed) fail_input(path + ": not a valid ONNX model (truncated or corrupt file)");
    return import_model(m, path, opt);
}

}  // namespace pda
