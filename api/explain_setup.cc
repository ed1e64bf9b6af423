// Explain setup: option checks, the sample set (a folder of photos or photos in memory), the
// sampler (occlusion, marginal, conditional from a file or fitted on the fly) and the per-image run.
// A conditional fit on the fly excludes the explained image when it is part of the folder; the
// marginal sampler excludes it itself (bitwise-equal inputs, engine/samplers.h).
#include "api/explain_setup.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "api/sampler_impl.h"
#include "engine/cpu/threads.h"
#include "engine/cuda_program.h"
#include "engine/device.h"
#include "engine/explainer.h"
#include "engine/gaussian.h"
#include "engine/linear_head.h"
#include "engine/memory.h"
#include "engine/sampler_conditional.h"
#include "engine/samplers.h"
#include "io/preprocess.h"
#include "io/sampler_file.h"

namespace fs = std::filesystem;

namespace pda {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool same_tensor(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

// A node is named by its node name or its output value name (engine/explainer.h).
void check_nodes(const Graph& g, const std::vector<std::string>& nodes) {
    for (const std::string& n : nodes) {
        bool found = std::any_of(g.nodes.begin(), g.nodes.end(),
                                 [&](const Node& node) { return node.name == n || node.output == n; });
        if (!found) fail_input("--node: the model has no node or value '" + n + "' (see pda info MODEL)");
    }
}

std::unique_ptr<Sampler> make_conditional(GaussianPatchModel g, const ExplainerOptions& c, const std::string& file) {
    ConditionalOptions o;
    o.per_channel = c.per_channel;
    o.clip = c.clip;
    o.file = file;
    return std::make_unique<ConditionalSampler>(std::move(g), o);
}

// A fitted Gaussian from `pda fit-sampler`, refused with a clear input error when it belongs to
// another input space (preprocessing, channels) or another k / pad. The model it was fitted with is
// recorded, not enforced: the Gaussian describes images in an input space, which models share.
SamplerFile load_sampler_file(const std::string& path, const LoadedModel& m, int64_t k, int64_t pad) {
    SamplerFile f = read_sampler_file(path);
    check_sampler_matches(f.meta, m.desc.pre, m.input_shape[1], k, pad, path, m.desc.volume);
    return f;
}

const char* const kImageExtensions[] = {".png", ".jpg", ".jpeg", ".bmp"};
const char* const kVolumeExtensions[] = {".nii", ".nii.gz", ".npy"};

bool is_volume_file(const std::string& name) {
    std::string n = name;
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return std::tolower(ch); });
    for (const char* e : kVolumeExtensions) {
        const std::string ext = e;
        if (n.size() > ext.size() && n.compare(n.size() - ext.size(), ext.size(), ext) == 0) return true;
    }
    return false;
}

// FNV-1a (64 bit): tells a result made from one file (or set of files) from one made from another at
// the same path (a dataset job's resume compares the digests). Printed as 16 hex digits.
struct Fnv1a {
    uint64_t h = 1469598103934665603ull;
    void add(const void* data, size_t n) {
        const unsigned char* b = static_cast<const unsigned char*>(data);
        for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    }
    void add(const std::string& s) { add(s.data(), s.size() + 1); }  // with its terminator: "ab","c" != "a","bc"
    bool add_file(const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        if (!in) return false;
        std::vector<char> buf(1 << 20);
        while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
            add(buf.data(), static_cast<size_t>(in.gcount()));
            if (!in) break;
        }
        return true;
    }
    std::string hex() const {
        char out[17];
        std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
        return out;
    }
};

// Of a file's bytes; "" when unreadable.
std::string file_digest(const std::string& path) {
    Fnv1a f;
    return f.add_file(path) ? f.hex() : "";
}

// Of a sample set's files: their names below the folder and their bytes, in the listed order.
std::string files_digest(const std::string& folder, const std::vector<std::string>& files) {
    Fnv1a f;
    for (const std::string& file : files) {
        f.add(fs::path(file).lexically_relative(folder).generic_string());
        if (!f.add_file(file)) return "";
    }
    return f.hex();
}

