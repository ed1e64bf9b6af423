// plan_incremental (incremental_plan.h): the crop sizes of networks/regions.h, the origin tables from
// one sweep of the window along each axis, the steps' gather parameters and average-pool divisors.
#include "engine/incremental_plan.h"

#include <algorithm>
#include <limits>

#include "kernels/crop_math.h"

namespace pda {

namespace {

bool is_window(OpType op) { return op == OpType::kConv || op == OpType::kMaxPool || op == OpType::kAveragePool; }

// A window op whose taps leave gaps (stride wider than the kernel's span, or dilation > 1) can map a
// narrow changed box to nothing. Then whether a union includes that branch depends on the window's
// position along the other axis too, and the tables of one sweep per axis must be checked at every
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

int64_t axis_divisor(const Node& n, int a, int64_t o, int64_t in) {
    return crop_pool_divisor(o, in, n.geo.kernel[a], n.geo.stride[a], n.geo.pad_begin[a], n.geo.pad_end[a],
                             std::max<int64_t>(1, n.geo.dilation[a]), n.count_include_pad);
}

// The full op's divisor over the unpadded op's (the kernel volume, every tap of a crop tile being
// inside it), per output position; empty when all are 1. The divisor follows the AveragePool ops of
// both backends: taps inside the padded input with count_include_pad, inside the input without.
std::vector<float> average_pool_factors(const Node& n, const Shape& in1, const Shape& out1) {
    const double kvol = static_cast<double>(n.geo.kernel[0] * n.geo.kernel[1]);
    std::vector<float> f(static_cast<size_t>(out1[2] * out1[3]));
    bool trivial = true;
    for (int64_t y = 0; y < out1[2]; ++y)
        for (int64_t x = 0; x < out1[3]; ++x) {
            const int64_t divisor = axis_divisor(n, 0, y, in1[2]) * axis_divisor(n, 1, x, in1[3]);
            const float v = static_cast<float>(kvol / static_cast<double>(divisor));
            f[static_cast<size_t>(y * out1[3] + x)] = v;
            trivial &= v == 1.f;
        }
    if (trivial) f.clear();
    return f;
}

}  // namespace

const PlannedValue& IncrementalPlan::value(const std::string& name) const {
    auto it = values.find(name);
    if (it == values.end()) fail_input("value '" + name + "' is not in the incremental plan");
    return it->second;
}

std::vector<Shape> IncrementalPlan::input_shapes(const Graph& g, const PlannedStep& st,
                                                 const std::map<std::string, Shape>& shapes_b) const {
    const Node& n = g.nodes.at(st.node);
    const int64_t B = shapes_b.at(input)[0];
    const PlannedValue& out = value(n.output);
    std::vector<Shape> r;
    for (size_t j = 0; j < n.inputs.size(); ++j) {
        const std::string& in = n.inputs[j];
        if (g.is_constant(in)) {
            r.push_back(g.constant(in).shape());
        } else if (st.held == Held::kFull) {
            r.push_back(shapes_b.at(in));
        } else {
            const int64_t c = shapes_b.at(in)[1];
            r.push_back(st.window && j == 0 ? Shape{B, c, st.th, st.tw} : Shape{B, c, out.ch, out.cw});
        }
    }
    return r;
}

Shape IncrementalPlan::output_shape(const Graph& g, const PlannedStep& st,
                                    const std::map<std::string, Shape>& shapes_b) const {
    const Node& n = g.nodes.at(st.node);
    const Shape& full = shapes_b.at(n.output);
    if (st.held == Held::kFull) return full;
    const PlannedValue& out = value(n.output);
    return Shape{full[0], full[1], out.ch, out.cw};
}

IncrementalPlan plan_incremental(const Graph& g, const Shape& image, int64_t k) {
    validate(g);
    if (g.inputs.size() != 1) fail_input("incremental execution needs a graph with one input");
    if (image.rank != 4 || image[0] != 1)
        fail_input("incremental execution needs one image (1, C, H, W), got " + image.str() +
                   (image.rank == 5 ? " (volumes run with full execution for now: --exec full)" : ""));
    IncrementalPlan p;
    p.input = g.inputs[0].name;
    p.k = k;
    p.C = image[1];
    p.H = image[2];
    p.W = image[3];
    const std::map<std::string, Shape> shapes1 = infer_shapes(g, {image});
    const std::map<std::string, Shape> shapes2 = infer_shapes(g, {with_batch(image, 2)});
    p.crops = crop_plan(g, shapes1, p.input, k);  // checks k against the image

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
        // A crop needs a 2-D map, and every computed input either a window op's tile or of the
        // output's extent.
        if (v.held == Held::kCrop && v.shape.rank != 4) v.held = Held::kFull;
        for (size_t j = 0; j < n.inputs.size() && v.held == Held::kCrop; ++j) {
            if (g.is_constant(n.inputs[j]) || (j == 0 && is_window(n.op))) continue;
            const Shape& s = shapes1.at(n.inputs[j]);
            if (s.rank != 4 || s[2] != v.shape[2] || s[3] != v.shape[3]) v.held = Held::kFull;
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
            v.ch = nc.out[0];
            v.cw = nc.out[1];
            if (is_window(n.op)) {
                st.window = true;
                st.stride_h = n.geo.stride[0];
                st.stride_w = n.geo.stride[1];
                st.pad_h = n.geo.pad_begin[0];
                st.pad_w = n.geo.pad_begin[1];
                st.th = nc.in[0];
                st.tw = nc.in[1];
                st.pad_value = n.op == OpType::kMaxPool ? -std::numeric_limits<float>::infinity() : 0.f;
                for (int a = 0; a < 2; ++a) st.op.geo.pad_begin[a] = st.op.geo.pad_end[a] = 0;
                st.op.geo.ceil_mode = false;
                if (n.op == OpType::kAveragePool)
                    st.avg_factor = average_pool_factors(n, shapes1.at(n.inputs[0]), v.shape);
            }
            v.oy.assign(static_cast<size_t>(p.H - k + 1), 0);
            v.ox.assign(static_cast<size_t>(p.W - k + 1), 0);
        }
        p.values[n.output] = v;
        p.steps.push_back(std::move(st));
    }

