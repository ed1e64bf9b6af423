// Constant folding at import, before the graph is built: Constant nodes become constants, Identity
// nodes become renamings (aliases), and a node whose inputs are all constants and whose op is one of
// kFolded is evaluated on the host into a new constant. So what torch.onnx.export writes (biases
// shared through Identity, shape arithmetic of Shape / Gather / Concat / Reshape, casts of buffers)
// reaches the rest of pda as plain initializers. Values keep their ONNX element type; the movement
// ops copy element bytes, so folding never rounds anything.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "networks/onnx_importer.h"
#include "weights/onnx_tensor.h"

namespace pda {
namespace onnx_detail {
namespace {

// The ops evaluated on constants. Reshape, Flatten and Concat are also graph ops (then on values
// computed at run time); the others exist in pda only as folded constants.
const std::set<std::string> kFolded = {"Cast",      "Shape",     "Reshape", "Flatten", "Squeeze",
                                       "Unsqueeze", "Transpose", "Concat",  "Gather",  "Slice"};
const std::set<std::string> kAlsoGraphOps = {"Reshape", "Flatten", "Concat"};

// Why a node cannot be folded; the caller turns it into the importer's refusal naming the node.
struct FoldRefusal {
    std::string why;
};
[[noreturn]] void no(const std::string& why) { throw FoldRefusal{why}; }

// A constant in its ONNX element type: dimensions and dense little-endian element bytes.
struct HostValue {
    int type = TP::UNDEFINED;
    size_t es = 0;  // bytes per element
    std::vector<int64_t> dims;
    std::string bytes;
    int64_t numel() const { return es ? static_cast<int64_t>(bytes.size() / es) : 0; }
    int rank() const { return static_cast<int>(dims.size()); }
};

// Element count of dims: each at least 0, rank at most kMaxRank, at most kOnnxMaxTensorElements.
int64_t checked_numel(const std::vector<int64_t>& dims) {
    if (static_cast<int>(dims.size()) > kMaxRank)
        no("its output would have rank " + std::to_string(dims.size()) + ", above " + std::to_string(kMaxRank));
    int64_t n = 1;
    for (int64_t d : dims) {
        if (d < 0) no("its output would have a negative dimension [" + join(dims) + "]");
        if (d > 0 && n > kOnnxMaxTensorElements / d)
            no("its output [" + join(dims) + "] would have more than " + std::to_string(kOnnxMaxTensorElements) +
               " elements (kOnnxMaxTensorElements)");
        n *= d;
    }
    return n;
}

std::vector<int64_t> strides_of(const std::vector<int64_t>& dims) {
    std::vector<int64_t> s(dims.size(), 1);
    for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
    return s;
}

int64_t product(const std::vector<int64_t>& dims, size_t from, size_t to) {
    int64_t n = 1;
    for (size_t i = from; i < to; ++i) n *= dims[i];
    return n;
}

// out[j] = x[base + Σ j_a·strides_a] over the multi-index j of out_dims (Transpose, Slice).
HostValue strided_copy(const HostValue& x, const std::vector<int64_t>& out_dims, int64_t base,
                       const std::vector<int64_t>& strides) {
    HostValue y{x.type, x.es, out_dims, {}};
    const int64_t n = checked_numel(out_dims);
    y.bytes.resize(static_cast<size_t>(n) * x.es);
    std::vector<int64_t> j(out_dims.size(), 0);
    int64_t off = base;
    for (int64_t k = 0; k < n; ++k) {
        std::memcpy(&y.bytes[static_cast<size_t>(k) * x.es], &x.bytes[static_cast<size_t>(off) * x.es], x.es);
        for (size_t a = out_dims.size(); a-- > 0;) {
            if (++j[a] < out_dims[a]) {
                off += strides[a];
                break;
            }
            off -= strides[a] * (out_dims[a] - 1);
            j[a] = 0;
        }
    }
    return y;
}

bool is_integer(int type) {
    switch (type) {
        case TP::INT64:
        case TP::INT32:
        case TP::INT16:
        case TP::INT8:
        case TP::UINT64:
        case TP::UINT32:
        case TP::UINT16:
        case TP::UINT8:
        case TP::BOOL:
            return true;
        default:
            return false;
    }
}

template <class S>
int64_t load(const HostValue& v, int64_t i) {
    S s;
    std::memcpy(&s, &v.bytes[static_cast<size_t>(i) * sizeof(S)], sizeof(S));
    return static_cast<int64_t>(s);
}

// The values of an integer constant (axes, indices, a target shape) as int64.
std::vector<int64_t> integers(const HostValue& v, const std::string& what) {
    if (!is_integer(v.type)) no(what + " must hold integers, it holds " + onnx_type_name(v.type));
    std::vector<int64_t> out(static_cast<size_t>(v.numel()));
    for (int64_t i = 0; i < v.numel(); ++i) {
        switch (v.type) {
            case TP::INT64:
            case TP::UINT64:  // shape-like values above 2^63 are nonsense either way
                out[i] = load<int64_t>(v, i);
                break;
            case TP::INT32:
                out[i] = load<int32_t>(v, i);
                break;
            case TP::UINT32:
                out[i] = load<uint32_t>(v, i);
                break;
            case TP::INT16:
                out[i] = load<int16_t>(v, i);
                break;
            case TP::UINT16:
                out[i] = load<uint16_t>(v, i);
                break;
            case TP::INT8:
                out[i] = load<int8_t>(v, i);
                break;
            default:  // uint8, bool
                out[i] = load<uint8_t>(v, i);
                break;
        }
    }
    return out;
}

HostValue int64_value(const std::vector<int64_t>& v, std::vector<int64_t> dims) {
    HostValue y{TP::INT64, sizeof(int64_t), std::move(dims), std::string(v.size() * sizeof(int64_t), '\0')};
    if (!v.empty()) std::memcpy(y.bytes.data(), v.data(), y.bytes.size());
    return y;
}

// axis in [-rank, rank) (or [-rank, rank] with inclusive) → [0, rank)
int64_t axis_in(int64_t axis, int64_t rank, const std::string& what, bool inclusive = false) {
    const int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a > rank || (a == rank && !inclusive))
        no(what + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    return a;
}

class Evaluator {
  public:
    Evaluator(const onnx::NodeProto& n, int opset, std::vector<HostValue> in, std::vector<const TP*> tp,
              const std::string& file)
        : n_(n), opset_(opset), in_(std::move(in)), tp_(std::move(tp)), file_(file) {}

