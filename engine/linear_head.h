// The exact incremental update of a network whose first layer is linear in the flattened input
// (METHOD.md §5; the paper's MRI classifier, a logistic regression on the volume): x → Flatten →
// Gemm (z = α·W·x + β·c). A resampled image differs from the clean one only inside its window, so
// z = z₀ + α·W[:, window]·(x̃ − x)[window]: k³·C columns per image instead of the whole product; the
// rest of the network (an activation, Softmax) runs on z. Found by find_linear_head; run on the CPU
// by the incremental BatchProgram (engine/cpu/programs.cc).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "networks/graph.h"

namespace pda {

struct LinearHead {
    std::string flat, z;            // the Flatten's and the Gemm's output values
    int64_t inputs = 0, units = 0;  // d (flattened input) and K (the Gemm's outputs)
    std::vector<float> wt;          // (d, K): α·W transposed, so one input element's K weights are contiguous
    std::vector<double> bias;       // (K): β·c (zeros without c)
    bool relu = false;              // a ReLU fused into the Gemm
    Graph tail;                     // the nodes after the Gemm, with z as its input (no nodes: z is the output)
};

// The linear head of g, or nothing when g does not start so: its only input read only by a Flatten
// (axis 1), that read only by a Gemm with constant weights (and bias) and no transposed input,
// neither value kept nor an output unless it is z itself (`keep`: values read after a run).
std::optional<LinearHead> find_linear_head(const Graph& g, const std::set<std::string>& keep);

}  // namespace pda
