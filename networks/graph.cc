// Graph bookkeeping: op names, window geometry, shape inference, FLOP counts, validation and the
// two exact fusions (BatchNorm into Conv, ReLU into Conv/Gemm).
#include "networks/graph.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace pda {

const char* op_name(OpType op) {
    switch (op) {
        case OpType::kConv:
            return "Conv";
        case OpType::kRelu:
            return "Relu";
        case OpType::kLeakyRelu:
            return "LeakyRelu";
        case OpType::kClip:
            return "Clip";
        case OpType::kSigmoid:
            return "Sigmoid";
        case OpType::kMaxPool:
            return "MaxPool";
        case OpType::kAveragePool:
            return "AveragePool";
        case OpType::kGlobalAveragePool:
            return "GlobalAveragePool";
        case OpType::kGlobalMaxPool:
            return "GlobalMaxPool";
        case OpType::kLRN:
            return "LRN";
        case OpType::kGemm:
            return "Gemm";
        case OpType::kMatMul:
            return "MatMul";
        case OpType::kFlatten:
            return "Flatten";
        case OpType::kReshape:
            return "Reshape";
        case OpType::kConcat:
            return "Concat";
        case OpType::kAdd:
            return "Add";
        case OpType::kMul:
            return "Mul";
        case OpType::kBatchNorm:
            return "BatchNormalization";
        case OpType::kSoftmax:
            return "Softmax";
        case OpType::kIdentity:
            return "Identity";
    }
    return "?";
}

Geometry Geometry::square(int nd, int64_t kernel, int64_t stride, int64_t pad, bool ceil_mode) {
    Geometry g;
    g.nd = nd;
    for (int i = 0; i < nd; ++i) {
        g.kernel[i] = kernel;
        g.stride[i] = stride;
        g.pad_begin[i] = g.pad_end[i] = pad;
        g.dilation[i] = 1;
    }
    g.ceil_mode = ceil_mode;
    return g;
}

int64_t Geometry::out_size(int axis, int64_t in) const {
    int64_t span = in + pad_begin[axis] + pad_end[axis] - dilation[axis] * (kernel[axis] - 1) - 1;
    if (span < 0) return 0;
    int64_t out = (ceil_mode ? (span + stride[axis] - 1) / stride[axis] : span / stride[axis]) + 1;
    // Ceil mode never starts a window inside the end padding (ONNX, PyTorch, Caffe agree).
    if (ceil_mode && (out - 1) * stride[axis] >= in + pad_begin[axis]) --out;
    return out;
}

const Tensor& Graph::constant(const std::string& v) const {
    auto it = constants.find(v);
    if (it == constants.end()) fail_input("graph '" + name + "': constant '" + v + "' is missing");
    return it->second;
}

const Node* Graph::find_node(const std::string& n) const {
    for (const Node& node : nodes)
        if (node.name == n) return &node;
    return nullptr;
}

const Node* Graph::producer(const std::string& v) const {
    for (const Node& node : nodes)
        if (node.output == v) return &node;
    return nullptr;
}

namespace {

[[noreturn]] void node_error(const Node& n, const std::string& what) {
    fail_input(std::string("node '") + n.name + "' (" + op_name(n.op) + "): " + what);
}

// numpy broadcasting of two shapes
Shape broadcast(const Node& n, const Shape& a, const Shape& b) {
    Shape out;
    out.rank = std::max(a.rank, b.rank);
    for (int i = 0; i < out.rank; ++i) {
        int ia = a.rank - out.rank + i, ib = b.rank - out.rank + i;
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1) node_error(n, "cannot broadcast " + a.str() + " with " + b.str());
        out[i] = da == 1 ? db : da;
    }
    return out;
}