    HostValue run() {
        const std::string& op = n_.op_type();
        if (op == "Cast") return cast();
        if (op == "Shape") return shape();
        if (op == "Reshape") return reshape();
        if (op == "Flatten") return flatten();
        if (op == "Squeeze" || op == "Unsqueeze") return squeeze(op == "Unsqueeze");
        if (op == "Transpose") return transpose();
        if (op == "Concat") return concat();
        if (op == "Gather") return gather();
        return slice();
    }

  private:
    bool has(size_t i) const { return i < in_.size() && in_[i].es != 0; }
    const HostValue& input(size_t i, const char* what) const {
        if (!has(i)) no(std::string("input ") + std::to_string(i) + " (" + what + ") is missing");
        return in_[i];
    }
    void inputs(size_t lo, size_t hi) const {
        if (in_.size() < lo || in_.size() > hi)
            no("has " + std::to_string(in_.size()) + " inputs, expects " + std::to_string(lo) +
               (hi != lo ? "–" + std::to_string(hi) : ""));
    }
    // Refuses attributes outside `allowed`.
    void attributes(std::initializer_list<const char*> allowed) const {
        for (const auto& a : n_.attribute()) {
            if (a.has_ref_attr_name()) no("attribute '" + a.name() + "' refers to a function attribute");
            bool ok = false;
            for (const char* k : allowed) ok = ok || a.name() == k;
            if (!ok) no("attribute '" + a.name() + "' is not supported (at opset " + std::to_string(opset_) + ")");
        }
    }
    const onnx::AttributeProto* attr(const char* name, onnx::AttributeProto::AttributeType type) const {
        for (const auto& a : n_.attribute()) {
            if (a.name() != name) continue;
            if (a.type() != type && a.type() != onnx::AttributeProto::UNDEFINED)
                no(std::string("attribute '") + name + "' has the wrong type");
            return &a;
        }
        return nullptr;
    }
    int64_t int_attr(const char* name, int64_t def) const {
        const auto* a = attr(name, onnx::AttributeProto::INT);
        return a ? a->i() : def;
    }
    std::vector<int64_t> ints_attr(const char* name, bool required) const {
        const auto* a = attr(name, onnx::AttributeProto::INTS);
        if (!a && required) no(std::string("attribute '") + name + "' is missing");
        return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : std::vector<int64_t>{};
    }
    std::string where(size_t i) const { return file_ + ": tensor '" + n_.input(static_cast<int>(i)) + "'"; }

