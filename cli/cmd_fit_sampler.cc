// `pda fit-sampler MODEL --images DIR --k K --pad P [--max-patches N] [--seed S] -o FILE`: fits the
// conditional sampler's Gaussian over l × l × C patches (METHOD.md §3) in the model's input space, on
// every photo of a folder, and writes a sampler file (docs/sampler-file.md) for `pda explain
// --sampler-file`. All checks run before the fit; the file appears only when everything succeeded.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "engine/gaussian.h"
#include "io/sampler_file.h"

namespace pda::cli {
namespace {

namespace fs = std::filesystem;

struct FitArgs {
    std::string images, out;
    int64_t k = 0, pad = 0, max_patches = kDefaultMaxPatches;
};

// JPEG, PNG and BMP files directly in dir, sorted by file name.
std::vector<fs::path> list_images(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) fail_input(dir + ": no such directory");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
        if (e.is_regular_file(ec) && (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp"))
            files.push_back(e.path());
    }
    if (ec) fail_input(dir + ": cannot list the directory: " + ec.message());
    if (files.empty()) fail_input("no images in " + dir + " (JPEG, PNG or BMP)");
    std::sort(files.begin(), files.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
    return files;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run_fit(const ModelFlags& flags, const FitArgs& a) {
    if (a.k < 1) fail_input("--k must be ≥ 1, got " + std::to_string(a.k));
    if (a.pad < 0) fail_input("--pad must be ≥ 0, got " + std::to_string(a.pad));
    if (a.max_patches < 0)
        fail_input("--max-patches must be ≥ 0 (0 = all positions), got " + std::to_string(a.max_patches));
    const fs::path parent = fs::path(a.out).parent_path();
    std::error_code ec;
    if (!parent.empty() && !fs::is_directory(parent, ec))
        fail_input(a.out + ": directory " + parent.string() + " does not exist");
    const std::vector<fs::path> files = list_images(a.images);

    const auto t_load = std::chrono::steady_clock::now();
    LoadedModel m = flags.load();
    const Preprocess& pre = m.desc.pre;
    const int64_t l = a.k + 2 * a.pad;
    if (a.k > pre.height || a.k > pre.width)
        fail_input("window size k = " + std::to_string(a.k) + " is larger than the network input (" +
                   std::to_string(pre.height) + "×" + std::to_string(pre.width) + ")");
    if (l > pre.height || l > pre.width)
        fail_input("context l = k + 2·pad = " + std::to_string(l) + " is larger than the network input (" +
                   std::to_string(pre.height) + "×" + std::to_string(pre.width) + ")");
    std::vector<Tensor> inputs;
    SamplerFileMeta meta;
    int64_t positions = 0;
    for (const fs::path& f : files) {
        inputs.push_back(load_input(m, f.string()));
        meta.images.push_back(f.filename().string());
        const Shape& s = inputs.back().shape();
        positions += (s[2] - l + 1) * (s[3] - l + 1);
    }
    const double load_s = seconds_since(t_load);

    const auto t_fit = std::chrono::steady_clock::now();
    GaussianPatchModel g = fit_gaussian(inputs, a.k, a.pad, a.max_patches, flags.seed);
    const double fit_s = seconds_since(t_fit);

    meta.pre = pre;
    meta.model = m.builtin ? m.spec : fs::path(m.spec).filename().string();
    meta.seed = flags.seed;
    meta.max_patches = a.max_patches;
    write_sampler_file(a.out, g, meta);
    const double mb = static_cast<double>(fs::file_size(a.out, ec)) / 1e6;

    std::string ranges;
    for (int64_t c = 0; c < g.channels; ++c) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s[%.4g, %.4g]", c ? ", " : "", g.min[c], g.max[c]);
        ranges += buf;
    }
    std::printf(
        "Fitted a Gaussian over l×l×C = %lld×%lld×%lld patches (d = %lld) for k = %lld, pad = %lld on %zu images "
        "of %s, in the input space of %s (%lld×%lld, %s): %lld of %lld patch positions (seed %llu), value range "
        "per channel %s. Loading took %.2f s, fitting %.2f s. Wrote %s (%.1f MB).\n",
        static_cast<long long>(l), static_cast<long long>(l), static_cast<long long>(g.channels),
        static_cast<long long>(g.dim()), static_cast<long long>(a.k), static_cast<long long>(a.pad), files.size(),
        a.images.c_str(), meta.model.c_str(), static_cast<long long>(pre.height), static_cast<long long>(pre.width),
        pre.bgr ? "BGR" : "RGB", static_cast<long long>(g.patches), static_cast<long long>(positions),
        static_cast<unsigned long long>(flags.seed), ranges.c_str(), load_s, fit_s, a.out.c_str(), mb);
}

}  // namespace

void add_fit_sampler(CLI::App& app) {
    auto* cmd = app.add_subcommand("fit-sampler", "fit the conditional sampler's Gaussian on a folder of images");
    auto flags = std::make_shared<ModelFlags>();
    auto args = std::make_shared<FitArgs>();
    flags->add_to(*cmd);
    if (CLI::Option* seed = cmd->get_option_no_throw("--seed"))
        seed->description("seed of the random patch subset (and of a built-in network's random weights)");
    cmd->add_option("--images", args->images, "folder of JPEG/PNG/BMP photos to fit on")->required();
    cmd->add_option("--k", args->k, "window size k")->required();
    cmd->add_option("--pad", args->pad, "context padding: the context is l = k + 2·pad")->required();
    cmd->add_option("--max-patches", args->max_patches,
                    "patches used: a seeded random subset of all positions (0 = all positions)")
        ->capture_default_str();
    cmd->add_option("-o,--out", args->out, "sampler file to write")->required();
    cmd->callback([flags, args] { run_fit(*flags, *args); });
}

}  // namespace pda::cli
