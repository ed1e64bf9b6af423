// `pda explain MODEL IMAGE...`: Prediction Difference Analysis of images, one result folder per image
// (relevance.npy, counts.npy, heatmaps, node maps, summary.json), through the public pda::Explainer;
// every input error is found before the first window is explained.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "cli/progress.h"
#include "pda/job.h"
#include "pda/report.h"

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
    cmd.add_option("--device", device,
                   "auto (GPU 0 when one is visible, else cpu) | cpu | cuda[:N]; explain also takes cuda:0,1,... (one "
                   "worker per GPU over one queue)")
        ->group(e)
        ->capture_default_str();
    cmd.add_option("--exec", exec,
                   "incremental (recompute only what each window changes; exact, CPU and CUDA) | full (every "
                   "resampled image in full)")
        ->group(e)
        ->check(CLI::IsMember({"incremental", "full"}))
        ->capture_default_str();
    cmd.add_option("--precision", precision,
                   "network arithmetic: fp32 | tf32 | fp16 | bf16 on the GPU; fp32 | bf16 | winograd on the CPU (bf16 "
                   "where it has AVX-512-BF16 or AMX; winograd: 3x3 convolutions by Winograd's algorithm, maps within "
                   "~1e-4 of fp32); FP32 accumulation; recorded in summary.json")
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

// One device per worker: "cuda:0,1,3" (or "cuda:0,cuda:1") is one worker per GPU, times --workers;
// a single device is --workers workers on it.
std::vector<Device> worker_devices(const std::string& spec, int workers) {
    std::vector<Device> one;
    size_t at = 0;
    while (at <= spec.size()) {
        const size_t comma = std::min(spec.find(',', at), spec.size());
        std::string item = spec.substr(at, comma - at);
        if (!item.empty() && item.find_first_not_of("0123456789") == std::string::npos) item = "cuda:" + item;
        const Device d = parse_device(item);
        for (const Device& seen : one)
            if (seen == d) fail_input("--device " + spec + ": " + d.str() + " is listed twice");
        if (!one.empty() && !d.is_cuda()) fail_input("--device " + spec + ": a list names GPUs only (cuda:0,1,...)");
        one.push_back(d);
        at = comma + 1;
    }
    if (one.size() > 1 && !one.front().is_cuda())
        fail_input("--device " + spec + ": a list names GPUs only (cuda:0,1,...)");
    std::vector<Device> all;
    for (int w = 0; w < workers; ++w) all.insert(all.end(), one.begin(), one.end());
    return all;
}

