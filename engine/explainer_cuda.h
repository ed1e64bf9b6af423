// The PDA loop on a CUDA device (METHOD.md §1–2), the device twin of explain_cpu (engine/explainer.h):
// the image is uploaded once, samples are drawn and pasted into the device batch, the network runs
// on cuDNN/cuBLAS (incrementally by default: engine/incremental_cuda.h), and the reduction, weight of evidence /
// activation difference and per-pixel sums stay on the device; only the maps and the clean image's probabilities come
// back. Usable without CUDA headers; builds without the backend get a stub that throws.
#pragma once

#include "engine/cuda_program.h"
#include "engine/explainer.h"

namespace pda {

// Same contract as explain_cpu: same validation and input errors, same Explanation (counts,
// classes, node maps); for the same seed the maps equal the CPU's within float tolerance (the
// random numbers are the same philox streams, kernels/philox.h). Samplers: the conditional sampler
// and occlusion draw on the device; any other sampler (marginal) draws on the host per batch and
// its samples are uploaded. p.exec: "incremental" (the default; exact) or "full", as on the CPU. The
// batch is p.batch or cuda_incremental_max_batch() / cuda_max_batch(), rounded down to whole windows
// (lowered on out-of-memory at compile). `precision` is the network's (fp16/bf16 may be refused by
// the CUDA program; that error passes through); sampling and reductions are always FP32/FP64.
// Timings (seconds_sampling/network/reduce) are measured with CUDA events on the device.
Explanation explain_cuda(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                         const ExplainParams& p, CudaContext& ctx, Precision precision,
                         const ProgressFn& progress = {});

}  // namespace pda
