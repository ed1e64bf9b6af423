// IncrementalProgram (incremental.h): the layout bound to host memory (bind_layout, the binding the
// CUDA program uses) and run as CudaIncrementalProgram::run_device runs it
// (engine/cuda/incremental_cuda.cc): per step gather, op, scale; then each kept crop value assembled.
#include "engine/cpu/incremental.h"

#include <algorithm>
#include <limits>

#include "engine/cpu/layouts.h"
#include "engine/program.h"
#include "kernels/cpu/crop.h"

namespace pda {
namespace {

constexpr int64_t kAlignFloats = 16;  // 64 bytes, a cache line

// v (1, C, spatial...) plain into out in the blocked layout (1, C/b, spatial..., b): b = channel_block(), or
// b = C for channels last.
void to_blocks(ConstTensorView v, float* out, int64_t b) {
    const int64_t c = v.shape[1], size = v.numel() / c;
    for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t i = 0; i < size; ++i) out[((ch / b) * size + i) * b + ch % b] = v.data[ch * size + i];
}

// The floats of one element of a map of value shape s in layout l, as the gathers copy them.
int64_t element_floats(Layout l, const Shape& s) {
    return l == Layout::kBlocked ? channel_block() : l == Layout::kChannelsLast ? s[1] : 1;
}

}  // namespace

Layout IncrementalProgram::layout(const std::string& value) const { return layouts_.of(value); }

IncrementalProgram::~IncrementalProgram() = default;

IncrementalProgram::IncrementalProgram(const Graph& g, ConstTensorView clean_x, int64_t k, int64_t batch,
                                       CpuContext& ctx, const std::set<std::string>& keep, bool blocked_layouts)
    : plan_(plan_incremental(g, clean_x.shape, k)) {
    if (batch < 1) fail_input("incremental execution needs a batch of at least one image");
    layout_ = layout_incremental(g, plan_, batch, keep, kAlignFloats);
    shapes_ = infer_shapes(g, {plan_.batch_shape(batch)});
    // NaN-filled, so that an element a gather should have written but did not shows in every output.
    arena_ = Tensor(Shape{std::max<int64_t>(layout_.arena_floats, 1)});
    clean_ = Tensor(Shape{std::max<int64_t>(layout_.clean_floats, 1)});
    std::fill(arena_.data(), arena_.data() + arena_.numel(), std::numeric_limits<float>::quiet_NaN());
    std::fill(clean_.data(), clean_.data() + clean_.numel(), std::numeric_limits<float>::quiet_NaN());

    // Values in oneDNN's blocked layout, as the full program would have them (engine/cpu/layouts.h),
    // but kept values and an average pool's output corrected by its factors (crop_scale) plain.
    std::set<std::string> plain = layout_.kept;
    for (const PlannedStep& st : plan_.steps)
        if (!st.avg_factor.empty()) plain.insert(g.nodes[st.node].output);
    if (blocked_layouts) layouts_ = plan_cpu_layouts(g, shapes_, plain);

    // The clean image's forward, every value kept (set_clean runs it).
    CompileOptions all;
    for (const Node& n : g.nodes) all.keep.insert(n.output);
    clean_prog_ = compile_cpu(g, {clean_x.shape}, ctx, all);

    LayoutMemory mem;
    mem.arena = arena_.data();
    mem.clean = clean_.data();
    mem.constant = [&g](const std::string& v) { return g.constant(v).data(); };
    mem.table = [this](const std::string& v, int axis) {
        const PlannedValue& pv = plan_.value(v);
        return (axis == 0 ? pv.oz : axis == 1 ? pv.oy : pv.ox).data();
    };
    mem.avg_factor = [this](size_t i) { return plan_.steps.at(i).avg_factor.data(); };
    bind_ = bind_layout(g, plan_, layout_, mem);
    for (size_t i = 0; i < plan_.steps.size(); ++i) {
        const Node& op = plan_.steps[i].op;
        CpuOpLayouts lay;
        for (const std::string& v : op.inputs) lay.in.push_back(layout(v));
        lay.out = layout(g.nodes[plan_.steps[i].node].output);
        ops_.push_back(make_cpu_op(g, op, layout_.steps[i].in_shapes, layout_.steps[i].out_shape, ctx, lay));
        std::vector<int64_t> vec;
        for (const std::string& v : op.inputs)
            vec.push_back(g.is_constant(v) ? 1 : element_floats(layout(v), shapes_.at(v)));
        gather_vec_.push_back(vec);
    }
    set_clean(clean_x);
}

