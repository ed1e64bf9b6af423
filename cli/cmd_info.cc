// `pda info MODEL [--json] [--pda-k K]`: nodes, output shapes, parameters and MFLOP per node, total
// GFLOP per forward pass (batch 1), and the model's preprocessing. With --pda-k, also each node's
// crop for K×K windows and its FLOP under full vs incremental execution (networks/regions.h).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "networks/regions.h"

namespace pda::cli {

void add_info(CLI::App& app) {
    auto* cmd = app.add_subcommand("info", "show a model's nodes, shapes, parameters and FLOP");
    auto flags = std::make_shared<ModelFlags>();
    auto json = std::make_shared<bool>(false);
    auto pda_k = std::make_shared<int64_t>(0);
    flags->add_to(*cmd);
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->add_option("--pda-k", *pda_k,
                    "also show each node's crop for K×K windows and its FLOP, full vs incremental execution")
        ->check(CLI::PositiveNumber);
    cmd->callback([flags, json, pda_k] {
        LoadedModel m = flags->load();
        const Graph& g = m.graph;
        auto shapes = infer_shapes(g, {m.input_shape});
        const std::string input = m.desc.input.empty() ? g.inputs.at(0).name : m.desc.input;
        CropPlan plan;
        FlopModel model;
        if (*pda_k > 0) {
            plan = crop_plan(g, shapes, input, *pda_k);
            model = incremental_flops(g, shapes, plan);
        }
        nlohmann::json nodes = nlohmann::json::array();
        double total_flops = 0;
        int64_t total_params = 0;
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            const Node& n = g.nodes[i];
            int64_t params = 0;
            for (const std::string& v : n.inputs)
                if (g.is_constant(v)) params += g.constant(v).numel();
            double flops = node_flops(g, n, shapes);
            total_flops += flops;
            total_params += params;
            nodes.push_back({{"name", n.name},
                             {"op", op_name(n.op)},
                             {"output", n.output},
                             {"shape", shapes.at(n.output).vec()},
                             {"params", params},
                             {"mflop", flops / 1e6}});
            if (*pda_k > 0) {
                const NodeCrop& c = plan.nodes[i];
                int nd = shapes.at(n.output).spatial_rank();
                nodes.back()["crop"] = std::vector<int64_t>(c.out.begin(), c.out.begin() + std::max(nd, 0));
                nodes.back()["exec"] = !c.changed ? "clean" : c.incremental ? "crop" : "full";
                nodes.back()["mflop_incremental"] = model.per_node[i].second / 1e6;
            }
        }
        const Preprocess& p = m.desc.pre;
        nlohmann::json out = {
            {"model", m.spec},
            {"input", {{"name", m.desc.input}, {"shape", m.input_shape.vec()}}},
            {"output",
             {{"name", m.desc.output}, {"kind", output_kind_name(m.desc.output_kind)}, {"classes", m.num_classes}}},
            {"preprocessing",
             {{"resize_shorter", p.resize_shorter},
              {"crop", p.crop},
              {"channel_order", p.bgr ? "BGR" : "RGB"},
              {"scale", p.scale},
              {"mean", p.mean},
              {"std", p.std}}},
            {"nodes", nodes},
            {"params", total_params},
            {"gflop", total_flops / 1e9}};
        if (*pda_k > 0)
            out["incremental"] = {{"k", *pda_k},
                                  {"crop_size", "largest box over all window positions"},
                                  {"full_crop_fraction", kFullCropFraction},
                                  {"gflop_full", model.full / 1e9},
                                  {"gflop_incremental", model.incremental / 1e9},
                                  {"ratio", model.ratio()}};
        if (*json) {
            std::cout << out.dump(2) << "\n";
            return;
        }
        std::printf("%s: input %s %s, output %s (%s, %lld classes)\n", m.spec.c_str(), m.desc.input.c_str(),
                    m.input_shape.str().c_str(), m.desc.output.c_str(), output_kind_name(m.desc.output_kind),
                    static_cast<long long>(m.num_classes));
        std::printf(
            "preprocessing: resize shorter side to %lld, %s crop, %s, scale %g, mean (%g, %g, %g), std (%g, %g, "
            "%g)\n\n",
            static_cast<long long>(p.resize_shorter), p.crop.c_str(), p.bgr ? "BGR" : "RGB", p.scale, p.mean[0],
            p.mean[1], p.mean[2], p.std[0], p.std[1], p.std[2]);
        std::printf("%-32s %-18s %-22s %12s %10s", "node", "op", "output shape", "params", "MFLOP");
        if (*pda_k > 0) std::printf("  %-12s %-5s %10s", "crop", "exec", "incr MFLOP");
        std::printf("\n");
        for (const auto& n : nodes) {
            std::printf("%-32s %-18s %-22s %12lld %10.2f", n["name"].get<std::string>().c_str(),
                        n["op"].get<std::string>().c_str(), Shape(n["shape"].get<std::vector<int64_t>>()).str().c_str(),
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
                    g.nodes.size(), static_cast<long long>(total_params), total_flops / 1e9);
        if (*pda_k > 0)
            std::printf(
                "incremental execution, %lldx%lld windows (one crop size per batch): %.3f GFLOP per forward pass, "
                "full / incremental = %.2f\n",
                static_cast<long long>(*pda_k), static_cast<long long>(*pda_k), model.incremental / 1e9, model.ratio());
    });
}

}  // namespace pda::cli
