// pda::Explainer, the public API of Prediction Difference Analysis: a model plus sampler options and
// parameters; explain() turns an image file into relevance maps (weight of evidence per class,
// activation difference per node), a count map and a JSON summary, optionally also written to a
// folder exactly as `pda explain` writes it. Only standard types cross this boundary.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pda/options.h"
#include "pda/pda.h"

namespace pda {

class FittedSampler;

struct ExplainerOptions {
    // Sampler: conditional (needs sampler_file or a sample set), marginal (needs a sample set) or
    // occlusion (constant fill, one sample per window). The sample set is the photos of a folder
    // (sample_images) or photos in memory (sample_pictures, read during construction only); the
    // explained image itself is never part of the set it is sampled from.
    SamplerKind sampler = SamplerKind::kConditional;
    std::string sampler_file;  // Gaussian fitted by `pda fit-sampler`, checked against model, k, pad
    std::shared_ptr<const FittedSampler> fitted_sampler;  // or one in memory (FittedSampler::fit / load), checked alike
    std::string sample_images;                            // folder of photos
    std::vector<RgbImage> sample_pictures;                // photos in memory, instead of a folder
    std::string sample_pictures_source;                   // what they are, for the summary
    int64_t max_patches = 0;   // conditional fit on a sample set: patches (0 = the fit's default)
    float fill = 0.f;          // occlusion value in network-input space
    int pad = 2;               // conditional context l = k + 2·pad
    bool per_channel = false;  // conditional: channels conditioned independently
    bool clip = false;         // conditional: clip samples to the fitted range
    // Analysis.
    int k = 10;                      // window size
    int samples = 10;                // samples per window
    int stride = 1;                  // window stride
    ClassSelection classes;          // top 3, all, or ids (parse_classes("281,285"))
    std::vector<std::string> nodes;  // nodes/values mapped by activation difference
    double laplace_n = 100000;       // N of the Laplace correction
    uint64_t seed = 0;               // every random choice derives from it
    // Execution (the device, precision and threads are the Model's).
    int batch = 0;  // resampled images per batch; 0 = from available memory
    Execution exec = Execution::kIncremental;
    int64_t max_windows = -1;  // explain only the first N windows (previews, benchmarks); −1 = all
    // Volume outputs: the slices drawn as pictures (empty: the centre slice across each axis) and
    // the fraction of a class's max |value| below which relevance is left undrawn on them.
    std::vector<VolumeSlicePick> slices;
    float slice_threshold = 0.15f;
};

// Stated limits of check_options (far beyond any useful run; the memory they would need is checked
// against the machine when the model is known).
constexpr int kMaxSamples = 1000000;  // samples per window
constexpr int kMaxBatch = 1000000;    // resampled images per batch

// What can be checked without a model: numbers in range, the sampler and the options it needs. Throws
// pda::Error (input kind) naming the option as the CLI's flag (--k, --sampler-file, ...).
PDA_API void check_options(const ExplainerOptions& opt);

// Before any work on a batch of images to be written under out_dir: their result folders' names
// (file-name stems) are distinct and usable, no OUT/<stem> is a file or a symbolic link, and out_dir
// is a folder or can be made, and can be written to (probed; nothing is left behind). Input error
// otherwise. Explainer::check_outputs also checks the free space.
PDA_API void check_outputs(const std::string& out_dir, const std::vector<std::string>& image_paths);

// Image files of a folder (JPEG, PNG, BMP), sorted by name; an input error when the folder is
// missing or holds none.
PDA_API std::vector<std::string> list_images(const std::string& dir);
// The volumes of a folder (.nii, .nii.gz, .npy), sorted; an input error when there are none.
PDA_API std::vector<std::string> list_volumes(const std::string& dir);

// A float32 array with its shape (row-major).
struct Map {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
};

// Seconds spent on one explanation, by phase.
struct ExplainTimings {
    double setup = 0;     // a sampler fitted for this image
    double compile = 0;   // programs compiled for this image's batch
    double sampling = 0;  // drawing the resampled windows
    double network = 0;   // forward passes, the clean image's included
    double reduce = 0;    // weights of evidence and node differences
    double total = 0;     // the whole call
};

struct ExplainResult {
    std::vector<Prediction> classes;  // the explained classes, in the order of relevance's first axis
    Map relevance;                    // (M, H, W) weight of evidence (log2 odds difference) per pixel
    Map counts;                       // (H, W) windows covering each pixel
    std::vector<Map> nodes;           // (units, H, W) activation difference per requested node
    int64_t uncovered = 0;            // pixels covered by no window (value 0 in every map)
    int64_t windows = 0;              // windows explained
    int64_t forward_passes = 0;       // resampled images run through the network
    int64_t batch = 0;                // resampled images per batch
    // Non-finite values (NaN, ±Inf) in the model's clean output and in the maps: a broken model or
    // input. Never silent: summary.json's "non_finite" holds them and the CLI warns.
    int64_t non_finite_probabilities = 0, non_finite_relevance = 0, non_finite_nodes = 0;
    ExplainTimings seconds;
    std::string summary_json;  // what summary.json holds
    std::string folder;        // where the result was written ("" when not written)
};

class PDA_API Explainer {
  public:
    // An explainer of a loaded model (shared, not loaded again; it runs on the model's device with
    // the model's threads). Sets up the sampler (reads or fits it); throws pda::Error (input kind)
    // for bad options, an unknown class or node, k too large, or a sampler file for another
    // model/k/pad. The model may go away: the explainer keeps what it needs.
    explicit Explainer(const Model& model, const ExplainerOptions& opt = {});
    // Model::load(model, model_opt), then as above.
    Explainer(const std::string& model, const ExplainerOptions& opt = {}, const ModelOptions& model_opt = {});
    Explainer(Explainer&&) noexcept;
    Explainer& operator=(Explainer&&) noexcept;
    ~Explainer();

    // Explains one image file. With out_dir, also writes out_dir/<image stem>/ as `pda explain` does
    // (atomically, replacing an earlier result). progress(windows done, windows total) is optional.
    ExplainResult explain(const std::string& image_path, const std::string& out_dir = "",
                          const std::function<void(int64_t, int64_t)>& progress = {});
    // Explains 8-bit RGB pixels in memory, preprocessed as an image file would be.
    ExplainResult explain(const RgbImage& image, const std::string& out_dir = "",
                          const std::function<void(int64_t, int64_t)>& progress = {});
    // Explains an image already in the network's input space: `count` float32 values, C × H × W at
    // the model's input size (heatmaps, when written, are drawn on its inverted normalisation).
    ExplainResult explain_preprocessed(const float* chw, int64_t count, const std::string& name = "tensor",
                                       const std::string& out_dir = "",
                                       const std::function<void(int64_t, int64_t)>& progress = {});

    // Disk space one image's result folder takes (maps, heatmaps, summary), about.
    double output_bytes() const;
    // check_outputs(out_dir, image_paths), and enough free space under out_dir for all their results.
    void check_outputs(const std::string& out_dir, const std::vector<std::string>& image_paths) const;

    // Windows per image at the configured stride, and samples each window gets.
    int64_t windows() const;
    int64_t samples_per_window() const;
    const ExplainerOptions& options() const;  // sample_pictures cleared
    Device device() const;                    // the model's: cpu or cuda:N
    Precision precision() const;
    // From now on explain only the first n windows (−1: all), as options().max_windows.
    void set_max_windows(int64_t n);
    // The model, parameters, device and precision as every summary.json of this explainer records
    // them (a JSON object).
    std::string describe_json() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pda
