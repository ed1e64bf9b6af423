// GPU machine probe: which driver, cuDNN, cuBLAS and cuRAND a lent GPU machine has, whether a
// binary built on the CPU-only machines runs there, and whether cuRAND's host generator draws the
// same normal numbers as the device generator for the same seed (the plan for CPU = GPU maps).
// Built by scripts/gpu-probe.sh; prints facts, exits non-zero on the first failing call.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <curand.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CK(x)                                                                                        \
    do {                                                                                             \
        auto _s = (x);                                                                               \
        if (static_cast<int>(_s) != 0) {                                                             \
            std::printf("FAILED %s -> %d at %s:%d\n", #x, static_cast<int>(_s), __FILE__, __LINE__); \
            std::exit(1);                                                                            \
        }                                                                                            \
    } while (0)

int main() {
    int n = 0, drv = 0, rt = 0;
    CK(cudaGetDeviceCount(&n));
    CK(cudaDriverGetVersion(&drv));
    CK(cudaRuntimeGetVersion(&rt));
    std::printf("devices %d, driver API %d, runtime %d\n", n, drv, rt);
    cudaDeviceProp p{};
    CK(cudaGetDeviceProperties(&p, 0));
    std::printf("device 0: %s sm_%d%d, %zu MiB, %d SMs, L2 %d KiB, smem/block optin %zu KiB\n", p.name, p.major,
                p.minor, p.totalGlobalMem >> 20, p.multiProcessorCount, p.l2CacheSize >> 10,
                p.sharedMemPerBlockOptin >> 10);
    size_t fr = 0, tot = 0;
    CK(cudaMemGetInfo(&fr, &tot));
    std::printf("memory free %zu MiB of %zu MiB\n", fr >> 20, tot >> 20);
    std::printf("cuDNN header %d, library %zu\n", CUDNN_VERSION, cudnnGetVersion());
    int cv = 0;
    CK(curandGetVersion(&cv));
    std::printf("cuRAND %d\n", cv);
    cublasHandle_t h;
    CK(cublasCreate(&h));
    int bv = 0;
    CK(cublasGetVersion(h, &bv));
    std::printf("cuBLAS %d\n", bv);

    // cuRAND: host generator vs device generator, Philox4x32-10, same seed and offset.
    const size_t count = 1 << 20;
    std::vector<float> host(count), dev(count);
    curandGenerator_t gh, gd;
    CK(curandCreateGeneratorHost(&gh, CURAND_RNG_PSEUDO_PHILOX4_32_10));
    CK(curandCreateGenerator(&gd, CURAND_RNG_PSEUDO_PHILOX4_32_10));
    for (auto g : {gh, gd}) {
        CK(curandSetPseudoRandomGeneratorSeed(g, 1234));
        CK(curandSetGeneratorOffset(g, 4096));
    }
    CK(curandGenerateNormal(gh, host.data(), count, 0.f, 1.f));
    float* d = nullptr;
    CK(cudaMalloc(&d, count * sizeof(float)));
    CK(curandGenerateNormal(gd, d, count, 0.f, 1.f));
    CK(cudaMemcpy(dev.data(), d, count * sizeof(float), cudaMemcpyDeviceToHost));
    double maxd = 0;
    size_t exact = 0;
    for (size_t i = 0; i < count; ++i) {
        double df = std::fabs(static_cast<double>(host[i]) - dev[i]);
        maxd = df > maxd ? df : maxd;
        exact += host[i] == dev[i];
    }
    std::printf("curand philox normal host vs device: %zu of %zu bitwise equal, max |diff| %.3g\n", exact, count, maxd);

    // A small cuDNN convolution and a cuBLAS SGEMM: do the libraries run, and what do they pick?
    cudnnHandle_t dn;
    CK(cudnnCreate(&dn));
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    CK(cudnnCreateTensorDescriptor(&xd));
    CK(cudnnCreateTensorDescriptor(&yd));
    CK(cudnnCreateFilterDescriptor(&wd));
    CK(cudnnCreateConvolutionDescriptor(&cd));
    const int N = 256, C = 96, H = 27, W = 27, K = 256, R = 5;
    CK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, C, H, W));
    CK(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, K, C / 2, R, R));
    CK(cudnnSetConvolution2dDescriptor(cd, 2, 2, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CK(cudnnSetConvolutionGroupCount(cd, 2));
    CK(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, K, H, W));
    float *x, *w, *y;
    CK(cudaMalloc(&x, sizeof(float) * N * C * H * W));
    CK(cudaMalloc(&w, sizeof(float) * K * (C / 2) * R * R));
    CK(cudaMalloc(&y, sizeof(float) * N * K * H * W));
    CK(curandGenerateNormal(gd, x, N * C * H * W, 0.f, 1.f));
    CK(curandGenerateNormal(gd, w, K * (C / 2) * R * R, 0.f, 0.1f));
    for (auto math : {CUDNN_DEFAULT_MATH, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION}) {
        CK(cudnnSetConvolutionMathType(cd, math));
        cudnnConvolutionFwdAlgoPerf_t perf[8];
        int got = 0;
        CK(cudnnFindConvolutionForwardAlgorithm(dn, xd, wd, cd, yd, 8, &got, perf));
        std::printf("cuDNN conv (AlexNet conv2, N=%d) math %d: best algo %d %.3f ms (%.0f GFLOP/s), ws %zu KiB\n", N,
                    static_cast<int>(math), perf[0].algo, perf[0].time,
                    2.0 * N * K * H * W * (C / 2) * R * R / (perf[0].time * 1e6), perf[0].memory >> 10);
    }
    const int M = 4096, NN = 1024, KK = 9216;
    float *a, *b, *c;
    CK(cudaMalloc(&a, sizeof(float) * M * KK));
    CK(cudaMalloc(&b, sizeof(float) * KK * NN));
    CK(cudaMalloc(&c, sizeof(float) * M * NN));
    CK(curandGenerateNormal(gd, a, M * KK, 0.f, 1.f));
    CK(curandGenerateNormal(gd, b, KK * NN, 0.f, 1.f));
    float one = 1.f, zero = 0.f;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (int mode = 0; mode < 2; ++mode) {
        CK(cublasSetMathMode(h, mode ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
        CK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, M, NN, KK, &one, a, M, b, KK, &zero, c, M));
        CK(cudaEventRecord(e0));
        for (int r = 0; r < 10; ++r)
            CK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, M, NN, KK, &one, a, M, b, KK, &zero, c, M));
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        std::printf("cuBLAS SGEMM %dx%dx%d %s: %.0f GFLOP/s\n", M, NN, KK, mode ? "TF32" : "FP32",
                    2.0 * M * NN * KK * 10 / (ms * 1e6));
    }
    std::printf("probe OK\n");
    return 0;
}