    HostValue cast() {
        inputs(1, 1);
        attributes({"to"});
        const HostValue& x = input(0, "input");
        int to = TP::UNDEFINED;
        if (opset_ < 6) {  // Cast-1 names the type as a string ("FLOAT")
            const auto* a = attr("to", onnx::AttributeProto::STRING);
            TP::DataType t;
            if (!a) no("attribute 'to' is missing");
            if (!TP::DataType_Parse(a->s(), &t)) no("attribute 'to' names no element type ('" + shown(a->s()) + "')");
            to = t;
        } else {
            const auto* a = attr("to", onnx::AttributeProto::INT);
            if (!a) no("attribute 'to' is missing");
            to = static_cast<int>(a->i());
        }
        if (to == x.type) return x;
        if (to == TP::FLOAT) {
            Tensor f = onnx_to_float(*tp_[0], where(0));
            HostValue y{TP::FLOAT, sizeof(float), x.dims,
                        std::string(static_cast<size_t>(f.numel()) * sizeof(float), '\0')};
            if (f.numel()) std::memcpy(y.bytes.data(), f.data(), y.bytes.size());
            return y;
        }
        if (to == TP::INT64) {
            if (is_integer(x.type)) return int64_value(integers(x, "input"), x.dims);
            Tensor f = onnx_to_float(*tp_[0], where(0));
            std::vector<int64_t> v(static_cast<size_t>(f.numel()));
            for (int64_t i = 0; i < f.numel(); ++i) {
                const float e = f.data()[i];
                if (!(std::fabs(e) < 9.2e18f)) no("value " + std::to_string(e) + " does not fit int64");
                v[i] = static_cast<int64_t>(e);  // truncation toward zero, as numpy's astype
            }
            return int64_value(v, x.dims);
        }
        no(std::string("Cast to ") + onnx_type_name(to) + " is not supported (pda folds casts to float and int64)");
    }

    HostValue shape() {
        inputs(1, 1);
        attributes({"start", "end"});
        if (opset_ < 15 && (attr("start", onnx::AttributeProto::INT) || attr("end", onnx::AttributeProto::INT)))
            no("attributes 'start' and 'end' exist only from opset 15");
        const HostValue& x = input(0, "data");
        const int64_t r = x.rank();
        auto clamp = [&](int64_t v) { return std::min(r, std::max<int64_t>(0, v < 0 ? v + r : v)); };
        const int64_t b = clamp(int_attr("start", 0)), e = clamp(int_attr("end", r));
        std::vector<int64_t> v;
        for (int64_t i = b; i < e; ++i) v.push_back(x.dims[i]);
        return int64_value(v, {static_cast<int64_t>(v.size())});
    }

    HostValue reshape() {
        std::vector<int64_t> target;
        if (opset_ < 5) {
            inputs(1, 1);
            target = ints_attr("shape", true);
        } else {
            inputs(2, 2);
            const HostValue& s = input(1, "shape");
            if (s.rank() != 1) no("shape '" + n_.input(1) + "' must be a 1-D tensor");
            target = integers(s, "shape '" + n_.input(1) + "'");
        }
        const HostValue& x = input(0, "data");
        const bool allow_zero = int_attr("allowzero", 0) != 0;
        std::vector<int64_t> y;
        int infer = -1;
        int64_t known = 1;
        for (size_t i = 0; i < target.size(); ++i) {
            int64_t d = target[i];
            if (d == 0 && !allow_zero) {
                if (static_cast<int>(i) >= x.rank()) no("0 in the target shape refers to a missing input axis");
                d = x.dims[i];
            }
            if (d == -1) {
                if (infer >= 0) no("more than one -1 in the target shape [" + join(target) + "]");
                infer = static_cast<int>(i);
                d = 1;
            } else if (d < 0) {
                no("negative dimension in the target shape [" + join(target) + "]");
            }
            if (d > 0 && known > kOnnxMaxTensorElements / d)
                no("the target shape [" + join(target) + "] has more than " + std::to_string(kOnnxMaxTensorElements) +
                   " elements");
            known *= d;
            y.push_back(d);
        }
        if (infer >= 0) {
            if (known == 0 || x.numel() % known)
                no("cannot infer -1 of [" + join(target) + "] for [" + join(x.dims) + "]");
            y[infer] = x.numel() / known;
        }
        if (checked_numel(y) != x.numel()) no("cannot reshape [" + join(x.dims) + "] to [" + join(target) + "]");
        return HostValue{x.type, x.es, y, x.bytes};
    }

