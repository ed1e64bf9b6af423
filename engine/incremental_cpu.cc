// IncrementalProgram (incremental_cpu.h): the ordinary CPU ops (engine/cpu_ops.h) built once for the
// crop shapes of the plan, with zero pads; the layer's padding at map borders is gathered explicitly
// (zeros for Conv and AveragePool, −inf for MaxPool) and an average pool's divisor is corrected per
// output position afterwards. Gather and paste index math: kernels/crop_math.h.
#include "engine/incremental_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/program.h"
#include "kernels/crop_math.h"

namespace pda {

struct IncrementalProgram::Value {
    Kind kind = Kind::kUnchanged;
    Shape full;                   // (B, ...) as a full forward has it
    int64_t ch = 0, cw = 0;       // kCrop: the crop's size
    Tensor clean;                 // (1, ...) the clean image's value
    Tensor buf;                   // kCrop: (B, C, ch, cw); kFull: (B, ...)
    std::vector<int64_t> oy, ox;  // kCrop: each image's crop origin
    Tensor shown;                 // kept kCrop / kUnchanged values assembled in full
    const float* shown_ptr = nullptr;
    int64_t channels() const { return full[1]; }
    int64_t map_h() const { return full[2]; }
    int64_t map_w() const { return full[3]; }
};

struct IncrementalProgram::Step {
    const Node* node = nullptr;
    Kind kind = Kind::kFull;
    bool window = false;  // a window op on a crop: input 0 is gathered as a tile with padding
    float pad = 0.f;
    int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, th = 0, tw = 0;
    std::unique_ptr<CpuOp> op;
    std::vector<Shape> in_shapes;
    std::vector<Tensor> scratch;    // per input: its gathered or assembled form (empty: read directly)
    std::vector<float> avg_factor;  // AveragePool on crops: (Ho·Wo) divisor corrections, empty if none
};

namespace {

bool is_window(OpType op) { return op == OpType::kConv || op == OpType::kMaxPool || op == OpType::kAveragePool; }

Shape with_batch(Shape s, int64_t b) {
    s[0] = b;
    return s;
}

}  // namespace

IncrementalProgram::~IncrementalProgram() = default;

IncrementalProgram::Value& IncrementalProgram::val(const std::string& name) {
    auto it = values_.find(name);
    if (it == values_.end()) fail_input("value '" + name + "' is not in graph '" + g_.name + "'");
    return *it->second;
}

const IncrementalProgram::Value& IncrementalProgram::val(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) fail_input("value '" + name + "' is not in graph '" + g_.name + "'");
    return *it->second;
}

