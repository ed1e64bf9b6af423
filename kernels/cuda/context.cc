// CudaContext: binds the device, creates the stream and the cuDNN / cuBLAS handles on it.
#include "kernels/cuda/context.h"

namespace pda {

CudaContext::CudaContext(int dev) : device(dev) {
    PDA_CUDA_CHECK(cudaSetDevice(dev));
    cudaDeviceProp p{};
    PDA_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
    device_name = p.name;
    total_memory = p.totalGlobalMem;
    stream_ = cuda::make_stream();
    cudnnHandle_t h = nullptr;
    PDA_CUDA_CHECK(cudnnCreate(&h));
    cudnn = cuda::CudnnHandle(h);
    PDA_CUDA_CHECK(cudnnSetStream(h, stream_.get()));
    cublasHandle_t b = nullptr;
    PDA_CUDA_CHECK(cublasCreate(&b));
    cublas = cuda::CublasHandle(b);
    PDA_CUDA_CHECK(cublasSetStream(b, stream_.get()));
    // No TF32 unless a GEMM asks for it by its compute type (CUBLAS_COMPUTE_32F_FAST_TF32).
    PDA_CUDA_CHECK(cublasSetMathMode(b, CUBLAS_DEFAULT_MATH));
}

void* CudaContext::workspace(size_t bytes) {
    if (bytes > workspace_.bytes()) {
        // The old buffer may still be read by queued work: drain the stream before freeing it.
        synchronize();
        workspace_ = cuda::DeviceBuffer();
        workspace_ = cuda::DeviceBuffer(bytes);
    }
    return workspace_.data();
}

}  // namespace pda
