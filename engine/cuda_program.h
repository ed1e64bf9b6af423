// The CUDA backend's public face for engine code, tests and benchmarks: compile_cuda() turns a graph
// into a CudaProgram (one device arena planned per (network, batch)), cuda_max_batch() sizes the
// batch from free device memory, compile_cuda_fitting() lowers the batch on out-of-memory and says
// so. No CUDA header is needed to use it; builds without the backend get stubs that throw.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/program.h"
#include "pda/options.h"

namespace pda {

struct CudaContext;  // kernels/cuda/context.h: device, stream, handles, workspace, algorithm cache

// Usable GPUs; 0 (never an error) without a driver or a device, and in builds without the backend.
int cuda_device_count();

struct CudaContextDeleter {
    void operator()(CudaContext* c) const;
};
using CudaContextPtr = std::unique_ptr<CudaContext, CudaContextDeleter>;
// A context on GPU `device` (binds it to the calling thread). Throws when there is none.
CudaContextPtr make_cuda_context(int device = 0);

struct CudaCompileOptions : CompileOptions {
    Precision precision = Precision::kFp32;
    // true: time every convolution algorithm once per shape (cudnnFind); false: cuDNN's heuristics,
    // much faster to compile at very large batches.
    bool time_conv_algorithms = true;
};

// A compiled program on one device. Program's run() copies host inputs in, runs and waits; value()
// copies the value to the host (once per run). The device-side calls never touch the host.
class CudaProgram : public Program {
  public:
    // Device buffer of graph input i, to be filled on the device before run_device().
    virtual TensorView device_input(size_t i) = 0;
    // Runs the network on the context's stream from the device inputs; does not wait.
    virtual void run_device() = 0;
    // Device pointer of a value computed by the last run (a graph output or one kept at compile).
    virtual ConstTensorView device_value(const std::string& name) const = 0;
    // One run_device() timed with CUDA events on the stream, in milliseconds (waits for it).
    virtual double run_device_timed() = 0;
    virtual void synchronize() = 0;
    virtual int64_t batch() const = 0;            // dimension 0 of the first input
    virtual int64_t workspace_bytes() const = 0;  // largest op workspace (cuDNN, padding)
    virtual int64_t constant_bytes() const = 0;   // weights uploaded once
    virtual Precision precision() const = 0;
    virtual std::string summary() const = 0;  // one line per convolution: shape key, algorithm, math
};

std::unique_ptr<CudaProgram> compile_cuda(const Graph& g, const std::vector<Shape>& input_shapes, CudaContext& ctx,
                                          const CudaCompileOptions& opt = {});

// The largest batch whose arena, workspaces and weights fit in free device memory with headroom
// (and whose tensors stay under cuDNN's 2^31 elements), for a graph with one input of per-image
// shape `per_image` (dimension 0 is ignored). 0 when not even one image fits.
int64_t cuda_max_batch(const Graph& g, Shape per_image, CudaContext& ctx);

struct FittedProgram {
    std::unique_ptr<CudaProgram> program;
    int64_t batch = 0;
    std::string note;  // empty, or why the batch was lowered
};
// compile_cuda at `batch` (0: cuda_max_batch), halving the batch while compiling runs out of device
// memory. Throws when even batch 1 does not fit.
FittedProgram compile_cuda_fitting(const Graph& g, Shape per_image, int64_t batch, CudaContext& ctx,
                                   const CudaCompileOptions& opt = {});

}  // namespace pda
