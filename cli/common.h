// Shared pieces of the pda subcommands: the model flags every subcommand takes, and JSON/number
// formatting helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "api/loader.h"

namespace pda::cli {

struct ModelFlags {
    std::string model;
    std::string preset, weights;
    std::string input, output, output_kind, channel_order, scale, mean, std, resize_shorter, input_size, labels;
    uint64_t seed = 0;
    int threads = 0;

    void add_to(CLI::App& app);
    LoadedModel load() const;  // applies threads, loads, applies overrides
};

void add_info(CLI::App& app);
void add_predict(CLI::App& app);
void add_fit_sampler(CLI::App& app);  // cli/cmd_fit_sampler.cc
void add_explain(CLI::App& app);      // cli/cmd_explain.cc
void add_bench(CLI::App& app);        // cli/cmd_bench.cc

}  // namespace pda::cli
