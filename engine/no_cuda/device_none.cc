// cuda_info() for builds without the CUDA backend.
#include "engine/device.h"

namespace pda {

CudaInfo cuda_info() {
    CudaInfo info;
    info.runtime_note = "built without the CUDA backend";
    return info;
}

}  // namespace pda
