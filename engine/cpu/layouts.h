// The layout plan of the CPU program: which computed values lie in oneDNN's blocked layout
// (kernels/cpu/dnnl_util.h) instead of plain NCHW, so that a chain of convolutions, pools,
// activations and channel concats runs in the layout oneDNN's convolutions compute in, with no
// reorder between them. A value is blocked when its producer can write it so and every reader can
// read it so; graph inputs, outputs, kept values and whatever a view, a fully connected layer or
// any other op reads stay plain, so everything outside the program sees plain NCHW.
#pragma once

#include <map>
#include <set>
#include <string>

#include "kernels/cpu/dnnl_util.h"
#include "networks/graph.h"

namespace pda {

// The blocked values of g (every other value is plain). external: the values read from outside the
// program (outputs, kept values); graph inputs are always plain.
std::set<std::string> plan_cpu_layouts(const Graph& g, const std::map<std::string, Shape>& shapes,
                                       const std::set<std::string>& external);

}  // namespace pda