IncrementalProgram::IncrementalProgram(const Graph& g, ConstTensorView clean_x, int64_t k, int64_t batch,
                                       CpuContext& ctx, const std::set<std::string>& keep)
    : g_(g), B_(batch), k_(k) {
    validate(g);
    if (g.inputs.size() != 1) fail_input("incremental execution needs a graph with one input");
    if (clean_x.shape.rank != 4 || clean_x.shape[0] != 1)
        fail_input("incremental execution needs one image (1, C, H, W), got " + clean_x.shape.str());
    if (batch < 1) fail_input("incremental execution needs a batch of at least one image");
    input_ = g.inputs[0].name;
    C_ = clean_x.shape[1];
    H_ = clean_x.shape[2];
    W_ = clean_x.shape[3];
    shapes1_ = infer_shapes(g, {clean_x.shape});
    const std::map<std::string, Shape> shapes_b = infer_shapes(g, {with_batch(clean_x.shape, B_)});
    plan_ = crop_plan(g, shapes1_, input_, k);  // checks k against the image

    // The clean image once, every value kept.
    CompileOptions all;
    for (const Node& n : g.nodes) all.keep.insert(n.output);
    std::unique_ptr<Program> clean = compile_cpu(g, {clean_x.shape}, ctx, all);
    clean->run({clean_x});

    auto in_value = std::make_unique<Value>();
    in_value->kind = Kind::kInput;
    in_value->full = shapes_b.at(input_);
    in_value->clean = Tensor(clean_x.shape, clean_x.data);
    values_[input_] = std::move(in_value);

    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        const NodeCrop& nc = plan_.nodes.at(i);
        auto v = std::make_unique<Value>();
        v->full = shapes_b.at(n.output);
        v->clean = Tensor(shapes1_.at(n.output), clean->value(n.output).data);
        v->kind = !nc.changed ? Kind::kUnchanged : nc.incremental ? Kind::kCrop : Kind::kFull;
        // Crops need 2-D maps, and every computed input either a window op's tile or of the output's extent.
        if (v->kind == Kind::kCrop && v->full.rank != 4) v->kind = Kind::kFull;
        for (size_t j = 0; j < n.inputs.size() && v->kind == Kind::kCrop; ++j) {
            if (g.is_constant(n.inputs[j]) || (j == 0 && is_window(n.op))) continue;
            const Shape& s = shapes_b.at(n.inputs[j]);
            if (s.rank != 4 || s[2] != v->full[2] || s[3] != v->full[3]) v->kind = Kind::kFull;
        }
        if (v->kind == Kind::kUnchanged) {
            values_[n.output] = std::move(v);
            continue;
        }
        auto st = std::make_unique<Step>();
        st->node = &n;
        st->kind = v->kind;
        st->scratch.resize(n.inputs.size());
        Shape out_shape = v->full;
        if (v->kind == Kind::kCrop) {
            v->ch = nc.out[0];
            v->cw = nc.out[1];
            v->oy.assign(B_, 0);
            v->ox.assign(B_, 0);
            out_shape = Shape{B_, v->channels(), v->ch, v->cw};
            Node cn = n;  // the same op without padding: borders are gathered explicitly
            if (is_window(n.op)) {
                st->window = true;
                st->stride_h = n.geo.stride[0];
                st->stride_w = n.geo.stride[1];
                st->pad_h = n.geo.pad_begin[0];
                st->pad_w = n.geo.pad_begin[1];
                st->th = nc.in[0];
                st->tw = nc.in[1];
                st->pad = n.op == OpType::kMaxPool ? -std::numeric_limits<float>::infinity() : 0.f;
                for (int a = 0; a < 2; ++a) cn.geo.pad_begin[a] = cn.geo.pad_end[a] = 0;
                cn.geo.ceil_mode = false;
            }
            for (size_t j = 0; j < n.inputs.size(); ++j) {
                const std::string& in = n.inputs[j];
                if (g.is_constant(in)) {
                    st->in_shapes.push_back(g.constant(in).shape());
                    continue;
                }
                const int64_t c_in = shapes_b.at(in)[1];
                Shape s = st->window && j == 0 ? Shape{B_, c_in, st->th, st->tw} : Shape{B_, c_in, v->ch, v->cw};
                st->in_shapes.push_back(s);
                st->scratch[j] = Tensor(s);
            }
            st->op = make_cpu_op(g, cn, st->in_shapes, out_shape, ctx);
            if (n.op == OpType::kAveragePool) {
                // The full op's divisor per output position, from the op itself run on ones.
                const Shape& xs = shapes1_.at(n.inputs[0]);
                const Shape one_in{1, 1, xs[2], xs[3]}, one_out{1, 1, v->map_h(), v->map_w()};
                Tensor ones(one_in), r(one_out);
                for (int64_t e = 0; e < ones.numel(); ++e) ones.data()[e] = 1.f;
                make_cpu_op(g, n, {one_in}, one_out, ctx)->run({ones.view()}, r.view());
                const double kvol = static_cast<double>(n.geo.kernel[0] * n.geo.kernel[1]);
                const int64_t dil[2] = {std::max<int64_t>(1, n.geo.dilation[0]),
                                        std::max<int64_t>(1, n.geo.dilation[1])};
                bool trivial = true;
                st->avg_factor.resize(static_cast<size_t>(r.numel()));
                for (int64_t y = 0; y < v->map_h(); ++y)
                    for (int64_t x = 0; x < v->map_w(); ++x) {
                        const int64_t taps =
                            crop_taps_inside(y, xs[2], n.geo.kernel[0], n.geo.stride[0], n.geo.pad_begin[0], dil[0]) *
                            crop_taps_inside(x, xs[3], n.geo.kernel[1], n.geo.stride[1], n.geo.pad_begin[1], dil[1]);
                        const float f = static_cast<float>(r.data()[y * v->map_w() + x] * kvol / taps);
                        st->avg_factor[y * v->map_w() + x] = f;
                        trivial &= f == 1.f;
                    }
                if (trivial) st->avg_factor.clear();
            }
        } else {
            for (size_t j = 0; j < n.inputs.size(); ++j) {
                const std::string& in = n.inputs[j];
                st->in_shapes.push_back(g.is_constant(in) ? g.constant(in).shape() : shapes_b.at(in));
                if (g.is_constant(in)) continue;
                const Value& src = val(in);
                if (src.kind == Kind::kCrop || src.kind == Kind::kUnchanged) {
                    st->scratch[j] = Tensor(src.full);
                    const int64_t per = src.clean.numel();
                    for (int64_t b = 0; b < B_; ++b)
                        std::memcpy(st->scratch[j].data() + b * per, src.clean.data(), sizeof(float) * per);
                }
            }
            st->op = make_cpu_op(g, n, st->in_shapes, out_shape, ctx);
        }
        v->buf = Tensor(out_shape);
        values_[n.output] = std::move(v);
        steps_.push_back(std::move(st));
    }

    for (const std::string& o : g.outputs) kept_.insert(o);
    for (const std::string& o : keep) {
        if (!values_.count(o)) fail_input("value '" + o + "' is not in graph '" + g.name + "'");
        kept_.insert(o);
    }
    for (const std::string& o : kept_) {
        Value& v = val(o);
        if (v.kind != Kind::kCrop && v.kind != Kind::kUnchanged) continue;
        v.shown = Tensor(v.full);
        const int64_t per = v.clean.numel();
        for (int64_t b = 0; b < B_; ++b) std::memcpy(v.shown.data() + b * per, v.clean.data(), sizeof(float) * per);
        v.shown_ptr = v.shown.data();
    }
}

