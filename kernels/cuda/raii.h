// Move-only owners of device memory, streams, events and cuDNN / cuBLAS handles and
// descriptors. Creation is checked (throws); destruction ignores the status, as a destructor must
// not throw and a failing free means the context is already lost.
#pragma once

#include <cstddef>
#include <utility>

#include "kernels/cuda/check.h"

namespace pda::cuda {

// A handle type H released by `Destroy`. Empty (null) after a move.
template <class H, class Destroy>
class Owner {
  public:
    Owner() = default;
    explicit Owner(H h) : h_(h) {}
    Owner(const Owner&) = delete;
    Owner& operator=(const Owner&) = delete;
    Owner(Owner&& o) noexcept : h_(std::exchange(o.h_, H{})) {}
    Owner& operator=(Owner&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, H{});
        }
        return *this;
    }
    ~Owner() { reset(); }
    void reset() {
        if (h_) Destroy{}(h_);
        h_ = H{};
    }
    H get() const { return h_; }
    explicit operator bool() const { return h_ != H{}; }

  private:
    H h_{};
};

struct FreeDevice {
    void operator()(void* p) const { cudaFree(p); }
};
struct DestroyStream {
    void operator()(cudaStream_t s) const { cudaStreamDestroy(s); }
};
struct DestroyEvent {
    void operator()(cudaEvent_t e) const { cudaEventDestroy(e); }
};
struct DestroyCudnn {
    void operator()(cudnnHandle_t h) const { cudnnDestroy(h); }
};
struct DestroyCublas {
    void operator()(cublasHandle_t h) const { cublasDestroy(h); }
};
struct DestroyTensorDesc {
    void operator()(cudnnTensorDescriptor_t d) const { cudnnDestroyTensorDescriptor(d); }
};
struct DestroyFilterDesc {
    void operator()(cudnnFilterDescriptor_t d) const { cudnnDestroyFilterDescriptor(d); }
};
struct DestroyConvDesc {
    void operator()(cudnnConvolutionDescriptor_t d) const { cudnnDestroyConvolutionDescriptor(d); }
};
struct DestroyActivationDesc {
    void operator()(cudnnActivationDescriptor_t d) const { cudnnDestroyActivationDescriptor(d); }
};
struct DestroyLrnDesc {
    void operator()(cudnnLRNDescriptor_t d) const { cudnnDestroyLRNDescriptor(d); }
};

using Stream = Owner<cudaStream_t, DestroyStream>;
using Event = Owner<cudaEvent_t, DestroyEvent>;
using CudnnHandle = Owner<cudnnHandle_t, DestroyCudnn>;
using CublasHandle = Owner<cublasHandle_t, DestroyCublas>;
using TensorDesc = Owner<cudnnTensorDescriptor_t, DestroyTensorDesc>;
using FilterDesc = Owner<cudnnFilterDescriptor_t, DestroyFilterDesc>;
using ConvDesc = Owner<cudnnConvolutionDescriptor_t, DestroyConvDesc>;
using ActivationDesc = Owner<cudnnActivationDescriptor_t, DestroyActivationDesc>;
using LrnDesc = Owner<cudnnLRNDescriptor_t, DestroyLrnDesc>;

// Device memory of a given size in bytes (cudaMalloc: 256-byte aligned).
class DeviceBuffer {
  public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
        void* p = nullptr;
        if (bytes > 0) PDA_CUDA_CHECK(cudaMalloc(&p, bytes));
        p_ = Owner<void*, FreeDevice>(p);
    }
    void* data() const { return p_.get(); }
    float* floats() const { return static_cast<float*>(p_.get()); }
    size_t bytes() const { return bytes_; }

  private:
    Owner<void*, FreeDevice> p_;
    size_t bytes_ = 0;
};

inline Stream make_stream() {
    cudaStream_t s = nullptr;
    PDA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return Stream(s);
}
inline Event make_event() {
    cudaEvent_t e = nullptr;
    PDA_CUDA_CHECK(cudaEventCreate(&e));
    return Event(e);
}
inline TensorDesc make_tensor_desc() {
    cudnnTensorDescriptor_t d = nullptr;
    PDA_CUDA_CHECK(cudnnCreateTensorDescriptor(&d));
    return TensorDesc(d);
}
inline FilterDesc make_filter_desc() {
    cudnnFilterDescriptor_t d = nullptr;
    PDA_CUDA_CHECK(cudnnCreateFilterDescriptor(&d));
    return FilterDesc(d);
}
inline ConvDesc make_conv_desc() {
    cudnnConvolutionDescriptor_t d = nullptr;
    PDA_CUDA_CHECK(cudnnCreateConvolutionDescriptor(&d));
    return ConvDesc(d);
}
inline ActivationDesc make_activation_desc() {
    cudnnActivationDescriptor_t d = nullptr;
    PDA_CUDA_CHECK(cudnnCreateActivationDescriptor(&d));
    return ActivationDesc(d);
}
inline LrnDesc make_lrn_desc() {
    cudnnLRNDescriptor_t d = nullptr;
    PDA_CUDA_CHECK(cudnnCreateLRNDescriptor(&d));
    return LrnDesc(d);
}

}  // namespace pda::cuda
