// Checks both backends make when they turn a graph node into kernels, with one set of messages that
// name the node and its op: unsupported combinations, axis normalisation, window geometry, the
// convolution and GEMM parameters read from a node, and the view a softmax runs on.
#pragma once

#include <string>
#include <vector>

#include "kernels/conv_params.h"
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

// A Softmax input seen as (outer, len, inner): the softmax runs over len, the axis (opset < 13,
// allow_zero: the axes [axis, rank) flattened); outer and inner are the axes before and after it.
struct SoftmaxDims {
    int64_t outer = 1, len = 1, inner = 1;
};
inline SoftmaxDims softmax_dims(const Node& n, const Shape& x) {
    const int64_t axis = normalise_axis(n, n.axis, x.rank);
    SoftmaxDims d;
    for (int i = 0; i < x.rank; ++i) {
        if (i < axis)
            d.outer *= x[i];
        else if (i == axis || n.allow_zero)
            d.len *= x[i];
        else
            d.inner *= x[i];
    }
    return d;
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

// A Conv node's kernel parameters, after the checks both backends make (constant weights, groups).
inline ConvParams conv_params(const Graph& g, const Node& n, const Shape& x, const Shape& w, const Shape& y) {
    check_window(n, x);
    if (!g.is_constant(n.inputs[1])) unsupported(n, "weights must be constant");
    if (n.group < 1 || x[1] % n.group) unsupported(n, "group " + std::to_string(n.group));
    ConvParams p;
    p.x = x;
    p.w = w;
    p.y = y;
    p.group = n.group;
    for (int i = 0; i < n.geo.nd; ++i) {
        p.stride[i] = n.geo.stride[i];
        p.pad_begin[i] = n.geo.pad_begin[i];
        p.pad_end[i] = n.geo.pad_end[i];
        p.dilation[i] = n.geo.dilation[i];
    }
    p.has_bias = n.inputs.size() > 2;
    p.relu = n.fused_relu;
    return p;
}

// A Gemm node's parameters shared by both backends' GemmParams (kernels/cpu/gemm.h,
// kernels/cuda/gemm.h): sizes, transposes, alpha, beta, C's shape (a rank-0 C is the scalar (1)),
// the fused ReLU. in: A, B and C when present; out: (M, N).
template <class GemmParams>
void fill_gemm_params(const Node& n, const std::vector<Shape>& in, const Shape& out, GemmParams& p) {
    if (in[0].rank != 2 || in[1].rank != 2) unsupported(n, "A and B must be matrices");
    p.m = out[0];
    p.n = out[1];
    p.k = n.trans_a ? in[0][0] : in[0][1];
    p.trans_a = n.trans_a;
    p.trans_b = n.trans_b;
    p.alpha = n.alpha;
    p.beta = n.beta;
    if (in.size() > 2) {
        p.c = in[2];
        if (p.c.rank == 0) p.c = Shape{1};
        if (p.c.rank > 2) unsupported(n, "C of rank " + std::to_string(p.c.rank));
    }
    p.relu = n.fused_relu;
}

}  // namespace pda
