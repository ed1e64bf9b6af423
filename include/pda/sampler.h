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
                                               // (per Gaussian: the global one and each cell's)
    uint64_t seed = 0;
    // Location conditioning (paper §4.2): one Gaussian per cell of `cell` voxels (pixels) along
    // every axis, from the patches whose centre lies in it; a cell with fewer than 10·d candidate
    // patches (d = l·l·l·C, l·l·C for images) uses the global Gaussian. 0 = one Gaussian everywhere.
    int cell = 0;
    // Volume models: fit only on patches whose centre voxel is inside this mask (value > 0; a NIfTI
    // or .npy volume on the model's grid). Empty: the model sidecar's mask when it names one, else
    // every patch.
    std::string mask;
};

// What can be checked without a model: k ≥ 1, pad ≥ 0, max_patches ≥ 0, cell ≥ 0. Input error otherwise.
PDA_API void check_options(const SamplerFitOptions& opt);

class PDA_API FittedSampler {
  public:
    // Fits the Gaussian over l × l × C patches of the image files, each preprocessed as the model's
    // input (l × l × l × C patches of a volume model's volumes). Throws pda::Error (input kind) for
    // bad options, k or l larger than the input, an image that does not decode, no images, a mask for
    // an image model, a mask that cannot be read, is not one 3-D volume on the model's grid, is empty
    // or holds no patch centre, or more cells than kMaxCells (65536).
    static FittedSampler fit(const Model& model, const std::vector<std::string>& image_paths,
                             const SamplerFitOptions& opt = {});
    FittedSampler(FittedSampler&&) noexcept;
    FittedSampler& operator=(FittedSampler&&) noexcept;
    ~FittedSampler();

    // Reads a sampler file written by save() or `pda fit-sampler` (input error for a missing, corrupt or
    // foreign file). Counts the file does not record (positions, candidates, timings) are 0.
    static FittedSampler load(const std::string& path);
    // Writes the sampler file (docs/sampler-file.md) in one step: path is either absent or complete.
    void save(const std::string& path) const;
    // The file it was loaded from or last saved to; empty while it lives in memory only.
    std::string path() const;
    // Input error when a sampler file could not be saved at path (checked before a fit).
    static void check_path(const std::string& path);

    int k() const;
    int pad() const;
    int channels() const;
    int64_t dim() const;          // l · l · C (l · l · l · C for volumes)
    int64_t patches() const;      // patches the global fit used
    int64_t positions() const;    // patch positions in all images
    int64_t candidates() const;   // those whose centre lies inside the mask (= positions without one)
    std::string mask() const;     // the mask used (a path as given; empty: none)
    int64_t mask_voxels() const;  // its voxels > 0
    // Location conditioning: the cell size (0: none), the number of cells, the smallest number of
    // candidate patches a cell needs for its own Gaussian, and the cells that fell back to the
    // global one (indices (cz·cells_y + cy)·cells_x + cx, increasing).
    int cell() const;
    std::vector<int64_t> grid() const;  // cells per axis: (z, y, x), or (y, x) for images
    int64_t cells() const;
    int64_t min_cell_patches() const;
    std::vector<int64_t> fallback_cells() const;
    // Fitted value range per channel (min, max), in the model's channel order.
    std::vector<std::pair<float, float>> value_range() const;
    const std::vector<std::string>& images() const;  // file names fitted on
    std::string model() const;                       // the model it was fitted for
    double seconds_load() const;                     // decoding and preprocessing
    double seconds_fit() const;

  private:
    friend class ExplainSession;  // ExplainerOptions::fitted_sampler
    struct Impl;
    explicit FittedSampler(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pda
