// What a pda::FittedSampler holds (include/pda/sampler.h): the fitted Gaussian and the sampler file's
// facts, shared by its own code (api/sampler_fit.cc) and the explainer that takes one in memory
// (ExplainerOptions::fitted_sampler, api/explain_setup.cc).
#pragma once

#include <cstdint>
#include <string>

#include "engine/gaussian.h"
#include "io/sampler_file.h"
#include "pda/sampler.h"

namespace pda {

struct FittedSampler::Impl {
    GaussianPatchModel g;
    SamplerFileMeta meta;
    int64_t positions = 0, candidates = 0;
    std::string mask;
    double seconds_load = 0, seconds_fit = 0;
    std::string path;  // loaded from or last saved to
};

}  // namespace pda