void IncrementalProgram::set_clean(ConstTensorView x) {
    if (x.shape != plan_.value(plan_.input).shape)
        fail_internal("incremental program for " + plan_.value(plan_.input).shape.str() + " given an image " +
                      x.shape.str());
    // The clean cache: every value the plan reads of the clean image, in its layout.
    clean_prog_->run({x});
    for (const auto& [name, lv] : layout_.values) {
        if (lv.clean < 0) continue;
        const ConstTensorView v = name == plan_.input ? x : clean_prog_->value(name);
        const Layout l = layout(name);
        if (l == Layout::kPlain)
            std::copy(v.data, v.data + v.numel(), clean_.data() + lv.clean);
        else
            to_blocks(v, clean_.data() + lv.clean, element_floats(l, v.shape));
    }
    // Unchanged values read in full or kept: replicated over the batch.
    for (const LayoutBinding::Broadcast& b : bind_.broadcasts) cpu::crop_broadcast(b.out, b.clean, b.n, layout_.batch);
}

void IncrementalProgram::run_windows(const CropWindows& win) {
    std::vector<ConstTensorView> in;
    for (size_t i = 0; i < ops_.size(); ++i) {
        const BoundStep& st = bind_.steps[i];
        const LayoutStep& ls = layout_.steps[i];
        in.clear();
        for (size_t j = 0; j < st.inputs.size(); ++j) {
            const BoundInput& x = st.inputs[j];
            if (x.scratch) cpu::crop_gather(x.scratch, x.tile, x.source, win, gather_vec_[i][j]);
            in.push_back({x.ptr, ls.in_shapes[j]});
        }
        ops_[i]->run(in, {st.out, ls.out_shape});
        if (st.factor) cpu::crop_scale(st.out, st.factor, st.crop, st.map_h, st.map_w, win);
    }
    for (const LayoutBinding::Assembly& a : bind_.shown) cpu::crop_gather(a.out, a.tile, a.source, win);
    ran_ = true;
}

void IncrementalProgram::run(const float* batch, const std::vector<int64_t>& slices, const std::vector<int64_t>& rows,
                             const std::vector<int64_t>& cols) {
    if (!batch) fail_input("incremental run: no batch");
    const WindowTables t = checked_windows(plan_, layout_.batch, slices, rows, cols);
    if (batch != bind_.input) std::copy(batch, batch + shapes_.at(plan_.input).numel(), bind_.input);
    run_windows({t.slices.data(), t.rows.data(), t.cols.data()});
}

void IncrementalProgram::run(const float* batch, const std::vector<int64_t>& rows, const std::vector<int64_t>& cols) {
    run(batch, std::vector<int64_t>(rows.size(), 0), rows, cols);
}

ConstTensorView IncrementalProgram::value(const std::string& name) const {
    auto it = bind_.kept_values.find(name);
    if (it == bind_.kept_values.end()) fail_input("value '" + name + "' was not kept by the incremental program");
    if (!ran_) fail_input("value '" + name + "' is read before the first run");
    return {it->second, shapes_.at(name)};
}

int64_t IncrementalProgram::memory_bytes() const {
    return static_cast<int64_t>(sizeof(float)) * (layout_.arena_floats + layout_.clean_floats);
}

}  // namespace pda
