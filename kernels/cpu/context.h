// CpuContext: the oneDNN engine and stream every CPU op runs on, the thread count and the
// precision of convolutions. Passed explicitly to every op; there are no globals.
#pragma once

#include <dnnl.hpp>
#include <memory>
#include <mutex>
#include <vector>

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

struct CpuContext {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    int threads = 0;  // 0: all cores (OpenMP default)
    // Convolutions and fully connected layers (constant weights) read their source and weights in
    // bf16 (rounded to nearest even once: weights when packed, sources as they are read) and
    // accumulate and write in f32: the --precision bf16 of CPUs with AVX-512-BF16 or AMX
    // (cpu_has_bf16). Everything else stays f32.
    bool bf16 = false;
    std::shared_ptr<PackedWeights> packed = std::make_shared<PackedWeights>();
};

// Whether oneDNN runs bf16 convolutions natively here (AVX-512-BF16 or AMX), not emulated.
inline bool cpu_has_bf16() {
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

}  // namespace pda
