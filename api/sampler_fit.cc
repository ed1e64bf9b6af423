// pda::FittedSampler: the conditional sampler's Gaussian fitted on image files (or, for a volume model,
// volume files) in a model's input space (engine/gaussian.h) and saved as a sampler file
// (io/sampler_file.h), optionally per cell of a grid (location conditioning) and on the patches
// centred inside a brain mask. `pda fit-sampler` is built on it.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "api/model_impl.h"
#include "api/sampler_impl.h"
#include "engine/cpu/threads.h"
#include "engine/gaussian.h"
#include "engine/memory.h"
#include "io/sampler_file.h"
#include "io/volume.h"
#include "pda/sampler.h"

namespace fs = std::filesystem;

namespace pda {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A brain mask for a volume model's fit: one 3-D volume on the model's grid, read as value > 0;
// refused (input error naming the file) when it is of another grid, 4-D or empty.
std::vector<uint8_t> load_mask(const std::string& path, const VolumeInput& grid, const std::string& model,
                               int64_t* inside) {
    const Volume v = read_volume(path);
    const Shape& s = v.data.shape();  // (C, D, H, W)
    if (s[0] != 1)
        fail_input(path + ": a mask is one 3-D volume, this file holds " + std::to_string(s[0]) + " volumes");
    if (s[1] != grid.depth || s[2] != grid.height || s[3] != grid.width)
        fail_input(path + ": the mask is " + std::to_string(s[3]) + "×" + std::to_string(s[2]) + "×" +
                   std::to_string(s[1]) + " voxels (x×y×z); " + model + " takes volumes of " +
                   std::to_string(grid.width) + "×" + std::to_string(grid.height) + "×" + std::to_string(grid.depth) +
                   " (the mask must be on their grid)");
    std::vector<uint8_t> mask(static_cast<size_t>(v.data.numel()));
    *inside = 0;
    for (int64_t i = 0; i < v.data.numel(); ++i) *inside += mask[static_cast<size_t>(i)] = v.data.data()[i] > 0;
    if (*inside == 0) fail_input(path + ": the mask is empty (no voxel > 0)");
    return mask;
}

}  // namespace

FittedSampler::FittedSampler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FittedSampler::FittedSampler(FittedSampler&&) noexcept = default;
FittedSampler& FittedSampler::operator=(FittedSampler&&) noexcept = default;
FittedSampler::~FittedSampler() = default;

void check_options(const SamplerFitOptions& opt) {
    if (opt.k < 1) fail_input("--k must be ≥ 1, got " + std::to_string(opt.k));
    if (opt.pad < 0) fail_input("--pad must be ≥ 0, got " + std::to_string(opt.pad));
    if (opt.max_patches < 0)
        fail_input("--max-patches must be ≥ 0 (0 = all positions), got " + std::to_string(opt.max_patches));
    if (opt.cell < 0) fail_input("--cell must be ≥ 0 (0 = no location conditioning), got " + std::to_string(opt.cell));
}