// The element count of s, saturated at INT64_MAX instead of overflowing; -1 for a negative dimension.
int64_t checked_numel(const Shape& s) {
    int64_t n = 1;
    for (int i = 0; i < s.rank; ++i) {
        if (s[i] < 0) return -1;
        if (s[i] > 0 && n > std::numeric_limits<int64_t>::max() / s[i]) return std::numeric_limits<int64_t>::max();
        n *= s[i];
    }
    return n;
}

// Refuses a value of more than kMaxActivationElements elements per image (batch: the run's batch size).
void check_size(const Node* n, const std::string& value, const Shape& s, int64_t batch) {
    const int64_t count = checked_numel(s);
    if (count >= 0 && count / std::max<int64_t>(batch, 1) <= kMaxActivationElements) return;
    std::string what = (count < 0 ? "has a negative dimension"
                                  : "has more than " + std::to_string(kMaxActivationElements) +
                                        " elements per image (kMaxActivationElements)");
    what = "value '" + value + "' of shape " + s.str() + " " + what;
    if (n) node_error(*n, what);
    fail_input(what);
}

Shape window_output(const Node& n, const Shape& x, int64_t channels) {
    if (x.rank != n.geo.nd + 2)
        node_error(n, "input " + x.str() + " does not have " + std::to_string(n.geo.nd) + " spatial axes");
    for (int i = 0; i < n.geo.nd; ++i) {  // bounded so that out_size cannot overflow
        const Geometry& g = n.geo;
        for (int64_t v : {g.kernel[i], g.stride[i], g.pad_begin[i], g.pad_end[i], g.dilation[i]})
            if (v < 0 || v > kMaxActivationElements)
                node_error(n, "kernel, stride, pad or dilation " + std::to_string(v) + " is outside 0–" +
                                  std::to_string(kMaxActivationElements));
    }
    Shape y = x;
    y[1] = channels;
    for (int i = 0; i < n.geo.nd; ++i) {
        int64_t o = n.geo.out_size(i, x[2 + i]);
        if (o <= 0) node_error(n, "input " + x.str() + " is smaller than the kernel");
        y[2 + i] = o;
    }
    return y;
}

