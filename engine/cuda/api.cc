// The CUDA backend's small public helpers (engine/cuda_program.h): the device count and the context
// owner for code that does not see CUDA headers.
#include "engine/cuda_program.h"
#include "kernels/cuda/context.h"

namespace pda {

int cuda_device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // no driver or no device: zero devices, not an error
        return 0;
    }
    return n;
}

void CudaContextDeleter::operator()(CudaContext* c) const { delete c; }

CudaContextPtr make_cuda_context(int device) {
    const int n = cuda_device_count();
    if (device < 0 || device >= n)
        fail_input("no CUDA device " + std::to_string(device) + " (" + std::to_string(n) + " visible)");
    return CudaContextPtr(new CudaContext(device));
}

}  // namespace pda
