// From user-level explain options (what `pda explain` flags and pda::Explainer take) to what the
// engine runs: a Sampler per explained image, ExplainParams, OutputSpec. Shared by the CLI, the
// library API and `pda bench`, so options are validated and samplers built in exactly one place.
// Every check that can fail on user input runs before any heavy work.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/loader.h"
#include "engine/cuda_program.h"
#include "engine/explainer.h"
#include "io/image.h"
#include "kernels/cpu/context.h"
#include "pda/options.h"

namespace pda {

struct ExplainConfig {
    SamplerKind sampler = SamplerKind::kConditional;
    std::string sampler_file;                // fitted Gaussian (pda fit-sampler); conditional only
    std::string sample_images;               // folder of photos: marginal's set, or conditional's fit on the fly
    float fill = 0.f;                        // occlusion value in network-input space
    int64_t pad = 2;                         // conditional context: l = k + 2·pad
    int64_t max_patches = 0;                 // on-the-fly fit: 0 = the fit's default
    bool per_channel = false;                // conditional: each channel conditioned on its own ring only
    bool clip = false;                       // conditional: clip samples to the fitted value range
    Device device;                           // auto: GPU 0 when one is visible, else the CPU
    Precision precision = Precision::kFp32;  // the network's; CUDA only beyond fp32
    int threads = 0;                         // 0: all cores
    ExplainParams params;                    // k, stride, samples, classes, nodes, laplace_n, seed, batch, ...
    // Photos given in memory instead of a folder (benchmarks' synthetic set), with a description (a
    // non-empty description alone counts as a set for check_config, so it can run before the photos exist).
    std::vector<Image> sample_photos;
    std::string sample_photos_source;
};

// The device that will run: auto = cuda:0 when cuda_device_count() > 0, else the CPU; cuda:N without
// such a device (or in a build without the backend) is an input error of one line. Shared by explain,
// bench and predict.
Device resolve_device(const Device& device);

// An ExplainConfig whose checks that need no file have passed (the sampler and the flags it needs,
// numbers in range, device and precision: beyond fp32 needs a CUDA device), its device resolved.
// Only check_config makes one, so an ExplainSession's options are checked exactly once, at the entry
// (before the model is loaded).
class CheckedConfig {
  public:
    const ExplainConfig& config() const { return c_; }
    const Device& device() const { return device_; }  // cpu or cuda:N

  private:
    friend CheckedConfig check_config(ExplainConfig c);
    CheckedConfig(ExplainConfig c, Device d) : c_(std::move(c)), device_(d) {}
    ExplainConfig c_;
    Device device_;
};
CheckedConfig check_config(ExplainConfig c);

// Image files of a folder (png, jpg, jpeg, bmp, gif, tga, ppm, pgm, pnm), sorted by name; an input
// error when the folder is missing or holds none.
std::vector<std::string> list_images(const std::string& dir);

// One explained image: the picture the heatmaps are drawn on and the network input.
struct ExplainInput {
    std::string path;  // file, or a name for an image made in memory
    Image crop;        // displayed crop, H × W
    Tensor x;          // (1, C, H, W), network-input space
};
ExplainInput load_explain_input(const LoadedModel& m, const std::string& path);
ExplainInput make_explain_input(const LoadedModel& m, const std::string& name, const Image& photo);
// An input given already preprocessed: x (C, H, W) or (1, C, H, W) at the model's input shape, its
// displayed picture the inverted normalisation (denormalize_image).
ExplainInput make_explain_input(const LoadedModel& m, const std::string& name, ConstTensorView x);

struct ImageExplanation {
    ExplainInput input;
    Explanation e;
    nlohmann::json sampler;    // the sampler used for this image (kind, file or fitted set, describe())
    double seconds_setup = 0;  // sampler fitting or loading attributable to this image
};

// A model with its explain configuration, ready for many images: validates everything at
// construction (options, class ids, node names, k against the image size, the sampler file against
// model/k/pad, the sample folder), loads the sample set once and fits (or reads) the Gaussian once.
// The explained images must be named up front so that none of them is ever part of the sample set
// used for itself (a conditional fit on the fly is redone without an image found in its own set).
class ExplainSession {
  public:
    // The model is shared (a pda::Model and its explainers hold one copy of the weights).
    ExplainSession(std::shared_ptr<const LoadedModel> model, CheckedConfig config);
    ExplainSession(LoadedModel model, CheckedConfig config);
    ~ExplainSession();
    ExplainSession(const ExplainSession&) = delete;
    ExplainSession& operator=(const ExplainSession&) = delete;

    const LoadedModel& model() const { return *model_; }
    const ExplainConfig& config() const { return config_; }
    const Device& device() const { return device_; }  // cpu or cuda:N
    Precision precision() const { return precision_; }
    // "incremental" or "full": what the network execution is (both backends run either).
    std::string execution() const { return execution_name(config_.params.exec); }
    const OutputSpec& output() const { return output_; }
    int64_t samples_per_window() const;
    int64_t windows() const;  // per image at the configured stride (before max_windows)
    double seconds_setup() const { return seconds_setup_; }
    // Explain only the first n windows from now on (benchmarks); −1 = all.
    void set_max_windows(int64_t n) { config_.params.max_windows = n; }

    ImageExplanation explain(ExplainInput input, const ProgressFn& progress = {});

    // Model, preprocessing, parameters and sampler options as the summary records them.
    nlohmann::json describe() const;

  private:
    struct SampleSet;
    Sampler& sampler_for(const Tensor& x, nlohmann::json& desc, double& seconds);

    std::shared_ptr<const LoadedModel> model_;
    ExplainConfig config_;
    Device device_;
    Precision precision_ = Precision::kFp32;
    OutputSpec output_;
    CpuContext ctx_;
    CudaContextPtr cuda_;                    // when device_ is cuda:N
    std::unique_ptr<PdaDevice> pda_device_;  // where explain() runs: the CPU or cuda_
    std::unique_ptr<SampleSet> set_;
    std::unique_ptr<Sampler> shared_;  // the sampler every image uses unless it is in the set
    std::unique_ptr<Sampler> own_;     // a conditional refitted without the current image
    nlohmann::json shared_desc_;
    double seconds_setup_ = 0;
};

}  // namespace pda
