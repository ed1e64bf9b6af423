// CpuContext: the oneDNN engine and stream every CPU op runs on, the thread count, the precision
// of convolutions and the primitives' shared scratchpad. Passed explicitly to every op; there are no
// globals. One thread at a time runs the ops of a context.
#pragma once

#include <dnnl.hpp>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/cpu/dnnl_util.h"
#include "kernels/tensor.h"

namespace pda {

// A constant operand of an op (weights): its floats and, when a Tensor owns them, that owner
// (Tensor::owner()), under which the programs of one context share the operand's packed copy.
struct ConstFloats {
    const float* data = nullptr;
    std::weak_ptr<float[]> owner;                       // empty: packed for its one primitive
    ConstFloats(const float* d = nullptr) : data(d) {}  // NOLINT: implicit on purpose, a bare pointer
    ConstFloats(const float* d, std::weak_ptr<float[]> o) : data(d), owner(std::move(o)) {}
};

// Weights reordered into the layouts primitives chose, kept per context so that the programs of one
// model (its prediction program, an explainer's full or clean and crop programs) pack each constant
// once per layout instead of once each: a VGG16's 0.55 GB is otherwise copied and packed three
// times. An entry is used only while the Tensor that owns the floats lives, so an address reused by
// another allocation never matches; the constants of a loaded graph are never written.
class PackedWeights {
  public:
    dnnl::memory get(const ConstFloats& w, const dnnl::memory::desc& plain, const dnnl::memory::desc& wanted,
                     const dnnl::engine& eng, dnnl::stream& s);
    size_t entries() const;

  private:
    struct Entry {
        const float* data;
        std::weak_ptr<float[]> owner;
        dnnl::memory::desc plain, wanted;
        dnnl::memory packed;
    };
    mutable std::mutex mu_;
    std::vector<Entry> entries_;
};

// Scratch memory of a context's oneDNN primitives (their user scratchpads). The ops of a context run
// one at a time on its stream, so they take turns in one buffer sized for the largest need instead of
// each holding its own: a Winograd convolution's transform buffers grow with the batch, and an
// explainer holds several programs. Grown as primitives are built, never while running.
class SharedScratchpad {
  public:
    void reserve(size_t bytes) {
        if (bytes <= bytes_) return;
        data_.reset();
        data_ = alloc_floats(static_cast<int64_t>((bytes + sizeof(float) - 1) / sizeof(float)));
        bytes_ = bytes;
    }
    // The buffer, valid until a reserve() grows it: a primitive binds it anew at every run.
    void* data() const { return data_.get(); }
    size_t bytes() const { return bytes_; }

  private:
    std::unique_ptr<float[], AlignedFree> data_;
    size_t bytes_ = 0;
};

// One primitive's scratchpad argument, bound to the context's shared buffer when it runs.
class DnnlScratchpad {
  public:
    void init(const dnnl::memory::desc& md, SharedScratchpad& shared, const dnnl::engine& eng) {
        shared_ = &shared;
        bytes_ = md.get_size();
        shared.reserve(bytes_);
        mem_ = dnnl::memory(md, eng, DNNL_MEMORY_NONE);
    }
    const dnnl::memory& mem() const { return mem_; }
    void bind() {
        if (bytes_ > 0) mem_.set_data_handle(shared_->data());
    }
    size_t bytes() const { return bytes_; }

  private:
    SharedScratchpad* shared_ = nullptr;
    size_t bytes_ = 0;
    dnnl::memory mem_;
};

struct CpuContext {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    int threads = 0;  // 0: all cores (OpenMP default)
    // Convolutions and fully connected layers (constant weights) read their source and weights in
    // bf16 (rounded to nearest even once: weights when packed, sources as they are read) and
    // accumulate and write in f32: the --precision bf16 of CPUs with AVX-512-BF16 or AMX
    // (cpu_has_bf16). Everything else stays f32.
    bool bf16 = false;
    // 3 × 3 stride-1 convolutions by Winograd's F(4×4, 3×3) where oneDNN has it (fp32 only): fewer
    // multiplications, rounding errors about 1e-6–1e-4 of a map's largest value (--precision
    // winograd). A crop then rounds differently from the whole image: incremental execution equals
    // full to that error, not bit for bit.
    bool winograd = false;
    SharedScratchpad scratchpad;
    std::shared_ptr<PackedWeights> packed = std::make_shared<PackedWeights>();
};

// Whether oneDNN 2.6 has its Winograd convolutions here: AVX-512 only.
inline bool cpu_has_winograd() { return cpu_has_avx512(); }

// Whether oneDNN runs bf16 convolutions natively here (AVX-512-BF16 or AMX), not emulated.
inline bool cpu_has_bf16() {
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

}  // namespace pda
