// Checks both backends make when they turn a graph node into kernels, with one set of messages that
// name the node and its op: unsupported combinations, axis normalisation, window geometry.
#pragma once

#include <string>

#include "networks/graph.h"

namespace pda {

[[noreturn]] inline void unsupported(const Node& n, const std::string& what) {
    fail_input(std::string("node '") + n.name + "' (" + op_name(n.op) + "): " + what);
}

// A negative axis counts from the back; out of [0, rank) is an input error naming the node.
inline int64_t normalise_axis(const Node& n, int64_t axis, int rank) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        unsupported(n, "axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
    return a;
}

// Window ops (Conv, pools) take 1-D, 2-D or 3-D inputs with positive kernel, stride and dilation.
inline void check_window(const Node& n, const Shape& x) {
    const int nd = x.rank - 2;
    if (nd < 1 || nd > 3) unsupported(n, "input " + x.str() + ": only 1-D, 2-D and 3-D windows are supported");
    if (n.geo.nd != nd) unsupported(n, "geometry has " + std::to_string(n.geo.nd) + " axes, input " + x.str());
    for (int i = 0; i < nd; ++i)
        if (n.geo.stride[i] < 1 || n.geo.dilation[i] < 1 || n.geo.kernel[i] < 1 || n.geo.pad_begin[i] < 0 ||
            n.geo.pad_end[i] < 0)
            unsupported(n, "kernel, stride and dilation must be positive and pads non-negative");
}

}  // namespace pda