    // Origin tables: slide the window along one axis at a time, the other axis at the centre.
    const int64_t r_mid = (p.H - k) / 2, c_mid = (p.W - k) / 2;
    auto place = [&](int64_t r, int64_t c, bool rows, bool cols) {
        const auto regions = propagate_regions(g, shapes1, p.input, Box::make({r, c}, {r + k, c + k}));
        for (const PlannedStep& st : p.steps) {
            if (st.held != Held::kCrop) continue;
            const std::string& name = g.nodes[st.node].output;
            PlannedValue& v = p.values.at(name);
            const RegionInfo& ri = regions.at(name);
            if (!ri.changed) continue;  // any crop recomputes clean values
            if (rows)
                v.oy[static_cast<size_t>(r)] = static_cast<int32_t>(crop_origin(ri.box.begin[0], v.ch, v.map_h()));
            if (cols)
                v.ox[static_cast<size_t>(c)] = static_cast<int32_t>(crop_origin(ri.box.begin[1], v.cw, v.map_w()));
            const int64_t oy = v.oy[static_cast<size_t>(r)], ox = v.ox[static_cast<size_t>(c)];
            if (ri.box.end[0] > oy + v.ch || ri.box.end[1] > ox + v.cw)
                fail_internal("incremental plan: changed box " + ri.box.str() + " of '" + name + "' for window (" +
                              std::to_string(r) + ", " + std::to_string(c) + ") exceeds its crop " +
                              std::to_string(v.ch) + "×" + std::to_string(v.cw) + " at (" + std::to_string(oy) + ", " +
                              std::to_string(ox) + ")");
        }
    };
    place(r_mid, c_mid, true, true);
    for (int64_t r = 0; r + k <= p.H; ++r) place(r, c_mid, true, false);
    for (int64_t c = 0; c + k <= p.W; ++c) place(r_mid, c, false, true);
    if (gaps)  // check the tables at every window position (exact; slow only for such graphs)
        for (int64_t r = 0; r + k <= p.H; ++r)
            for (int64_t c = 0; c + k <= p.W; ++c) place(r, c, false, false);
    return p;
}

void checked_windows(const IncrementalPlan& plan, int64_t batch, const std::vector<int64_t>& rows,
                     const std::vector<int64_t>& cols, std::vector<int32_t>& rows32, std::vector<int32_t>& cols32) {
    if (static_cast<int64_t>(rows.size()) != batch || static_cast<int64_t>(cols.size()) != batch)
        fail_input("incremental run: " + std::to_string(batch) + " window rows and columns expected");
    rows32.resize(static_cast<size_t>(batch));
    cols32.resize(static_cast<size_t>(batch));
    for (int64_t b = 0; b < batch; ++b) {
        if (rows[b] < 0 || cols[b] < 0 || rows[b] + plan.k > plan.H || cols[b] + plan.k > plan.W)
            fail_input("window (" + std::to_string(rows[b]) + ", " + std::to_string(cols[b]) + ") of side " +
                       std::to_string(plan.k) + " does not fit the image");
        rows32[static_cast<size_t>(b)] = static_cast<int32_t>(rows[b]);
        cols32[static_cast<size_t>(b)] = static_cast<int32_t>(cols[b]);
    }
}

}  // namespace pda
