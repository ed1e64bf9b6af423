// pda::FittedSampler: the conditional sampler's Gaussian fitted on image files (or, for a volume model,
// volume files) in a model's input space (engine/gaussian.h) and saved as a sampler file
// (io/sampler_file.h). `pda fit-sampler` is built on it.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "api/model_impl.h"
#include "engine/cpu/threads.h"
#include "engine/gaussian.h"
#include "engine/memory.h"
#include "io/sampler_file.h"
#include "pda/sampler.h"

namespace fs = std::filesystem;

namespace pda {

struct FittedSampler::Impl {
    GaussianPatchModel g;
    SamplerFileMeta meta;
    int64_t positions = 0;
    double seconds_load = 0, seconds_fit = 0;
};

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
    impl->seconds_load = seconds_since(t_load);
    const auto t_fit = std::chrono::steady_clock::now();
    impl->g = fit_gaussian(inputs, opt.k, opt.pad, opt.max_patches, opt.seed);
    impl->seconds_fit = seconds_since(t_fit);
    impl->meta.pre = pre;
    impl->meta.volume = volume;
    impl->meta.model = m.builtin ? m.spec : fs::path(m.spec).filename().string();
    impl->meta.seed = opt.seed;
    impl->meta.max_patches = opt.max_patches;
    return FittedSampler(std::move(impl));
}

void FittedSampler::check_path(const std::string& path) {
    const fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (path.empty()) fail_input("the sampler file needs a path");
    if (!parent.empty() && !fs::is_directory(parent, ec))
        fail_input(path + ": directory " + parent.string() + " does not exist");
}

void FittedSampler::save(const std::string& path) const {
    check_path(path);
    write_sampler_file(path, impl_->g, impl_->meta);
}

int FittedSampler::k() const { return static_cast<int>(impl_->g.k); }
int FittedSampler::pad() const { return static_cast<int>(impl_->g.pad); }
int FittedSampler::channels() const { return static_cast<int>(impl_->g.channels); }
int64_t FittedSampler::dim() const { return impl_->g.dim(); }
int64_t FittedSampler::patches() const { return impl_->g.patches; }
int64_t FittedSampler::positions() const { return impl_->positions; }
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
