// `pda predict MODEL IMAGE... [--top 5] [--json]`: classifies images in one batch and prints the
// most probable classes with labels and probabilities (softmax applied to logits models), on the CPU
// or a CUDA device (--device, --precision as for explain), through the public pda::Model.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "pda/pda.h"

namespace pda::cli {

void add_predict(CLI::App& app) {
    auto* cmd = app.add_subcommand("predict", "classify images");
    auto flags = std::make_shared<ModelFlags>();
    auto images = std::make_shared<std::vector<std::string>>();
    auto top = std::make_shared<int>(5);
    auto json = std::make_shared<bool>(false);
    auto device = std::make_shared<std::string>("auto");
    auto precision = std::make_shared<std::string>("fp32");
    flags->add_to(*cmd);
    cmd->add_option("IMAGE", *images, "JPEG, PNG or BMP files")->required();
    cmd->add_option("--top", *top, "classes to show per image")->check(at_least(1));
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->add_option("--device", *device, "auto (GPU 0 when one is visible, else cpu) | cpu | cuda[:N]")
        ->capture_default_str();
    cmd->add_option("--precision", *precision,
                    "GPU arithmetic: fp32 | tf32 | fp16 | bf16 (the CPU: fp32, bf16, winograd)")
        ->capture_default_str();
    cmd->callback([flags, images, top, json, device, precision] {
        ModelOptions mo = flags->options();
        mo.device = parse_device(*device);
        mo.precision = parse_precision(*precision);
        Model model = Model::load(flags->model, mo);
        const int n = static_cast<int>(images->size());
        std::vector<float> batch;  // (n, C, H, W): every image decodes before the network runs
        for (const std::string& img : *images) {
            const std::vector<float> x = model.preprocess(img);
            batch.insert(batch.end(), x.begin(), x.end());
        }
        const std::vector<float> probs = model.probabilities(batch, n);
        const int k = model.num_classes();

        nlohmann::json results = nlohmann::json::array();
        for (int i = 0; i < n; ++i) {
            nlohmann::json classes = nlohmann::json::array();
            for (const Prediction& c : model.top(probs.data() + static_cast<size_t>(i) * k, *top))
                classes.push_back({{"class", c.class_id}, {"label", c.label}, {"probability", c.probability}});
            results.push_back({{"image", (*images)[i]}, {"top", classes}});
        }
        if (*json) {
            std::cout << nlohmann::json{{"model", model.name()},
                                        {"device", model.device().str()},
                                        {"precision", precision_name(mo.precision)},
                                        {"results", results}}
                             .dump(2)
                      << "\n";
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
