// The CUDA backend's op instances: one object per graph node, built once per input shape (cuDNN
// descriptors and algorithms chosen in the constructor) and run many times on the context's stream;
// and what the two executors built from them (full and incremental) share about device memory.
#pragma once

#include <memory>
#include <vector>

#include "engine/cuda_program.h"
#include "engine/memory_plan.h"
#include "kernels/cuda/context.h"
#include "networks/graph.h"

namespace pda {

class CudaOp {
  public:
    virtual ~CudaOp() = default;
    // in: device pointers of every input of the node (constants included) in the node's order.
    virtual void run(const std::vector<const float*>& in, float* out, CudaContext& ctx) = 0;
    virtual size_t workspace_bytes() const { return 0; }
    virtual std::string describe() const { return {}; }
};

// Builds the op for node n. Throws an input error naming the node when it is not supported.
// precision: FP32 and TF32 as named; FP16 / BF16 run convolutions and Gemm nodes on 16-bit copies of
// their inputs and weights (FP32 accumulation) and every other op in FP32, values stay FP32.
std::unique_ptr<CudaOp> make_cuda_op(const Graph& g, const Node& n, const std::vector<Shape>& in_shapes,
                                     const Shape& out_shape, CudaContext& ctx, Precision precision);

// Shared by the CUDA executors (engine/cuda/program.cc, engine/cuda/incremental_cuda.cc).
constexpr int64_t kCudaAlignFloats = 64;                      // 256 bytes, cudaMalloc's alignment
constexpr int64_t kCudaMaxElements = (int64_t{1} << 31) - 1;  // cuDNN's limit on a tensor's elements
// Free device memory and the context's convolution limits, for batch_for_device_memory.
DeviceBudget cuda_device_budget(CudaContext& ctx);

}  // namespace pda