// Of photos in memory: their sizes and pixels.
std::string pictures_digest(const std::vector<RgbImage>& pictures) {
    Fnv1a f;
    for (const RgbImage& p : pictures) {
        const int64_t hw[2] = {p.height, p.width};
        f.add(hw, sizeof hw);
        f.add(p.pixels, static_cast<size_t>(p.height) * p.width * 3);
    }
    return f.hex();
}

// The model file's size and last change: cheap to take at every start (an ONNX file can hold
// hundreds of megabytes), and what tells a rewritten model at the same path. "" for a built-in model.
std::string file_stamp(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
    char modified[64];
    std::snprintf(modified, sizeof modified, "%lld.%09ld", static_cast<long long>(st.st_mtim.tv_sec),
                  static_cast<long>(st.st_mtim.tv_nsec));
    return std::to_string(static_cast<long long>(st.st_size)) + " bytes, modified " + modified + " s after 1970";
}

std::array<double, 16> identity_affine() {
    std::array<double, 16> a{};
    for (int i = 0; i < 4; ++i) a[i * 5] = 1.0;
    return a;
}

// The model's spatial sizes: (H, W) or (D, H, W), and how to print them.
std::vector<int64_t> spatial_of(const LoadedModel& m) {
    const std::vector<int64_t> s = m.input_shape.vec();
    return std::vector<int64_t>(s.begin() + 2, s.end());
}
std::string sizes_str(const std::vector<int64_t>& dims) {
    std::string s;
    for (int64_t d : dims) s += (s.empty() ? "" : "×") + std::to_string(d);
    return s;
}

}  // namespace

Device resolve_device(const Device& device) {
    if (device.kind == Device::Kind::kCpu) return device;
    const int count = cuda_device_count();
    if (device.kind == Device::Kind::kAuto) return count > 0 ? Device::cuda(0) : Device::cpu();
    const std::string name = device.index == 0 ? "cuda" : device.str();
    if (count == 0) {
        const CudaInfo info = cuda_info();
        fail_input("--device " + name + ": CUDA backend not available: no CUDA device" +
                   (info.compiled ? std::string(info.runtime_note.empty() ? "" : " (" + info.runtime_note + ")")
                                  : std::string(" (built without the CUDA backend)")) +
                   "; use --device cpu or auto");
    }
    if (device.index < 0 || device.index >= count)
        fail_input("--device " + name + ": no such CUDA device (" + std::to_string(count) + " visible: cuda:0" +
                   (count > 1 ? "..cuda:" + std::to_string(count - 1) : std::string()) + ")");
    return device;
}

std::shared_ptr<Backend> make_backend(const ModelOptions& opt) {
    const Device d = resolve_device(opt.device);
    if (d.is_cuda()) return make_cuda_backend(d.index, opt.precision);
    return make_cpu_backend(opt.threads, opt.precision);
}

void check_options(const ModelOptions& opt) {
    if (opt.threads < 0) fail_input("--threads must be ≥ 0, got " + std::to_string(opt.threads));
    const Device device = resolve_device(opt.device);
    if (!device.is_cuda() && opt.precision == Precision::kBf16 && !cpu_bf16_supported())
        fail_input("--precision bf16 on the CPU needs AVX-512-BF16 or AMX, which this CPU lacks (--device " +
                   opt.device.str() + " runs on the CPU here)");
    if (!device.is_cuda() && opt.precision == Precision::kWinograd && !cpu_winograd_supported())
        fail_input("--precision winograd on the CPU needs AVX-512, which this CPU lacks (--device " + opt.device.str() +
                   " runs on the CPU here)");
    if (!device.is_cuda() && (opt.precision == Precision::kTf32 || opt.precision == Precision::kFp16))
        fail_input(std::string("--precision ") + precision_name(opt.precision) +
                   " needs a CUDA device; the CPU backend computes in fp32, bf16 or winograd (--device " +
                   opt.device.str() + " runs on the CPU here)");
    if (device.is_cuda() && opt.precision == Precision::kWinograd)
        fail_input("--precision winograd is the CPU's; on a CUDA device use fp32, tf32, fp16 or bf16 (--device " +
                   opt.device.str() + ")");
}