void IncrementalProgram::place_crops(const std::vector<int64_t>& rows, const std::vector<int64_t>& cols) {
    std::map<std::string, RegionInfo> regions;
    for (int64_t b = 0; b < B_; ++b) {
        const bool same = b > 0 && rows[b] == rows[b - 1] && cols[b] == cols[b - 1];
        if (!same) {
            if (rows[b] < 0 || cols[b] < 0 || rows[b] + k_ > H_ || cols[b] + k_ > W_)
                fail_input("window (" + std::to_string(rows[b]) + ", " + std::to_string(cols[b]) + ") of side " +
                           std::to_string(k_) + " does not fit the image");
            regions =
                propagate_regions(g_, shapes1_, input_, Box::make({rows[b], cols[b]}, {rows[b] + k_, cols[b] + k_}));
        }
        for (const auto& st : steps_) {
            if (st->kind != Kind::kCrop) continue;
            Value& v = val(st->node->output);
            const RegionInfo& ri = regions.at(st->node->output);
            if (!ri.changed) continue;  // any crop recomputes clean values
            v.oy[b] = crop_origin(ri.box.begin[0], v.ch, v.map_h());
            v.ox[b] = crop_origin(ri.box.begin[1], v.cw, v.map_w());
            if (ri.box.end[0] > v.oy[b] + v.ch || ri.box.end[1] > v.ox[b] + v.cw)
                fail_internal("incremental plan: changed box " + ri.box.str() + " of '" + st->node->output +
                              "' exceeds its crop " + std::to_string(v.ch) + "×" + std::to_string(v.cw));
        }
    }
}

// The form of input `j` the step's op reads: a tile or crop gathered per image, a full map assembled
// from the cache and the input's crops, or the input's own buffer when it already is that form.
const float* IncrementalProgram::gather(Step& st, size_t j, Value& out) {
    const Value& src = val(st.node->inputs[j]);
    const int64_t c = src.channels(), h = src.map_h(), w = src.map_w();
    Tensor& scratch = st.scratch[j];
    if (st.kind == Kind::kFull) {
        if (src.kind == Kind::kInput) return batch_;
        if (src.kind == Kind::kFull) return src.buf.data();
        if (src.kind == Kind::kUnchanged) return scratch.data();  // replicated once at construction
        assemble(src, scratch.data());
        return scratch.data();
    }
    // A crop step: read the output crop's region, or a window op's tile around it.
    const int64_t th = st.window && j == 0 ? st.th : out.ch, tw = st.window && j == 0 ? st.tw : out.cw;
    if (!(st.window && j == 0) && src.kind == Kind::kCrop && src.ch == th && src.cw == tw && src.oy == out.oy &&
        src.ox == out.ox)
        return src.buf.data();
    const bool tiled = st.window && j == 0;
    float* dst = scratch.data();
    const float* clean = src.clean.data();
    const float* batch = batch_;
#pragma omp parallel for schedule(static)
    for (int64_t bc = 0; bc < B_ * c; ++bc) {
        const int64_t b = bc / c, ci = bc % c;
        int64_t ty = out.oy[b], tx = out.ox[b];
        if (tiled) {
            ty = ty * st.stride_h - st.pad_h;
            tx = tx * st.stride_w - st.pad_w;
        }
        const float* plane = nullptr;  // the image's changed data for this channel
        int64_t cy = 0, cx = 0, ch = 0, cw = 0;
        if (src.kind == Kind::kInput || src.kind == Kind::kFull) {
            plane = (src.kind == Kind::kInput ? batch : src.buf.data()) + bc * h * w;
            ch = h;
            cw = w;
        } else if (src.kind == Kind::kCrop) {
            plane = src.buf.data() + bc * src.ch * src.cw;
            cy = src.oy[b];
            cx = src.ox[b];
            ch = src.ch;
            cw = src.cw;
        }
        for (int64_t r = 0; r < th; ++r)
            crop_gather_row(dst + (bc * th + r) * tw, tw, ty + r, tx, h, w, clean + ci * h * w, plane, cy, cx, ch, cw,
                            st.pad);
    }
    return scratch.data();
}

