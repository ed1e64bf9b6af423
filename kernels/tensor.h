// Tensors: TensorView is a non-owning (pointer, shape) pair that ops take; Tensor owns 64-byte
// aligned float32 storage (shared only through share()). Layout is always dense row-major (NCHW /
// NCDHW for images and volumes).
#pragma once

#include <cstdlib>
#include <cstring>
#include <memory>

#include "kernels/shape.h"

namespace pda {

struct TensorView {
    float* data = nullptr;
    Shape shape;
    int64_t numel() const { return shape.numel(); }
};

struct ConstTensorView {
    const float* data = nullptr;
    Shape shape;
    ConstTensorView() = default;
    ConstTensorView(const float* d, const Shape& s) : data(d), shape(s) {}
    ConstTensorView(const TensorView& v) : data(v.data), shape(v.shape) {}  // NOLINT: implicit on purpose
    int64_t numel() const { return shape.numel(); }
};

struct AlignedFree {
    void operator()(float* p) const { std::free(p); }
};

// Allocates n floats aligned to 64 bytes (at least one float, so the pointer is never null).
inline std::unique_ptr<float[], AlignedFree> alloc_floats(int64_t n) {
    size_t bytes = ((static_cast<size_t>(n > 0 ? n : 1) * sizeof(float) + 63) / 64) * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p) fail_internal("out of host memory allocating " + std::to_string(bytes) + " bytes");
    return std::unique_ptr<float[], AlignedFree>(p);
}

class Tensor {
  public:
    Tensor() = default;
    explicit Tensor(const Shape& shape) : shape_(shape), data_(alloc_floats(shape.numel())) {
        std::memset(data_.get(), 0, sizeof(float) * static_cast<size_t>(shape.numel()));
    }
    Tensor(const Shape& shape, const float* src) : shape_(shape), data_(alloc_floats(shape.numel())) {
        std::memcpy(data_.get(), src, sizeof(float) * static_cast<size_t>(shape.numel()));
    }
    Tensor(Tensor&&) = default;
    Tensor& operator=(Tensor&&) = default;
    Tensor clone() const { return Tensor(shape_, data_.get()); }
    // A second handle on the same floats (no copy), for a copy of a graph whose weights neither side
    // writes any more (the fused copies of a loaded model): a VGG16 then holds its 0.55 GB once.
    // Who owns the floats, for caches that must not outlive them (kernels/cpu/context.h).
    std::weak_ptr<float[]> owner() const { return data_; }
    Tensor share() const {
        Tensor t;
        t.shape_ = shape_;
        t.data_ = data_;
        return t;
    }

    const Shape& shape() const { return shape_; }
    int64_t numel() const { return shape_.numel(); }
    float* data() { return data_.get(); }
    const float* data() const { return data_.get(); }
    bool empty() const { return !data_; }
    TensorView view() { return {data_.get(), shape_}; }
    ConstTensorView view() const { return {data_.get(), shape_}; }
    // Same storage, new shape of the same element count (Reshape, Flatten).
    void reshape(const Shape& s) {
        if (s.numel() != shape_.numel()) fail_internal("reshape " + shape_.str() + " -> " + s.str());
        shape_ = s;
    }

  private:
    Shape shape_;
    std::shared_ptr<float[]> data_;  // one owner except after share()
};

}  // namespace pda
