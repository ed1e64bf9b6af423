// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011) and Box–Muller normals, as PDA_HD
// functions: the CPU and CUDA backends draw the same numbers for the same (seed, stream, index),
// whatever the batch size, thread count or device. Used for every random choice in a PDA run.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace pda {

struct Philox4 {
    uint32_t v[4];
};

PDA_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
    uint64_t p = static_cast<uint64_t>(a) * b;
    hi = static_cast<uint32_t>(p >> 32);
    lo = static_cast<uint32_t>(p);
}

// Four 32-bit random words for counter (c0..c3) under key (k0, k1).
PDA_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; ++r) {
        uint32_t hi0, lo0, hi1, lo1;
        philox_mulhilo(0xD2511F53u, c0, hi0, lo0);
        philox_mulhilo(0xCD9E8D57u, c2, hi1, lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return {{c0, c1, c2, c3}};
}

// A uniform in (0, 1], never 0 (safe for log).
PDA_HD float philox_uniform(uint32_t x) { return (static_cast<float>(x >> 8) + 1.0f) * (1.0f / 16777216.0f); }

// Random word `index` of stream (seed, stream): a pure function of its arguments.
PDA_HD uint32_t random_u32(uint64_t seed, uint64_t stream, uint64_t index) {
    Philox4 r = philox4x32_10(static_cast<uint32_t>(index >> 2), static_cast<uint32_t>(index >> 34),
                              static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                              static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    return r.v[index & 3];
}

// Standard normal number `index` of stream (seed, stream), by Box–Muller on a pair of words; the
// pair (2i, 2i+1) gives normals 2i and 2i+1 (cos and sin branch).
PDA_HD float random_normal(uint64_t seed, uint64_t stream, uint64_t index) {
    uint64_t pair = index >> 1;
    Philox4 r = philox4x32_10(static_cast<uint32_t>(pair >> 1), static_cast<uint32_t>(pair >> 33),
                              static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                              static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    const uint32_t* w = r.v + ((pair & 1) << 1);
    float radius = sqrtf(-2.0f * logf(philox_uniform(w[0])));
    float angle = 6.2831853071795864f * philox_uniform(w[1]);
    return radius * ((index & 1) ? sinf(angle) : cosf(angle));
}

}  // namespace pda
