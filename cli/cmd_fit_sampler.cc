// `pda fit-sampler MODEL --images DIR --k K --pad P [--max-patches N] [--cell N] [--mask M] [--seed S]
// -o FILE`: fits the conditional sampler's Gaussian over l × l × C patches (METHOD.md §3) in the
// model's input space, on every photo (or volume) of a folder, optionally one per grid cell and on
// patches centred inside a mask, and writes a sampler file (docs/sampler-file.md) for `pda explain
// --sampler-file`. All checks run before the fit; the file appears only when everything succeeded.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "pda/sampler.h"

namespace pda::cli {
namespace {

struct FitArgs {
    std::string images, out;
    SamplerFitOptions opt;
};

void run_fit(const ModelFlags& flags, FitArgs a) {
    a.opt.seed = flags.seed;
    check_options(a.opt);
    FittedSampler::check_path(a.out);
    const Model model = Model::load(flags.model, flags.options());
    const std::vector<std::string> files = model.volume() ? list_volumes(a.images) : list_images(a.images);
    const FittedSampler g = FittedSampler::fit(model, files, a.opt);
    g.save(a.out);
    const double mb = static_cast<double>(std::filesystem::file_size(a.out)) / 1e6;

    std::string ranges;
    for (auto [lo, hi] : g.value_range()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s[%.4g, %.4g]", ranges.empty() ? "" : ", ", lo, hi);
        ranges += buf;
    }
    const int64_t l = g.k() + 2 * g.pad();
    const std::string patch =
        model.volume() ? "l×l×l×C = " + std::to_string(l) + "×" + std::to_string(l) + "×" + std::to_string(l) + "×" +
                             std::to_string(g.channels())
                       : "l×l×C = " + std::to_string(l) + "×" + std::to_string(l) + "×" + std::to_string(g.channels());
    const std::string space =
        model.volume()
            ? std::to_string(model.width()) + "×" + std::to_string(model.height()) + "×" +
                  std::to_string(model.depth()) + " voxels"
            : std::to_string(model.height()) + "×" + std::to_string(model.width()) + ", " +
                  nlohmann::json::parse(model.info_json())["preprocessing"]["channel_order"].get<std::string>();
    std::printf(
        "Fitted a Gaussian over %s patches (d = %lld) for k = %d, pad = %d on %zu %s of %s, in the input space of "
        "%s (%s): %lld of %lld patch positions (seed %llu), value range per channel %s. Loading took %.2f s, "
        "fitting %.2f s. Wrote %s (%.1f MB).\n",
        patch.c_str(), static_cast<long long>(g.dim()), g.k(), g.pad(), files.size(),
        model.volume() ? "volumes" : "images", a.images.c_str(), g.model().c_str(), space.c_str(),
        static_cast<long long>(g.patches()), static_cast<long long>(g.positions()),
        static_cast<unsigned long long>(flags.seed), ranges.c_str(), g.seconds_load(), g.seconds_fit(), a.out.c_str(),
        mb);
    if (!g.mask().empty())
        std::printf("Patches restricted to centres inside the mask %s (%lld voxels): %lld of the %lld positions.\n",
                    g.mask().c_str(), static_cast<long long>(g.mask_voxels()), static_cast<long long>(g.candidates()),
                    static_cast<long long>(g.positions()));
    if (g.cell() > 0) {
        std::string grid, fallback;
        for (int64_t n : g.grid()) grid += (grid.empty() ? "" : "×") + std::to_string(n);
        const std::vector<int64_t> fell = g.fallback_cells();
        for (int64_t c : fell) fallback += (fallback.empty() ? "" : ",") + std::to_string(c);
        std::printf(
            "Location-conditioned: cells of %d %s per axis, %s = %lld cells; %lld fitted, %zu fell back to the "
            "global Gaussian (fewer than %lld candidate patches)%s%s.\n",
            g.cell(), model.volume() ? "voxels" : "pixels", grid.c_str(), static_cast<long long>(g.cells()),
            static_cast<long long>(g.cells() - static_cast<int64_t>(fell.size())), fell.size(),
            static_cast<long long>(g.min_cell_patches()), fell.empty() ? "" : ": ", fallback.c_str());
    }
}

}  // namespace

void add_fit_sampler(CLI::App& app) {
    auto* cmd = app.add_subcommand("fit-sampler", "fit the conditional sampler's Gaussian on a folder of images");
    auto flags = std::make_shared<ModelFlags>();
    auto args = std::make_shared<FitArgs>();
    flags->add_to(*cmd);
    if (CLI::Option* seed = cmd->get_option_no_throw("--seed"))
        seed->description("seed of the random patch subset (and of a built-in network's random weights)");
    cmd->add_option("--images", args->images,
                    "folder of JPEG/PNG/BMP photos to fit on (a volume model: .nii, .nii.gz, .npy volumes)")
        ->required();
    cmd->add_option("--k", args->opt.k, "window size k")->required();
    cmd->add_option("--pad", args->opt.pad, "context padding: the context is l = k + 2·pad")->required();
    cmd->add_option("--max-patches", args->opt.max_patches,
                    "patches used: a seeded random subset of all positions (0 = all positions)")
        ->capture_default_str();
    cmd->add_option("--cell", args->opt.cell,
                    "location conditioning: one Gaussian per cell of N voxels (pixels) per axis, from the patches "
                    "centred in it; cells with fewer than 10·d patches use the global one (0 = none)")
        ->check(at_least(0))
        ->capture_default_str();
    cmd->add_option("--mask", args->opt.mask,
                    "volume models: fit on patches whose centre voxel is inside this mask (> 0; NIfTI or .npy on the "
                    "model's grid; default: the sidecar's mask, if any)");
    cmd->add_option("-o,--out", args->out, "sampler file to write")->required();
    cmd->callback([flags, args] { run_fit(*flags, *args); });
}

}  // namespace pda::cli
