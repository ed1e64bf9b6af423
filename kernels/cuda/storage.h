// The element type of a device buffer that cuDNN / cuBLAS read: FP32, or FP16 / BF16 for reduced
// precision (FP32 accumulation). Activations between ops stay FP32 in the arena; convolutions and
// GEMMs convert their operands to 16 bits around the library call (kernels/cuda/eltwise.h).
#pragma once

#include <cstddef>

namespace pda::cuda {

enum class Storage { kF32, kF16, kBF16 };

inline size_t storage_bytes(Storage s) { return s == Storage::kF32 ? 4 : 2; }
inline const char* storage_name(Storage s) {
    return s == Storage::kF32 ? "fp32" : s == Storage::kF16 ? "fp16" : "bf16";
}

}  // namespace pda::cuda
