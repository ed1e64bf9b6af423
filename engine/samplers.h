// The two samplers that need no fitted model (METHOD.md §3): occlusion (constant fill, S = 1, the
// Zeiler & Fergus baseline) and marginal (the window's values taken from the same place in other
// images of a sample set, S distinct images per window drawn by philox keyed by (seed, window),
// never the explained image). The conditional sampler lives in its own files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "kernels/tensor.h"

namespace pda {

// Constant fill in network-input space (0 = the dataset mean for mean-subtracted inputs). S = 1.
std::unique_ptr<Sampler> make_occlusion_sampler(float fill = 0.f);

// sample_set: preprocessed images (1, C, H, W), all of one shape; `source` names where they came
// from (for the summary). Throws an input error for an empty set or mixed shapes. At begin_image the
// images equal (bitwise) to the explained one are excluded; draw() needs S ≤ the rest and throws an
// input error naming both numbers otherwise.
std::unique_ptr<Sampler> make_marginal_sampler(std::vector<Tensor> sample_set, std::string source = "");

// The marginal sampler's choice for window `window`: indices of S distinct images among the
// `eligible` ones (the set without the explained image, in set order), exactly as draw() picks them.
std::vector<int64_t> marginal_choice(uint64_t seed, int64_t window, int64_t eligible, int64_t S);

// Factory by name for the samplers above: "occlusion" (uses fill) or "marginal" (uses sample_set);
// any other name is an input error that lists the known ones.
struct BasicSamplerOptions {
    float fill = 0.f;
    std::vector<Tensor> sample_set;
    std::string source;
};
std::unique_ptr<Sampler> make_basic_sampler(const std::string& kind, BasicSamplerOptions opt);

}  // namespace pda
