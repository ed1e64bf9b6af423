// From pda::ExplainerOptions to what the engine runs: a Sampler per explained image, ExplainParams,
// OutputSpec, on the model's Backend. Behind pda::Explainer, which `pda explain` and `pda bench` use,
// so options are validated and samplers built in exactly one place. Every check that can fail on
// user input runs before any heavy work.
#pragma once

#include <array>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/loader.h"
#include "engine/backend.h"
#include "engine/explainer.h"
#include "io/image.h"
#include "pda/explainer.h"

namespace pda {

// The device that will run: auto = cuda:0 when a GPU is visible, else the CPU; cuda:N without such a
// device (or in a build without the backend) is an input error of one line.
Device resolve_device(const Device& device);

// The backend a model runs on (options checked by check_options(ModelOptions)).
std::shared_ptr<Backend> make_backend(const ModelOptions& opt);

// One explained image: the picture the heatmaps are drawn on and the network input; or a volume:
// the network input and the voxel-to-world affine its maps are written with.
struct ExplainInput {
    std::string path;  // file, or a name for an image made in memory
    Image crop;        // displayed crop, H × W (images)
    Tensor x;          // (1, C, H, W) or (1, C, D, H, W), network-input space
    bool volume = false;
    std::array<double, 16> affine{};  // volumes: voxel (i, j, k, 1) → world, row-major (identity when unknown)
};
// The pixels of a public RgbImage, copied.
Image to_image(const RgbImage& p);
ExplainInput load_explain_input(const LoadedModel& m, const std::string& path);
ExplainInput make_explain_input(const LoadedModel& m, const std::string& name, const Image& photo);
// An input given already preprocessed: x (C, H, W) or (1, C, H, W) at the model's input shape, its
// displayed picture the inverted normalisation (denormalize_image); for a volume model x (C, D, H, W)
// or (1, C, D, H, W), identity affine.
ExplainInput make_explain_input(const LoadedModel& m, const std::string& name, ConstTensorView x);

struct ImageExplanation {
    ExplainInput input;
    Explanation e;
    nlohmann::json sampler;       // the sampler used for this image (kind, file or fitted set, describe())
    double seconds_setup = 0;     // sampler fitting or loading attributable to this image
    bool program_reused = false;  // the program compiled for an earlier image ran this one
};

// A model with its explain options, ready for many images: validates everything at construction
// (options, class ids, node names, k against the image size, the sampler file against model/k/pad,
// the sample set), loads the sample set once and fits (or reads) the Gaussian once. No explained
// image is ever part of the sample set used for itself (a conditional fit on the fly is redone
// without an image found in its own set).
class ExplainSession {
  public:
    // The model and backend are shared (a pda::Model and its explainers hold one copy of each).
    ExplainSession(std::shared_ptr<const LoadedModel> model, std::shared_ptr<Backend> backend, int threads,
                   ExplainerOptions options);
    ~ExplainSession();
    ExplainSession(const ExplainSession&) = delete;
    ExplainSession& operator=(const ExplainSession&) = delete;

    const LoadedModel& model() const { return *model_; }
    const ExplainerOptions& options() const { return opt_; }
    const Backend& backend() const { return *backend_; }
    const OutputSpec& output() const { return output_; }
    int64_t samples_per_window() const;
    // Disk space of one image's result folder, about (maps, node maps, heatmaps, summary).
    double output_bytes() const;
    int64_t windows() const;  // per image at the configured stride (before max_windows)
    void set_max_windows(int64_t n) { opt_.max_windows = params_.max_windows = n; }

    ImageExplanation explain(ExplainInput input, const ProgressFn& progress = {});

    // Model, preprocessing, parameters and sampler options as the summary records them.
    nlohmann::json describe() const;

  private:
    struct SampleSet;
    std::string exec_note_;            // why the execution differs from the one asked for (empty: it does not)
    ProgramCache programs_;            // the compiled program, reused by the next image of the same shape
    std::string sampler_file_digest_;  // of opt_.sampler_file's bytes (summary.json, resume)
    std::string sample_set_digest_;    // of the sample set's names and bytes, or pixels in memory (same)
    std::string model_stamp_;          // the model file's size and last change (same)
    Sampler& sampler_for(const Tensor& x, nlohmann::json& desc, double& seconds);

    std::shared_ptr<const LoadedModel> model_;
    std::shared_ptr<Backend> backend_;
    int threads_ = 0;
    ExplainerOptions opt_;
    ExplainParams params_;
    OutputSpec output_;
    std::unique_ptr<SampleSet> set_;
    std::unique_ptr<Sampler> shared_;  // the sampler every image uses unless it is in the set
    std::unique_ptr<Sampler> own_;     // a conditional refitted without the current image
    nlohmann::json shared_desc_;
};

}  // namespace pda
