// ONNX nodes → pda nodes, for every default-domain opset from 1 to 17. Each op is read with the
// meaning of its newest version not after the model's opset (the ONNX operator changelog); the
// legacy forms before opset 7 become their modern equivalents:
//  * consumed_inputs (opsets 1–5: an in-place hint) and BatchNormalization's momentum are ignored;
//  * BatchNormalization and Dropout before 7 need is_test=1 (is_test=0, the default, is training);
//  * Add/Mul before 7 broadcast B onto A only with broadcast=1, aligned at `axis` (default: suffix)
//    with equal dimensions or B of one element: B gets trailing 1s (a constant B is reshaped);
//  * Gemm before 7: C is (M,N), or with broadcast=1 also (N) or one element;
//  * Reshape before 5 takes `shape` as an attribute; Concat before 4 defaults to axis 1;
//  * Clip before 11 defaults to the float range (lowest, max), as its schema says.
// An attribute added in a later opset than the model's is accepted only at the value that means
// what its absence meant; a legacy attribute outside its opsets is refused like any unknown one.
#include <algorithm>
#include <limits>

#include "networks/onnx_importer.h"
#include "weights/onnx_tensor.h"

namespace pda {
namespace onnx_detail {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kLatest = 1 << 30;

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
        {"Clip", {}},
        {"Sigmoid", {}},
        {"Dropout", {"ratio", "seed"}},
        {"Identity", {}},
        {"Constant", {"value", "value_float", "value_floats", "value_int", "value_ints"}},
    };
    return k;
}

// Attributes that only some opsets have: accepted in [first, last]; removed ones are refused after
// `last`; added ones (neutral >= 0) are accepted before `first` only when every value is `neutral`.
struct Versioned {
    const char* op;
    const char* name;
    int first, last;
    int neutral;  // -1: removed (or, for an added one, any value means the same)
};
constexpr Versioned kVersioned[] = {
    {"Add", "consumed_inputs", 1, 5, -1},
    {"Add", "broadcast", 1, 6, -1},
    {"Add", "axis", 1, 6, -1},
    {"Mul", "consumed_inputs", 1, 5, -1},
    {"Mul", "broadcast", 1, 6, -1},
    {"Mul", "axis", 1, 6, -1},
    {"Gemm", "broadcast", 1, 6, -1},
    {"BatchNormalization", "consumed_inputs", 1, 5, -1},
    {"BatchNormalization", "is_test", 1, 6, -1},
    {"BatchNormalization", "training_mode", 14, kLatest, 0},
    {"Dropout", "consumed_inputs", 1, 5, -1},
    {"Dropout", "is_test", 1, 6, -1},
    {"Dropout", "seed", 12, kLatest, -1},
    {"Relu", "consumed_inputs", 1, 5, -1},
    {"LeakyRelu", "consumed_inputs", 1, 5, -1},
    {"Sigmoid", "consumed_inputs", 1, 5, -1},
    {"Clip", "consumed_inputs", 1, 5, -1},
    {"Clip", "min", 1, 10, -1},
    {"Clip", "max", 1, 10, -1},
    {"Reshape", "consumed_inputs", 1, 4, -1},
    {"Reshape", "shape", 1, 4, -1},
    {"Reshape", "allowzero", 14, kLatest, 0},
    {"MaxPool", "storage_order", 8, kLatest, -1},  // only orders the Indices output (refused when used)
    {"MaxPool", "ceil_mode", 10, kLatest, 0},
    {"MaxPool", "dilations", 10, kLatest, 1},
    {"AveragePool", "count_include_pad", 7, kLatest, 0},
    {"AveragePool", "ceil_mode", 10, kLatest, 0},
};

const Versioned* versioned(const std::string& op, const std::string& name) {
    for (const Versioned& v : kVersioned)
        if (op == v.op && name == v.name) return &v;
    return nullptr;
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

}  // namespace

