// engine/incremental_cuda.h for builds without the CUDA backend: every entry point throws, as the
// rest of the missing backend does (engine/no_cuda/cuda_program_none.cc).
#include "engine/incremental_cuda.h"

namespace pda {
namespace {
[[noreturn]] void no_backend() { fail_input("built without the CUDA backend"); }
}  // namespace

std::unique_ptr<CudaIncrementalProgram> compile_cuda_incremental(const Graph&, ConstTensorView, int64_t, int64_t,
                                                                 CudaContext&, const CudaCompileOptions&) {
    no_backend();
}
int64_t cuda_incremental_max_batch(const Graph&, const Shape&, int64_t, CudaContext&, const std::set<std::string>&) {
    no_backend();
}
FittedIncremental compile_cuda_incremental_fitting(const Graph&, ConstTensorView, int64_t, int64_t, CudaContext&,
                                                   const CudaCompileOptions&) {
    no_backend();
}

}  // namespace pda
