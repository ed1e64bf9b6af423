// The CPU executor: compiles a graph into op instances over one activation arena whose slots are
// reused once their last reader has run (engine/memory_plan.h). Reshape, Flatten and Identity are
// views of their input and cost nothing. Values between oneDNN ops lie in its blocked (or channels-last)
// layout where the layout plan allows (engine/cpu/layouts.h); what value() shows is always plain.
#include <algorithm>
#include <map>

#include "engine/cpu/layouts.h"
#include "engine/cpu/ops.h"
#include "engine/memory_plan.h"
#include "engine/program.h"

namespace pda {
namespace {

constexpr int64_t kAlignFloats = 16;  // 64 bytes, a cache line

class CpuProgram : public Program {
  public:
    CpuProgram(const Graph& g, const std::vector<Shape>& input_shapes, CpuContext& ctx, const CompileOptions& opt)
        : g_(g) {
        shapes_ = infer_shapes(g, input_shapes);

        plan_ = plan_memory(g, shapes_, opt.keep, kAlignFloats);
        shared_ = opt.arena;
        if (!shared_) arena_ = alloc_floats(plan_.arena_floats);
        base_ = arena_.get();
        for (const ValueInfo& in : g.inputs) input_index_[in.name] = static_cast<int>(input_index_.size());

        CpuLayoutPlan layouts;
        if (opt.blocked_layouts) layouts = plan_cpu_layouts(g, shapes_, opt.keep);
        auto layout = [&](const std::string& v) { return layouts.of(v); };
        for (const Node& n : g.nodes) {
            std::vector<Shape> in;
            CpuOpLayouts lay;
            for (const std::string& v : n.inputs) {
                in.push_back(shapes_.at(v));
                lay.in.push_back(layout(v));
            }
            lay.out = layout(n.output);
            ops_.push_back(is_view_op(n.op) ? nullptr : make_cpu_op(g, n, in, shapes_.at(n.output), ctx, lay));
        }
    }

    void run(const std::vector<ConstTensorView>& inputs) override {
        if (inputs.size() != g_.inputs.size())
            fail_input("expected " + std::to_string(g_.inputs.size()) + " inputs, got " +
                       std::to_string(inputs.size()));
        for (size_t i = 0; i < inputs.size(); ++i)
            if (inputs[i].shape != shapes_.at(g_.inputs[i].name))
                fail_input("input '" + g_.inputs[i].name + "' has shape " + inputs[i].shape.str() + ", compiled for " +
                           shapes_.at(g_.inputs[i].name).str());
        inputs_ = inputs;
        if (shared_) base_ = shared_->reserve(plan_.arena_floats);
        std::vector<ConstTensorView> in;
        for (size_t i = 0; i < g_.nodes.size(); ++i) {
            if (!ops_[i]) continue;
            const Node& n = g_.nodes[i];
            in.clear();
            for (const std::string& v : n.inputs) in.push_back(value(v));
            ops_[i]->run(in, {mutable_data(n.output), shapes_.at(n.output)});
        }
    }

    ConstTensorView value(const std::string& name) const override {
        auto s = shapes_.find(name);
        if (s == shapes_.end()) fail_input("value '" + name + "' is not in graph '" + g_.name + "'");
        if (g_.is_constant(name)) return g_.constant(name).view();
        const std::string& r = plan_.root_of(name);
        if (g_.is_constant(r)) return {g_.constant(r).data(), s->second};
        auto in = input_index_.find(r);
        if (in != input_index_.end()) return {inputs_.at(in->second).data, s->second};
        return {base_ + plan_.offset.at(r), s->second};
    }

    const Shape& shape(const std::string& name) const override {
        auto s = shapes_.find(name);
        if (s == shapes_.end()) fail_input("value '" + name + "' is not in graph '" + g_.name + "'");
        return s->second;
    }

    int64_t activation_bytes() const override { return plan_.arena_floats * static_cast<int64_t>(sizeof(float)); }
    int64_t scratchpad_bytes() const override {
        size_t most = 0;
        for (const std::unique_ptr<CpuOp>& op : ops_)
            if (op) most = std::max(most, op->scratchpad_bytes());
        return static_cast<int64_t>(most);
    }

  private:
    float* mutable_data(const std::string& v) { return base_ + plan_.offset.at(plan_.root_of(v)); }

    const Graph& g_;
    std::map<std::string, Shape> shapes_;
    MemoryPlan plan_;
    std::map<std::string, int> input_index_;
    std::unique_ptr<float[], AlignedFree> arena_;  // its own, or none with a shared one
    SharedArena* shared_ = nullptr;
    float* base_ = nullptr;  // the arena of the last run
    std::vector<std::unique_ptr<CpuOp>> ops_;
    std::vector<ConstTensorView> inputs_;
};

}  // namespace

std::unique_ptr<Program> compile_cpu(const Graph& g, const std::vector<Shape>& input_shapes, CpuContext& ctx,
                                     const CompileOptions& opt) {
    validate(g);
    return std::make_unique<CpuProgram>(g, input_shapes, ctx, opt);
}

}  // namespace pda
