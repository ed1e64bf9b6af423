// plan_incremental (incremental_plan.h): the crop sizes of networks/regions.h, the origin tables from
// one sweep of the window along each axis, the steps' gather parameters and average-pool divisors.
// Written once over three axes (depth, rows, columns); an image's values have no depth axis, which the
// plan treats as depth 1 (crop 1, origin 0).
#include "engine/incremental_plan.h"

#include <algorithm>
#include <limits>

#include "kernels/crop_math.h"

namespace pda {

namespace {

bool is_window(OpType op) { return op == OpType::kConv || op == OpType::kMaxPool || op == OpType::kAveragePool; }

// A window op whose taps leave gaps (stride wider than the kernel's span, or dilation > 1) can map a
// narrow changed box to nothing. Then whether a union includes that branch depends on the window's
// position along the other axes too, and the tables of one sweep per axis must be checked at every
// window position.
bool has_gaps(const Node& n) {
    if (!is_window(n.op)) return false;
    for (int i = 0; i < n.geo.nd; ++i) {
        const int64_t d = std::max<int64_t>(1, n.geo.dilation[i]);
        if (d > 1 || n.geo.stride[i] > d * (n.geo.kernel[i] - 1) + 1) return true;
    }
    return false;
}

Shape with_batch(Shape s, int64_t b) {
    s[0] = b;
    return s;
}

// The spatial index of plan axis a (0 depth, 1 rows, 2 columns) on values of spatial rank nd, or −1
// for an image's depth (nd 2), which the plan holds as an axis of size 1.
int spatial_index(int nd, int a) { return a - (3 - nd); }

int64_t& crop_side(PlannedValue& v, int a) { return a == 0 ? v.cd : a == 1 ? v.ch : v.cw; }
std::vector<int32_t>& origins(PlannedValue& v, int a) { return a == 0 ? v.oz : a == 1 ? v.oy : v.ox; }
int64_t map_side(const PlannedValue& v, int a) { return a == 0 ? v.map_d() : a == 1 ? v.map_h() : v.map_w(); }

int64_t axis_divisor(const Node& n, int a, int64_t o, int64_t in) {
    return crop_pool_divisor(o, in, n.geo.kernel[a], n.geo.stride[a], n.geo.pad_begin[a], n.geo.pad_end[a],
                             std::max<int64_t>(1, n.geo.dilation[a]), n.count_include_pad);
}

// The full op's divisor over the unpadded op's (the kernel volume, every tap of a crop tile being
// inside it), per output position; empty when all are 1. The divisor follows the AveragePool ops of
// both backends: taps inside the padded input with count_include_pad, inside the input without.
std::vector<float> average_pool_factors(const Node& n, const Shape& in1, const Shape& out1) {
    const int nd = out1.rank - 2;
    int64_t kvol_i = 1;
    for (int i = 0; i < nd; ++i) kvol_i *= n.geo.kernel[i];
    const double kvol = static_cast<double>(kvol_i);
    const int64_t od = nd == 3 ? out1[2] : 1, oh = out1[nd], ow = out1[nd + 1];
    std::vector<float> f(static_cast<size_t>(od * oh * ow));
    bool trivial = true;
    for (int64_t z = 0; z < od; ++z)
        for (int64_t y = 0; y < oh; ++y)
            for (int64_t x = 0; x < ow; ++x) {
                const int64_t dz = nd == 3 ? axis_divisor(n, 0, z, in1[2]) : 1;
                const int64_t divisor =
                    dz * axis_divisor(n, nd - 2, y, in1[nd]) * axis_divisor(n, nd - 1, x, in1[nd + 1]);
                const float v = static_cast<float>(kvol / static_cast<double>(divisor));
                f[static_cast<size_t>((z * oh + y) * ow + x)] = v;
                trivial &= v == 1.f;
            }
    if (trivial) f.clear();
    return f;
}

}  // namespace

Shape PlannedValue::crop_shape(int64_t batch, int64_t c) const {
    return shape.rank == 5 ? Shape{batch, c, cd, ch, cw} : Shape{batch, c, ch, cw};
}

const PlannedValue& IncrementalPlan::value(const std::string& name) const {
    auto it = values.find(name);
    if (it == values.end()) fail_input("value '" + name + "' is not in the incremental plan");
    return it->second;
}

Shape IncrementalPlan::batch_shape(int64_t batch) const { return with_batch(image, batch); }

std::vector<Shape> IncrementalPlan::input_shapes(const Graph& g, const PlannedStep& st,
                                                 const std::map<std::string, Shape>& shapes_b) const {
    const Node& n = g.nodes.at(st.node);
    const int64_t B = shapes_b.at(input)[0];
    const PlannedValue& out = value(n.output);
    std::vector<Shape> r;
    for (size_t j = 0; j < n.inputs.size(); ++j) {
        const std::string& in = n.inputs[j];
        if (g.is_constant(in)) {
            const auto c = values.find(in);
            const bool cropped = st.held == Held::kCrop && c != values.end() && c->second.constant;
            r.push_back(cropped ? out.crop_shape(B, c->second.channels()) : g.constant(in).shape());
        } else if (st.held == Held::kFull) {
            r.push_back(shapes_b.at(in));
        } else {
            const int64_t c = shapes_b.at(in)[1];
            if (st.window && j == 0)
                r.push_back(out.shape.rank == 5 ? Shape{B, c, st.td, st.th, st.tw} : Shape{B, c, st.th, st.tw});
            else
                r.push_back(out.crop_shape(B, c));
        }
    }
    return r;
}

Shape IncrementalPlan::output_shape(const Graph& g, const PlannedStep& st,
                                    const std::map<std::string, Shape>& shapes_b) const {
    const Node& n = g.nodes.at(st.node);
    const Shape& full = shapes_b.at(n.output);
    if (st.held == Held::kFull) return full;
    return value(n.output).crop_shape(full[0], full[1]);
}

IncrementalPlan plan_incremental(const Graph& g, const Shape& image, int64_t k) {
    validate(g);
    if (g.inputs.size() != 1) fail_input("incremental execution needs a graph with one input");
    if ((image.rank != 4 && image.rank != 5) || image[0] != 1)
        fail_input("incremental execution needs one image (1, C, H, W) or volume (1, C, D, H, W), got " + image.str());
    const int nd = image.rank - 2;
    IncrementalPlan p;
    p.input = g.inputs[0].name;
    p.image = image;
    p.k = k;
    p.kd = nd == 3 ? k : 1;
    p.C = image[1];
    p.D = nd == 3 ? image[2] : 1;
    p.H = image[nd];
    p.W = image[nd + 1];
    const std::map<std::string, Shape> shapes1 = infer_shapes(g, {image});
    const std::map<std::string, Shape> shapes2 = infer_shapes(g, {with_batch(image, 2)});
    p.crops = crop_plan(g, shapes1, p.input, k);                              // checks k against the image
    const int64_t extent[3] = {p.kd, k, k};                                   // the window per plan axis
    const int64_t positions[3] = {p.D - p.kd + 1, p.H - k + 1, p.W - k + 1};  // window positions per axis

    PlannedValue in;
    in.held = Held::kInput;
    in.shape = image;
    p.values[p.input] = in;
    bool gaps = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        const NodeCrop& nc = p.crops.nodes.at(i);
        PlannedValue v;
        v.shape = shapes1.at(n.output);
        v.held = !nc.changed ? Held::kUnchanged : nc.incremental ? Held::kCrop : Held::kFull;
        // A crop needs maps of the input's spatial rank, and every computed input either a window
        // op's tile or of the output's extent.
        if (v.held == Held::kCrop && v.shape.rank != image.rank) v.held = Held::kFull;
        for (size_t j = 0; j < n.inputs.size() && v.held == Held::kCrop; ++j) {
            if (g.is_constant(n.inputs[j])) {
                // An element-wise operand that varies over space (a mean volume subtracted from the
                // input) is cropped with each window like an unchanged value, when it is one map of
                // the output's size; else (a concat's, one broadcast along some axes) the step runs in full.
                if (n.op == OpType::kAdd || n.op == OpType::kMul || n.op == OpType::kConcat) {
                    const Shape& cs = g.constant(n.inputs[j]).shape();
                    bool varies = false, whole_map = n.op != OpType::kConcat && cs.rank == v.shape.rank && cs[0] == 1;
                    for (int a = 2; a < v.shape.rank; ++a) {
                        const int ca = a - (v.shape.rank - cs.rank);
                        varies |= ca >= 0 && cs[ca] > 1;
                        whole_map &= ca >= 0 && cs[ca] == v.shape[a];
                    }
                    if (varies && whole_map) {
                        PlannedValue c;
                        c.shape = cs;
                        c.constant = true;
                        p.values[n.inputs[j]] = c;
                    } else if (varies) {
                        v.held = Held::kFull;
                    }
                }
                continue;
            }
            if (j == 0 && is_window(n.op)) continue;
            const Shape& s = shapes1.at(n.inputs[j]);
            if (s.rank != v.shape.rank) {
                v.held = Held::kFull;
                continue;
            }
            for (int a = 2; a < s.rank; ++a)
                if (s[a] != v.shape[a]) v.held = Held::kFull;
        }
        // The batch must be dimension 0 of every computed value (a Reshape to a fixed batch of 1
        // would not run on a batch of images).
        if (v.held != Held::kUnchanged && shapes2.at(n.output)[0] != 2)
            fail_input("incremental execution: value '" + n.output + "' " + v.shape.str() +
                       " does not keep the batch in dimension 0");
        if (v.held == Held::kUnchanged) {
            p.values[n.output] = v;
            continue;
        }
        gaps |= has_gaps(n);
        PlannedStep st;
        st.node = i;
        st.held = v.held;
        st.op = n;
        if (v.held == Held::kCrop) {
            for (int a = 0; a < 3; ++a) {
                const int si = spatial_index(nd, a);
                crop_side(v, a) = si < 0 ? 1 : nc.out[si];
                origins(v, a).assign(static_cast<size_t>(positions[a]), 0);
            }
            if (is_window(n.op)) {
                st.window = true;
                int64_t* stride[3] = {&st.stride_d, &st.stride_h, &st.stride_w};
                int64_t* pad[3] = {&st.pad_d, &st.pad_h, &st.pad_w};
                int64_t* tile[3] = {&st.td, &st.th, &st.tw};
                for (int a = 0; a < 3; ++a) {
                    const int si = spatial_index(nd, a);
                    if (si < 0) continue;  // an image's depth: stride 1, pad 0, tile 1
                    *stride[a] = n.geo.stride[si];
                    *pad[a] = n.geo.pad_begin[si];
                    *tile[a] = nc.in[si];
                }
                st.pad_value = n.op == OpType::kMaxPool ? -std::numeric_limits<float>::infinity() : 0.f;
                for (int a = 0; a < nd; ++a) st.op.geo.pad_begin[a] = st.op.geo.pad_end[a] = 0;
                st.op.geo.ceil_mode = false;
                if (n.op == OpType::kAveragePool)
                    st.avg_factor = average_pool_factors(n, shapes1.at(n.inputs[0]), v.shape);
            }
        }
        p.values[n.output] = v;
        p.steps.push_back(std::move(st));
    }

