// Shared pieces of the pda subcommands: the model flags every subcommand takes and the explain flags
// of `explain` and `bench`, turned into the public API's typed options (include/pda/). The CLI uses
// nothing but that API.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "pda/explainer.h"
#include "pda/pda.h"

namespace pda::cli {

struct ModelFlags {
    std::string model;
    std::string preset, weights;
    std::string input, output, output_kind, channel_order, scale, mean, std, resize_shorter, input_size, labels;
    uint64_t seed = 0;
    int threads = 0;

    void add_to(CLI::App& app);
    ModelOptions options() const;  // for pda::Model::load (device and precision: ExplainFlags)
};

// The explain options shared by `explain` and `bench`: typed fields bound directly, the rest as the
// strings given, parsed into their types once (with the model flags' seed and threads).
struct ExplainFlags {
    ExplainerOptions opt;
    std::string sampler = "conditional", classes = "top3", device = "auto", exec = "incremental", precision = "fp32";

    void add_to(CLI::App& cmd);                                 // cli/cmd_explain.cc
    ExplainerOptions typed(const ModelFlags& model) const;      // seed from the model flags
    ModelOptions model_options(const ModelFlags& model) const;  // with --device and --precision
};

// A check for an integer option: at least `min`, said in one plain line ("must be an integer ≥ 1,
// got -3") instead of CLI11's range of doubles.
CLI::Validator at_least(long long min);

// Thrown by a subcommand that has said everything it had to and ends with this exit code (a
// dataset job with failures: 1).
struct ExitCode {
    int code = 1;
};

void add_info(CLI::App& app);
void add_status(CLI::App& app);  // cli/cmd_status.cc
void add_report(CLI::App& app);  // cli/cmd_report.cc
void add_predict(CLI::App& app);
void add_fit_sampler(CLI::App& app);  // cli/cmd_fit_sampler.cc
void add_explain(CLI::App& app);      // cli/cmd_explain.cc
void add_bench(CLI::App& app);        // cli/cmd_bench.cc

}  // namespace pda::cli
