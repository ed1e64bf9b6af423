// What the CUDA backend was built with and which GPUs this process can see. A machine without a
// GPU (or without a driver) has zero devices: that is not an error.
#pragma once

#include <string>

namespace pda {

struct CudaInfo {
    bool compiled = false;     // the CUDA backend is part of this build
    int device_count = 0;      // usable GPUs; 0 when there is no driver or device
    std::string runtime_note;  // why there are no devices, when there are none
    int cudnn_version = 0;     // cudnnGetVersion(), e.g. 91900
    int cublas_version = 0;
    std::string devices;  // one line per device: index, name, compute capability, memory
};

CudaInfo cuda_info();

}  // namespace pda