Shape infer_node(const Node& n, const std::vector<Shape>& in) {
    auto need = [&](size_t k) {
        if (in.size() < k) node_error(n, "expects " + std::to_string(k) + " inputs, has " + std::to_string(in.size()));
    };
    switch (n.op) {
        case OpType::kConv: {
            need(2);
            const Shape &x = in[0], &w = in[1];
            if (w.rank != x.rank) node_error(n, "weight " + w.str() + " does not match input " + x.str());
            if (x[1] != w[1] * n.group)
                node_error(n, "input has " + std::to_string(x[1]) + " channels, weight expects " +
                                  std::to_string(w[1] * n.group) + " (group " + std::to_string(n.group) + ")");
            if (w[0] % n.group != 0) node_error(n, "output channels not divisible by group");
            for (int i = 0; i < n.geo.nd; ++i)
                if (w[2 + i] != n.geo.kernel[i]) node_error(n, "weight " + w.str() + " does not match kernel_shape");
            if (in.size() > 2 && (in[2].rank != 1 || in[2][0] != w[0])) node_error(n, "bias shape " + in[2].str());
            return window_output(n, x, w[0]);
        }
        case OpType::kMaxPool:
        case OpType::kAveragePool:
            need(1);
            return window_output(n, in[0], in[0][1]);
        case OpType::kGlobalAveragePool:
        case OpType::kGlobalMaxPool: {
            need(1);
            if (in[0].rank < 3) node_error(n, "input " + in[0].str() + " has no spatial axes");
            Shape y = in[0];
            for (int i = 2; i < y.rank; ++i) y[i] = 1;
            return y;
        }
        case OpType::kRelu:
        case OpType::kLeakyRelu:
        case OpType::kClip:
        case OpType::kSigmoid:
        case OpType::kIdentity:
        case OpType::kSoftmax:
            need(1);
            return in[0];
        case OpType::kLRN:
        case OpType::kBatchNorm:
            need(1);
            if (in[0].rank < 2) node_error(n, "input " + in[0].str() + " has no channel axis");
            if (n.op == OpType::kBatchNorm) {
                need(5);
                for (int i = 1; i < 5; ++i)
                    if (in[i].numel() != in[0][1]) node_error(n, "statistics of shape " + in[i].str());
            }
            return in[0];
        case OpType::kGemm: {
            need(2);
            const Shape &a = in[0], &b = in[1];
            if (a.rank != 2 || b.rank != 2) node_error(n, "expects 2-D operands, got " + a.str() + " and " + b.str());
            int64_t m = n.trans_a ? a[1] : a[0], ka = n.trans_a ? a[0] : a[1];
            int64_t kb = n.trans_b ? b[1] : b[0], nn = n.trans_b ? b[0] : b[1];
            if (ka != kb) node_error(n, "inner dimensions differ: " + a.str() + " and " + b.str());
            Shape y{m, nn};
            if (in.size() > 2 && broadcast(n, y, in[2]) != y)
                node_error(n, "bias " + in[2].str() + " does not broadcast");
            return y;
        }
        case OpType::kMatMul: {
            need(2);
            Shape a = in[0], b = in[1];
            if (a.rank < 1 || b.rank < 1) node_error(n, "scalar operand");
            bool va = a.rank == 1, vb = b.rank == 1;
            if (va) a = Shape{1, a[0]};
            if (vb) b = Shape{b[0], 1};
            if (a.at(-1) != b.at(-2)) node_error(n, "inner dimensions differ: " + in[0].str() + " and " + in[1].str());
            Shape ba = a, bb = b;
            ba.rank -= 2;
            bb.rank -= 2;
            Shape y = broadcast(n, ba, bb);
            if (!va) y[y.rank++] = a.at(-2);
            if (!vb) y[y.rank++] = b.at(-1);
            return y;
        }
        case OpType::kFlatten: {
            need(1);
            int64_t axis = n.axis < 0 ? n.axis + in[0].rank : n.axis;
            if (axis < 0 || axis > in[0].rank) node_error(n, "axis out of range");
            int64_t outer = 1;
            for (int i = 0; i < axis; ++i) outer *= in[0][i];
            return Shape{outer, in[0].numel() / std::max<int64_t>(outer, 1)};
        }
        case OpType::kReshape: {
            need(1);
            Shape y;
            int infer = -1;
            int64_t known = 1;
            if (static_cast<int>(n.shape.size()) > kMaxRank) node_error(n, "target rank too large");
            y.rank = static_cast<int>(n.shape.size());
            for (int i = 0; i < y.rank; ++i) {
                int64_t d = n.shape[i];
                if (d == 0 && !n.allow_zero) {
                    if (i >= in[0].rank) node_error(n, "0 in target shape refers to a missing input axis");
                    d = in[0][i];
                }
                if (d == -1) {
                    if (infer >= 0) node_error(n, "more than one -1 in target shape");
                    infer = i;
                    d = 1;
                } else if (d < 0) {
                    node_error(n, "negative dimension in target shape");
                }
                y[i] = d;
                if (d > 0 && known > kMaxActivationElements / d)
                    node_error(n, "target shape " + Shape(n.shape).str() + " has more than " +
                                      std::to_string(kMaxActivationElements) + " elements (kMaxActivationElements)");
                known *= d;
            }
            if (infer >= 0) {
                if (known == 0 || in[0].numel() % known) node_error(n, "cannot infer -1 for " + in[0].str());
                y[infer] = in[0].numel() / known;
            }
            if (y.numel() != in[0].numel()) node_error(n, "cannot reshape " + in[0].str() + " to " + y.str());
            return y;
        }
        case OpType::kConcat: {
            need(1);
            Shape y = in[0];
            int64_t axis = n.axis < 0 ? n.axis + y.rank : n.axis;
            if (axis < 0 || axis >= y.rank) node_error(n, "axis out of range");
            for (size_t k = 1; k < in.size(); ++k) {
                if (in[k].rank != y.rank) node_error(n, "inputs of different ranks");
                for (int i = 0; i < y.rank; ++i)
                    if (i != axis && in[k][i] != y[i])
                        node_error(n, "input " + in[k].str() + " does not fit " + y.str());
                y[axis] += in[k][axis];
            }
            return y;
        }
        case OpType::kAdd:
        case OpType::kMul:
            need(2);
            return broadcast(n, in[0], in[1]);
    }
    node_error(n, "unknown op");
}

}  // namespace

