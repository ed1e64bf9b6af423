// .npy files (numpy's format, version 1.0, little-endian float32, C order): written atomically
// (a temporary file renamed into place) so a crash never leaves a half-written array.
#pragma once

#include <string>

#include "kernels/tensor.h"

namespace pda {

void write_npy(const std::string& path, ConstTensorView t);
Tensor read_npy(const std::string& path);  // float32 ('<f4') or float64 ('<f8', converted)

}  // namespace pda