    // Origin tables: slide the window along one axis at a time, the other axes at the centre. `sweep`:
    // the axis whose table the window's position sets, −1 every axis, 3 none (a check only).
    auto place = [&](const int64_t(&at)[3], int sweep) {
        std::vector<int64_t> begin, end;
        for (int a = 3 - nd; a < 3; ++a) {
            begin.push_back(at[a]);
            end.push_back(at[a] + extent[a]);
        }
        const auto regions = propagate_regions(g, shapes1, p.input, Box::make(begin, end));
        for (const PlannedStep& st : p.steps) {
            if (st.held != Held::kCrop) continue;
            const std::string& name = g.nodes[st.node].output;
            PlannedValue& v = p.values.at(name);
            const RegionInfo& ri = regions.at(name);
            if (!ri.changed) continue;  // any crop recomputes clean values
            std::string crop, where, window;
            bool fits = true;
            for (int a = 0; a < 3; ++a) {
                const int si = spatial_index(nd, a);
                if (si < 0) continue;
                const size_t pos = static_cast<size_t>(at[a]);
                if (sweep < 0 || sweep == a)
                    origins(v, a)[pos] =
                        static_cast<int32_t>(crop_origin(ri.box.begin[si], crop_side(v, a), map_side(v, a)));
                const int64_t o = origins(v, a)[pos];
                fits &= ri.box.begin[si] >= o && ri.box.end[si] <= o + crop_side(v, a);
                crop += (crop.empty() ? "" : "×") + std::to_string(crop_side(v, a));
                where += (where.empty() ? "" : ", ") + std::to_string(o);
                window += (window.empty() ? "" : ", ") + std::to_string(at[a]);
            }
            if (!fits)
                fail_internal("incremental plan: changed box " + ri.box.str() + " of '" + name + "' for window (" +
                              window + ") exceeds its crop " + crop + " at (" + where + ")");
        }
    };
    const int64_t mid[3] = {(p.D - p.kd) / 2, (p.H - k) / 2, (p.W - k) / 2};
    place(mid, -1);
    for (int a = 3 - nd; a < 3; ++a)
        for (int64_t i = 0; i < positions[a]; ++i) {
            int64_t at[3] = {mid[0], mid[1], mid[2]};
            at[a] = i;
            place(at, a);
        }
    if (gaps)  // check the tables at every window position (exact; slow only for such graphs)
        for (int64_t z = 0; z < positions[0]; ++z)
            for (int64_t r = 0; r < positions[1]; ++r)
                for (int64_t c = 0; c < positions[2]; ++c) place({z, r, c}, 3);
    return p;
}

