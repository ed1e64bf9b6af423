// Seeded He-normal weights: per-tensor streams of mt19937_64 seeded by a splitmix64 mix of the
// user seed and an FNV-1a hash of the tensor's name; normals by Box–Muller, portable bit for bit.
#include "weights/random_init.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace pda {
namespace {

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t fnv1a64(const std::string& s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
    return h;
}

// Uniform in (0, 1]: 53 random bits, never zero so that log() below is finite.
double uniform_open0(std::mt19937_64& rng) { return (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53; }

}  // namespace

uint64_t weight_stream_seed(uint64_t seed, const std::string& name) {
    return splitmix64(splitmix64(seed) ^ fnv1a64(name));
}

void fill_normal(Tensor& t, double mean, double std, uint64_t seed, const std::string& name) {
    std::mt19937_64 rng(weight_stream_seed(seed, name));
    float* p = t.data();
    const int64_t n = t.numel();
    const double two_pi = 6.283185307179586476925;
    for (int64_t i = 0; i < n; i += 2) {
        double r = std::sqrt(-2.0 * std::log(uniform_open0(rng)));
        double a = two_pi * uniform_open0(rng);
        p[i] = static_cast<float>(mean + std * r * std::cos(a));
        if (i + 1 < n) p[i + 1] = static_cast<float>(mean + std * r * std::sin(a));
    }
}

void fill_he_normal(Tensor& t, uint64_t seed, const std::string& name) {
    if (t.shape().rank < 1 || t.shape()[0] <= 0 || t.numel() == 0)
        fail_input("He init of '" + name + "': shape " + t.shape().str() + " has no fan-in");
    int64_t fan_in = t.numel() / t.shape()[0];
    fill_normal(t, 0.0, std::sqrt(2.0 / static_cast<double>(fan_in)), seed, name);
}

void init_random_weights(std::map<std::string, Tensor>& tensors, uint64_t seed) {
    for (auto& [name, t] : tensors) {
        if (t.shape().rank >= 2)
            fill_he_normal(t, seed, name);
        else
            std::fill(t.data(), t.data() + t.numel(), 0.f);
    }
}

}  // namespace pda