void check_options(const ExplainerOptions& c) {
    if (!c.sampler_file.empty() && c.sampler != SamplerKind::kConditional)
        fail_input(std::string("--sampler-file applies to the conditional sampler only (--sampler ") +
                   sampler_name(c.sampler) + ")");
    bool have_set = !c.sample_images.empty() || !c.sample_pictures.empty() || !c.sample_pictures_source.empty();
    if (c.sampler == SamplerKind::kMarginal && !have_set) fail_input("--sampler marginal needs --sample-images DIR");
    const bool have_fitted = c.fitted_sampler != nullptr;
    if (have_fitted && c.sampler != SamplerKind::kConditional)
        fail_input(std::string("a fitted sampler applies to the conditional sampler only (--sampler ") +
                   sampler_name(c.sampler) + ")");
    if (have_fitted && (!c.sampler_file.empty() || have_set))
        fail_input("give one of a fitted sampler, --sampler-file or --sample-images for the conditional sampler");
    if (c.sampler == SamplerKind::kConditional && c.sampler_file.empty() && !have_set && !have_fitted)
        fail_input("--sampler conditional needs --sampler-file F (pda fit-sampler) or --sample-images DIR to fit on");
    if (c.sampler == SamplerKind::kConditional && !c.sampler_file.empty() && !c.sample_images.empty())
        fail_input("give either --sampler-file or --sample-images for the conditional sampler, not both");
    if (c.k < 1) fail_input("--k must be ≥ 1, got " + std::to_string(c.k));
    if (c.pad < 0) fail_input("--pad must be ≥ 0, got " + std::to_string(c.pad));
    if (c.stride < 1) fail_input("--stride must be ≥ 1, got " + std::to_string(c.stride));
    if (c.samples < 1) fail_input("--samples must be ≥ 1, got " + std::to_string(c.samples));
    if (c.samples > kMaxSamples)
        fail_input("--samples " + std::to_string(c.samples) + " is above the limit of " + std::to_string(kMaxSamples));
    if (c.batch > kMaxBatch)
        fail_input("--batch " + std::to_string(c.batch) + " is above the limit of " + std::to_string(kMaxBatch));
    if (!(c.laplace_n > 0) || !std::isfinite(c.laplace_n)) fail_input("--laplace-n must be finite and > 0");
    if (!std::isfinite(c.fill)) fail_input("--fill must be a finite value in network-input space");
    if (c.batch < 0) fail_input("--batch must be ≥ 0 (0 = from available memory)");
    if (c.max_patches < 0) fail_input("--max-patches must be ≥ 0 (0 = the fit's default)");
    if (c.max_windows < -1) fail_input("max_windows must be ≥ −1 (−1 = all windows)");
    if (!(c.slice_threshold >= 0.f && c.slice_threshold < 1.f))
        fail_input("--threshold must be a fraction in [0, 1) of the largest |relevance|");
    for (const VolumeSlicePick& p : c.slices)
        if (p.axis != 'x' && p.axis != 'y' && p.axis != 'z') fail_input("a slice's axis must be x, y or z");
    for (const RgbImage& p : c.sample_pictures)
        if (!p.pixels || p.height < 1 || p.width < 1) fail_input("a sample picture needs pixels and a positive size");
}

std::vector<std::string> list_volumes(const std::string& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) fail_input(dir + ": no such directory");
    if (!fs::is_directory(dir, ec)) fail_input(dir + ": not a folder");
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (entry.is_regular_file() && is_volume_file(entry.path().filename().string()))
            files.push_back(entry.path().string());
    if (ec) fail_input(dir + ": " + ec.message());
    if (files.empty()) fail_input("no volumes in " + dir + " (.nii, .nii.gz, .npy)");
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<std::string> list_images(const std::string& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) fail_input(dir + ": no such directory");
    if (!fs::is_directory(dir, ec)) fail_input(dir + ": not a folder");
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (!entry.is_regular_file()) continue;
        std::string ext = entry.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
        if (std::find(std::begin(kImageExtensions), std::end(kImageExtensions), ext) != std::end(kImageExtensions))
            files.push_back(entry.path().string());
    }
    if (ec) fail_input(dir + ": " + ec.message());
    if (files.empty()) fail_input("no images in " + dir + " (JPEG, PNG or BMP)");
    std::sort(files.begin(), files.end());
    return files;
}

