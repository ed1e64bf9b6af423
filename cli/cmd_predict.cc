// `pda predict MODEL IMAGE... [--top 5] [--json]`: classifies images in one batch and prints the
// most probable classes with labels and probabilities (softmax applied to logits models), on the CPU
// or a CUDA device (--device, --precision as for explain).
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "api/explain_setup.h"
#include "cli/common.h"
#include "engine/cuda_program.h"
#include "engine/program.h"
#include "kernels/cpu/context.h"

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
    cmd->add_option("--top", *top, "classes to show per image")->check(CLI::PositiveNumber);
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->add_option("--device", *device, "auto (GPU 0 when one is visible, else cpu) | cpu | cuda[:N]")
        ->capture_default_str();
    cmd->add_option("--precision", *precision, "GPU arithmetic: fp32 | tf32 | fp16 | bf16 (the CPU: fp32 only)")
        ->capture_default_str();
    cmd->callback([flags, images, top, json, device, precision] {
        const Device dev = resolve_device(parse_device(*device));
        const Precision prec = parse_precision(*precision);
        if (!dev.is_cuda() && prec != Precision::kFp32)
            fail_input("--precision " + *precision + " needs a CUDA device; the CPU backend computes in fp32");
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
        CudaContextPtr gpu;  // outlives the program compiled on it
        std::unique_ptr<Program> prog;
        if (dev.is_cuda()) {
            gpu = make_cuda_context(dev.index);
            CudaCompileOptions opt;
            opt.precision = prec;
            prog = compile_cuda(m.graph, {bs}, *gpu, opt);
        } else {
            prog = compile_cpu(m.graph, {bs}, ctx);
        }
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
            std::cout << nlohmann::json{{"model", m.spec},
                                        {"device", dev.str()},
                                        {"precision", precision_name(prec)},
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