    HostValue flatten() {
        inputs(1, 1);
        const HostValue& x = input(0, "input");
        const int64_t axis = axis_in(int_attr("axis", 1), x.rank(), "axis", true);
        const auto a = static_cast<size_t>(axis);
        return HostValue{x.type, x.es, {product(x.dims, 0, a), product(x.dims, a, x.dims.size())}, x.bytes};
    }

    HostValue squeeze(bool unsqueeze) {
        const bool axes_input = opset_ >= 13;
        if (axes_input) {
            attributes({});
            inputs(unsqueeze ? 2 : 1, 2);
        } else {
            attributes({"axes"});
            inputs(1, 1);
        }
        const HostValue& x = input(0, "data");
        std::vector<int64_t> axes =
            axes_input ? (has(1) ? integers(in_[1], "axes") : std::vector<int64_t>{}) : ints_attr("axes", unsqueeze);
        if (unsqueeze && axes.empty()) no("axes are missing");
        const int64_t rank = x.rank() + (unsqueeze ? static_cast<int64_t>(axes.size()) : 0);
        if (rank > kMaxRank)
            no("its output would have rank " + std::to_string(rank) + ", above " + std::to_string(kMaxRank));
        std::vector<bool> marked(static_cast<size_t>(rank), false);
        for (int64_t a : axes) {
            const int64_t k = axis_in(a, rank, "axis");
            if (marked[k]) no("axis " + std::to_string(a) + " is listed twice");
            marked[k] = true;
        }
        std::vector<int64_t> y;
        if (unsqueeze) {
            for (int64_t i = 0, j = 0; i < rank; ++i) y.push_back(marked[i] ? 1 : x.dims[j++]);
        } else {
            for (int64_t i = 0; i < x.rank(); ++i) {
                if (axes.empty() ? x.dims[i] == 1 : marked[i]) {
                    if (x.dims[i] != 1)
                        no("cannot squeeze axis " + std::to_string(i) + " of size " + std::to_string(x.dims[i]));
                    continue;
                }
                y.push_back(x.dims[i]);
            }
        }
        return HostValue{x.type, x.es, y, x.bytes};
    }

    HostValue transpose() {
        inputs(1, 1);
        attributes({"perm"});
        const HostValue& x = input(0, "data");
        std::vector<int64_t> perm = ints_attr("perm", false);
        if (perm.empty())
            for (int i = x.rank(); i-- > 0;) perm.push_back(i);
        if (static_cast<int>(perm.size()) != x.rank())
            no("perm [" + join(perm) + "] does not fit rank " + std::to_string(x.rank()));
        std::vector<bool> seen(perm.size(), false);
        const std::vector<int64_t> in_strides = strides_of(x.dims);
        std::vector<int64_t> dims, strides;
        for (int64_t p : perm) {
            if (p < 0 || p >= x.rank() || seen[p]) no("perm [" + join(perm) + "] is not a permutation");
            seen[p] = true;
            dims.push_back(x.dims[p]);
            strides.push_back(in_strides[p]);
        }
        return strided_copy(x, dims, 0, strides);
    }

    HostValue concat() {
        inputs(1, std::numeric_limits<size_t>::max());
        const HostValue& x = input(0, "input 0");
        if (x.rank() < 1) no("cannot concatenate scalars");
        if (!attr("axis", onnx::AttributeProto::INT) && opset_ >= 4) no("attribute 'axis' is missing");
        const auto axis = static_cast<size_t>(axis_in(int_attr("axis", 1), x.rank(), "axis"));
        std::vector<int64_t> dims = x.dims;
        dims[axis] = 0;
        for (size_t k = 0; k < in_.size(); ++k) {
            const HostValue& v = input(k, "input");
            if (v.type != x.type) no("inputs of different element types");
            bool fits = v.rank() == x.rank();
            for (size_t i = 0; fits && i < dims.size(); ++i) fits = i == axis || v.dims[i] == x.dims[i];
            if (!fits)
                no("input [" + join(v.dims) + "] does not fit [" + join(x.dims) + "] on axis " + std::to_string(axis));
            dims[axis] += v.dims[axis];
        }
        HostValue y{x.type, x.es, dims, {}};
        y.bytes.reserve(static_cast<size_t>(checked_numel(dims)) * x.es);
        const int64_t outer = product(x.dims, 0, axis);
        for (int64_t o = 0; o < outer; ++o)
            for (const HostValue& v : in_) {
                const size_t chunk = static_cast<size_t>(product(v.dims, axis, v.dims.size())) * v.es;
                y.bytes.append(v.bytes, static_cast<size_t>(o) * chunk, chunk);
            }
        return y;
    }

