// cuda_info() for builds with the CUDA backend: device count (no driver = zero devices), library
// versions, and a one-line description per device. The backend proper (issue #4) grows here.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "engine/device.h"

namespace pda {

CudaInfo cuda_info() {
    CudaInfo info;
    info.compiled = true;
    info.cudnn_version = static_cast<int>(cudnnGetVersion());
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        info.runtime_note = cudaGetErrorString(err);
        cudaGetLastError();  // clear the sticky error; zero devices is a normal state
        return info;
    }
    info.device_count = n;
    for (int i = 0; i < n; ++i) {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        info.devices += "cuda:" + std::to_string(i) + " " + p.name + " (sm_" + std::to_string(p.major) +
                        std::to_string(p.minor) + ", " + std::to_string(p.totalGlobalMem >> 20) + " MiB)\n";
    }
    cublasHandle_t h = nullptr;
    if (n > 0 && cublasCreate(&h) == CUBLAS_STATUS_SUCCESS) {
        cublasGetVersion(h, &info.cublas_version);
        cublasDestroy(h);
    }
    return info;
}

}  // namespace pda
