// CudaContext: everything the CUDA ops share on one device, passed explicitly (no globals): the
// device index, the stream every op runs on, the cuDNN and cuBLAS handles bound to it, one
// workspace grown to the largest need, and the convolution algorithms chosen once per shape key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "kernels/cuda/raii.h"

namespace pda {

struct ConvAlgoChoice {
    cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    cudnnMathType_t math = CUDNN_FMA_MATH;
    size_t workspace = 0;
    float ms = 0.f;  // as measured by cudnnFind (0 when chosen by heuristics)
};

struct CudaContext {
    // Binds `device` to the calling thread and creates the stream and library handles.
    explicit CudaContext(int device);
    CudaContext(const CudaContext&) = delete;
    CudaContext& operator=(const CudaContext&) = delete;

    // Device workspace of at least `bytes` (reallocated when larger; contents not kept).
    void* workspace(size_t bytes);
    size_t workspace_bytes() const { return workspace_.bytes(); }
    cudaStream_t stream() const { return stream_.get(); }
    void synchronize() const { PDA_CUDA_CHECK(cudaStreamSynchronize(stream_.get())); }

    int device = 0;
    std::string device_name;
    size_t total_memory = 0;
    cuda::CudnnHandle cudnn;
    cuda::CublasHandle cublas;
    // Largest workspace one convolution may use; cudnnFind skips algorithms above it.
    size_t conv_workspace_limit = size_t{1} << 30;
    // Largest x + y (elements) one cuDNN convolution call sees; larger batches run in chunks. At
    // 2^26 AlexNet's convolutions run 150-600 images per call: the algorithms (and workspaces) that
    // were fastest at batch 256 on an H100, where batch 1024 in one call was half as fast per image.
    int64_t conv_chunk_elements = int64_t{1} << 26;
    // true: time every algorithm once per shape (cudnnFind); false: cuDNN's heuristics only.
    bool find_conv_algorithms = true;
    std::map<std::string, ConvAlgoChoice> conv_algos;  // by ConvForward's shape key

  private:
    cuda::Stream stream_;
    cuda::DeviceBuffer workspace_;
};

}  // namespace pda