void Importer::check_attributes(const onnx::NodeProto& n) const {
    const std::string& op = n.op_type();
    auto known = known_attributes().find(op);
    if (known == known_attributes().end()) {
        if (folds_only_on_constants(op)) {
            for (const std::string& v : n.input())
                if (!v.empty() && !raw_.count(resolved(v)))
                    refuse(n, "pda evaluates '" + op + "' only on constants, at import, and input '" + v +
                                  "' is computed at run time");
            refuse(n, "pda evaluates '" + op + "' only into constants, and its output is a graph output");
        }
        refuse(n, "pda has no '" + shown(op) + "' op");
    }
    for (const auto& a : n.attribute()) {
        const Versioned* v = versioned(op, a.name());
        if (!v) {
            if (!known->second.count(a.name())) refuse(n, "attribute '" + a.name() + "' is not supported");
            continue;
        }
        if (opset_ >= v->first && opset_ <= v->last) continue;
        if (opset_ > v->last)
            refuse(n, "attribute '" + a.name() + "' is not supported (" + op + " has it only up to opset " +
                          std::to_string(v->last) + ")");
        if (v->neutral < 0) continue;
        bool neutral = a.type() == onnx::AttributeProto::INTS || a.ints_size() > 0 || a.i() == v->neutral;
        for (int64_t i : a.ints()) neutral = neutral && i == v->neutral;
        if (!neutral)
            refuse(n, "attribute '" + a.name() + "' is not supported (" + op + " has it only from opset " +
                          std::to_string(v->first) + "; before, only the value " + std::to_string(v->neutral) +
                          " keeps the node's meaning)");
    }
}

