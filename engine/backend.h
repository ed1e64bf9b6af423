// Backend: one device that compiled programs and the PDA loop run on — the CPU (a oneDNN engine and
// stream, a thread count) or one GPU (a CUDA context with the network's precision). A pda::Model
// and its explainers share one, so no model opens a second context. One call at a time.
#pragma once

#include <memory>
#include <vector>

#include "engine/pda_device.h"
#include "engine/program.h"
#include "pda/options.h"

namespace pda {

class Backend {
  public:
    virtual ~Backend() = default;
    virtual Device device() const = 0;  // cpu or cuda:N
    virtual Precision precision() const = 0;
    // A forward program of g at these input shapes (batch included), on this device.
    virtual std::unique_ptr<Program> compile(const Graph& g, const std::vector<Shape>& input_shapes) = 0;
    // Where the PDA loop (engine/explainer.h) runs.
    virtual PdaDevice& pda() = 0;
};

// The CPU with `threads` OpenMP threads per call (0: all cores); engine/cpu/device.cc.
std::unique_ptr<Backend> make_cpu_backend(int threads, Precision precision = Precision::kFp32);
// Whether this CPU runs bf16 convolutions natively (AVX-512-BF16 or AMX): --precision bf16 there.
bool cpu_bf16_supported();
// Whether --precision winograd runs on this CPU (oneDNN's Winograd kernels need AVX-512).
bool cpu_winograd_supported();
// GPU `device` at `precision`; engine/cuda/device.cc (throws in builds without the backend).
std::unique_ptr<Backend> make_cuda_backend(int device, Precision precision);

}  // namespace pda
