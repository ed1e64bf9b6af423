// PDA_HD marks scalar functions compiled for both the host and the device, so that the CPU backend
// runs exactly the arithmetic the CUDA kernels run.
#pragma once

#if defined(__CUDACC__)
#define PDA_HD __host__ __device__ __forceinline__
#else
#define PDA_HD inline
#endif