    HostValue gather() {
        inputs(2, 2);
        attributes({"axis"});
        const HostValue& x = input(0, "data");
        if (x.rank() < 1) no("data is a scalar");
        const auto axis = static_cast<size_t>(axis_in(int_attr("axis", 0), x.rank(), "axis"));
        const HostValue& iv = input(1, "indices");
        std::vector<int64_t> idx = integers(iv, "indices");
        const int64_t s = x.dims[axis];
        for (int64_t& i : idx) {
            if (i < -s || i >= s)
                no("index " + std::to_string(i) + " is out of range for a dimension of " + std::to_string(s));
            if (i < 0) i += s;
        }
        std::vector<int64_t> dims(x.dims.begin(), x.dims.begin() + static_cast<std::ptrdiff_t>(axis));
        dims.insert(dims.end(), iv.dims.begin(), iv.dims.end());
        dims.insert(dims.end(), x.dims.begin() + static_cast<std::ptrdiff_t>(axis) + 1, x.dims.end());
        HostValue y{x.type, x.es, dims, {}};
        y.bytes.reserve(static_cast<size_t>(checked_numel(dims)) * x.es);
        const int64_t outer = product(x.dims, 0, axis);
        const size_t inner = static_cast<size_t>(product(x.dims, axis + 1, x.dims.size())) * x.es;
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t i : idx) y.bytes.append(x.bytes, static_cast<size_t>(o * s + i) * inner, inner);
        return y;
    }

    HostValue slice() {
        std::vector<int64_t> starts, ends, axes, steps;
        if (opset_ < 10) {
            inputs(1, 1);
            attributes({"starts", "ends", "axes"});
            starts = ints_attr("starts", true);
            ends = ints_attr("ends", true);
            axes = ints_attr("axes", false);
        } else {
            inputs(3, 5);
            attributes({});
            starts = integers(input(1, "starts"), "starts");
            ends = integers(input(2, "ends"), "ends");
            if (has(3)) axes = integers(in_[3], "axes");
            if (has(4)) steps = integers(in_[4], "steps");
        }
        const HostValue& x = input(0, "data");
        if (axes.empty())
            for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
        if (steps.empty()) steps.assign(starts.size(), 1);
        if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
            no("starts, ends, axes and steps differ in length");
        std::vector<int64_t> dims = x.dims, first(x.dims.size(), 0), step(x.dims.size(), 1);
        std::vector<bool> seen(x.dims.size(), false);
        for (size_t k = 0; k < starts.size(); ++k) {
            const auto a = static_cast<size_t>(axis_in(axes[k], x.rank(), "axis"));
            if (seen[a]) no("axis " + std::to_string(axes[k]) + " is sliced twice");
            seen[a] = true;
            int64_t st = steps[k];
            if (st == 0) no("a step is 0");
            if (st == std::numeric_limits<int64_t>::min()) st = -std::numeric_limits<int64_t>::max();
            const int64_t d = x.dims[a];
            int64_t b = starts[k] < 0 ? starts[k] + d : starts[k], e = ends[k] < 0 ? ends[k] + d : ends[k];
            int64_t count = 0;
            if (st > 0) {
                b = std::min(d, std::max<int64_t>(0, b));
                e = std::min(d, std::max<int64_t>(0, e));
                count = e > b ? (e - b - 1) / st + 1 : 0;
            } else {
                b = std::min(d - 1, std::max<int64_t>(0, b));
                e = std::min(d - 1, std::max<int64_t>(-1, e));
                count = b > e ? (b - e - 1) / -st + 1 : 0;
            }
            dims[a] = count;
            first[a] = count ? b : 0;
            step[a] = st;
        }
        const std::vector<int64_t> in_strides = strides_of(x.dims);
        int64_t base = 0;
        std::vector<int64_t> strides(x.dims.size());
        for (size_t a = 0; a < x.dims.size(); ++a) {
            base += first[a] * in_strides[a];
            strides[a] = dims[a] > 1 ? step[a] * in_strides[a] : 0;  // one element: the step is never taken
        }
        return strided_copy(x, dims, base, strides);
    }

