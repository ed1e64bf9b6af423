// Changed-region propagation for exact incremental inference (METHOD.md §5, issue 5): which box of
// every value differs from the clean image's when only a box of the input changes, the input crop
// each window op must read to recompute its changed box, one crop size per node for a batch, and
// the FLOP model of incremental versus full execution that `pda info --pda-k` prints.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "networks/graph.h"

namespace pda {

using SpatialSize = std::array<int64_t, kMaxSpatial>;

// A box on the spatial axes of an N×C×(D×)H×W value: per axis the half-open range [begin, end).
struct Box {
    int nd = 0;  // spatial rank, 1 to 3
    SpatialSize begin{};
    SpatialSize end{};

    // The whole spatial extent of value shape s (rank nd + 2).
    static Box whole(const Shape& s);
    static Box make(const std::vector<int64_t>& begin, const std::vector<int64_t>& end);
    int64_t size(int axis) const { return end[axis] - begin[axis]; }
    int64_t volume() const;
    bool empty() const;
    bool contains(const Box& o) const;    // an empty box is contained in every box of its rank
    Box unite(const Box& o) const;        // bounding box; an empty operand is ignored
    Box intersect(const Box& o) const;    // may be empty
    bool operator==(const Box& o) const;  // empty boxes are all equal
    bool operator!=(const Box& o) const { return !(*this == o); }
    std::string str() const;  // "[3,13)×[0,7)"
};

// What a window op (Conv, MaxPool, AveragePool) must read to recompute an output box: the input
// positions its windows span, clipped to the input map (`read`), and how far the span reaches
// outside the map on each side (`pad_begin`, `pad_end`). The executor builds the tile of size
// pad_begin + read + pad_end per axis, fills the outside part as the layer pads (zeros for Conv,
// −inf for MaxPool; AveragePool without count_include_pad must exclude it from the divisor) and
// runs the op with no padding. Ceil mode can make the last window reach past pad_end.
struct WindowCrop {
    Box read;
    SpatialSize pad_begin{};
    SpatialSize pad_end{};
    int64_t size(int axis) const { return pad_begin[axis] + read.size(axis) + pad_end[axis]; }
};

// Output positions of a window op (geometry geo, output map `out`) at least one of whose kernel
// taps falls in the changed input box, clipped to [0, out). Exact integer arithmetic; with
// dilation 1 this is "the window's span [o·s − p, o·s − p + d·(K − 1)] meets the box", with
// dilation > 1 taps that skip over a narrow box do not count (the result is still one box).
Box window_changed_box(const Geometry& geo, const Box& changed_in, const Shape& out);

// The input crop that recomputing output box `out_box` reads (the box's receptive span).
WindowCrop window_input_crop(const Geometry& geo, const Box& out_box, const Shape& in);

struct RegionInfo {
    bool changed = false;  // false: equal to the clean image's value everywhere (box empty)
    bool full = false;     // the whole value may change: no spatial axes, or an op that mixes space
    Box box;               // changed positions on the value's spatial axes; the whole map when full
                           // (empty for values without spatial axes)
    bool window = false;   // the value's producer is a window op reading `crop` of its first input
    WindowCrop crop;
};

// For every value computed by the graph (and the input), its changed region when only box
// `changed_input` of graph input `input` changes. Constants and values not depending on the input
// are absent or unchanged. Conv/pools map boxes through their geometry; Relu, LeakyRelu, Clip,
// Sigmoid, LRN (across channels), BatchNorm, Identity/Dropout and Softmax over channels keep
// them; Add/Mul of equal spatial size and Concat over channels take the bounding box of their
// inputs' boxes; global pooling, Flatten, Reshape, Gemm, MatMul and every other mixing of space
// change everything. Throws an input error for an unknown input or a box outside its map.
std::map<std::string, RegionInfo> propagate_regions(const Graph& g, const std::map<std::string, Shape>& shapes,
                                                    const std::string& input, const Box& changed_input);

// A node is computed in full once its crop covers at least this fraction of its output map: the
// remaining ≤ 10% of FLOP saved would be eaten by gathering the halo and pasting the crop back,
// and a full map needs no gather at all. Downstream of a full node every node is full too.
constexpr double kFullCropFraction = 0.9;

struct NodeCrop {
    std::string node;
    bool changed = false;      // false: the node's output never changes (computed once, clean)
    bool incremental = false;  // true: computed on a crop; false: on the whole map (or not at all)
    SpatialSize out{};         // crop of the output per spatial axis (the whole map when full)
    SpatialSize in{};          // window ops: the input tile size (padding included)
    double fraction = 1.0;     // crop volume / output map volume (1 when full, 0 when unchanged)
};

// One crop size per node for every k×k(×k) window of a batch, in graph node order. The size is
// the largest box over all window positions of the input (the centre window's, or one more where
// a stride makes it depend on the position's alignment); windows near the borders have smaller,
// clipped boxes and are placed inside the map with a crop of the same size.
struct CropPlan {
    int64_t k = 0;
    std::vector<NodeCrop> nodes;
    const NodeCrop* find(const std::string& node) const;
};

// The plan for windows of side k on graph input `input` (a graph input with 1 to 3 spatial axes).
// centre_only: the sizes of the centre window alone (the FLOP model's "centre-window cost").
CropPlan crop_plan(const Graph& g, const std::map<std::string, Shape>& shapes, const std::string& input, int64_t k,
                   bool centre_only = false);

// FLOP of one forward pass (the shapes' batch) under `plan`: full = Σ node_flops; incremental =
// Σ node_flops · fraction for nodes on a crop (Conv, pools, pointwise), node_flops for full
// nodes, 0 for unchanged ones. ratio = full / incremental.
struct FlopModel {
    double full = 0;
    double incremental = 0;
    double ratio() const { return incremental > 0 ? full / incremental : 0.0; }
    std::vector<std::pair<double, double>> per_node;  // (full, incremental), graph node order
};
FlopModel incremental_flops(const Graph& g, const std::map<std::string, Shape>& shapes, const CropPlan& plan);

}  // namespace pda
