// The activation memory plan both executors use: Reshape/Flatten/Identity are views of their input;
// every other computed value gets a slot in one arena, and a slot is reused once the last reader
// of its value has run (greedy best fit). Graph outputs and kept values live to the end. Also the
// batch-size arithmetic both CUDA executors share (no device needed, so it is tested anywhere).
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

// What a device offers a program, for sizing its batch (the CUDA executors: engine/cuda/program.cc,
// engine/cuda/incremental_cuda.cc).
struct DeviceBudget {
    int64_t free_bytes = 0;            // cudaMemGetInfo's free memory
    int64_t conv_workspace_limit = 0;  // the largest workspace one convolution may use
    int64_t conv_chunk_elements = 0;   // the largest x + y one convolution call sees
};

// The largest batch of a program taking fixed_bytes plus per_image_bytes per image, with weights of
// const_bytes, in the budget with headroom: 10 % of free memory; the weights and their 16-bit copies
// (FP16 / BF16); one convolution's workspace (the limit plus the chunk's padded or 16-bit copies of
// x and y, 4 bytes per element); 512 MiB for the libraries' own allocations; and 25 % more per image
// for what grows with the batch outside the program's buffers (16-bit copies of GEMM inputs, the
// libraries' batch-proportional allocations). 0 when not even one image fits.
int64_t batch_for_device_memory(int64_t per_image_bytes, int64_t fixed_bytes, int64_t const_bytes,
                                const DeviceBudget& budget);

}  // namespace pda