void IncrementalProgram::run(const float* batch, const std::vector<int64_t>& rows, const std::vector<int64_t>& cols) {
    if (!batch) fail_input("incremental run: no batch");
    if (static_cast<int64_t>(rows.size()) != B_ || static_cast<int64_t>(cols.size()) != B_)
        fail_input("incremental run: " + std::to_string(B_) + " window rows and columns expected");
    batch_ = batch;
    place_crops(rows, cols);
    std::vector<ConstTensorView> in;
    for (const auto& stp : steps_) {
        Step& st = *stp;
        const Node& n = *st.node;
        Value& out = val(n.output);
        in.clear();
        for (size_t j = 0; j < n.inputs.size(); ++j) {
            if (g_.is_constant(n.inputs[j]))
                in.push_back(g_.constant(n.inputs[j]).view());
            else
                in.push_back({gather(st, j, out), st.in_shapes[j]});
        }
        st.op->run(in, out.buf.view());
        if (!st.avg_factor.empty()) {
            const int64_t cc = out.channels(), mw = out.map_w();
            for (int64_t b = 0; b < B_; ++b)
                for (int64_t c = 0; c < cc; ++c)
                    for (int64_t r = 0; r < out.ch; ++r) {
                        float* y = out.buf.data() + ((b * cc + c) * out.ch + r) * out.cw;
                        const float* f = st.avg_factor.data() + (out.oy[b] + r) * mw + out.ox[b];
                        for (int64_t q = 0; q < out.cw; ++q) y[q] *= f[q];
                    }
        }
    }
    for (const std::string& o : kept_) materialise(o);
}

void IncrementalProgram::materialise(const std::string& name) {
    Value& v = val(name);
    if (v.kind == Kind::kInput) v.shown_ptr = batch_;
    if (v.kind == Kind::kFull) v.shown_ptr = v.buf.data();
    if (v.kind == Kind::kCrop) assemble(v, v.shown.data());
}

// Full (B, C, h, w) maps of a value held as crops: the clean map with each image's crop pasted in.
void IncrementalProgram::assemble(const Value& v, float* out) const {
    const int64_t c = v.channels(), h = v.map_h(), w = v.map_w();
    const float* clean = v.clean.data();
#pragma omp parallel for schedule(static)
    for (int64_t bc = 0; bc < B_ * c; ++bc) {
        const int64_t b = bc / c;
        float* dst = out + bc * h * w;
        std::memcpy(dst, clean + (bc % c) * h * w, sizeof(float) * h * w);
        const float* cr = v.buf.data() + bc * v.ch * v.cw;
        for (int64_t r = 0; r < v.ch; ++r)  // row r of the crop starts at crop_paste_offset(r·cw)
            std::memcpy(dst + crop_paste_offset(r * v.cw, v.ch, v.cw, h, w, v.oy[b], v.ox[b]), cr + r * v.cw,
                        sizeof(float) * v.cw);
    }
}

ConstTensorView IncrementalProgram::value(const std::string& name) const {
    if (!kept_.count(name)) fail_input("value '" + name + "' was not kept by the incremental program");
    const Value& v = val(name);
    if (!v.shown_ptr) fail_input("value '" + name + "' is read before the first run");
    return {v.shown_ptr, v.full};
}

ConstTensorView IncrementalProgram::clean_value(const std::string& name) const { return val(name).clean.view(); }

}  // namespace pda