std::map<std::string, Shape> infer_shapes(const Graph& g, const std::vector<Shape>& input_shapes) {
    if (input_shapes.size() != g.inputs.size())
        fail_input("graph '" + g.name + "' takes " + std::to_string(g.inputs.size()) + " inputs, got " +
                   std::to_string(input_shapes.size()));
    std::map<std::string, Shape> shapes;
    for (const auto& [name, t] : g.constants) shapes[name] = t.shape();
    const int64_t batch = !input_shapes.empty() && input_shapes[0].rank > 0 ? input_shapes[0][0] : 1;
    for (size_t i = 0; i < g.inputs.size(); ++i) {
        check_size(nullptr, g.inputs[i].name, input_shapes[i], batch);
        shapes[g.inputs[i].name] = input_shapes[i];
    }
    for (const Node& n : g.nodes) {
        std::vector<Shape> in;
        for (const std::string& v : n.inputs) {
            auto it = shapes.find(v);
            if (it == shapes.end()) node_error(n, "input '" + v + "' is not defined before this node");
            in.push_back(it->second);
        }
        Shape y = infer_node(n, in);
        check_size(&n, n.output, y, batch);
        shapes[n.output] = y;
    }
    return shapes;
}

double node_flops(const Graph& g, const Node& n, const std::map<std::string, Shape>& shapes) {
    const Shape& y = shapes.at(n.output);
    const Shape& x = shapes.at(n.inputs.at(0));
    double out = static_cast<double>(y.numel());
    switch (n.op) {
        case OpType::kConv: {
            const Shape& w = shapes.at(n.inputs[1]);
            double per_out = 2.0 * static_cast<double>(w.numel() / w[0]);  // C/g · kernel volume MACs
            return out * per_out + (n.inputs.size() > 2 ? out : 0.0);
        }
        case OpType::kMaxPool:
        case OpType::kAveragePool: {
            double k = 1;
            for (int i = 0; i < n.geo.nd; ++i) k *= static_cast<double>(n.geo.kernel[i]);
            return out * k;
        }
        case OpType::kGlobalAveragePool:
        case OpType::kGlobalMaxPool:
            return static_cast<double>(x.numel());
        case OpType::kLRN:
            return out * (static_cast<double>(n.size) + 4);
        case OpType::kGemm: {
            int64_t k = n.trans_a ? x[0] : x[1];
            return 2.0 * out * static_cast<double>(k) + (n.inputs.size() > 2 ? out : 0.0);
        }
        case OpType::kMatMul:
            return 2.0 * out * static_cast<double>(x.at(-1));
        case OpType::kSoftmax:
            return 3.0 * out;
        case OpType::kBatchNorm:
            return 2.0 * out;
        case OpType::kFlatten:
        case OpType::kReshape:
        case OpType::kIdentity:
        case OpType::kConcat:
            return 0.0;
        default:
            return out;
    }
    (void)g;
}