void add_explain(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "explain",
        "explain images (or volumes) by Prediction Difference Analysis, one or a whole dataset.\n"
        "Inputs: files, folders (searched recursively by extension) and --list FILE. Writes OUT/<name>/ per input, "
        "<name> its path relative to the deepest folder holding every input, without the extension: relevance.npy "
        "(float32 (M, H, W), weight of evidence of the M classes listed in summary.json, in that order), counts.npy "
        "(windows per pixel), heatmap-<class id>.png (red = evidence for, blue = against, limits ±max|value|, on "
        "the displayed crop), node-<name>.npy per --node (activation difference, (units, H, W)), summary.json "
        "(volumes: .nii.gz maps and slice pictures). Each folder is written under a temporary name and moved into "
        "place in one step. An input whose result is complete with the same parameters is skipped (--overwrite "
        "redoes it); one made with other parameters is replaced. Files named on the command line are checked "
        "before any work (exit 2); in folders and lists a bad input is recorded in OUT/failures.jsonl and the rest "
        "is done (exit 1 at the end). OUT/progress.jsonl gets a line per finished input, OUT/job.json (or "
        "job-<i>-of-<n>.json) the whole job; `pda status OUT` sums them up. --shard i/n (or a Slurm array task's "
        "SLURM_ARRAY_TASK_* variables) takes every n-th input. Ctrl-C or SIGTERM keeps every finished result, "
        "removes a folder being written, and exits; temporary folders of killed runs are removed by the next run "
        "into OUT. --seed seeds both the sampling and a built-in net's random weights.");
    auto flags = std::make_shared<ModelFlags>();
    auto config = std::make_shared<ExplainFlags>();
    auto inputs = std::make_shared<std::vector<std::string>>();
    auto list = std::make_shared<std::string>();
    auto shard = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>("explanations");
    auto quiet = std::make_shared<bool>(false);
    auto overwrite = std::make_shared<bool>(false);
    flags->add_to(*cmd);
    cmd->get_option("--seed")->description("seed of the sampling (and of a built-in net's random weights)");
    cmd->add_option("INPUT", *inputs,
                    "JPEG, PNG or BMP files, or NIfTI (.nii, .nii.gz) / .npy volumes for a volume model, and folders "
                    "of them (searched recursively)");
    config->add_to(*cmd);
    cmd->add_option("--list", *list, "a file listing inputs, one path per line ('-': the standard input)");
    cmd->add_option("--out", *out, "output folder")->capture_default_str();
    cmd->add_flag("--overwrite", *overwrite, "redo inputs whose results are complete with the same parameters");
    cmd->add_option("--shard", *shard,
                    "i/n: explain only inputs j with j % n == i of the dataset sorted by name (default: a Slurm "
                    "array task's share, else all)");
    auto slices = std::make_shared<std::string>();
    cmd->add_option("--slices", *slices,
                    "volumes: the slice pictures to draw, an axis and a voxel index each, e.g. x45,y54,z40 (default: "
                    "the centre slice across each axis)");
    cmd->add_option("--threshold", config->opt.slice_threshold,
                    "volumes: relevance is drawn on the slice pictures only where |value| > this fraction of the "
                    "class's max |value|")
        ->capture_default_str();
    cmd->add_flag("--quiet", *quiet, "no progress bar and no per-image lines");
    auto report = std::make_shared<bool>(false);
    cmd->add_flag("--report", *report,
                  "at the end, write the HTML report of OUT into OUT/report/ (as `pda report OUT` does)");
    auto workers = std::make_shared<int>(1);
    cmd->add_option("--workers", *workers,
                    "explainers working through the inputs at once, each with its own model and 1/N of the threads "
                    "(with --device cuda:0,1,...: per GPU)")
        ->check(at_least(1))
        ->capture_default_str();
    cmd->callback([flags, config, inputs, list, shard, out, quiet, overwrite, slices, workers, report] {
        // Everything that can be wrong with the call is found before the model is even loaded.
        ExplainerOptions opt = config->typed(*flags);
        if (!slices->empty()) opt.slices = parse_slices(*slices);
        ModelOptions model_opt = flags->options();
        model_opt.precision = parse_precision(config->precision);
        const std::vector<Device> devices = worker_devices(config->device, *workers);
        model_opt.device = devices.front();
        if (devices.size() > 1 && model_opt.threads == 0)
            model_opt.threads = std::max(1, hardware_threads() / static_cast<int>(devices.size()));
        check_options(opt);
        check_options(model_opt);
        const Shard part = shard->empty() ? shard_from_environment() : parse_shard(*shard);
        if (inputs->empty() && list->empty()) fail_input("no inputs: give images, folders or --list FILE");
        bool only_files = list->empty();
        for (const std::string& in : *inputs) only_files = only_files && !std::filesystem::is_directory(in);
        const Model model = Model::load(flags->model, model_opt);
        const std::vector<DatasetEntry> all = collect_dataset(*inputs, *list, model.volume());
        const std::vector<DatasetEntry> mine = take_shard(all, part);
        check_job_outputs(*out, mine);
        // Files named one by one must all decode and fit; a dataset's bad inputs are recorded instead.
        if (only_files)
            for (const DatasetEntry& e : all) model.preprocess(e.path);
        Explainer explainer(model, opt);
        check_job_outputs(*out, mine, explainer.output_bytes() * static_cast<double>(mine.size()));
        // The other workers: their own model (and device) each, the same options.
        std::vector<Model> models;
        std::vector<Explainer> more;
        std::vector<Explainer*> team{&explainer};
        for (size_t w = 1; w < devices.size(); ++w) {
            ModelOptions o = model_opt;
            o.device = devices[w];
            models.push_back(Model::load(flags->model, o));
            more.emplace_back(models.back(), opt);
        }
        for (Explainer& e : more) team.push_back(&e);

        JobOptions job;
        job.out = *out;
        job.overwrite = *overwrite;
        job.shard = part;
        job.total = static_cast<int64_t>(all.size());
        const bool many = mine.size() > 1;
        ProgressBar bar(!*quiet, many ? "dataset" : (mine.empty() ? "" : mine.front().name),
                        explainer.samples_per_window());
        auto on_event = [&](const JobEvent& ev) {
            const std::string pos = "[" + std::to_string(ev.index + 1) + "/" + std::to_string(ev.count) + "] ";
            switch (ev.kind) {
                case JobEvent::Kind::kStart:
                    if (!ev.message.empty() && !*quiet)
                        std::printf("%s%s: %s\n", pos.c_str(), ev.entry->path.c_str(), ev.message.c_str());
                    break;
                case JobEvent::Kind::kSkipped:
                    if (!*quiet)
                        std::printf("%s%s: skipped, %s\n", pos.c_str(), ev.entry->path.c_str(), ev.message.c_str());
                    break;
                case JobEvent::Kind::kFailed:
                    bar.finish();
                    std::fprintf(
                        stderr, "pda: %s%s (recorded in %s/failures.jsonl)\n",
                        ev.message.find(ev.entry->path) == std::string::npos ? (ev.entry->path + ": ").c_str() : "",
                        ev.message.c_str(), out->c_str());
                    break;
                case JobEvent::Kind::kDone: {
                    bar.finish();
                    const ExplainResult& r = *ev.result;
                    if (r.non_finite_probabilities + r.non_finite_relevance + r.non_finite_nodes > 0)
                        std::fprintf(stderr,
                                     "pda: warning: %s: non-finite values (NaN or Inf): %lld in the model's output, "
                                     "%lld in the relevance maps, %lld in the node maps (summary.json: non_finite)\n",
                                     ev.entry->path.c_str(), static_cast<long long>(r.non_finite_probabilities),
                                     static_cast<long long>(r.non_finite_relevance),
                                     static_cast<long long>(r.non_finite_nodes));
                    if (*quiet) break;
                    std::printf("%s%s -> %s (%lld windows, %lld forward passes, %.1f s)\n", many ? pos.c_str() : "",
                                ev.entry->path.c_str(), r.folder.c_str(), static_cast<long long>(r.windows),
                                static_cast<long long>(r.forward_passes), r.seconds.total);
                    for (const Prediction& cl : r.classes)
                        std::printf("  class %5d  p = %.4f  %s\n", cl.class_id, cl.probability, cl.label.c_str());
                    const bool volume = r.counts.shape.size() == 3;
                    if (r.uncovered > 0)
                        std::printf("  %lld %s covered by no window (map value 0; see %s)\n",
                                    static_cast<long long>(r.uncovered), volume ? "voxels" : "pixels",
                                    volume ? "counts.nii.gz" : "counts.npy");
                    break;
                }
            }
            std::fflush(stdout);
        };
        const JobReport rep =
            run_job(team, mine, job, on_event, [&bar](int64_t done, int64_t total) { bar.update(done, total); });
        bar.finish();
        if (!*quiet && (many || rep.skipped > 0 || rep.failed > 0))
            std::printf(
                "%lld inputs%s: %lld explained, %lld skipped (done before), %lld failed; %.1f s (%.2f per second)\n",
                static_cast<long long>(rep.inputs), part.count > 1 ? (" of shard " + part.str()).c_str() : "",
                static_cast<long long>(rep.done), static_cast<long long>(rep.skipped),
                static_cast<long long>(rep.failed), rep.seconds, rep.images_per_second());
        if (*report && rep.done + rep.skipped > 0) {
            ReportOptions ro;
            ro.runs = {*out};
            ro.threshold = opt.slice_threshold;
            const ReportSummary written = write_report(ro);
            if (!*quiet)
                std::printf("report: %s (%lld inputs)\n", written.index.c_str(), static_cast<long long>(written.items));
        }
        if (rep.failed > 0) throw ExitCode{1};
    });
}

}  // namespace pda::cli