    const onnx::NodeProto& n_;
    const int opset_;
    const std::vector<HostValue> in_;
    const std::vector<const TP*> tp_;
    const std::string& file_;
};

}  // namespace

bool folds_only_on_constants(const std::string& op) { return kFolded.count(op) && !kAlsoGraphOps.count(op); }

void Importer::fold_constants() {
    folded_.assign(static_cast<size_t>(gp_.node_size()), false);
    std::set<std::string> graph_outputs, defined;
    for (const auto& o : gp_.output()) graph_outputs.insert(o.name());
    for (const TP& t : gp_.initializer()) defined.insert(t.name());
    for (const auto& v : gp_.input()) defined.insert(v.name());
    for (int i = 0; i < gp_.node_size(); ++i) {
        const onnx::NodeProto& n = gp_.node(i);
        if (n.op_type().empty())
            fail(file_ + ": node " + (n.name().empty() ? std::to_string(i) : "'" + shown(n.name()) + "'") +
                 " has an empty op type (corrupt file?)");
        std::set<std::string> mine;
        for (const std::string& o : n.output())
            if (!o.empty() && (defined.count(o) || !mine.insert(o).second))
                refuse(n, "output '" + o + "' is defined twice");
        if (n.domain().empty() || n.domain() == "ai.onnx") folded_[i] = fold_node(n, i, defined, graph_outputs);
        defined.insert(mine.begin(), mine.end());
    }
}

bool Importer::fold_node(const onnx::NodeProto& n, int index, const std::set<std::string>& defined,
                         const std::set<std::string>& graph_outputs) {
    const std::string& op = n.op_type();
    if (op == "Constant") {
        convert(n, index);  // checks the node and keeps its value (convert_constant)
        return true;
    }
    for (const std::string& o : n.output())
        if (graph_outputs.count(o)) return false;  // a graph output stays a node's output
    if (op == "Identity") {
        if (n.input_size() != 1 || n.output_size() != 1 || n.attribute_size() || n.output(0).empty() ||
            !defined.count(n.input(0)))
            return false;  // convert refuses what is malformed
        alias_[n.output(0)] = resolved(n.input(0));
        return true;
    }
    if (!kFolded.count(op)) return false;
    std::vector<const TP*> tp;
    bool any = false;
    for (const std::string& v : n.input()) {
        auto it = v.empty() ? raw_.end() : raw_.find(resolved(v));
        if (!v.empty() && it == raw_.end()) return false;  // computed at run time
        tp.push_back(v.empty() ? nullptr : it->second);
        any = any || !v.empty();
    }
    if (!any) return false;
    if (kAlsoGraphOps.count(op)) check_attributes(n);  // their opset rules (onnx_ops.cc)
    if (n.output_size() != 1 || n.output(0).empty()) refuse(n, "expects exactly one output");
    const std::string& out = n.output(0);
    auto nt = non_tensor_.find(out);
    if (nt != non_tensor_.end()) refuse(n, "output '" + out + "' is " + nt->second + ", not a tensor");
    HostValue y;
    try {
        std::vector<HostValue> in;
        for (size_t i = 0; i < tp.size(); ++i) {
            in.emplace_back();
            if (!tp[i]) continue;
            const std::string where = file_ + ": tensor '" + n.input(static_cast<int>(i)) + "'";
            in.back().type = tp[i]->data_type();
            in.back().es = onnx_element_size(in.back().type);
            if (!in.back().es) no("input '" + n.input(static_cast<int>(i)) + "' is " + onnx_type_name(in.back().type));
            in.back().dims.assign(tp[i]->dims().begin(), tp[i]->dims().end());
            in.back().bytes = onnx_to_raw(*tp[i], where);
        }
        y = Evaluator(n, opset_, std::move(in), tp, file_).run();
        folded_elements_ += y.numel();
        if (folded_elements_ > kOnnxMaxTensorElements)
            no("constant folding would hold more than " + std::to_string(kOnnxMaxTensorElements) +
               " elements in all (kOnnxMaxTensorElements)");
    } catch (const FoldRefusal& r) {
        refuse(n, r.why);
    }
    owned_.emplace_back();
    TP& t = owned_.back();
    t.set_name(out);
    t.set_data_type(y.type);
    for (int64_t d : y.dims) t.add_dims(d);
    t.set_raw_data(std::move(y.bytes));
    raw_[out] = &t;
    types_[out] = y.type;
    return true;
}

}  // namespace onnx_detail
}  // namespace pda
