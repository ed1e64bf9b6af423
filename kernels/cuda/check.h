// The one checking macro family for CUDA runtime, cuDNN and cuBLAS calls: PDA_CUDA_CHECK(call)
// works for any of their status types (overloads below), and PDA_CUDA_CHECK_LAUNCH() after a kernel
// launch. A failure throws pda::Error(kInternal) naming the call, file:line and device; running out
// of device memory throws CudaOutOfMemory (a pda::Error) so that callers can lower the batch size.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <string>

#include "pda/error.h"

namespace pda::cuda {

class CudaOutOfMemory : public Error {
  public:
    explicit CudaOutOfMemory(const std::string& what) : Error(ErrorKind::kInternal, what) {}
};

// make(batch) from `batch` down, halving the batch while it runs out of device memory (rethrown at
// batch 1). *used: the batch that fitted; *note: why it was lowered, empty when it was not.
template <class Make>
auto halve_on_out_of_memory(int64_t batch, Make make, int64_t* used, std::string* note) {
    const int64_t start = batch;
    std::string first;
    for (;;) {
        try {
            auto made = make(batch);
            *used = batch;
            note->clear();
            if (!first.empty())
                *note = "batch lowered from " + std::to_string(start) + " to " + std::to_string(batch) + ": " + first;
            return made;
        } catch (const CudaOutOfMemory& e) {
            if (first.empty()) first = e.what();
            if (batch <= 1) throw;
            batch /= 2;
        }
    }
}

inline bool status_ok(cudaError_t s) { return s == cudaSuccess; }
inline bool status_ok(cudnnStatus_t s) { return s == CUDNN_STATUS_SUCCESS; }
inline bool status_ok(cublasStatus_t s) { return s == CUBLAS_STATUS_SUCCESS; }

inline bool status_oom(cudaError_t s) { return s == cudaErrorMemoryAllocation; }
inline bool status_oom(cudnnStatus_t s) {
    return s == CUDNN_STATUS_ALLOC_FAILED || s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
}
inline bool status_oom(cublasStatus_t s) { return s == CUBLAS_STATUS_ALLOC_FAILED; }

inline std::string status_text(cudaError_t s) {
    return std::string(cudaGetErrorName(s)) + ": " + cudaGetErrorString(s);
}
inline std::string status_text(cudnnStatus_t s) { return cudnnGetErrorString(s); }
inline std::string status_text(cublasStatus_t s) {
    return std::string(cublasGetStatusName(s)) + ": " + cublasGetStatusString(s);
}

// Builds the message and throws; never returns. Out of line of the hot path by being a call.
template <class Status>
[[noreturn]] void throw_status(Status s, const char* call, const char* file, int line) {
    int dev = -1;
    if (cudaGetDevice(&dev) != cudaSuccess) dev = -1;
    // A failed allocation or launch leaves a non-sticky error behind; clear it so later calls work.
    cudaGetLastError();
    std::string msg = std::string(file) + ":" + std::to_string(line) + ": " + call +
                      " failed on cuda:" + std::to_string(dev) + ": " + status_text(s);
    if (status_oom(s)) throw CudaOutOfMemory("out of device memory: " + msg);
    throw Error(ErrorKind::kInternal, msg);
}

}  // namespace pda::cuda

#define PDA_CUDA_CHECK(call)                                                        \
    do {                                                                            \
        auto pda_cuda_status_ = (call);                                             \
        if (!::pda::cuda::status_ok(pda_cuda_status_))                              \
            ::pda::cuda::throw_status(pda_cuda_status_, #call, __FILE__, __LINE__); \
    } while (0)

// After a kernel launch: reports bad launch configurations (not asynchronous faults, which the
// next synchronising call reports).
#define PDA_CUDA_CHECK_LAUNCH() PDA_CUDA_CHECK(cudaGetLastError())
