// The PDA explainer (METHOD.md §1–2): for every window, S resampled images through the network,
// p(c|x\w) as the mean of their probability vectors, weight of evidence per class (Laplace-corrected
// log-odds difference) and activation difference per unit of any named node, accumulated per pixel.
// One loop (engine/explainer.cc) for every backend: it runs a BatchProgram on a PdaDevice
// (engine/pda_device.h) and never loops over pixels itself.
#pragma once

#include "engine/explanation.h"
#include "engine/pda_device.h"
#include "engine/sampler.h"
#include "networks/graph.h"

namespace pda {

struct CpuContext;
struct CudaContext;

// Explains image x (1, C, H, W), already preprocessed, with the given graph on `device`. Pass the
// unfused graph so that any value can be named in p.nodes (a node name means its output value);
// fusion happens on a private copy (p.fuse). Throws an input error for bad parameters (k larger than
// the image, unknown node, unknown class id, ...) before any heavy work. The maps depend only on the
// inputs and p.seed, never on the batch size or thread count: bit for bit on the CPU
// (tests/test_explainer.cc); on a CUDA device they equal the CPU's within float tolerance (the same
// philox streams, kernels/philox.h; the same batch-kernel arithmetic). Sums are kept in double,
// (M + node units) × H × W of them, until the final division. The batch is p.batch or the device's
// max_batch, rounded down to whole windows (lowered on out-of-memory at compile).
Explanation explain(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler, const ExplainParams& p,
                    PdaDevice& device, const ProgressFn& progress = {});

// explain() on the CPU device of ctx, or on the CUDA device of ctx with the network's precision
// (fp16/bf16 may be refused by the CUDA program; that error passes through; sampling and reductions
// are always FP32/FP64). Builds without the CUDA backend throw an input error for the latter.
Explanation explain_cpu(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                        const ExplainParams& p, CpuContext& ctx, const ProgressFn& progress = {});
Explanation explain_cuda(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                         const ExplainParams& p, CudaContext& ctx, Precision precision,
                         const ProgressFn& progress = {});

}  // namespace pda
