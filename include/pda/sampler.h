// The conditional sampler's Gaussian (METHOD.md §3), fitted on photos in a model's input space: what
// `pda fit-sampler` makes and `--sampler-file` / ExplainerOptions::sampler_file reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pda/pda.h"

namespace pda {

// Patches fitted when the caller does not say (a seeded random subset of all positions).
constexpr int64_t kDefaultMaxPatches = 200000;

struct SamplerFitOptions {
    int k = 10;                                // window size
    int pad = 2;                               // context: l = k + 2·pad
    int64_t max_patches = kDefaultMaxPatches;  // a seeded random subset of all positions; 0 = every position
    uint64_t seed = 0;
};

// What can be checked without a model: k ≥ 1, pad ≥ 0, max_patches ≥ 0. Input error otherwise.
PDA_API void check_options(const SamplerFitOptions& opt);

class PDA_API FittedSampler {
  public:
    // Fits the Gaussian over l × l × C patches of the image files, each preprocessed as the model's
    // input. Throws pda::Error (input kind) for bad options, k or l larger than the input, an image
    // that does not decode, or no images.
    static FittedSampler fit(const Model& model, const std::vector<std::string>& image_paths,
                             const SamplerFitOptions& opt = {});
    FittedSampler(FittedSampler&&) noexcept;
    FittedSampler& operator=(FittedSampler&&) noexcept;
    ~FittedSampler();

    // Writes the sampler file (docs/sampler-file.md) in one step: path is either absent or complete.
    void save(const std::string& path) const;
    // Input error when a sampler file could not be saved at path (checked before a fit).
    static void check_path(const std::string& path);

    int k() const;
    int pad() const;
    int channels() const;
    int64_t dim() const;        // l · l · C
    int64_t patches() const;    // patches the fit used
    int64_t positions() const;  // patch positions in all images
    // Fitted value range per channel (min, max), in the model's channel order.
    std::vector<std::pair<float, float>> value_range() const;
    const std::vector<std::string>& images() const;  // file names fitted on
    std::string model() const;                       // the model it was fitted for
    double seconds_load() const;                     // decoding and preprocessing
    double seconds_fit() const;

  private:
    struct Impl;
    explicit FittedSampler(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pda
