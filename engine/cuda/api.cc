// The CUDA backend's small public helpers (engine/cuda_program.h): the device count and the context
// owner for code that does not see CUDA headers, and a test hook for the convolution chunk size.
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

// Tests: force chunked convolutions at small batches (kernels/cuda/context.h, conv_chunk_elements).
void cuda_set_conv_chunk_elements(CudaContext& ctx, int64_t elements) {
    if (elements < 1) fail_input("conv_chunk_elements must be positive");
    ctx.conv_chunk_elements = elements;
}

CudaContextPtr make_cuda_context(int device) {
    const int n = cuda_device_count();
    if (device < 0 || device >= n)
        fail_input("no CUDA device " + std::to_string(device) + " (" + std::to_string(n) + " visible)");
    return CudaContextPtr(new CudaContext(device));
}

}  // namespace pda
