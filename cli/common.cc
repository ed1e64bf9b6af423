// The model flags shared by the subcommands: MODEL, preset, built-in weights, sidecar overrides.
#include "cli/common.h"

#include <iostream>

namespace pda::cli {

CLI::Validator at_least(long long min) {
    return CLI::Validator(
        [min](std::string& value) -> std::string {
            size_t used = 0;
            long long v = 0;
            try {
                v = std::stoll(value, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != value.size() || v < min)
                return "must be an integer ≥ " + std::to_string(min) + ", got " + value;
            return std::string();
        },
        "INT ≥ " + std::to_string(min));
}

void ModelFlags::add_to(CLI::App& app) {
    app.add_option("MODEL", model,
                   "an .onnx file (with <stem>.json beside it) or a built-in net: alexnet, "
                   "googlenet, vgg16")
        ->required();
    app.add_option("--preset", preset, "preprocessing preset when there is no sidecar: caffe | torchvision");
    app.add_option("--weights", weights, "ONNX file whose initializers fill a built-in network (by name)");
    app.add_option("--seed", seed, "seed of a built-in network's random weights");
    app.add_option("--threads", threads, "CPU threads (0 = all cores)")->check(at_least(0));
    auto* g = "Sidecar overrides";
    app.add_option("--input", input, "graph input name")->group(g);
    app.add_option("--output", output, "graph output name")->group(g);
    app.add_option("--output-kind", output_kind, "probabilities | logits")->group(g);
    app.add_option("--channel-order", channel_order, "RGB | BGR")->group(g);
    app.add_option("--scale", scale, "value of a full-intensity pixel before mean/std (1 or 255)")->group(g);
    app.add_option("--mean", mean, "per-channel mean, in the model's channel order: a,b,c")->group(g);
    app.add_option("--std", std, "per-channel std: a,b,c")->group(g);
    app.add_option("--resize-shorter", resize_shorter, "shorter side after resizing (0 = resize to the crop)")
        ->group(g);
    app.add_option("--input-size", input_size, "network input HxW")->group(g);
    app.add_option("--labels", labels, "labels file, one class per line")->group(g);
}

ModelOptions ModelFlags::options() const {
    ModelOptions o;
    o.preset = preset;
    o.weights = weights;
    o.seed = seed;
    o.threads = threads;
    if (threads > hardware_threads())  // Model::load caps it; say so once, here
        std::cerr << "pda: warning: --threads " << threads << " is more than the " << hardware_threads()
                  << " processors here; using " << hardware_threads() << "\n";
    const std::pair<const char*, const std::string*> fields[] = {{"input", &input},
                                                                 {"output", &output},
                                                                 {"output_kind", &output_kind},
                                                                 {"channel_order", &channel_order},
                                                                 {"scale", &scale},
                                                                 {"mean", &mean},
                                                                 {"std", &std},
                                                                 {"resize_shorter", &resize_shorter},
                                                                 {"input_size", &input_size},
                                                                 {"labels", &labels}};
    for (const auto& [key, value] : fields)
        if (!value->empty()) o.sidecar.emplace_back(key, *value);
    return o;
}

}  // namespace pda::cli
