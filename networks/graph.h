// The network graph: named nodes in topological order, each with its op, its inputs and output by
// value name, and its spatial geometry stated explicitly (kernel, stride, pads, dilation, ceil mode)
// so that later code can propagate changed regions through it. Weights live in `constants`.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace pda {

enum class OpType {
    kConv,
    kRelu,
    kLeakyRelu,
    kClip,
    kSigmoid,
    kMaxPool,
    kAveragePool,
    kGlobalAveragePool,
    kGlobalMaxPool,
    kLRN,
    kGemm,    // Y = alpha·op(A)·op(B) + beta·C, the fully connected layer
    kMatMul,  // numpy matmul
    kFlatten,
    kReshape,
    kConcat,
    kAdd,
    kMul,
    kBatchNorm,  // inference form
    kSoftmax,
    kIdentity,  // also Dropout at inference
};

const char* op_name(OpType op);

// Spatial geometry of a window op (Conv, pools), per spatial axis (1-D, 2-D or 3-D).
// Output size: floor or ceil((in + pad_begin + pad_end − dilation·(kernel − 1) − 1) / stride) + 1.
constexpr int kMaxSpatial = 3;
struct Geometry {
    int nd = 0;  // spatial rank; 0 for ops without windows
    std::array<int64_t, kMaxSpatial> kernel{};
    std::array<int64_t, kMaxSpatial> stride{};
    std::array<int64_t, kMaxSpatial> pad_begin{};
    std::array<int64_t, kMaxSpatial> pad_end{};
    std::array<int64_t, kMaxSpatial> dilation{};
    bool ceil_mode = false;

    static Geometry square(int nd, int64_t kernel, int64_t stride, int64_t pad, bool ceil_mode = false);
    int64_t out_size(int axis, int64_t in) const;
};

struct Node {
    std::string name;
    OpType op = OpType::kIdentity;
    std::vector<std::string> inputs;  // value names; weights, bias, BN statistics are constants
    std::string output;

    Geometry geo;                           // Conv, MaxPool, AveragePool
    int64_t group = 1;                      // Conv
    bool count_include_pad = false;         // AveragePool
    float alpha = 0.f;                      // LeakyRelu slope; LRN alpha; Gemm alpha
    float beta = 0.f;                       // LRN beta; Gemm beta
    float bias = 1.f;                       // LRN bias (k)
    int64_t size = 0;                       // LRN size
    float min = 0.f, max = 0.f;             // Clip bounds (±inf when absent)
    float epsilon = 1e-5f;                  // BatchNorm
    int64_t axis = 1;                       // Flatten, Concat, Softmax
    bool trans_a = false, trans_b = false;  // Gemm
    std::vector<int64_t> shape;             // Reshape target (ONNX semantics: 0 copies, −1 infers)
    bool allow_zero = false;                // Reshape
    bool fused_relu = false;                // Conv/Gemm followed by a ReLU that was folded into it
};

struct ValueInfo {
    std::string name;
    Shape shape;  // dimension 0 is the batch and may be given per run
};

struct Graph {
    std::string name;
    std::vector<ValueInfo> inputs;
    std::vector<std::string> outputs;
    std::vector<Node> nodes;  // topological order
    std::map<std::string, Tensor> constants;

    bool is_constant(const std::string& v) const { return constants.count(v) != 0; }
    const Tensor& constant(const std::string& v) const;
    const Node* find_node(const std::string& name) const;
    // The node whose output is value v, or null for graph inputs and constants.
    const Node* producer(const std::string& v) const;
};

// The most elements one inferred value may have per image (its element count divided by the batch,
// the first input's dimension 0): 2^31 − 1, 8 GiB of float32 for one image, far above any real
// network's activations and still a count that fits the 32-bit dimensions of cuDNN / cuBLAS
// descriptors. Larger values come from corrupt or hostile shapes and are refused before anything
// is planned or allocated for them.
constexpr int64_t kMaxActivationElements = (int64_t{1} << 31) - 1;

// Output shapes of every value (constants included) for the given input shapes, in the order of
// graph.inputs. Throws an input error naming the node when shapes do not fit, or when a value has
// more than kMaxActivationElements elements per image (window sizes, strides, pads and dilations are
// bounded by the same number, so that no size computation overflows).
std::map<std::string, Shape> infer_shapes(const Graph& g, const std::vector<Shape>& input_shapes);

// Floating-point operations of one node for one batch (multiply-add counts as 2).
double node_flops(const Graph& g, const Node& n, const std::map<std::string, Shape>& shapes);

// Checks that the graph is well formed: every input defined before use, outputs produced, weights
// of the right shapes. Throws an input error naming the first offending node.
void validate(const Graph& g);

// Folds BatchNormalization into the preceding Conv and ReLU into the preceding Conv/Gemm when the
// intermediate value has no other reader. Exact up to float rounding.
void fuse(Graph& g);

}  // namespace pda
