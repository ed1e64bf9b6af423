// pda::Model's state, shared by api/model.cc, api/explainer.cc and api/sampler_fit.cc (an Explainer
// made from a Model shares its loaded graph and its backend). Internal to api/.
#pragma once

#include <map>
#include <memory>

#include "api/loader.h"
#include "engine/backend.h"
#include "pda/pda.h"

namespace pda {

struct Model::Impl {
    std::shared_ptr<LoadedModel> m;  // unfused, as loaded: shared with the model's explainers
    ModelOptions opt;
    std::shared_ptr<Backend> backend;  // the device it runs on, shared with its explainers
    Graph fused;                       // probabilities()' network, fused on first use
    bool have_fused = false;
    std::map<int, std::unique_ptr<Program>> programs;  // by batch size
};

}  // namespace pda
