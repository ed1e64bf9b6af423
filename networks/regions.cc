// Changed-region propagation, window crops, the per-batch crop plan and the incremental FLOP model
// (regions.h). All geometry is exact integer arithmetic on half-open ranges; boxes are bounding
// boxes, so they may include unchanged positions but never miss a changed one.
#include "networks/regions.h"

#include <algorithm>

namespace pda {

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

int spatial_rank(const Shape& s) { return s.rank >= 3 && s.rank <= kMaxSpatial + 2 ? s.rank - 2 : 0; }

bool same_spatial(const Shape& a, const Shape& b) {
    if (a.rank != b.rank || spatial_rank(a) == 0) return false;
    for (int i = 2; i < a.rank; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

bool is_window_op(OpType op) { return op == OpType::kConv || op == OpType::kMaxPool || op == OpType::kAveragePool; }

}  // namespace

// ---- Box ----------------------------------------------------------------------------------------

Box Box::whole(const Shape& s) {
    Box b;
    b.nd = spatial_rank(s);
    for (int i = 0; i < b.nd; ++i) b.end[i] = s[2 + i];
    return b;
}

Box Box::make(const std::vector<int64_t>& begin, const std::vector<int64_t>& end) {
    if (begin.size() != end.size() || begin.empty() || begin.size() > static_cast<size_t>(kMaxSpatial))
        fail_input("a box needs 1 to 3 axes, the same number of begins and ends");
    Box b;
    b.nd = static_cast<int>(begin.size());
    for (int i = 0; i < b.nd; ++i) {
        b.begin[i] = begin[i];
        b.end[i] = end[i];
    }
    return b;
}

int64_t Box::volume() const {
    if (nd == 0) return 0;
    int64_t v = 1;
    for (int i = 0; i < nd; ++i) v *= std::max<int64_t>(0, size(i));
    return v;
}

bool Box::empty() const { return volume() == 0; }

bool Box::contains(const Box& o) const {
    if (o.empty()) return true;
    if (o.nd != nd) return false;
    for (int i = 0; i < nd; ++i)
        if (o.begin[i] < begin[i] || o.end[i] > end[i]) return false;
    return true;
}

Box Box::unite(const Box& o) const {
    if (o.empty()) return *this;
    if (empty()) return o;
    if (o.nd != nd) fail_internal("box union of ranks " + std::to_string(nd) + " and " + std::to_string(o.nd));
    Box b = *this;
    for (int i = 0; i < nd; ++i) {
        b.begin[i] = std::min(begin[i], o.begin[i]);
        b.end[i] = std::max(end[i], o.end[i]);
    }
    return b;
}

Box Box::intersect(const Box& o) const {
    if (o.nd != nd) fail_internal("box intersection of ranks " + std::to_string(nd) + " and " + std::to_string(o.nd));
    Box b = *this;
    for (int i = 0; i < nd; ++i) {
        b.begin[i] = std::max(begin[i], o.begin[i]);
        b.end[i] = std::max(b.begin[i], std::min(end[i], o.end[i]));
    }
    return b;
}

bool Box::operator==(const Box& o) const {
    if (empty() || o.empty()) return empty() && o.empty();
    if (nd != o.nd) return false;
    for (int i = 0; i < nd; ++i)
        if (begin[i] != o.begin[i] || end[i] != o.end[i]) return false;
    return true;
}

std::string Box::str() const {
    if (nd == 0) return "[]";
    std::string s;
    for (int i = 0; i < nd; ++i) s += (i ? "×[" : "[") + std::to_string(begin[i]) + "," + std::to_string(end[i]) + ")";
    return s;
}

// ---- window ops ---------------------------------------------------------------------------------

Box window_changed_box(const Geometry& geo, const Box& changed_in, const Shape& out) {
    Box r = Box::whole(out);
    if (r.nd != geo.nd || changed_in.nd != geo.nd)
        fail_internal("window box: geometry of rank " + std::to_string(geo.nd) + ", boxes of ranks " +
                      std::to_string(changed_in.nd) + " and " + std::to_string(r.nd));
    if (changed_in.empty()) return Box{geo.nd, {}, {}};
    for (int i = 0; i < geo.nd; ++i) {
        const int64_t s = geo.stride[i], p = geo.pad_begin[i], d = geo.dilation[i] > 0 ? geo.dilation[i] : 1;
        const int64_t a = changed_in.begin[i], b = changed_in.end[i] - 1;  // inclusive changed range
        int64_t lo = out[2 + i], hi = -1;
        // Tap j of output o reads o·s − p + j·d; the outputs whose tap j lands in [a, b] form one range.
        for (int64_t j = 0; j < geo.kernel[i]; ++j) {
            int64_t first = std::max<int64_t>(0, ceil_div(a + p - j * d, s));
            int64_t last = std::min<int64_t>(out[2 + i] - 1, floor_div(b + p - j * d, s));
            if (first > last) continue;
            lo = std::min(lo, first);
            hi = std::max(hi, last);
        }
        if (lo > hi) return Box{geo.nd, {}, {}};
        r.begin[i] = lo;
        r.end[i] = hi + 1;
    }
    return r;
}

WindowCrop window_input_crop(const Geometry& geo, const Box& out_box, const Shape& in) {
    WindowCrop c;
    c.read = Box::whole(in);
    if (c.read.nd != geo.nd || out_box.nd != geo.nd)
        fail_internal("window crop: geometry of rank " + std::to_string(geo.nd) + ", boxes of ranks " +
                      std::to_string(out_box.nd) + " and " + std::to_string(c.read.nd));
    if (out_box.empty()) return WindowCrop{Box{geo.nd, {}, {}}, {}, {}};
    for (int i = 0; i < geo.nd; ++i) {
        const int64_t s = geo.stride[i], p = geo.pad_begin[i], d = geo.dilation[i] > 0 ? geo.dilation[i] : 1;
        const int64_t lo = out_box.begin[i] * s - p;                                    // first tap of the first window
        const int64_t hi = (out_box.end[i] - 1) * s - p + d * (geo.kernel[i] - 1) + 1;  // past the last tap
        c.read.begin[i] = std::clamp<int64_t>(lo, 0, in[2 + i]);
        c.read.end[i] = std::clamp<int64_t>(hi, c.read.begin[i], in[2 + i]);
        c.pad_begin[i] = std::max<int64_t>(0, -lo);
        c.pad_end[i] = std::max<int64_t>(0, hi - std::max<int64_t>(in[2 + i], lo));
    }
    return c;
}

// ---- propagation --------------------------------------------------------------------------------

std::map<std::string, RegionInfo> propagate_regions(const Graph& g, const std::map<std::string, Shape>& shapes,
                                                    const std::string& input, const Box& changed_input) {
    bool is_input = false;
    for (const ValueInfo& v : g.inputs) is_input |= v.name == input;
    if (!is_input) fail_input("graph '" + g.name + "' has no input '" + input + "'");
    auto shape_of = [&](const std::string& v) -> const Shape& {
        auto it = shapes.find(v);
        if (it == shapes.end()) fail_input("no shape for value '" + v + "' (run infer_shapes first)");
        return it->second;
    };
    const Box whole_in = Box::whole(shape_of(input));
    if (whole_in.nd == 0) fail_input("input '" + input + "' " + shape_of(input).str() + " has no spatial axes");
    if (changed_input.nd != whole_in.nd || !whole_in.contains(changed_input))
        fail_input("changed box " + changed_input.str() + " does not lie in input '" + input + "' of spatial extent " +
                   whole_in.str());

    std::map<std::string, RegionInfo> r;
    RegionInfo& in_info = r[input];
    in_info.changed = !changed_input.empty();
    in_info.box = in_info.changed ? changed_input : Box{whole_in.nd, {}, {}};
    in_info.full = in_info.changed && changed_input == whole_in;

    for (const Node& n : g.nodes) {
        std::vector<const RegionInfo*> in(n.inputs.size(), nullptr);
        bool any = false;
        for (size_t i = 0; i < n.inputs.size(); ++i) {
            auto it = r.find(n.inputs[i]);
            if (it != r.end() && it->second.changed) {
                in[i] = &it->second;
                any = true;
            }
        }
        const Shape& y = shape_of(n.output);
        RegionInfo out;
        auto keep = [&](const RegionInfo& from) {
            out.box = from.box;
            out.full = from.full;
        };
        if (!any) {
            out.box = Box{spatial_rank(y), {}, {}};
            r[n.output] = out;
            continue;
        }
        out.changed = true;
        out.full = true;  // unless an op below keeps the box
        switch (n.op) {
            case OpType::kConv:
            case OpType::kMaxPool:
            case OpType::kAveragePool:
                if (in[0] && !in[0]->full) {
                    out.box = window_changed_box(n.geo, in[0]->box, y);
                    out.window = true;
                    out.crop = window_input_crop(n.geo, out.box, shape_of(n.inputs[0]));
                    out.full = false;
                }
                break;
            case OpType::kRelu:
            case OpType::kLeakyRelu:
            case OpType::kClip:
            case OpType::kSigmoid:
            case OpType::kLRN:
            case OpType::kBatchNorm:
            case OpType::kIdentity:
                if (in[0]) keep(*in[0]);
                break;
            case OpType::kSoftmax: {
                int64_t axis = n.axis < 0 ? n.axis + y.rank : n.axis;
                if (in[0] && spatial_rank(y) > 0 && !n.allow_zero && axis == 1) keep(*in[0]);
                break;
            }
            case OpType::kAdd:
            case OpType::kMul:
            case OpType::kConcat: {
                int64_t axis = n.axis < 0 ? n.axis + y.rank : n.axis;
                bool spatial = spatial_rank(y) > 0 && (n.op != OpType::kConcat || axis < 2);
                Box box{spatial_rank(y), {}, {}};
                for (size_t i = 0; i < in.size() && spatial; ++i) {
                    if (!in[i]) continue;
                    // A broadcast along space (an SE block's channel scale) spreads one change over the map.
                    if (!same_spatial(shape_of(n.inputs[i]), y) || in[i]->full) spatial = false;
                    box = box.unite(in[i]->box);
                }
                if (spatial) {
                    out.box = box;
                    out.full = false;
                }
                break;
            }
            default:  // global pooling, Flatten, Reshape, Gemm, MatMul
                break;
        }
        if (out.full) {
            out.box = Box::whole(y);
            out.window = false;
            out.crop = WindowCrop{};
        } else if (out.box.empty()) {  // a stride larger than the kernel can skip the whole change
            out = RegionInfo{};
            out.box = Box{spatial_rank(y), {}, {}};
        } else if (out.box == Box::whole(y)) {
            out.full = true;
        }
        r[n.output] = out;
    }
    return r;
}

// ---- crop plan ----------------------------------------------------------------------------------

const NodeCrop* CropPlan::find(const std::string& node) const {
    for (const NodeCrop& c : nodes)
        if (c.node == node) return &c;
    return nullptr;
}

CropPlan crop_plan(const Graph& g, const std::map<std::string, Shape>& shapes, const std::string& input, int64_t k,
                   bool centre_only) {
    auto it = shapes.find(input);
    if (it == shapes.end()) fail_input("no shape for input '" + input + "'");
    const Box whole_in = Box::whole(it->second);
    if (whole_in.nd == 0) fail_input("input '" + input + "' " + it->second.str() + " has no spatial axes");
    for (int i = 0; i < whole_in.nd; ++i)
        if (k < 1 || k > whole_in.end[i])
            fail_input("window side " + std::to_string(k) + " does not fit input '" + input + "' " + it->second.str());
    Box centre = whole_in;
    for (int i = 0; i < whole_in.nd; ++i) {
        centre.begin[i] = (whole_in.end[i] - k) / 2;
        centre.end[i] = centre.begin[i] + k;
    }

    // Boxes are separable by axis (window ops act per axis, unions are per axis), so the largest
    // box over all window positions is found by sliding the window along one axis at a time.
    std::map<std::string, bool> changed;
    std::map<std::string, SpatialSize> size;
    auto record = [&](const Box& window, int axis) {
        auto regions = propagate_regions(g, shapes, input, window);
        for (const Node& n : g.nodes) {
            const RegionInfo& ri = regions.at(n.output);
            changed[n.output] = changed[n.output] || ri.changed;
            SpatialSize& s = size[n.output];
            for (int i = 0; i < ri.box.nd; ++i)
                if (axis < 0 || axis == i) s[i] = std::max(s[i], ri.box.size(i));
        }
    };
    record(centre, -1);
    for (int axis = 0; axis < whole_in.nd && !centre_only; ++axis) {
        for (int64_t a = 0; a + k <= whole_in.end[axis]; ++a) {
            Box w = centre;
            w.begin[axis] = a;
            w.end[axis] = a + k;
            record(w, axis);
        }
    }

    CropPlan plan;
    plan.k = k;
    std::map<std::string, bool> full;  // value computed in full (or unchanged: no crop)
    full[input] = false;
    for (const Node& n : g.nodes) {
        const Shape& y = shapes.at(n.output);
        const Box whole = Box::whole(y);
        NodeCrop c;
        c.node = n.name;
        c.changed = changed[n.output];
        bool inputs_full = false;
        for (const std::string& v : n.inputs) {
            auto f = full.find(v);  // unchanged values and constants never make a node full
            if (f != full.end()) inputs_full |= f->second;
        }
        if (!c.changed) {
            c.fraction = 0;
            full[n.output] = false;
            plan.nodes.push_back(c);
            continue;
        }
        for (int i = 0; i < whole.nd; ++i) c.out[i] = size[n.output][i];
        Box crop = whole;
        for (int i = 0; i < whole.nd; ++i) crop.end[i] = c.out[i];
        c.fraction = whole.nd ? static_cast<double>(crop.volume()) / static_cast<double>(whole.volume()) : 1.0;
        c.incremental = whole.nd > 0 && !inputs_full && c.fraction < kFullCropFraction;
        if (c.incremental && is_window_op(n.op)) {
            for (int i = 0; i < whole.nd; ++i) {
                int64_t d = n.geo.dilation[i] > 0 ? n.geo.dilation[i] : 1;
                c.in[i] = (c.out[i] - 1) * n.geo.stride[i] + d * (n.geo.kernel[i] - 1) + 1;
            }
        } else if (c.incremental) {
            c.in = c.out;
        }
        if (!c.incremental) {
            c.fraction = 1.0;
            const Shape& x = shapes.at(n.inputs.at(0));
            for (int i = 0; i < whole.nd; ++i) c.out[i] = y[2 + i];
            for (int i = 0; i < spatial_rank(x); ++i) c.in[i] = x[2 + i];
        }
        full[n.output] = !c.incremental;
        plan.nodes.push_back(c);
    }
    return plan;
}

FlopModel incremental_flops(const Graph& g, const std::map<std::string, Shape>& shapes, const CropPlan& plan) {
    if (plan.nodes.size() != g.nodes.size()) fail_input("crop plan does not belong to graph '" + g.name + "'");
    FlopModel m;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const NodeCrop& c = plan.nodes[i];
        if (c.node != g.nodes[i].name) fail_input("crop plan does not belong to graph '" + g.name + "'");
        double f = node_flops(g, g.nodes[i], shapes);
        double inc = !c.changed ? 0.0 : c.incremental ? f * c.fraction : f;
        m.full += f;
        m.incremental += inc;
        m.per_node.emplace_back(f, inc);
    }
    return m;
}

}  // namespace pda