ExplainInput make_explain_input(const LoadedModel& m, const std::string& name, const Image& photo) {
    ExplainInput in;
    in.path = name;
    in.crop = displayed_crop(photo, m.desc.pre);
    in.x = normalize_image(in.crop, m.desc.pre);
    return in;
}

ExplainInput make_explain_input(const LoadedModel& m, const std::string& name, ConstTensorView x) {
    const Shape& want = m.input_shape;  // (1, C, H, W) or (1, C, D, H, W)
    const std::vector<int64_t> w = want.vec();
    const Shape unbatched(std::vector<int64_t>(w.begin() + 1, w.end()));
    const char* what = m.desc.volume ? "volume" : "image";
    if (x.shape != unbatched && x.shape != want)
        fail_input(std::string("a preprocessed ") + what + " must be " + unbatched.str() + " for model " + m.spec +
                   ", got " + x.shape.str());
    ExplainInput in;
    in.path = name;
    in.x = Tensor(want, x.data);
    for (int64_t i = 0; i < in.x.numel(); ++i)
        if (!std::isfinite(in.x.data()[i]))
            fail_input(std::string("a preprocessed ") + what + " holds a non-finite value at " + std::to_string(i));
    if (m.desc.volume) {
        in.volume = true;
        in.affine = identity_affine();
    } else if (want[1] == 3) {
        in.crop = denormalize_image(in.x.view(), m.desc.pre);
    } else {  // no colour picture to draw on: mid grey
        in.crop.height = static_cast<int>(want[2]);
        in.crop.width = static_cast<int>(want[3]);
        in.crop.rgb.assign(static_cast<size_t>(want[2] * want[3]) * 3, 128);
    }
    return in;
}

ExplainInput load_explain_input(const LoadedModel& m, const std::string& path) {
    if (!m.desc.volume) return make_explain_input(m, path, load_image(path));
    Volume v = load_volume_input(m, path);
    ExplainInput in;
    in.path = path;
    in.x = std::move(v.data);
    in.volume = true;
    in.affine = v.affine;
    return in;
}

// The sample set in network-input space, with where it came from.
struct ExplainSession::SampleSet {
    std::vector<Tensor> images;
    std::vector<std::string> names;
    std::string source;
};

Image to_image(const RgbImage& p) {
    Image img;
    img.height = p.height;
    img.width = p.width;
    img.rgb.assign(p.pixels, p.pixels + static_cast<size_t>(p.height) * p.width * 3);
    return img;
}

