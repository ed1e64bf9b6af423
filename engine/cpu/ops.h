// The CPU backend's op instances: one object per graph node, built once per input shape (oneDNN
// primitives and pre-packed weights are created in the constructor) and run many times.
#pragma once

#include <memory>
#include <vector>

#include "kernels/cpu/context.h"
#include "networks/graph.h"

namespace pda {

class CpuOp {
  public:
    virtual ~CpuOp() = default;
    // in: every input of the node, constants included, in the node's order. out: preallocated.
    virtual void run(const std::vector<ConstTensorView>& in, TensorView out) = 0;
};

// Builds the op for node n with the given input and output shapes. Throws an input error naming
// the node when the combination is not supported.
std::unique_ptr<CpuOp> make_cpu_op(const Graph& g, const Node& n, const std::vector<Shape>& in_shapes,
                                   const Shape& out_shape, CpuContext& ctx);

}  // namespace pda