void validate(const Graph& g) {
    if (g.inputs.empty()) fail_input("graph '" + g.name + "' has no inputs");
    if (g.outputs.empty()) fail_input("graph '" + g.name + "' has no outputs");
    std::set<std::string> defined;
    for (const auto& [name, t] : g.constants) defined.insert(name);
    for (const ValueInfo& v : g.inputs) defined.insert(v.name);
    std::set<std::string> names;
    for (const Node& n : g.nodes) {
        for (const std::string& v : n.inputs)
            if (!defined.count(v)) node_error(n, "input '" + v + "' is not defined before this node");
        if (n.output.empty()) node_error(n, "has no output");
        if (defined.count(n.output)) node_error(n, "output '" + n.output + "' is defined twice");
        defined.insert(n.output);
        if (n.op == OpType::kConv && (n.inputs.size() < 2 || !g.is_constant(n.inputs[1])))
            node_error(n, "weights must be constant");
        if (n.op == OpType::kBatchNorm)
            for (size_t i = 1; i < n.inputs.size(); ++i)
                if (!g.is_constant(n.inputs[i])) node_error(n, "statistics must be constant");
    }
    for (const std::string& o : g.outputs)
        if (!defined.count(o)) fail_input("graph '" + g.name + "': output '" + o + "' is never produced");
}

namespace {

int readers(const Graph& g, const std::string& v) {
    int r = 0;
    for (const Node& n : g.nodes)
        for (const std::string& i : n.inputs) r += (i == v);
    for (const std::string& o : g.outputs) r += (o == v);
    return r;
}

}  // namespace

void fuse(Graph& g) {
    for (size_t i = 0; i + 1 < g.nodes.size(); ++i) {
        Node& a = g.nodes[i];
        // BatchNorm(Conv(x)) -> Conv'(x): w' = w·s, b' = (b − mean)·s + beta, s = gamma / sqrt(var + eps).
        for (size_t j = i + 1; j < g.nodes.size(); ++j) {
            Node& b = g.nodes[j];
            if (a.op != OpType::kConv || a.fused_relu || b.op != OpType::kBatchNorm || b.inputs[0] != a.output ||
                readers(g, a.output) != 1)
                continue;
            const Tensor& w = g.constant(a.inputs[1]);
            int64_t co = w.shape()[0], per = w.numel() / co;
            Tensor nw = w.clone(), nb(Shape{co});
            const float *gamma = g.constant(b.inputs[1]).data(), *beta = g.constant(b.inputs[2]).data();
            const float *mean = g.constant(b.inputs[3]).data(), *var = g.constant(b.inputs[4]).data();
            const float* bias = a.inputs.size() > 2 ? g.constant(a.inputs[2]).data() : nullptr;
            for (int64_t c = 0; c < co; ++c) {
                double s = gamma[c] / std::sqrt(static_cast<double>(var[c]) + b.epsilon);
                for (int64_t k = 0; k < per; ++k)
                    nw.data()[c * per + k] = static_cast<float>(w.data()[c * per + k] * s);
                nb.data()[c] = static_cast<float>(((bias ? bias[c] : 0.f) - mean[c]) * s + beta[c]);
            }
            std::string wn = a.name + ".fused_weight", bn = a.name + ".fused_bias";
            g.constants[wn] = std::move(nw);
            g.constants[bn] = std::move(nb);
            a.inputs.resize(3);
            a.inputs[1] = wn;
            a.inputs[2] = bn;
            a.output = b.output;
            g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(j));
            break;
        }
        if ((a.op == OpType::kConv || a.op == OpType::kGemm) && !a.fused_relu) {
            for (size_t j = i + 1; j < g.nodes.size(); ++j) {
                Node& r = g.nodes[j];
                if (r.op != OpType::kRelu || r.inputs[0] != a.output) continue;
                if (readers(g, a.output) != 1) break;
                a.fused_relu = true;
                a.output = r.output;
                g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(j));
                break;
            }
        }
    }
    // Constants no longer read by any node are dropped.
    std::set<std::string> used;
    for (const Node& n : g.nodes) used.insert(n.inputs.begin(), n.inputs.end());
    for (auto it = g.constants.begin(); it != g.constants.end();)
        it = used.count(it->first) ? std::next(it) : g.constants.erase(it);
}

}  // namespace pda
