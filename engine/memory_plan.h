// The activation memory plan both executors use: Reshape/Flatten/Identity are views of their input;
// every other computed value gets a slot in one arena, and a slot is reused once the last reader
// of its value has run (greedy best fit). Graph outputs and kept values live to the end.
#pragma once

#include <map>
#include <set>
#include <string>

#include "networks/graph.h"

namespace pda {

bool is_view_op(OpType op);

struct MemoryPlan {
    std::map<std::string, std::string> root;  // storage root of every view
    std::map<std::string, int64_t> offset;    // float offset of each root's slot in the arena
    int64_t arena_floats = 0;

    const std::string& root_of(const std::string& v) const {
        auto it = root.find(v);
        return it == root.end() ? v : it->second;
    }
};

// Slots are rounded up to multiples of align_floats. Throws an input error for a kept value that
// is not in the graph.
MemoryPlan plan_memory(const Graph& g, const std::map<std::string, Shape>& shapes, const std::set<std::string>& keep,
                       int64_t align_floats);

}  // namespace pda
