// plan_cpu_layouts (layouts.h): start from every value whose producer and readers all allow the
// blocked layout, then drop values until the pass-through ops agree (a layout-blind op's output is
// blocked exactly when all its computed inputs are); each drop only removes, so this ends. Then
// channels last among the values left, the same way (element-wise ops pass it on; concats do not).
#include "engine/cpu/layouts.h"

#include <vector>

#include "engine/cpu/ops.h"

namespace pda {

CpuLayoutPlan plan_cpu_layouts(const Graph& g, const std::map<std::string, Shape>& shapes,
                               const std::set<std::string>& external) {
    const size_t n_nodes = g.nodes.size();
    std::vector<CpuLayoutTraits> traits(n_nodes);
    std::map<std::string, std::vector<std::pair<size_t, size_t>>> readers;  // value -> (node, input)
    for (size_t i = 0; i < n_nodes; ++i) {
        const Node& n = g.nodes[i];
        std::vector<Shape> in;
        for (const std::string& v : n.inputs) in.push_back(shapes.at(v));
        traits[i] = cpu_layout_traits(g, n, in, shapes.at(n.output));
        for (size_t j = 0; j < n.inputs.size(); ++j) readers[n.inputs[j]].push_back({i, j});
    }
    std::set<std::string> outside(external.begin(), external.end());
    outside.insert(g.outputs.begin(), g.outputs.end());

    std::set<std::string> blocked;
    for (size_t i = 0; i < n_nodes; ++i) {
        const std::string& v = g.nodes[i].output;
        if (outside.count(v) || !(traits[i].emits_blocked || traits[i].passes_through)) continue;
        bool readable = true;
        for (const auto& [r, j] : readers[v])
            readable = readable && (traits[r].passes_through || (traits[r].reads_blocked && j == 0));
        if (readable) blocked.insert(v);
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < n_nodes; ++i) {
            const Node& n = g.nodes[i];
            if (!blocked.count(n.output)) continue;
            bool keep = true;
            if (traits[i].passes_through)  // its inputs must be blocked too
                for (const std::string& u : n.inputs) keep = keep && blocked.count(u);
            for (const auto& [r, j] : readers[n.output])  // and its pass-through readers' outputs
                keep = keep && (!traits[r].passes_through || blocked.count(g.nodes[r].output));
            if (!keep) {
                blocked.erase(n.output);
                changed = true;
            }
        }
    }
    // Channels last, the same way among the values left: a producer that computes so or passes it on,
    // readers that read it so or pass it on, and pass-through ops whose inputs and outputs agree.
    std::set<std::string> last;
    for (size_t i = 0; i < n_nodes; ++i) {
        const std::string& v = g.nodes[i].output;
        if (outside.count(v) || blocked.count(v) || readers[v].empty() ||
            !(traits[i].emits_last || traits[i].passes_last))
            continue;
        bool readable = true;
        for (const auto& [r, j] : readers[v])
            readable = readable && (traits[r].passes_last || (traits[r].reads_last && j == 0));
        if (readable) last.insert(v);
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < n_nodes; ++i) {
            const Node& n = g.nodes[i];
            if (!last.count(n.output)) continue;
            bool keep = true;
            if (traits[i].passes_last)
                for (const std::string& u : n.inputs) keep = keep && last.count(u);
            for (const auto& [r, j] : readers[n.output])
                keep = keep && (!traits[r].passes_last || last.count(g.nodes[r].output));
            if (!keep) {
                last.erase(n.output);
                changed = true;
            }
        }
    }
    CpuLayoutPlan plan;
    plan.channels_last = std::move(last);
    plan.blocked = std::move(blocked);
    return plan;
}

}  // namespace pda
