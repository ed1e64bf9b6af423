// engine/cuda_program.h for builds without the CUDA backend: no devices, and every entry point
// that needs one throws "built without the CUDA backend".
#include "engine/backend.h"
#include "engine/cuda_program.h"
#include "engine/explainer.h"
#include "engine/pda_device.h"

namespace pda {
namespace {
[[noreturn]] void no_backend() { fail_input("built without the CUDA backend"); }
}  // namespace

int cuda_device_count() { return 0; }
void CudaContextDeleter::operator()(CudaContext*) const {}
CudaContextPtr make_cuda_context(int) { no_backend(); }

std::unique_ptr<CudaProgram> compile_cuda(const Graph&, const std::vector<Shape>&, CudaContext&,
                                          const CudaCompileOptions&) {
    no_backend();
}
int64_t cuda_max_batch(const Graph&, Shape, CudaContext&) { no_backend(); }
FittedProgram compile_cuda_fitting(const Graph&, Shape, int64_t, CudaContext&, const CudaCompileOptions&) {
    no_backend();
}
std::unique_ptr<PdaDevice> make_cuda_device(CudaContext&, Precision) { no_backend(); }
std::unique_ptr<Backend> make_cuda_backend(int, Precision) { no_backend(); }
Explanation explain_cuda(const Graph&, const OutputSpec&, ConstTensorView, Sampler&, const ExplainParams&, CudaContext&,
                         Precision, const ProgressFn&) {
    no_backend();
}

}  // namespace pda
