// The plan of exact incremental inference that the CPU and CUDA executors share (METHOD.md §5,
// issue 5 item 2), computed once per (graph, image or volume size, k): how every value is held (the
// input, unchanged, a crop of one size per batch, or the full map), each crop's origin for every window
// position, and how every computed node gathers its inputs. Crop origins are tables by window front
// slice, top row and left column: changed boxes are separable by axis (window ops act per axis, unions
// are per-axis bounding boxes), so an image's crop of value v sits at (origin_z[slice], origin_y[row],
// origin_x[col]) — no per-window propagation in the loop, on either backend. Images are volumes of
// depth 1: their crops have depth 1 at slice 0 (origin_z = {0}), so one plan serves both.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "networks/regions.h"

namespace pda {

enum class Held {
    kInput,      // the graph input: a batch of whole images
    kUnchanged,  // equal to the clean image's value in every image: never recomputed
    kCrop,       // (B, C, [cd,] ch, cw): each image's crop, over the clean image's value
    kFull,       // (B, ...): computed on whole maps
};

struct PlannedValue {
    Held held = Held::kUnchanged;
    Shape shape;                     // batch 1, as a full forward has it
    int64_t cd = 1, ch = 0, cw = 0;  // kCrop: the crop's size (cd = 1 on an image's maps)
    std::vector<int32_t> oz;         // kCrop: crop origin slice for windows with front slice s, s = 0 … D − kd
    std::vector<int32_t> oy;         // kCrop: crop origin row for windows with top row r, r = 0 … H − k
    std::vector<int32_t> ox;         // kCrop: crop origin column for windows with left column c, c = 0 … W − k
    // A constant that varies over space, an element-wise operand of crop steps (kUnchanged; x + (−mean
    // volume)): gathered from its own data as an unchanged value is from the clean image's.
    bool constant = false;
    int64_t channels() const { return shape[1]; }
    int64_t map_d() const { return shape.rank == 5 ? shape[2] : 1; }
    int64_t map_h() const { return shape[shape.rank - 2]; }
    int64_t map_w() const { return shape[shape.rank - 1]; }
    // A batch of crops of `channels` channels, (batch, channels, [cd,] ch, cw) at the value's rank.
    Shape crop_shape(int64_t batch, int64_t channels) const;
};

struct PlannedStep {
    size_t node = 0;          // index in the graph's nodes
    Held held = Held::kFull;  // kCrop or kFull, as its output
    Node op;                  // the node as the op runs: crop window ops without padding or ceil mode
    // kCrop window op (Conv, MaxPool, AveragePool): input 0 is gathered as a (td, th, tw) tile whose
    // corner lies at (oz·stride_d − pad_d, oy·stride_h − pad_h, ox·stride_w − pad_w) of the input map,
    // (oz, oy, ox) the output crop's origin; map positions outside the input read pad_value (0 for
    // Conv and AveragePool, −inf for MaxPool). On an image's maps the depth is 1: td 1, stride_d 1,
    // pad_d 0.
    bool window = false;
    int64_t stride_d = 1, stride_h = 1, stride_w = 1, pad_d = 0, pad_h = 0, pad_w = 0, td = 1, th = 0, tw = 0;
    float pad_value = 0.f;
    // kCrop AveragePool: per output map position (map_d · map_h · map_w), the factor that turns the
    // unpadded op's divisor into the full op's; empty when every factor is 1.
    std::vector<float> avg_factor;
};

struct IncrementalPlan {
    std::string input;
    Shape image;  // (1, C, H, W) or (1, C, D, H, W)
    int64_t k = 0, C = 0, D = 1, H = 0, W = 0;
    int64_t kd = 1;                              // the windows' extent along depth: k for volumes, 1 for images
    CropPlan crops;                              // the sizes (regions.h), for reports
    std::map<std::string, PlannedValue> values;  // the input and every node output
    std::vector<PlannedStep> steps;              // nodes that are computed, in graph order

    const PlannedValue& value(const std::string& name) const;
    // The input batch's shape, (batch, C, [D,] H, W).
    Shape batch_shape(int64_t batch) const;
    // The shapes step st's op is built for, given the full forward's shapes at the batch (shapes_b =
    // infer_shapes at batch_shape(B)): a crop window op's input 0 as its tile, other inputs of a crop
    // step as the output's crop, inputs of a full step as the full forward has them; constants as
    // they are.
    std::vector<Shape> input_shapes(const Graph& g, const PlannedStep& st,
                                    const std::map<std::string, Shape>& shapes_b) const;
    Shape output_shape(const Graph& g, const PlannedStep& st, const std::map<std::string, Shape>& shapes_b) const;
};

// The plan for k × k windows on graph g's only input, an image (1, C, H, W), or k × k × k windows on a
// volume (1, C, D, H, W); backend-free. Throws an input error for a graph with several inputs, an input
// that is not one image or volume, or a k that does not fit.
IncrementalPlan plan_incremental(const Graph& g, const Shape& image, int64_t k);

// The window of each of `batch` images as int32 tables for a run (slices, rows, cols: front slices, top
// rows and left columns; slices all 0 for images), checked to fit the plan's image: an input error
// names the first that does not.
struct WindowTables {
    std::vector<int32_t> slices, rows, cols;
};
WindowTables checked_windows(const IncrementalPlan& plan, int64_t batch, const std::vector<int64_t>& slices,
                             const std::vector<int64_t>& rows, const std::vector<int64_t>& cols);

}  // namespace pda
