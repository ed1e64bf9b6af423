// IncrementalProgram (incremental_cpu.h): the ordinary CPU ops (engine/cpu_ops.h) built once for the
// shapes of the shared plan (engine/incremental_plan.h), window ops on crops without padding: the
// layer's padding at map borders is gathered explicitly and an average pool's divisor corrected per
// output position afterwards. Gather and paste index math: kernels/crop_math.h.
#include "engine/incremental_cpu.h"

#include <cstring>

#include "engine/program.h"
#include "kernels/crop_math.h"

namespace pda {

struct IncrementalProgram::Value {
    Held held = Held::kUnchanged;
    const PlannedValue* plan = nullptr;
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
    const PlannedStep* plan = nullptr;
    const Node* node = nullptr;  // the graph's node (plan->op is the op as it runs)
    std::unique_ptr<CpuOp> op;
    std::vector<Shape> in_shapes;
    std::vector<Tensor> scratch;  // per input: its gathered or assembled form (empty: read directly)
};

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
    : g_(g), B_(batch), plan_(plan_incremental(g, clean_x.shape, k, ctx)) {
    if (batch < 1) fail_input("incremental execution needs a batch of at least one image");
    const std::string& input = plan_.input;
    const std::map<std::string, Shape> shapes_b = infer_shapes(g, {Shape{B_, plan_.C, plan_.H, plan_.W}});

    // The clean image once, every value kept.
    CompileOptions all;
    for (const Node& n : g.nodes) all.keep.insert(n.output);
    std::unique_ptr<Program> clean = compile_cpu(g, {clean_x.shape}, ctx, all);
    clean->run({clean_x});

    for (const auto& [name, pv] : plan_.values) {
        auto v = std::make_unique<Value>();
        v->held = pv.held;
        v->plan = &pv;
        v->full = shapes_b.at(name);
        v->ch = pv.ch;
        v->cw = pv.cw;
        v->clean = name == input ? Tensor(clean_x.shape, clean_x.data) : Tensor(pv.shape, clean->value(name).data);
        if (pv.held == Held::kCrop) {
            v->oy.assign(B_, 0);
            v->ox.assign(B_, 0);
        }
        values_[name] = std::move(v);
    }
    for (const PlannedStep& ps : plan_.steps) {
        const Node& n = g.nodes[ps.node];
        Value& v = val(n.output);
        auto st = std::make_unique<Step>();
        st->plan = &ps;
        st->node = &n;
        st->in_shapes = plan_.input_shapes(g, ps, shapes_b);
        st->scratch.resize(n.inputs.size());
        for (size_t j = 0; j < n.inputs.size(); ++j) {
            if (g.is_constant(n.inputs[j])) continue;
            const Value& src = val(n.inputs[j]);
            if (ps.held == Held::kCrop) {
                st->scratch[j] = Tensor(st->in_shapes[j]);
            } else if (src.held == Held::kCrop || src.held == Held::kUnchanged) {
                // A full step reads crops assembled over the clean map; unchanged inputs are
                // replicated once here.
                st->scratch[j] = Tensor(src.full);
                const int64_t per = src.clean.numel();
                for (int64_t b = 0; b < B_; ++b)
                    std::memcpy(st->scratch[j].data() + b * per, src.clean.data(), sizeof(float) * per);
            }
        }
        const Shape out_shape = plan_.output_shape(g, ps, shapes_b);
        st->op = make_cpu_op(g, ps.op, st->in_shapes, out_shape, ctx);
        v.buf = Tensor(out_shape);
        steps_.push_back(std::move(st));
    }

    for (const std::string& o : g.outputs) kept_.insert(o);
    for (const std::string& o : keep) {
        if (!values_.count(o)) fail_input("value '" + o + "' is not in graph '" + g.name + "'");
        kept_.insert(o);
    }
    for (const std::string& o : kept_) {
        Value& v = val(o);
        if (v.held != Held::kCrop && v.held != Held::kUnchanged) continue;
        v.shown = Tensor(v.full);
        const int64_t per = v.clean.numel();
        for (int64_t b = 0; b < B_; ++b) std::memcpy(v.shown.data() + b * per, v.clean.data(), sizeof(float) * per);
        v.shown_ptr = v.shown.data();
    }
}

void IncrementalProgram::place_crops(const std::vector<int64_t>& rows, const std::vector<int64_t>& cols) {
    for (int64_t b = 0; b < B_; ++b)
        if (rows[b] < 0 || cols[b] < 0 || rows[b] + plan_.k > plan_.H || cols[b] + plan_.k > plan_.W)
            fail_input("window (" + std::to_string(rows[b]) + ", " + std::to_string(cols[b]) + ") of side " +
                       std::to_string(plan_.k) + " does not fit the image");
    for (auto& [name, v] : values_) {
        if (v->held != Held::kCrop) continue;
        for (int64_t b = 0; b < B_; ++b) {
            v->oy[b] = v->plan->oy[static_cast<size_t>(rows[b])];
            v->ox[b] = v->plan->ox[static_cast<size_t>(cols[b])];
        }
    }
}

// The form of input `j` the step's op reads: a tile or crop gathered per image, a full map assembled
// from the cache and the input's crops, or the input's own buffer when it already is that form.
const float* IncrementalProgram::gather(Step& st, size_t j, Value& out) {
    const PlannedStep& ps = *st.plan;
    const Value& src = val(st.node->inputs[j]);
    const int64_t c = src.channels(), h = src.map_h(), w = src.map_w();
    Tensor& scratch = st.scratch[j];
    if (ps.held == Held::kFull) {
        if (src.held == Held::kInput) return batch_;
        if (src.held == Held::kFull) return src.buf.data();
        if (src.held == Held::kUnchanged) return scratch.data();  // replicated once at construction
        assemble(src, scratch.data());
        return scratch.data();
    }
    // A crop step: read the output crop's region, or a window op's tile around it.
    const int64_t th = ps.window && j == 0 ? ps.th : out.ch, tw = ps.window && j == 0 ? ps.tw : out.cw;
    if (!(ps.window && j == 0) && src.held == Held::kCrop && src.ch == th && src.cw == tw && src.oy == out.oy &&
        src.ox == out.ox)
        return src.buf.data();
    const bool tiled = ps.window && j == 0;
    float* dst = scratch.data();
    const float* clean = src.clean.data();
    const float* batch = batch_;
#pragma omp parallel for schedule(static)
    for (int64_t bc = 0; bc < B_ * c; ++bc) {
        const int64_t b = bc / c, ci = bc % c;
        int64_t ty = out.oy[b], tx = out.ox[b];
        if (tiled) {
            ty = ty * ps.stride_h - ps.pad_h;
            tx = tx * ps.stride_w - ps.pad_w;
        }
        const float* plane = nullptr;  // the image's changed data for this channel
        int64_t cy = 0, cx = 0, ch = 0, cw = 0;
        if (src.held == Held::kInput || src.held == Held::kFull) {
            plane = (src.held == Held::kInput ? batch : src.buf.data()) + bc * h * w;
            ch = h;
            cw = w;
        } else if (src.held == Held::kCrop) {
            plane = src.buf.data() + bc * src.ch * src.cw;
            cy = src.oy[b];
            cx = src.ox[b];
            ch = src.ch;
            cw = src.cw;
        }
        for (int64_t r = 0; r < th; ++r)
            crop_gather_row(dst + (bc * th + r) * tw, tw, ty + r, tx, h, w, clean + ci * h * w, plane, cy, cx, ch, cw,
                            ps.pad_value);
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
        const PlannedStep& ps = *st.plan;
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
        if (!ps.avg_factor.empty()) {
            const int64_t cc = out.channels(), mw = out.map_w();
            for (int64_t b = 0; b < B_; ++b)
                for (int64_t c = 0; c < cc; ++c)
                    for (int64_t r = 0; r < out.ch; ++r) {
                        float* y = out.buf.data() + ((b * cc + c) * out.ch + r) * out.cw;
                        const float* f = ps.avg_factor.data() + (out.oy[b] + r) * mw + out.ox[b];
                        for (int64_t q = 0; q < out.cw; ++q) y[q] *= f[q];
                    }
        }
    }
    for (const std::string& o : kept_) materialise(o);
}

void IncrementalProgram::materialise(const std::string& name) {
    Value& v = val(name);
    if (v.held == Held::kInput) v.shown_ptr = batch_;
    if (v.held == Held::kFull) v.shown_ptr = v.buf.data();
    if (v.held == Held::kCrop) assemble(v, v.shown.data());
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
