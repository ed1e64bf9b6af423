// `pda info MODEL [--json] [--pda-k K]`: nodes, output shapes, parameters and MFLOP per node, total
// GFLOP per forward pass (batch 1), and the model's preprocessing. With --pda-k, also each node's
// crop for K×K windows (K×K×K on volume models) and its FLOP under full vs incremental execution
// (pda::Model::info_json).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/common.h"

namespace pda::cli {
namespace {

// "(1×3×227×227)", as shapes print elsewhere.
std::string dims(const nlohmann::json& shape) {
    std::string s;
    for (const auto& d : shape) s += (s.empty() ? "" : "×") + std::to_string(d.get<long long>());
    return "(" + s + ")";
}

}  // namespace

void add_info(CLI::App& app) {
    auto* cmd = app.add_subcommand("info", "show a model's nodes, shapes, parameters and FLOP");
    auto flags = std::make_shared<ModelFlags>();
    auto json = std::make_shared<bool>(false);
    auto pda_k = std::make_shared<int64_t>(0);
    flags->add_to(*cmd);
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->add_option("--pda-k", *pda_k,
                    "also show each node's crop for K×K windows (K×K×K on volumes) and its FLOP, full vs incremental "
                    "execution")
        ->check(at_least(1));
    cmd->callback([flags, json, pda_k] {
        const Model model = Model::load(flags->model, flags->options());
        const std::string text = model.info_json(*pda_k);
        const nlohmann::json out = nlohmann::json::parse(text);
        const nlohmann::json& nodes = out["nodes"];
        if (*json) {
            std::cout << text << "\n";
            return;
        }
        const nlohmann::json& p = out["preprocessing"];
        std::printf("%s: input %s %s, output %s (%s, %d classes)\n", model.name().c_str(),
                    out["input"]["name"].get<std::string>().c_str(), dims(out["input"]["shape"]).c_str(),
                    out["output"]["name"].get<std::string>().c_str(), out["output"]["kind"].get<std::string>().c_str(),
                    model.num_classes());
        if (model.volume())
            std::printf("preprocessing: volume (no resampling), (v - %g) / %g\n\n",
                        p["normalization"]["mean"].get<double>(), p["normalization"]["std"].get<double>());
        else
            std::printf(
                "preprocessing: resize shorter side to %lld, %s crop, %s, scale %g, mean (%g, %g, %g), std (%g, %g, "
                "%g)\n\n",
                p["resize_shorter"].get<long long>(), p["crop"].get<std::string>().c_str(),
                p["channel_order"].get<std::string>().c_str(), p["scale"].get<double>(), p["mean"][0].get<double>(),
                p["mean"][1].get<double>(), p["mean"][2].get<double>(), p["std"][0].get<double>(),
                p["std"][1].get<double>(), p["std"][2].get<double>());
        std::printf("%-32s %-18s %-22s %12s %10s", "node", "op", "output shape", "params", "MFLOP");
        if (*pda_k > 0) std::printf("  %-12s %-5s %10s", "crop", "exec", "incr MFLOP");
        std::printf("\n");
        for (const auto& n : nodes) {
            std::printf("%-32s %-18s %-22s %12lld %10.2f", n["name"].get<std::string>().c_str(),
                        n["op"].get<std::string>().c_str(), dims(n["shape"]).c_str(),
                        static_cast<long long>(n["params"].get<int64_t>()), n["mflop"].get<double>());
            if (*pda_k > 0) {
                std::string crop;
                for (int64_t c : n["crop"].get<std::vector<int64_t>>())
                    crop += (crop.empty() ? "" : "x") + std::to_string(c);
                std::printf("  %-12s %-5s %10.2f", crop.empty() ? "-" : crop.c_str(),
                            n["exec"].get<std::string>().c_str(), n["mflop_incremental"].get<double>());
            }
            std::printf("\n");
        }
        std::printf("\n%zu nodes, %lld parameters, %.3f GFLOP per forward pass (batch 1, multiply-add = 2)\n",
                    nodes.size(), out["params"].get<long long>(), out["gflop"].get<double>());
        if (*pda_k > 0) {
            std::string window;
            for (int64_t w : out["incremental"]["window"].get<std::vector<int64_t>>())
                window += (window.empty() ? "" : "x") + std::to_string(w);
            std::printf(
                "incremental execution, %s windows (one crop size per batch): %.3f GFLOP per forward pass, "
                "full / incremental = %.2f\n",
                window.c_str(), out["incremental"]["gflop_incremental"].get<double>(),
                out["incremental"]["ratio"].get<double>());
        }
    });
}

}  // namespace pda::cli
