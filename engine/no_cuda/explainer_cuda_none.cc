// engine/explainer_cuda.h for builds without the CUDA backend: explain_cuda throws, as every other
// entry point of the missing backend does (engine/no_cuda/cuda_program_none.cc).
#include "engine/explainer_cuda.h"

namespace pda {

Explanation explain_cuda(const Graph&, const OutputSpec&, ConstTensorView, Sampler&, const ExplainParams&, CudaContext&,
                         Precision, const ProgressFn&) {
    fail_input("built without the CUDA backend: explain on --device cpu");
}

}  // namespace pda
