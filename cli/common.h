// Shared pieces of the pda subcommands: the model flags every subcommand takes, and JSON/number
// formatting helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "api/explain_setup.h"
#include "api/loader.h"
#include "pda/pda.h"

namespace pda::cli {

struct ModelFlags {
    std::string model;
    std::string preset, weights;
    std::string input, output, output_kind, channel_order, scale, mean, std, resize_shorter, input_size, labels;
    uint64_t seed = 0;
    int threads = 0;

    void add_to(CLI::App& app);
    LoadedModel load() const;      // applies threads, loads, applies overrides
    ModelOptions options() const;  // the same, for pda::Model::load
};

// The explain options shared by `explain` and `bench`: typed fields bound directly, the rest as the
// strings given, parsed into their types once by typed() (with the model flags' seed and threads).
struct ExplainFlags {
    ExplainConfig config;
    std::string sampler = "conditional", classes = "top3", device = "auto", exec = "incremental", precision = "fp32";

    void add_to(CLI::App& cmd);  // cli/cmd_explain.cc
    ExplainConfig typed(const ModelFlags& model) const;
};

void add_info(CLI::App& app);
void add_predict(CLI::App& app);
void add_fit_sampler(CLI::App& app);  // cli/cmd_fit_sampler.cc
void add_explain(CLI::App& app);      // cli/cmd_explain.cc
void add_bench(CLI::App& app);        // cli/cmd_bench.cc

}  // namespace pda::cli