void Importer::convert(const onnx::NodeProto& n, int index) {
    const std::string& op = n.op_type();
    if (!n.domain().empty() && n.domain() != "ai.onnx")
        refuse(n, "domain '" + n.domain() + "' is not supported (only the default ONNX domain)");
    check_attributes(n);
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
    if (raw_.count(node.output) || shapes_.count(node.output) || alias_.count(node.output))
        refuse(n, "output '" + node.output + "' is defined twice");
    std::vector<std::string> in;  // present inputs (Identity renamings resolved), optional "" ones dropped at the end
    for (const std::string& v : n.input()) in.push_back(resolved(v));
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
    auto inference_only = [&]() {  // is_test before opset 7: 0 (the default) means training
        if (opset_ < 7 && get_int(n, "is_test", 0) == 0)
            refuse(n, "is_test=0 (training mode; only inference, is_test=1, is supported)");
    };

    auto simple = simple_ops().find(op);
    if (simple != simple_ops().end()) {
        node.op = simple->second;
        size_t arity = (op == "MatMul" || op == "Add" || op == "Mul") ? 2 : 1;
        need_inputs(arity, arity);
        data_inputs(arity);
        if (opset_ < 7 && (op == "Add" || op == "Mul")) legacy_broadcast(n, node);
    } else if (op == "Conv") {
        node.op = OpType::kConv;
        need_inputs(2, 3);
        if (!raw_.count(in[1])) refuse(n, "weights '" + in[1] + "' must be a constant");
        if (in.size() > 2 && !in[2].empty() && !raw_.count(in[2])) refuse(n, "bias '" + in[2] + "' must be a constant");
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
        if (opset_ < 7) legacy_gemm_bias(n, node);
    } else if (op == "Flatten") {
        node.op = OpType::kFlatten;
        need_inputs(1, 1);
        data_inputs(1);
        node.axis = get_int(n, "axis", 1);
    } else if (op == "Reshape") {
        node.op = OpType::kReshape;
        if (opset_ < 5) {  // the target shape is an attribute
            need_inputs(1, 1);
            data_inputs(1);
            if (!attr(n, "shape", onnx::AttributeProto::INTS)) refuse(n, "attribute 'shape' is missing");
            node.shape = get_ints(n, "shape");
        } else {
            need_inputs(2, 2);
            data_inputs(1);
            auto t = types_.find(in[1]);
            if (t != types_.end() && t->second != TP::INT64)
                refuse(n, "shape '" + in[1] + "' is " + onnx_type_name(t->second) + ", expected int64");
            const TP& s = const_input(n, in[1], "shape");
            if (s.dims_size() != 1) refuse(n, "shape '" + in[1] + "' must be a 1-D tensor");
            node.shape = onnx_to_int64(s, file_ + ": tensor '" + in[1] + "'");
        }
        node.allow_zero = get_int(n, "allowzero", 0) != 0;
    } else if (op == "Concat") {
        node.op = OpType::kConcat;
        need_inputs(1, 1u << 20);
        data_inputs(in.size());
        if (!attr(n, "axis", onnx::AttributeProto::INT) && opset_ >= 4) refuse(n, "attribute 'axis' is missing");
        node.axis = get_int(n, "axis", 1);  // optional before opset 4, default 1
    } else if (op == "BatchNormalization") {
        node.op = OpType::kBatchNorm;
        need_inputs(5, 5);
        for (size_t i = 1; i < 5; ++i)
            if (!raw_.count(in[i])) refuse(n, "statistic '" + in[i] + "' must be a constant");
        data_inputs(5);
        node.epsilon = get_float(n, "epsilon", 1e-5f);
        inference_only();
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
        constexpr float kLowest = std::numeric_limits<float>::lowest(), kMax = std::numeric_limits<float>::max();
        node.min = opset_ < 11 ? get_float(n, "min", kLowest) : has_min ? scalar_input(n, in[1], "min") : -kInf;
        node.max = opset_ < 11 ? get_float(n, "max", kMax) : has_max ? scalar_input(n, in[2], "max") : kInf;
    } else if (op == "Dropout") {
        node.op = OpType::kIdentity;
        need_inputs(1, opset_ < 12 ? 1 : 3);
        data_inputs(1);
        inference_only();
        if (in.size() > 2 && !in[2].empty()) {
            const TP& t = const_input(n, in[2], "training_mode");
            std::vector<int64_t> v = onnx_to_int64(t, file_ + ": tensor '" + in[2] + "'");
            if (v.size() != 1) refuse(n, "training_mode must hold one value");
            if (v[0] != 0) refuse(n, "training_mode is true (only inference is supported)");
        }
        only_first_output("mask");
    } else {
        refuse(n, "pda has no '" + shown(op) + "' op");
    }
    infer_output(n, node);
    g_.nodes.push_back(std::move(node));
}

// Add/Mul before opset 7 (A op B, the result shaped as A): without broadcast=1 the shapes must be
// equal; with it B is one element of rank ≤ rank(A), or a run of A's dimensions (no 1-expansion)
// starting at `axis`, default where B ends with A. Numpy broadcasting means the same once B ends
// with A: a B that stops short gets trailing 1s, which needs B to be a constant.
void Importer::legacy_broadcast(const onnx::NodeProto& n, Node& node) {
    const Shape a = shapes_.at(node.inputs[0]), b = shapes_.at(node.inputs[1]);
    const std::string ab = "A " + a.str() + " and B " + b.str();
    if (get_int(n, "broadcast", 0) == 0) {
        if (a != b) refuse(n, ab + " differ in shape and broadcast=1 is not set (legacy broadcasting)");
        return;
    }
    if (b.rank > a.rank) refuse(n, ab + ": B has the higher rank (legacy broadcasting extends B only)");
    if (b.numel() == 1) return;
    const auto* ax = attr(n, "axis", onnx::AttributeProto::INT);
    const int64_t start = ax ? ax->i() : a.rank - b.rank;
    if (start < 0 || start > a.rank - b.rank)
        refuse(n, ab + ": axis " + std::to_string(start) + " does not place B within A (legacy broadcasting)");
    for (int i = 0; i < b.rank; ++i)
        if (b[i] != a[static_cast<int>(start) + i])
            refuse(n, ab + ": B does not match A's dimensions from axis " + std::to_string(start) +
                          " (legacy broadcasting does not expand 1s)");
    const int trailing = a.rank - static_cast<int>(start) - b.rank;
    if (trailing == 0) return;
    const std::string& v = node.inputs[1];
    if (!raw_.count(v))
        refuse(n, ab + ": B '" + v + "' must be a constant to broadcast from axis " + std::to_string(start));
    Shape s = b;
    for (int i = 0; i < trailing; ++i) s[s.rank++] = 1;
    Tensor t = float_const(v).clone();
    t.reshape(s);
    std::string name = fresh_name(v + "_" + node.name + "_broadcast");
    bool read_before = false;  // else the unshaped B is dropped (float_const brings it back if read later)
    for (const Node& m : g_.nodes) read_before = read_before || std::count(m.inputs.begin(), m.inputs.end(), v);
    if (!read_before) g_.constants.erase(v);
    g_.constants.emplace(name, std::move(t));
    shapes_[name] = s;
    node.inputs[1] = name;
}