ExplainSession::ExplainSession(std::shared_ptr<const LoadedModel> model, std::shared_ptr<Backend> backend, int threads,
                               ExplainerOptions options)
    : model_(std::move(model)), backend_(std::move(backend)), threads_(threads), opt_(std::move(options)) {
    check_options(opt_);
    if (!opt_.sampler_file.empty()) sampler_file_digest_ = file_digest(opt_.sampler_file);
    if (!model_->builtin) model_stamp_ = file_stamp(model_->spec);
    const CpuThreads scope(threads_);
    std::vector<RgbImage> pictures = std::move(opt_.sample_pictures);  // not kept: valid during construction only
    opt_.sample_pictures.clear();
    ExplainParams& p = params_;
    p.k = opt_.k;
    p.stride = opt_.stride;
    p.samples = opt_.samples;
    p.laplace_n = opt_.laplace_n;
    p.seed = opt_.seed;
    p.batch = opt_.batch;
    p.classes = opt_.classes;
    p.nodes = opt_.nodes;
    p.max_windows = opt_.max_windows;
    p.exec = opt_.exec;
    output_.value = model_->desc.output;
    output_.logits = model_->desc.output_kind == ModelDesc::OutputKind::kLogits;
    const std::vector<int64_t> spatial = spatial_of(*model_);
    const int64_t volume = model_->input_shape.numel() / model_->input_shape[1];  // pixels or voxels
    const int64_t smallest = *std::min_element(spatial.begin(), spatial.end());
    if (p.k > smallest)
        fail_input("--k " + std::to_string(p.k) + " is larger than the model's " + sizes_str(spatial) + " input");
    const int64_t l = p.k + 2 * opt_.pad;
    if (opt_.sampler == SamplerKind::kConditional && l > smallest)
        fail_input("conditional context l = k + 2·pad = " + std::to_string(l) + " is larger than the model's " +
                   sizes_str(spatial) + " input");
    // Volumes run incrementally on the CPU: a linear first layer as its exact update, other networks
    // on crops (engine/incremental_plan.h). The CUDA executor's 3-D path is not checked on a device yet.
    if (model_->desc.volume && p.exec == Execution::kIncremental) {
        const std::set<std::string> keep(p.nodes.begin(), p.nodes.end());
        if (backend_->device().is_cuda()) {
            p.exec = Execution::kFull;  // summary.json says so
            exec_note_ = "incremental execution of volumes is implemented on the CPU only so far: full execution";
        } else if (find_linear_head(model_->graph, keep)) {
            exec_note_ = "linear first layer: exact update of its outputs per window";
        }
    }
    if (p.classes.kind == ClassSelection::Kind::kIds) resolve_classes(p.classes, {}, model_->num_classes);
    check_nodes(model_->graph, p.nodes);
    const int64_t channels = model_->input_shape[1];
    const double input_bytes = static_cast<double>(volume * channels) * sizeof(float);
    check_host_memory(static_cast<double>(samples_per_window()) * input_bytes,
                      "--samples " + std::to_string(p.samples) + " (the resampled images of one window)");
    if (p.batch > 0)
        check_host_memory(static_cast<double>(p.batch) * input_bytes,
                          "--batch " + std::to_string(p.batch) + " (the images of one batch)");
    if (opt_.sampler == SamplerKind::kConditional) {  // sizes first: nothing is read or fitted yet
        const std::string flags = "--k " + std::to_string(p.k) + " --pad " + std::to_string(opt_.pad);
        const bool vol = model_->desc.volume;
        check_gaussian_dim(p.k, opt_.pad, channels, flags, vol);
        const int64_t fit_patches = opt_.max_patches > 0 ? opt_.max_patches : kDefaultMaxPatches;
        check_host_memory(
            conditional_sampler_bytes(p.k, opt_.pad, channels, windows(), effective_threads(threads_), vol) +
                (opt_.sampler_file.empty() && !opt_.fitted_sampler
                     ? gaussian_fit_bytes(p.k, opt_.pad, channels, fit_patches, vol)
                     : 0),
            "the conditional sampler (" + flags + ")");
    }

    const SamplerKind kind = opt_.sampler;
    if (kind == SamplerKind::kOcclusion) {
        shared_ = make_occlusion_sampler(opt_.fill);
        shared_desc_ = {{"kind", "occlusion"}, {"fill", opt_.fill}};
    } else if (kind == SamplerKind::kConditional && !opt_.sampler_file.empty()) {
        SamplerFile f = load_sampler_file(opt_.sampler_file, *model_, p.k, opt_.pad);
        shared_desc_ = {{"kind", "conditional"},
                        {"file", opt_.sampler_file},
                        {"fitted_for_model", f.meta.model},
                        {"fitted_images", f.meta.images.size()},
                        {"fitted_patches", f.model.patches},
                        {"fit_seed", f.meta.seed},
                        {"created_by", f.meta.created_by}};
        shared_ = make_conditional(std::move(f.model), opt_, opt_.sampler_file);
    } else if (kind == SamplerKind::kConditional && opt_.fitted_sampler) {
        const FittedSampler::Impl& f = *opt_.fitted_sampler->impl_;
        const std::string what = f.path.empty() ? "the fitted sampler" : f.path;
        check_sampler_matches(f.meta, model_->desc.pre, channels, p.k, opt_.pad, what, model_->desc.volume);
        shared_desc_ = {{"kind", "conditional"},
                        {"file", f.path},
                        {"in_memory", true},
                        {"fitted_for_model", f.meta.model},
                        {"fitted_images", f.meta.images.size()},
                        {"fitted_patches", f.g.patches},
                        {"fit_seed", f.meta.seed},
                        {"created_by", f.meta.created_by}};
        shared_ = make_conditional(f.g, opt_, f.path);
    } else {
        // A sample set: a folder of photos or photos in memory, preprocessed like the explained image.
        set_ = std::make_unique<SampleSet>();
        if (!opt_.sample_images.empty()) {
            const std::vector<std::string> files =
                model_->desc.volume ? list_volumes(opt_.sample_images) : list_images(opt_.sample_images);
            check_host_memory(static_cast<double>(files.size()) * input_bytes,
                              "--sample-images " + opt_.sample_images + " (" + std::to_string(files.size()) +
                                  (model_->desc.volume ? " volumes" : " images") + " in the network's input space)");
            for (const std::string& f : files) {
                set_->images.push_back(load_input(*model_, f));
                set_->names.push_back(f);
            }
            set_->source = opt_.sample_images;
            sample_set_digest_ = files_digest(opt_.sample_images, files);
        } else {
            for (size_t i = 0; i < pictures.size(); ++i) {
                set_->images.push_back(make_explain_input(*model_, "", to_image(pictures[i])).x);
                set_->names.push_back(opt_.sample_pictures_source + " #" + std::to_string(i));
            }
            set_->source = opt_.sample_pictures_source;
            sample_set_digest_ = pictures_digest(pictures);
        }
        if (kind == SamplerKind::kMarginal) {
            if (p.samples > static_cast<int64_t>(set_->images.size()))
                fail_input("--samples " + std::to_string(p.samples) + " but the marginal sampler's set " +
                           set_->source + " holds only " + std::to_string(set_->images.size()) + " images");
            std::vector<Tensor> copy;
            for (const Tensor& t : set_->images) copy.push_back(t.clone());
            shared_ = make_marginal_sampler(std::move(copy), set_->source);
            shared_desc_ = {{"kind", "marginal"}, {"sample_images", set_->source}};
        } else {
            // Fitted lazily by sampler_for(): whether the explained image must be left out is known then.
            shared_desc_ = nullptr;
        }
    }
}

