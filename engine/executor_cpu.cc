// The CPU executor: compiles a graph into op instances and a memory plan in which activation
// buffers are reused once their last reader has run. Reshape, Flatten and Identity are views of
// their input and cost nothing.
#include <algorithm>
#include <map>

#include "engine/cpu_ops.h"
#include "engine/program.h"

namespace pda {
namespace {

bool is_view_op(OpType op) { return op == OpType::kReshape || op == OpType::kFlatten || op == OpType::kIdentity; }

class CpuProgram : public Program {
  public:
    CpuProgram(const Graph& g, const std::vector<Shape>& input_shapes, CpuContext& ctx, const CompileOptions& opt)
        : g_(g) {
        shapes_ = infer_shapes(g, input_shapes);
        const int n_nodes = static_cast<int>(g.nodes.size());

        // Storage root of every value (views share their input's storage).
        for (const Node& n : g.nodes) root_[n.output] = is_view_op(n.op) ? root_of(n.inputs[0]) : n.output;

        // Last node index that reads each root; kept values and outputs live to the end.
        std::map<std::string, int> last_use;
        for (int i = 0; i < n_nodes; ++i)
            for (const std::string& v : g.nodes[i].inputs) last_use[root_of(v)] = i;
        for (const std::string& v : g.outputs) last_use[root_of(v)] = n_nodes;
        for (const std::string& v : opt.keep) {
            if (!shapes_.count(v)) fail_input("value '" + v + "' is not in graph '" + g.name + "'");
            last_use[root_of(v)] = n_nodes;
        }

        // Greedy best-fit assignment of roots to slots, freeing slots after their last reader.
        struct Slot {
            int64_t size = 0;
            int free_after = -1;  // node index after which the slot may be reused
        };
        std::vector<Slot> slots;
        for (int i = 0; i < n_nodes; ++i) {
            const Node& n = g.nodes[i];
            if (is_view_op(n.op) || g.is_constant(n.output)) continue;
            int64_t need = shapes_.at(n.output).numel();
            int best = -1;
            for (int s = 0; s < static_cast<int>(slots.size()); ++s) {
                if (slots[s].free_after >= i) continue;
                // Prefer the smallest slot that fits, else the largest one (it will grow).
                if (best < 0) {
                    best = s;
                    continue;
                }
                bool fits = slots[s].size >= need, best_fits = slots[best].size >= need;
                if ((fits && (!best_fits || slots[s].size < slots[best].size)) ||
                    (!fits && !best_fits && slots[s].size > slots[best].size))
                    best = s;
            }
            if (best < 0) {
                best = static_cast<int>(slots.size());
                slots.push_back({});
            }
            slots[best].size = std::max(slots[best].size, need);
            auto it = last_use.find(n.output);
            slots[best].free_after = it == last_use.end() ? i : it->second;
            slot_of_[n.output] = best;
        }
        for (const Slot& s : slots) {
            buffers_.push_back(alloc_floats(s.size));
            activation_bytes_ += s.size * static_cast<int64_t>(sizeof(float));
        }
        for (const ValueInfo& in : g.inputs) input_index_[in.name] = static_cast<int>(input_index_.size());

        for (const Node& n : g.nodes) {
            std::vector<Shape> in;
            for (const std::string& v : n.inputs) in.push_back(shapes_.at(v));
            ops_.push_back(is_view_op(n.op) ? nullptr : make_cpu_op(g, n, in, shapes_.at(n.output), ctx));
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
        const std::string& r = root_of(name);
        if (g_.is_constant(r)) return {g_.constant(r).data(), s->second};
        auto in = input_index_.find(r);
        if (in != input_index_.end()) return {inputs_.at(in->second).data, s->second};
        return {buffers_[slot_of_.at(r)].get(), s->second};
    }

    const Shape& shape(const std::string& name) const override {
        auto s = shapes_.find(name);
        if (s == shapes_.end()) fail_input("value '" + name + "' is not in graph '" + g_.name + "'");
        return s->second;
    }

    int64_t activation_bytes() const override { return activation_bytes_; }

  private:
    const std::string& root_of(const std::string& v) const {
        auto it = root_.find(v);
        return it == root_.end() ? v : it->second;
    }
    float* mutable_data(const std::string& v) { return buffers_[slot_of_.at(root_of(v))].get(); }

    const Graph& g_;
    std::map<std::string, Shape> shapes_;
    std::map<std::string, std::string> root_;
    std::map<std::string, int> slot_of_;
    std::map<std::string, int> input_index_;
    std::vector<std::unique_ptr<float[], AlignedFree>> buffers_;
    std::vector<std::unique_ptr<CpuOp>> ops_;
    std::vector<ConstTensorView> inputs_;
    int64_t activation_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Program> compile_cpu(const Graph& g, const std::vector<Shape>& input_shapes, CpuContext& ctx,
                                     const CompileOptions& opt) {
    validate(g);
    return std::make_unique<CpuProgram>(g, input_shapes, ctx, opt);
}

}  // namespace pda
