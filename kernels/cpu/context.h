// CpuContext: the oneDNN engine and stream every CPU op runs on, the thread count and the
// precision of convolutions. Passed explicitly to every op; there are no globals.
#pragma once

#include <dnnl.hpp>

namespace pda {

struct CpuContext {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    int threads = 0;  // 0: all cores (OpenMP default)
    // Convolutions and fully connected layers (constant weights) read their source and weights in
    // bf16 (rounded to nearest even once: weights when packed, sources as they are read) and
    // accumulate and write in f32: the --precision bf16 of CPUs with AVX-512-BF16 or AMX
    // (cpu_has_bf16). Everything else stays f32.
    bool bf16 = false;
};

// Whether oneDNN runs bf16 convolutions natively here (AVX-512-BF16 or AMX), not emulated.
inline bool cpu_has_bf16() {
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

}  // namespace pda