ExplainSession::~ExplainSession() = default;

int64_t ExplainSession::samples_per_window() const {
    if (opt_.sampler == SamplerKind::kOcclusion) return 1;
    return params_.samples;
}

int64_t ExplainSession::windows() const {
    const std::vector<int64_t> s = spatial_of(*model_);
    const WindowGrid g = s.size() == 3 ? WindowGrid(s[0], s[1], s[2], params_.k, params_.stride)
                                       : WindowGrid(s[0], s[1], params_.k, params_.stride);
    return g.count();
}

double ExplainSession::output_bytes() const {
    const int64_t K = model_->num_classes;
    const ClassSelection& c = params_.classes;
    const int64_t maps = c.kind == ClassSelection::Kind::kAll   ? K
                         : c.kind == ClassSelection::Kind::kTop ? std::min<int64_t>(c.top, K)
                                                                : static_cast<int64_t>(c.ids.size());
    double units = 0;
    if (!params_.nodes.empty()) {
        const std::map<std::string, Shape> shapes = infer_shapes(model_->graph, {model_->input_shape});
        for (const Node& n : model_->graph.nodes)
            for (const std::string& want : params_.nodes)
                if (n.name == want || n.output == want) units += static_cast<double>(shapes.at(n.output)[1]);
    }
    // float32 maps (relevance, counts, nodes) and RGB heatmaps at the input size (a volume's slice
    // pictures are far smaller than its maps), and the summary.
    const double plane = static_cast<double>(model_->input_shape.numel() / model_->input_shape[1]);
    return plane * (4.0 * static_cast<double>(maps + 1) + 4.0 * units + 3.0 * static_cast<double>(maps)) + (64 << 10);
}