FittedSampler FittedSampler::fit(const Model& model, const std::vector<std::string>& image_paths,
                                 const SamplerFitOptions& opt) {
    check_options(opt);
    if (image_paths.empty()) fail_input("no images to fit the sampler on");
    const Model::Impl& mi = *model.impl_;
    const LoadedModel& m = *mi.m;
    const Preprocess& pre = m.desc.pre;
    const bool volume = m.desc.volume;
    const int64_t l = int64_t{opt.k} + 2 * int64_t{opt.pad};
    const std::vector<int64_t> dims = m.input_shape.vec();  // (1, C, [D,] H, W)
    const std::vector<int64_t> spatial(dims.begin() + 2, dims.end());
    std::string size;
    for (int64_t d : spatial) size += (size.empty() ? "" : "×") + std::to_string(d);
    const int64_t smallest = *std::min_element(spatial.begin(), spatial.end());
    if (opt.k > smallest)
        fail_input("window size k = " + std::to_string(opt.k) + " is larger than the network input (" + size + ")");
    if (l > smallest)
        fail_input("context l = k + 2·pad = " + std::to_string(l) + " is larger than the network input (" + size + ")");
    check_gaussian_dim(opt.k, opt.pad, m.input_shape[1],
                       "--k " + std::to_string(opt.k) + " --pad " + std::to_string(opt.pad), volume);
    if (opt.cell > 0) {
        int64_t cells = 1;
        for (int64_t d : spatial) cells *= (d + opt.cell - 1) / opt.cell;  // ≤ 2^31 per axis
        if (cells > kMaxCells)
            fail_input("--cell " + std::to_string(opt.cell) + " gives " + std::to_string(cells) + " cells over the " +
                       size + " input, above the limit of " + std::to_string(kMaxCells));
    }
    const std::string model_name = m.builtin ? m.spec : fs::path(m.spec).filename().string();
    if (!opt.mask.empty() && !volume)
        fail_input("--mask " + opt.mask + ": masks apply to volume models; " + model_name + " takes images");
    const std::string mask_path = !opt.mask.empty() ? opt.mask : volume ? m.desc.vol.mask_path : std::string();
    std::vector<uint8_t> mask;
    int64_t mask_voxels = 0;
    if (!mask_path.empty()) mask = load_mask(mask_path, m.desc.vol, model_name, &mask_voxels);
    check_host_memory(
        static_cast<double>(image_paths.size()) * static_cast<double>(m.input_shape.numel()) * sizeof(float),
        std::to_string(image_paths.size()) + (volume ? " volumes" : " images") + " in the network's input space");
    const CpuThreads threads(mi.opt.threads);
    auto impl = std::make_unique<Impl>();
    const auto t_load = std::chrono::steady_clock::now();
    std::vector<Tensor> inputs;
    for (const std::string& f : image_paths) {
        inputs.push_back(load_input(m, f));
        impl->meta.images.push_back(fs::path(f).filename().string());
        const Shape& s = inputs.back().shape();
        int64_t positions = 1;
        for (int i = 2; i < s.rank; ++i) positions *= s[i] - l + 1;
        impl->positions += positions;
    }
    impl->candidates = impl->positions;
    if (!mask.empty()) {  // patch centres inside the mask, per volume (every volume is on the mask's grid)
        const int64_t D = spatial[0], H = spatial[1], W = spatial[2], c = (l - 1) / 2;
        int64_t per_volume = 0;
        for (int64_t z = c; z <= D - l + c; ++z)
            for (int64_t y = c; y <= H - l + c; ++y)
                for (int64_t x = c; x <= W - l + c; ++x) per_volume += mask[static_cast<size_t>((z * H + y) * W + x)];
        impl->candidates = per_volume * static_cast<int64_t>(inputs.size());
    }
    impl->seconds_load = seconds_since(t_load);
    const auto t_fit = std::chrono::steady_clock::now();
    PatchFitOptions fit;
    fit.max_patches = opt.max_patches;
    fit.seed = opt.seed;
    fit.cell = opt.cell;
    if (!mask.empty()) {
        fit.mask = &mask;
        fit.mask_name = mask_path;
    }
    impl->g = fit_gaussian(inputs, opt.k, opt.pad, fit);
    impl->seconds_fit = seconds_since(t_fit);
    impl->meta.k = impl->g.k;  // as read_sampler_file fills them (ExplainerOptions::fitted_sampler)
    impl->meta.pad = impl->g.pad;
    impl->meta.l = impl->g.l;
    impl->meta.channels = impl->g.channels;
    impl->meta.created_by = "pda " + version();
    impl->meta.pre = pre;
    impl->meta.volume = volume;
    impl->meta.model = model_name;
    impl->meta.seed = opt.seed;
    impl->meta.max_patches = opt.max_patches;
    impl->mask = mask_path;
    if (!mask_path.empty()) {
        impl->meta.mask = fs::path(mask_path).filename().string();
        impl->meta.mask_voxels = mask_voxels;
    }
    return FittedSampler(std::move(impl));
}

void FittedSampler::check_path(const std::string& path) {
    const fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (path.empty()) fail_input("the sampler file needs a path");
    if (!parent.empty() && !fs::is_directory(parent, ec))
        fail_input(path + ": directory " + parent.string() + " does not exist");
}

FittedSampler FittedSampler::load(const std::string& path) {
    SamplerFile f = read_sampler_file(path);
    auto impl = std::make_unique<Impl>();
    impl->g = std::move(f.model);
    impl->meta = std::move(f.meta);
    impl->mask = impl->meta.mask;
    impl->path = path;
    return FittedSampler(std::move(impl));
}

void FittedSampler::save(const std::string& path) const {
    check_path(path);
    write_sampler_file(path, impl_->g, impl_->meta);
    impl_->path = path;
}

std::string FittedSampler::path() const { return impl_->path; }

int FittedSampler::k() const { return static_cast<int>(impl_->g.k); }
int FittedSampler::pad() const { return static_cast<int>(impl_->g.pad); }
int FittedSampler::channels() const { return static_cast<int>(impl_->g.channels); }
int64_t FittedSampler::dim() const { return impl_->g.dim(); }
int64_t FittedSampler::patches() const { return impl_->g.patches; }
int64_t FittedSampler::positions() const { return impl_->positions; }
int64_t FittedSampler::candidates() const { return impl_->candidates; }
std::string FittedSampler::mask() const { return impl_->mask; }
int64_t FittedSampler::mask_voxels() const { return impl_->meta.mask_voxels; }
int FittedSampler::cell() const { return static_cast<int>(impl_->g.location.cell); }
int64_t FittedSampler::cells() const { return impl_->g.location.on() ? impl_->g.location.cells() : 0; }
int64_t FittedSampler::min_cell_patches() const { return impl_->g.location.min_patches; }
std::vector<int64_t> FittedSampler::fallback_cells() const {
    return impl_->g.location.on() ? impl_->g.location.fallback() : std::vector<int64_t>{};
}
std::vector<int64_t> FittedSampler::grid() const {
    const LocationCells& loc = impl_->g.location;
    if (!loc.on()) return {};
    if (impl_->g.volume) return {loc.cells_z(), loc.cells_y(), loc.cells_x()};
    return {loc.cells_y(), loc.cells_x()};
}
const std::vector<std::string>& FittedSampler::images() const { return impl_->meta.images; }
std::string FittedSampler::model() const { return impl_->meta.model; }
double FittedSampler::seconds_load() const { return impl_->seconds_load; }
double FittedSampler::seconds_fit() const { return impl_->seconds_fit; }

std::vector<std::pair<float, float>> FittedSampler::value_range() const {
    std::vector<std::pair<float, float>> r;
    for (int64_t c = 0; c < impl_->g.channels; ++c) r.emplace_back(impl_->g.min[c], impl_->g.max[c]);
    return r;
}

}  // namespace pda
