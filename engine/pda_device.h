// PdaDevice: what the one PDA loop (engine/explain.cc) needs of a backend besides the network —
// memory, the batch kernels (kernels/cpu/pda_batch.h, kernels/cuda/pda_kernels.h: same names and
// arguments), drawing a block's samples, and the timing of in-flight batches — and the programs it
// compiles (engine/batch_program.h). Two implementations: the CPU (engine/cpu/device.cc) and a CUDA
// device (engine/cuda/device.cc). Pointers are in the device's memory. Kernels and copies are queued
// in order; only download() and finish() wait.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "engine/batch_program.h"
#include "engine/sampler.h"
#include "networks/graph.h"

namespace pda {

// Seconds of one batch, by phase (explain's Explanation timings).
struct BatchTimes {
    double sampling = 0;  // draw, paste and restore
    double network = 0;
    double reduce = 0;  // reduce, weight of evidence / activation difference, accumulate
};

// The marks a batch passes on its way through the loop, in this order.
enum class BatchPhase { kPaste, kNetwork, kReduce, kRestore, kDone };

struct BatchLimits {
    int64_t preferred = 0;    // the batch when the caller leaves it to the device
    int64_t most = 0;         // the largest batch that fits; 0 when not even one image does
    double image_bytes = 0;   // memory one image of a batch takes (0: not known before compiling)
    double memory_bytes = 0;  // memory available for batches (0: not known)
    // Batches of a size whose prime factors are 2, 3 and 5 only run much faster (the CPU's Winograd
    // convolutions tile the batch: 61 images ran at 40 % of the speed of 62 or 48): the loop then
    // rounds a batch up to the next such size (at most `most`), its spare images clean copies.
    bool smooth = false;
};

// The smallest n' ≥ n (n ≥ 1) whose prime factors are 2, 3 and 5 only.
inline int64_t next_smooth(int64_t n) {
    for (int64_t m = std::max<int64_t>(n, 1);; ++m) {
        int64_t r = m;
        for (int64_t f : {2, 3, 5})
            while (r % f == 0) r /= f;
        if (r == 1) return m;
    }
}

class PdaDevice {
  public:
    virtual ~PdaDevice() = default;
    virtual std::string name() const = 0;  // "cpu", "cuda:N"

    // ---- programs ----------------------------------------------------------------------------------
    // How many images of shape `image` (1, C, H, W) a batch for net, windows of side k, may hold.
    virtual BatchLimits batch_limits(const Graph& net, const Shape& image, int64_t k, Execution exec,
                                     const std::set<std::string>& keep) = 0;
    // The program for batches of `batch` images around the clean image x (1, C, H, W); may be smaller
    // when the device runs out of memory (its batch() says). net must outlive it.
    virtual std::unique_ptr<BatchProgram> compile(const Graph& net, ConstTensorView x, int64_t k, int64_t batch,
                                                  Execution exec, const std::set<std::string>& keep) = 0;

    // ---- memory ------------------------------------------------------------------------------------
    virtual std::shared_ptr<void> allocate(int64_t bytes) = 0;  // at least one byte
    virtual void upload(void* dst, const void* host, int64_t bytes) = 0;
    virtual void download(void* host, const void* src, int64_t bytes) = 0;  // waits
    virtual void copy(void* dst, const void* src, int64_t bytes) = 0;
    virtual void zero(void* dst, int64_t bytes) = 0;

    // ---- batch kernels (kernels/cpu/pda_batch.h) ---------------------------------------------------
    virtual void paste(float* batch, const float* samples, const PdaWindows& b) = 0;
    virtual void restore(float* batch, const float* clean, const PdaWindows& b) = 0;
    virtual void softmax_rows(const float* in, float* out, int64_t rows, int64_t k) = 0;
    virtual void mean_probabilities(const float* p, int64_t k_classes, const PdaWindows& b, double* mean) = 0;
    virtual void weight_of_evidence(const float* p_clean, const double* mean, int64_t k_classes, const int64_t* classes,
                                    int64_t maps, double n_train, int64_t count, double* we) = 0;
    virtual void unit_means(const float* value, int64_t images, int64_t units, int64_t spatial, double* out) = 0;
    virtual void activation_difference(const double* image_means, const double* clean, int64_t units,
                                       const PdaWindows& b, double* ad) = 0;
    virtual void accumulate(double* sums, int64_t maps, const double* value, const PdaWindows& b) = 0;

    // ---- sampling ----------------------------------------------------------------------------------
    // Before the first draw of an image: the sampler has begun the image (Sampler::begin_image) for
    // the first `windows` windows; blocks hold at most `block_images` images. A device may draw some
    // samplers itself (CUDA: conditional and occlusion, same numbers as the CPU's); every other
    // sampler draws on the host and its samples are uploaded.
    virtual void begin_sampling(Sampler& sampler, int64_t windows, int64_t block_images, int64_t patch,
                                uint64_t seed) = 0;
    // The samples of block b, (count·S, C, k, k), drawn for the batch in `slot` (0 or 1: the batch in
    // the other slot may still be running). Valid until the next draw into the same slot.
    virtual const float* draw(const PdaWindows& b, int slot) = 0;

    // ---- in-flight batches -------------------------------------------------------------------------
    // The batch in `slot` reaches `phase`.
    virtual void mark(int slot, BatchPhase phase) = 0;
    // Waits for the batch in `slot` (marked up to kDone) and returns its times.
    virtual BatchTimes finish(int slot) = 0;
};

// A typed allocation of n elements of T on a device.
template <class T>
struct DeviceArray {
    std::shared_ptr<void> memory;
    int64_t n = 0;
    T* get() const { return static_cast<T*>(memory.get()); }
};
template <class T>
DeviceArray<T> device_array(PdaDevice& d, int64_t n) {
    return {d.allocate(static_cast<int64_t>(sizeof(T)) * std::max<int64_t>(n, 1)), n};
}
template <class T>
DeviceArray<T> device_upload(PdaDevice& d, const T* host, int64_t n) {
    DeviceArray<T> a = device_array<T>(d, n);
    if (n > 0) d.upload(a.get(), host, static_cast<int64_t>(sizeof(T)) * n);
    return a;
}

// The CPU device (its threads are ctx's); a CUDA device on ctx's GPU (engine/cuda/device.cc; throws
// in builds without the backend) with the network's precision.
struct CpuContext;
struct CudaContext;
std::unique_ptr<PdaDevice> make_cpu_device(CpuContext& ctx);
std::unique_ptr<PdaDevice> make_cuda_device(CudaContext& ctx, Precision precision);

}  // namespace pda
