// The CPU backend's op instances: one object per graph node, built once per input shape (oneDNN
// primitives and pre-packed weights are created in the constructor) and run many times.
#pragma once

#include <memory>
#include <vector>

#include "kernels/cpu/context.h"
#include "kernels/cpu/dnnl_util.h"
#include "networks/graph.h"

namespace pda {

class CpuOp {
  public:
    virtual ~CpuOp() = default;
    // in: every input of the node, constants included, in the node's order. out: preallocated.
    virtual void run(const std::vector<ConstTensorView>& in, TensorView out) = 0;
    // Bytes of the context's shared scratchpad it needs (oneDNN's transform and work buffers).
    virtual size_t scratchpad_bytes() const { return 0; }
};

// How the op of a node can meet oneDNN's blocked layout (kernels/cpu/dnnl_util.h), for the layout
// plan (engine/cpu/layouts.h).
struct CpuLayoutTraits {
    bool reads_blocked = false;   // its input 0 may be blocked (a convolution's or pool's source)
    bool emits_blocked = false;   // its output may be blocked whatever its input's layout
    bool passes_through = false;  // layout-blind (element-wise, channel concat): its output lies as
                                  // its computed inputs do, all blocked or all plain
    bool emits_last = false;      // its output may lie channels last (a convolution or pool computing so)
    bool reads_last = false;      // its input 0 may lie channels last (a convolution, pool or global pool)
    bool passes_last = false;     // element-wise: its output lies channels last when its computed inputs do
};
CpuLayoutTraits cpu_layout_traits(const Graph& g, const Node& n, const std::vector<Shape>& in_shapes,
                                  const Shape& out_shape);

// The layouts of one op's computed inputs and output; an empty `in` means all plain.
struct CpuOpLayouts {
    std::vector<Layout> in;
    Layout out = Layout::kPlain;
};

// Builds the op for node n with the given input and output shapes and layouts (allowed by
// cpu_layout_traits). Throws an input error naming the node when the combination is not supported.
std::unique_ptr<CpuOp> make_cpu_op(const Graph& g, const Node& n, const std::vector<Shape>& in_shapes,
                                   const Shape& out_shape, CpuContext& ctx, const CpuOpLayouts& layouts = {});

}  // namespace pda
