// The CUDA backend's two BatchPrograms (engine/batch_program.h), their input batch and values in
// device memory: the whole network on every image (compile_cuda_fitting, engine/cuda_program.h) and
// exact incremental execution (compile_cuda_incremental_fitting, engine/incremental_cuda.h), each
// image's window written on the device from the block. Both lower the batch on out-of-memory.
#pragma once

#include <memory>

#include "engine/batch_program.h"
#include "engine/cuda_program.h"

namespace pda {

std::unique_ptr<BatchProgram> make_cuda_full_batch(const Graph& g, const Shape& image, int64_t batch, CudaContext& ctx,
                                                   const CudaCompileOptions& opt);
std::unique_ptr<BatchProgram> make_cuda_incremental_batch(const Graph& g, ConstTensorView clean_x, int64_t k,
                                                          int64_t batch, CudaContext& ctx,
                                                          const CudaCompileOptions& opt);

}  // namespace pda
