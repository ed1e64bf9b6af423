// The shared activation memory plan (see memory_plan.h).
#include "engine/memory_plan.h"

#include <algorithm>
#include <vector>

namespace pda {

bool is_view_op(OpType op) { return op == OpType::kReshape || op == OpType::kFlatten || op == OpType::kIdentity; }

// Greedy best-fit assignment of values to slots, a slot freed after its value's last reader.
MemoryPlan plan_memory(const Graph& g, const std::map<std::string, Shape>& shapes, const std::set<std::string>& keep,
                       int64_t align_floats) {
    auto align = [&](int64_t n) { return (n + align_floats - 1) / align_floats * align_floats; };
    MemoryPlan plan;
    const int n_nodes = static_cast<int>(g.nodes.size());
    for (const Node& n : g.nodes) plan.root[n.output] = is_view_op(n.op) ? plan.root_of(n.inputs[0]) : n.output;
    std::map<std::string, int> last_use;
    for (int i = 0; i < n_nodes; ++i)
        for (const std::string& v : g.nodes[i].inputs) last_use[plan.root_of(v)] = i;
    for (const std::string& v : g.outputs) last_use[plan.root_of(v)] = n_nodes;
    for (const std::string& v : keep) {
        if (!shapes.count(v)) fail_input("value '" + v + "' is not in graph '" + g.name + "'");
        last_use[plan.root_of(v)] = n_nodes;
    }
    struct Slot {
        int64_t size = 0;
        int free_after = -1;
    };
    std::vector<Slot> slots;
    std::map<std::string, int> slot_of;
    for (int i = 0; i < n_nodes; ++i) {
        const Node& n = g.nodes[i];
        if (is_view_op(n.op) || g.is_constant(n.output)) continue;
        const int64_t need = align(shapes.at(n.output).numel());
        int best = -1;
        for (int s = 0; s < static_cast<int>(slots.size()); ++s) {
            if (slots[s].free_after >= i) continue;
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
        slot_of[n.output] = best;
    }
    std::vector<int64_t> slot_offset;
    for (const Slot& s : slots) {
        slot_offset.push_back(plan.arena_floats);
        plan.arena_floats += s.size;
    }
    for (auto& [v, s] : slot_of) plan.offset[v] = slot_offset[s];
    return plan;
}

int64_t batch_for_device_memory(int64_t per_image_bytes, int64_t fixed_bytes, int64_t const_bytes,
                                const DeviceBudget& budget) {
    per_image_bytes = std::max<int64_t>(per_image_bytes, 1);
    const int64_t usable = static_cast<int64_t>(static_cast<double>(budget.free_bytes) * 0.9) - const_bytes -
                           const_bytes / 2 - fixed_bytes - budget.conv_workspace_limit -
                           budget.conv_chunk_elements * 4 - (int64_t{512} << 20);
    if (usable <= 0) return 0;
    return std::max<int64_t>(usable / (per_image_bytes + per_image_bytes / 4), 0);
}

}  // namespace pda
