// pda::Model's state, shared by api/model.cc and api/explainer.cc (an Explainer made from a Model
// shares its loaded graph and runs on its device). Internal to api/.
#pragma once

#include <map>
#include <memory>

#include "api/loader.h"
#include "engine/cuda_program.h"
#include "engine/program.h"
#include "kernels/cpu/context.h"
#include "pda/pda.h"

namespace pda {

struct Model::Impl {
    std::shared_ptr<LoadedModel> m;  // unfused, as loaded: shared with the model's explainers
    ModelOptions opt;
    Device device;  // resolved: cpu or cuda:N
    Graph fused;    // probabilities()' network, fused on first use
    bool have_fused = false;
    CpuContext ctx;
    CudaContextPtr cuda;                               // device.is_cuda()
    std::map<int, std::unique_ptr<Program>> programs;  // by batch size
};

}  // namespace pda