Sampler& ExplainSession::sampler_for(const Tensor& x, nlohmann::json& desc, double& seconds) {
    seconds = 0;
    if (opt_.sampler != SamplerKind::kConditional || !opt_.sampler_file.empty() || !set_) {
        desc = shared_desc_;
        return *shared_;
    }
    // Conditional fitted on the set: leave out every set image equal to the explained one.
    std::vector<int64_t> keep;
    for (size_t i = 0; i < set_->images.size(); ++i)
        if (!same_tensor(set_->images[i], x)) keep.push_back(static_cast<int64_t>(i));
    const bool all = keep.size() == set_->images.size();
    if (all && shared_) {
        desc = shared_desc_;
        return *shared_;
    }
    if (keep.empty())
        fail_input("--sample-images " + set_->source + " holds only the explained image; the conditional fit " +
                   "needs other images");
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Tensor> fit_set;
    for (int64_t i : keep) fit_set.push_back(set_->images[i].clone());
    GaussianPatchModel g = fit_gaussian(fit_set, params_.k, opt_.pad,
                                        opt_.max_patches > 0 ? opt_.max_patches : kDefaultMaxPatches, params_.seed);
    nlohmann::json d = {
        {"kind", "conditional"},        {"fitted_on", set_->source},
        {"fitted_images", keep.size()}, {"excluded_explained_image", set_->images.size() - keep.size()},
        {"fitted_patches", g.patches},  {"max_patches", opt_.max_patches > 0 ? opt_.max_patches : kDefaultMaxPatches}};
    std::unique_ptr<Sampler> s = make_conditional(std::move(g), opt_, "");
    seconds = seconds_since(t0);
    if (all) {
        shared_ = std::move(s);
        shared_desc_ = d;
        desc = d;
        return *shared_;
    }
    own_ = std::move(s);  // used for this image only
    desc = d;
    return *own_;
}

ImageExplanation ExplainSession::explain(ExplainInput input, const ProgressFn& progress) {
    const CpuThreads scope(threads_);
    ImageExplanation r;
    Sampler& s = sampler_for(input.x, r.sampler, r.seconds_setup);
    const int64_t reused = programs_.reused;
    r.e = ::pda::explain(model_->graph, output_, input.x.view(), s, params_, backend_->pda(), progress, &programs_);
    r.program_reused = programs_.reused > reused;
    for (const auto& [key, value] : s.describe()) r.sampler[key] = value;
    r.input = std::move(input);
    return r;
}

nlohmann::json ExplainSession::describe() const {
    const Preprocess& pp = model_->desc.pre;
    const ExplainParams& p = params_;
    const Device device = backend_->device();
    nlohmann::json j = {
        {"model",
         {{"spec", model_->spec},
          {"builtin", model_->builtin},
          {"file_stamp", model_stamp_},
          {"input", model_->desc.input},
          {"input_shape", model_->input_shape.vec()},
          {"output", model_->desc.output},
          {"output_kind", output_kind_name(model_->desc.output_kind)},
          {"classes", model_->num_classes}}},
        {"preprocessing",
         {{"input_size", {pp.height, pp.width}},
          {"resize_shorter", pp.resize_shorter},
          {"crop", pp.crop},
          {"channel_order", pp.bgr ? "BGR" : "RGB"},
          {"scale", pp.scale},
          {"mean", pp.mean},
          {"std", pp.std}}},
        {"parameters",
         {{"sampler", sampler_name(opt_.sampler)},
          {"k", p.k},
          {"pad", opt_.pad},
          {"l", p.k + 2 * opt_.pad},
          {"samples", p.samples},
          {"samples_per_window", samples_per_window()},
          {"stride", p.stride},
          {"classes", p.classes.str()},
          {"nodes", p.nodes},
          {"laplace_n", p.laplace_n},
          {"seed", p.seed},
          {"batch", p.batch},
          {"threads", threads_},
          {"fill", opt_.fill},
          {"per_channel", opt_.per_channel},
          {"clip", opt_.clip},
          {"sampler_file", opt_.sampler_file},
          {"sampler_file_digest", sampler_file_digest_},
          {"sample_images", opt_.sample_images},
          {"sample_set_digest", sample_set_digest_},
          {"max_windows", p.max_windows}}},
        {"seed", p.seed},
        {"device", device.str()},
        {"precision", precision_name(backend_->precision())},
        {"execution", execution_name(p.exec)},
    };
    if (model_->desc.volume) {
        const VolumeInput& v = model_->desc.vol;
        j["preprocessing"] = {{"kind", "volume"},
                              {"input_shape", {v.channels, v.depth, v.height, v.width}},
                              {"normalization", {{"mean", v.mean}, {"std", v.std}}},
                              {"mask", v.mask_path}};
    }
    if (!exec_note_.empty()) j["execution_note"] = exec_note_;
    return j;
}

}  // namespace pda