// Gemm before opset 7: C is (M,N); with broadcast=1 it may also be (N) or one element (legacy
// broadcasting: B's trailing dimensions, no 1-expansion), which numpy broadcasting reads alike.
void Importer::legacy_gemm_bias(const onnx::NodeProto& n, const Node& node) const {
    if (node.inputs.size() < 3) return;
    const Shape &a = shapes_.at(node.inputs[0]), &b = shapes_.at(node.inputs[1]), &c = shapes_.at(node.inputs[2]);
    if (a.rank != 2 || b.rank != 2) return;  // refused by the shape rules
    const Shape y{node.trans_a ? a[1] : a[0], node.trans_b ? b[0] : b[1]};
    if (c == y) return;
    if (get_int(n, "broadcast", 0) == 0)
        refuse(n, "C " + c.str() + " is not (M,N) = " + y.str() + " and broadcast=1 is not set");
    if ((c.numel() == 1 && c.rank <= 2) || (c.rank == 1 && c[0] == y[1])) return;
    refuse(n, "C " + c.str() + " is neither (M,N) = " + y.str() + ", (N) nor one element (legacy broadcasting)");
}

void Importer::convert_constant(const onnx::NodeProto& n) {
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
Geometry Importer::geometry(const onnx::NodeProto& n, const std::string& x, const Shape& w, bool pool) {
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
    if (static_cast<int>(s.size()) != nd || static_cast<int>(d.size()) != nd || static_cast<int>(p.size()) != 2 * nd)
        refuse(n, "strides [" + join(s) + "], dilations [" + join(d) + "] or pads [" + join(p) +
                      "] do not fit kernel_shape [" + join(k) + "]");
    Geometry g;
    g.nd = nd;
    g.ceil_mode = pool && get_int(n, "ceil_mode", 0) != 0;
    const Shape& xs = shapes_.at(x);
    if (xs.rank != nd + 2) refuse(n, "input " + xs.str() + " does not have " + std::to_string(nd) + " spatial axes");
    std::string auto_pad = get_string(n, "auto_pad", "NOTSET");
    for (int i = 0; i < nd; ++i) {
        if (k[i] < 1 || s[i] < 1 || d[i] < 1 || p[i] < 0 || p[nd + i] < 0)
            refuse(n, "kernel, strides and dilations must be positive and pads non-negative");
        for (int64_t v : {k[i], s[i], d[i], p[i], p[nd + i]})  // so that the pad arithmetic cannot overflow
            if (v > kMaxActivationElements)
                refuse(n, "kernel, strides, dilations and pads must be at most " +
                              std::to_string(kMaxActivationElements) + " (kMaxActivationElements)");
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
void Importer::infer_output(const onnx::NodeProto& n, const Node& node) {
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

}  // namespace onnx_detail
}  // namespace pda
