// Seeded random weights for networks without trained ones (benchmarks, shape and speed tests).
// Every tensor draws from its own stream derived from (seed, tensor name), so adding a layer does
// not change the others, and the numbers are the same on every platform: mt19937_64 plus our own
// Box–Muller transform (std::normal_distribution's algorithm is implementation-defined).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "kernels/tensor.h"

namespace pda {

// The seed of tensor `name`'s stream under the user seed.
uint64_t weight_stream_seed(uint64_t seed, const std::string& name);

// Fills t with samples of N(mean, std²) from the stream of (seed, name).
void fill_normal(Tensor& t, double mean, double std, uint64_t seed, const std::string& name);

// He-normal (Kaiming) init, std = sqrt(2 / fan_in) with fan_in = numel / dim 0: keeps activations
// O(1) through ReLU layers. For Conv (O, I/g, K, K) and fully connected (O, I) weights.
void fill_he_normal(Tensor& t, uint64_t seed, const std::string& name);

// Fills every tensor of the map: rank ≥ 2 He-normal, rank ≤ 1 (biases) zero.
void init_random_weights(std::map<std::string, Tensor>& tensors, uint64_t seed);

}  // namespace pda
