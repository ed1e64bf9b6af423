// plan_cpu_layouts (layouts.h): start from every value whose producer and readers all allow the
// blocked layout, then drop values until the pass-through ops agree (a layout-blind op's output is
// blocked exactly when all its computed inputs are); each drop only removes, so this ends. Then
// channels last among the values left, the same way (element-wise ops pass it on; concats do not).
#include "engine/cpu/layouts.h"

#include <vector>

#include "engine/cpu/ops.h"

namespace pda {

namespace {

// How each node meets one layout: its producer writes it, its input 0 is read so, or it passes it on.
struct Side {
    bool emits = false, reads = false, passes = false;
};
using Readers = std::map<std::string, std::vector<std::pair<size_t, size_t>>>;  // value -> (node, input)

// The values that lie in one layout: every value (not excluded; with readers where needs_readers)
// whose producer emits or passes it and whose readers read it as input 0 or pass it on, then fewer
// until each pass-through op's inputs and output agree (each drop only removes, so this ends).
std::set<std::string> agreeing_values(const Graph& g, const std::vector<Side>& side, Readers& readers,
                                      const std::set<std::string>& excluded, bool needs_readers) {
    std::set<std::string> in;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const std::string& v = g.nodes[i].output;
        if (excluded.count(v) || (needs_readers && readers[v].empty()) || !(side[i].emits || side[i].passes)) continue;
        bool readable = true;
        for (const auto& [r, j] : readers[v]) readable = readable && (side[r].passes || (side[r].reads && j == 0));
        if (readable) in.insert(v);
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            const Node& n = g.nodes[i];
            if (!in.count(n.output)) continue;
            bool keep = true;
            if (side[i].passes)  // its inputs in the layout too
                for (const std::string& u : n.inputs) keep = keep && in.count(u);
            for (const auto& [r, j] : readers[n.output])  // and its pass-through readers' outputs
                keep = keep && (!side[r].passes || in.count(g.nodes[r].output));
            if (!keep) {
                in.erase(n.output);
                changed = true;
            }
        }
    }
    return in;
}

}  // namespace

CpuLayoutPlan plan_cpu_layouts(const Graph& g, const std::map<std::string, Shape>& shapes,
                               const std::set<std::string>& external) {
    const size_t n_nodes = g.nodes.size();
    std::vector<Side> blocked_side(n_nodes), last_side(n_nodes);
    Readers readers;
    for (size_t i = 0; i < n_nodes; ++i) {
        const Node& n = g.nodes[i];
        std::vector<Shape> in;
        for (const std::string& v : n.inputs) in.push_back(shapes.at(v));
        const CpuLayoutTraits t = cpu_layout_traits(g, n, in, shapes.at(n.output));
        blocked_side[i] = {t.emits_blocked, t.reads_blocked, t.passes_through};
        last_side[i] = {t.emits_last, t.reads_last, t.passes_last};
        for (size_t j = 0; j < n.inputs.size(); ++j) readers[n.inputs[j]].push_back({i, j});
    }
    std::set<std::string> outside(external.begin(), external.end());
    outside.insert(g.outputs.begin(), g.outputs.end());

    CpuLayoutPlan plan;
    plan.blocked = agreeing_values(g, blocked_side, readers, outside, false);
    // Channels last among the values left.
    std::set<std::string> taken = outside;
    taken.insert(plan.blocked.begin(), plan.blocked.end());
    plan.channels_last = agreeing_values(g, last_side, readers, taken, true);
    return plan;
}

}  // namespace pda
