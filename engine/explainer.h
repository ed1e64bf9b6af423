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
                    PdaDevice& device, const ProgressFn& progress = {}, struct ProgramCache* cache = nullptr);

// What explain() keeps between the images of one session (the same graph, outputs, nodes and
// device): the fused copy of the graph, the batch limits and the compiled program, reused for the
// next image of the same shape, k, batch and execution (BatchProgram::rebind) instead of planning
// and compiling again. Maps are the same bits either way (tests/test_job_cli.cc).
struct ProgramCache {
    bool have_fused = false;
    Graph fused;
    Shape shape;  // the image shape, k, execution and batch the limits and program are for
    int64_t k = 0, batch = 0;
    Execution exec = Execution::kFull;
    bool have_limits = false;
    BatchLimits limits;
    std::unique_ptr<BatchProgram> program;
    int64_t compiled = 0, reused = 0;  // programs compiled and reused, for reports
};

// explain() on the CPU device of ctx, or on the CUDA device of ctx with the network's precision
// (fp16/bf16 may be refused by the CUDA program; that error passes through; sampling and reductions
// are always FP32/FP64). Builds without the CUDA backend throw an input error for the latter.
Explanation explain_cpu(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                        const ExplainParams& p, CpuContext& ctx, const ProgressFn& progress = {});
Explanation explain_cuda(const Graph& g, const OutputSpec& out, ConstTensorView x, Sampler& sampler,
                         const ExplainParams& p, CudaContext& ctx, Precision precision,
                         const ProgressFn& progress = {});

}  // namespace pda
