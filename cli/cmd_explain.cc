// `pda explain MODEL IMAGE...`: Prediction Difference Analysis of images, one result folder per image
// (relevance.npy, counts.npy, heatmaps, node maps, summary.json), through the public pda::Explainer;
// every input error is found before the first window is explained.
#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "cli/progress.h"

namespace pda::cli {

void ExplainFlags::add_to(CLI::App& cmd) {
    ExplainerOptions& c = opt;
    auto* s = "Sampler";
    cmd.add_option("--sampler", sampler, "conditional | marginal | occlusion")->group(s)->capture_default_str();
    cmd.add_option("--sampler-file", c.sampler_file,
                   "Gaussian fitted by `pda fit-sampler` (must match the model's preprocessing, --k and --pad)")
        ->group(s);
    cmd.add_option("--sample-images", c.sample_images,
                   "folder of photos: the marginal sampler's set, or the conditional sampler's fit when no "
                   "--sampler-file is given (the explained image itself is never used)")
        ->group(s);
    cmd.add_option("--fill", c.fill, "occlusion value in network-input space (0 = the mean for mean-subtracted inputs)")
        ->group(s)
        ->capture_default_str();
    cmd.add_option("--pad", c.pad, "conditional context: l = k + 2·pad")->group(s)->capture_default_str();
    cmd.add_option("--max-patches", c.max_patches, "patches for a fit on the fly (0 = the fit's default)")->group(s);
    cmd.add_flag("--per-channel", c.per_channel, "conditional: each channel conditioned on its own ring only")
        ->group(s);
    cmd.add_flag("--clip", c.clip, "conditional: clip samples to the fitted value range")->group(s);
    auto* p = "Analysis";
    cmd.add_option("--k", c.k, "window size (k × k pixels, all channels)")->group(p)->capture_default_str();
    cmd.add_option("--samples", c.samples, "samples per window (occlusion: 1)")->group(p)->capture_default_str();
    cmd.add_option("--stride", c.stride,
                   "window stride (1 = every position, as in the paper; the last row and column of windows sit flush "
                   "with the edges, so a stride ≤ k covers every pixel)")
        ->group(p)
        ->capture_default_str();
    cmd.add_option("--classes", classes, "classes to map: top3 (topN), all, or ids 281,285")
        ->group(p)
        ->capture_default_str();
    cmd.add_option("--node", c.nodes,
                   "nodes or values to map by activation difference (hidden layers, logits): NAME,NAME or repeated")
        ->group(p)
        ->delimiter(',')
        ->allow_extra_args(false);
    cmd.add_option("--laplace-n", c.laplace_n, "N of the Laplace correction (training-set size)")
        ->group(p)
        ->capture_default_str();
    auto* e = "Execution";
    cmd.add_option("--batch", c.batch, "resampled images per forward batch (0 = from available memory)")
        ->group(e)
        ->capture_default_str();
    cmd.add_option("--device", device, "auto (GPU 0 when one is visible, else cpu) | cpu | cuda[:N]")
        ->group(e)
        ->capture_default_str();
    cmd.add_option("--exec", exec,
                   "incremental (recompute only what each window changes; exact, CPU and CUDA) | full (every "
                   "resampled image in full)")
        ->group(e)
        ->check(CLI::IsMember({"incremental", "full"}))
        ->capture_default_str();
    cmd.add_option("--precision", precision,
                   "network arithmetic: fp32 | tf32 | fp16 | bf16 on the GPU; fp32 | bf16 on the CPU (bf16 "
                   "convolutions where it has AVX-512-BF16 or AMX); FP32 accumulation; recorded in summary.json")
        ->group(e)
        ->capture_default_str();
}

ExplainerOptions ExplainFlags::typed(const ModelFlags& model) const {
    ExplainerOptions c = opt;
    c.sampler = parse_sampler(sampler);
    c.classes = parse_classes(classes);
    c.exec = parse_execution(exec);
    c.seed = model.seed;
    return c;
}

ModelOptions ExplainFlags::model_options(const ModelFlags& model) const {
    ModelOptions o = model.options();
    o.device = parse_device(device);
    o.precision = parse_precision(precision);
    return o;
}

void add_explain(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "explain",
        "explain images by Prediction Difference Analysis.\n"
        "Writes OUT/<image stem>/: relevance.npy (float32 (M, H, W), weight of evidence of the M classes listed "
        "in summary.json, in that order), counts.npy (windows per pixel), heatmap-<class id>.png (red = evidence "
        "for, blue = against, limits ±max|value|, on the displayed crop), node-<name>.npy per --node (activation "
        "difference, (units, H, W)), summary.json. Each folder is written under OUT/.<stem>.tmp-<host>-<pid> and "
        "moved into place in one step; an existing OUT/<stem> is REPLACED atomically. OUT is checked (writable, free "
        "space) before any work. On an error no partial folder is left; Ctrl-C or SIGTERM keeps every finished "
        "result, removes a folder being written, and exits; temporary folders of killed runs are removed by "
        "the next run into OUT. --seed seeds both the sampling and a built-in net's random weights.");
    auto flags = std::make_shared<ModelFlags>();
    auto config = std::make_shared<ExplainFlags>();
    auto images = std::make_shared<std::vector<std::string>>();
    auto out = std::make_shared<std::string>("explanations");
    auto quiet = std::make_shared<bool>(false);
    flags->add_to(*cmd);
    cmd->get_option("--seed")->description("seed of the sampling (and of a built-in net's random weights)");
    cmd->add_option("IMAGE", *images,
                    "JPEG, PNG or BMP files, or NIfTI (.nii, .nii.gz) / .npy volumes for a volume model (distinct "
                    "file-name stems)")
        ->required();
    config->add_to(*cmd);
    cmd->add_option("--out", *out, "output folder")->capture_default_str();
    auto slices = std::make_shared<std::string>();
    cmd->add_option("--slices", *slices,
                    "volumes: the slice pictures to draw, an axis and a voxel index each, e.g. x45,y54,z40 (default: "
                    "the centre slice across each axis)");
    cmd->add_option("--threshold", config->opt.slice_threshold,
                    "volumes: relevance is drawn on the slice pictures only where |value| > this fraction of the "
                    "class's max |value|")
        ->capture_default_str();
    cmd->add_flag("--quiet", *quiet, "no progress bar and no per-image lines");
    cmd->callback([flags, config, images, out, quiet, slices] {
        // Everything that can be wrong with the call is found before the model is even loaded.
        check_outputs(*out, *images);
        ExplainerOptions opt = config->typed(*flags);
        if (!slices->empty()) opt.slices = parse_slices(*slices);
        const ModelOptions model_opt = config->model_options(*flags);
        check_options(opt);
        check_options(model_opt);
        const Model model = Model::load(flags->model, model_opt);
        for (const std::string& img : *images) model.preprocess(img);  // every image decodes and fits
        Explainer explainer(model, opt);
        explainer.check_outputs(*out, *images);  // again, now with the free space the results need
        const size_t n = images->size();
        for (size_t i = 0; i < n; ++i) {
            const std::string& img = (*images)[i];
            const std::string name = std::filesystem::path(img).stem().string();
            ProgressBar bar(!*quiet, n > 1 ? "[" + std::to_string(i + 1) + "/" + std::to_string(n) + "] " + name : name,
                            explainer.samples_per_window());
            ExplainResult r =
                explainer.explain(img, *out, [&bar](int64_t done, int64_t total) { bar.update(done, total); });
            bar.finish();
            if (r.non_finite_probabilities + r.non_finite_relevance + r.non_finite_nodes > 0)
                std::fprintf(stderr,
                             "pda: warning: %s: non-finite values (NaN or Inf): %lld in the model's output, %lld in "
                             "the relevance maps, %lld in the node maps (summary.json: non_finite)\n",
                             img.c_str(), static_cast<long long>(r.non_finite_probabilities),
                             static_cast<long long>(r.non_finite_relevance),
                             static_cast<long long>(r.non_finite_nodes));
            if (*quiet) continue;
            std::printf("%s -> %s (%lld windows, %lld forward passes, %.1f s)\n", img.c_str(), r.folder.c_str(),
                        static_cast<long long>(r.windows), static_cast<long long>(r.forward_passes), r.seconds.total);
            for (const Prediction& cl : r.classes)
                std::printf("  class %5d  p = %.4f  %s\n", cl.class_id, cl.probability, cl.label.c_str());
            const bool volume = r.counts.shape.size() == 3;
            if (r.uncovered > 0)
                std::printf("  %lld %s covered by no window (map value 0; see %s)\n",
                            static_cast<long long>(r.uncovered), volume ? "voxels" : "pixels",
                            volume ? "counts.nii.gz" : "counts.npy");
        }
    });
}

}  // namespace pda::cli