WindowTables checked_windows(const IncrementalPlan& plan, int64_t batch, const std::vector<int64_t>& slices,
                             const std::vector<int64_t>& rows, const std::vector<int64_t>& cols) {
    const int64_t n = batch;
    if (static_cast<int64_t>(slices.size()) != n || static_cast<int64_t>(rows.size()) != n ||
        static_cast<int64_t>(cols.size()) != n)
        fail_input("incremental run: " + std::to_string(batch) + " window slices, rows and columns expected");
    WindowTables t;
    t.slices.resize(static_cast<size_t>(n));
    t.rows.resize(static_cast<size_t>(n));
    t.cols.resize(static_cast<size_t>(n));
    for (int64_t b = 0; b < n; ++b) {
        if (slices[b] < 0 || rows[b] < 0 || cols[b] < 0 || slices[b] + plan.kd > plan.D || rows[b] + plan.k > plan.H ||
            cols[b] + plan.k > plan.W)
            fail_input("window (" + (plan.image.rank == 5 ? std::to_string(slices[b]) + ", " : std::string()) +
                       std::to_string(rows[b]) + ", " + std::to_string(cols[b]) + ") of side " +
                       std::to_string(plan.k) + " does not fit the " + (plan.image.rank == 5 ? "volume" : "image"));
        t.slices[static_cast<size_t>(b)] = static_cast<int32_t>(slices[b]);
        t.rows[static_cast<size_t>(b)] = static_cast<int32_t>(rows[b]);
        t.cols[static_cast<size_t>(b)] = static_cast<int32_t>(cols[b]);
    }
    return t;
}

}  // namespace pda
