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

struct ExplainerOptions {
    // Sampler: conditional (needs sampler_file or sample_images), marginal (needs sample_images) or
    // occlusion (constant fill, one sample per window).
    SamplerKind sampler = SamplerKind::kConditional;
    std::string sampler_file;   // Gaussian fitted by `pda fit-sampler`, checked against model, k, pad
    std::string sample_images;  // folder of photos (the explained image itself is never used)
    float fill = 0.f;           // occlusion value in network-input space
    int pad = 2;                // conditional context l = k + 2·pad
    bool per_channel = false;   // conditional: channels conditioned independently
    bool clip = false;          // conditional: clip samples to the fitted range
    // Analysis.
    int k = 10;                      // window size
    int samples = 10;                // samples per window
    int stride = 1;                  // window stride
    ClassSelection classes;          // top 3, all, or ids (parse_classes("281,285"))
    std::vector<std::string> nodes;  // nodes/values mapped by activation difference
    double laplace_n = 100000;       // N of the Laplace correction
    uint64_t seed = 0;               // every random choice derives from it
    // Execution.
    int batch = 0;                           // resampled images per batch; 0 = from available memory
    Device device = Device::cpu();           // cpu | automatic() (the GPU when one is visible) | cuda(N)
    Precision precision = Precision::kFp32;  // beyond fp32: CUDA only
    Execution exec = Execution::kIncremental;
};

// A float32 array with its shape (row-major).
struct Map {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
};

struct ExplainResult {
    std::vector<Prediction> classes;  // the explained classes, in the order of relevance's first axis
    Map relevance;                    // (M, H, W) weight of evidence (log2 odds difference) per pixel
    Map counts;                       // (H, W) windows covering each pixel
    std::vector<Map> nodes;           // (units, H, W) activation difference per requested node
    int64_t uncovered = 0;            // pixels covered by no window (value 0 in every map)
    std::string summary_json;         // what summary.json holds
    std::string folder;               // where the result was written ("" when not written)
};

class PDA_API Explainer {
  public:
    // Loads the model and sets up the sampler (reads or fits it); throws pda::Error (input kind) for
    // bad options, an unknown class or node, k too large, or a sampler file for another model/k/pad.
    Explainer(const std::string& model, const ExplainerOptions& opt = {}, const ModelOptions& model_opt = {});
    Explainer(Explainer&&) noexcept;
    Explainer& operator=(Explainer&&) noexcept;
    ~Explainer();

    // Explains one image file. With out_dir, also writes out_dir/<image stem>/ as `pda explain` does
    // (atomically, replacing an earlier result). progress(windows done, windows total) is optional.
    ExplainResult explain(const std::string& image_path, const std::string& out_dir = "",
                          const std::function<void(int64_t, int64_t)>& progress = {});

    // Windows per image at the configured stride, and samples each window gets.
    int64_t windows() const;
    int64_t samples_per_window() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace pda
