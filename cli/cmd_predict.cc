// `pda predict MODEL IMAGE... [--top 5] [--json]`: classifies images in one batch and prints the
// most probable classes with labels and probabilities (softmax applied to logits models).
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "engine/program.h"
#include "kernels/cpu/context.h"

namespace pda::cli {

void add_predict(CLI::App& app) {
    auto* cmd = app.add_subcommand("predict", "classify images");
    auto flags = std::make_shared<ModelFlags>();
    auto images = std::make_shared<std::vector<std::string>>();
    auto top = std::make_shared<int>(5);
    auto json = std::make_shared<bool>(false);
    flags->add_to(*cmd);
    cmd->add_option("IMAGE", *images, "JPEG, PNG or BMP files")->required();
    cmd->add_option("--top", *top, "classes to show per image")->check(CLI::PositiveNumber);
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->callback([flags, images, top, json] {
        LoadedModel m = flags->load();
        const int64_t n = static_cast<int64_t>(images->size());
        Shape bs = m.input_shape;
        bs[0] = n;
        Tensor batch(bs);
        const int64_t per = m.input_shape.numel();
        for (int64_t i = 0; i < n; ++i) {
            Tensor x = load_input(m, (*images)[i]);
            std::memcpy(batch.data() + i * per, x.data(), sizeof(float) * per);
        }
        fuse(m.graph);
        CpuContext ctx;
        ctx.threads = flags->threads;
        auto prog = compile_cpu(m.graph, {bs}, ctx);
        prog->run({batch.view()});
        ConstTensorView out = prog->value(m.desc.output);
        std::vector<float> probs(out.data, out.data + out.numel());
        const int64_t k = m.num_classes;
        to_probabilities(m.desc, probs.data(), n, k);

        nlohmann::json results = nlohmann::json::array();
        for (int64_t i = 0; i < n; ++i) {
            const float* p = probs.data() + i * k;
            nlohmann::json classes = nlohmann::json::array();
            for (int64_t c : top_classes(p, k, *top)) {
                std::string label = c < static_cast<int64_t>(m.desc.labels.size()) ? m.desc.labels[c] : "";
                classes.push_back({{"class", c}, {"label", label}, {"probability", p[c]}});
            }
            results.push_back({{"image", (*images)[i]}, {"top", classes}});
        }
        if (*json) {
            std::cout << nlohmann::json{{"model", m.spec}, {"results", results}}.dump(2) << "\n";
            return;
        }
        for (const auto& r : results) {
            std::printf("%s\n", r["image"].get<std::string>().c_str());
            for (const auto& c : r["top"])
                std::printf("  %5.1f%%  %4lld  %s\n", 100.0 * c["probability"].get<double>(),
                            static_cast<long long>(c["class"].get<int64_t>()), c["label"].get<std::string>().c_str());
        }
    });
}

}  // namespace pda::cli
