// The Gaussian patch model of the conditional sampler (METHOD.md §3, paper §3.1): fitting a mean and
// covariance over l × l × C patches of images (l × l × l × C of volumes) in float64, and the
// conditional algebra of one context configuration (window at offset (oz, oy, ox) in its context):
// A = Σ_io Σ_oo⁻¹ by Cholesky solves, Σ_{i|o} = Σ_ii − A Σ_oi and its Cholesky factor, with a
// recorded ridge only where one is needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "pda/sampler.h"  // kDefaultMaxPatches

namespace pda {

// Location conditioning (paper §4.2, METHOD.md §3): the input split into a grid of cells of `cell`
// voxels along every axis (`cell` pixels for images; the last cell of an axis may be shorter), one
// Gaussian per cell fitted on the patches whose centre lies in it. The centre of the patch (context)
// with corner (pz, py, px) is (pz + (lz − 1)/2, py + (l − 1)/2, px + (l − 1)/2), integer division;
// a window at (s, r, c) takes the cell of its centre (s + (kz − 1)/2, r + (k − 1)/2, c + (k − 1)/2),
// the same voxel as its context's centre wherever the context is not shifted at a border. A cell
// with fewer candidate patches than min_patches (kMinCellPatchesPerDim · d unless the fit is told
// otherwise: a covariance of d dimensions needs many more than d patches to be well-conditioned)
// has no Gaussian of its own and falls back to the global one.
constexpr int64_t kMinCellPatchesPerDim = 10;
constexpr int64_t kMaxCells = 65536;  // cells of one grid (the sampler keeps one slot per cell)

struct CellGaussian {
    int64_t cell = 0;          // (cz·cells_y + cy)·cells_x + cx
    int64_t patches = 0;       // patches its fit used
    std::vector<double> mean;  // (d), the layout of GaussianPatchModel::mean
    std::vector<double> cov;   // (d, d) row-major, symmetric
};

struct LocationCells {
    int64_t cell = 0;                          // cell edge in voxels (pixels); 0 = not location-conditioned
    int64_t depth = 1, height = 0, width = 0;  // the input size the grid covers (depth 1 for images)
    int64_t min_patches = 0;                   // a cell with fewer candidate patches falls back
    std::vector<int64_t> available;            // (cells) candidate patches per cell (centre in it and in the mask)
    std::vector<CellGaussian> fitted;          // the cells with a Gaussian of their own, by increasing index

    bool on() const { return cell > 0; }
    int64_t cells_z() const { return on() ? (depth + cell - 1) / cell : 1; }
    int64_t cells_y() const { return on() ? (height + cell - 1) / cell : 1; }
    int64_t cells_x() const { return on() ? (width + cell - 1) / cell : 1; }
    int64_t cells() const { return cells_z() * cells_y() * cells_x(); }
    // The cell holding voxel (z, y, x) of the grid.
    int64_t cell_of(int64_t z, int64_t y, int64_t x) const {
        return ((z / cell) * cells_y() + y / cell) * cells_x() + x / cell;
    }
    std::vector<int64_t> fallback() const;  // cells without a Gaussian of their own, increasing
};

// A multivariate normal over l × l × C patches (l = k + 2·pad), the same at every image position;
// for a volume model over lz × l × l × C patches with lz = l (k × k × k windows), the same at every
// voxel position. Patch vector layout, channel-major: element (c, z, y, x) of the patch is at index
// ((c·lz + z)·l + y)·l + x (lz = 1 and z = 0 for images: (c·l + y)·l + x), so a window inside it
// reads, in the same order, as a (C, kz, k, k) block.
struct GaussianPatchModel {
    int64_t k = 0, pad = 0, l = 0, channels = 0;
    bool volume = false;          // fitted on volumes (1, C, D, H, W): cubic patches and windows
    std::vector<double> mean;     // (d) with d = lz·l·l·C
    std::vector<double> cov;      // (d, d) row-major, symmetric
    std::vector<float> min, max;  // (C) per-channel value range seen in the fitted images or volumes
    int64_t patches = 0;          // patches the fit used
    LocationCells location;       // per-cell Gaussians (location.on()); mean and cov above are the global fit

    int64_t lz() const { return volume ? l : 1; }  // the context's extent along depth
    int64_t kz() const { return volume ? k : 1; }  // the window's extent along depth
    int64_t dim() const { return lz() * l * l * channels; }
    int64_t window_dim() const { return kz() * k * k * channels; }
};

// The largest Gaussian a fit, a sampler file and the conditional sampler accept: dimension
// d = l·l·C (l·l·l·C for volumes) ≤ 8192, a 512 MiB float64 covariance (l ≤ 52 for three channels,
// l ≤ 20 for a one-channel volume). Shared by `pda fit-sampler` and `pda explain`, so that a file
// one writes the other reads.
constexpr int64_t kMaxGaussianDim = 8192;

// `volume` in the three functions below: the model of volumes (l × l × l × C patches, k × k × k × C
// windows, (2·pad + 1)³ configurations) rather than of images.
// Memory fit_gaussian needs over and above its images, for `patches` patches of dimension d.
double gaussian_fit_bytes(int64_t k, int64_t pad, int64_t channels, int64_t patches, bool volume = false);
// Memory the conditional sampler needs for one image of `windows` windows: the model, the
// conditional algebra of every context configuration ((2·pad + 1)² at most, (2·pad + 1)³ for a
// volume) and the windows' conditional means, plus one configuration's transient factorisation per
// thread.
double conditional_sampler_bytes(int64_t k, int64_t pad, int64_t channels, int64_t windows, int threads,
                                 bool volume = false);
// Refuses, before any work, a Gaussian over l × l × C (or l × l × l × C) patches above
// kMaxGaussianDim, naming k, pad, C, d and the limit (input error). `what` names the source:
// "--k 82 --pad 0", a file.
void check_gaussian_dim(int64_t k, int64_t pad, int64_t channels, const std::string& what, bool volume = false);

// Refuses (input error naming `what`) a model that cannot be a fitted covariance: sizes that do
// not match k, pad and C, a non-finite mean or covariance entry or value range, an asymmetric
// covariance, a variance that is not positive, or a covariance |Σ_ij| > sqrt(Σ_ii Σ_jj) (no
// positive semi-definite matrix has one). O(d²): a full factorisation is left to the sampler. The
// same for every fitted cell of a location-conditioned model, except that a cell's variance may be
// 0 (a voxel equal in all its patches, such as one outside the brain at a mask's edge; the
// conditional algebra then adds its recorded ridge), and the cells' grid: a cell edge and size
// (depth 1 for images) of at most kMaxCells cells, available counts per cell, fitted cells
// increasing and distinct, each with 2 ≤ patches ≤ its candidates and at least min_patches
// candidates, every other cell below min_patches.
void check_gaussian_model(const GaussianPatchModel& m, const std::string& what);
// The grid and cell checks of the above without the cells' data (a reader checks them before it
// allocates the data). `volume`: the model's kind (images have depth 1).
void check_location_grid(const LocationCells& loc, bool volume, const std::string& what);

// Fits the model on images (each (1, C, H, W), network-input space, all of the same C, each at
// least l × l), or a volume model on volumes (each (1, C, D, H, W), at least l × l × l; all inputs
// of one rank). Patches: all positions of all inputs ((H − l + 1)(W − l + 1) per image,
// (D − l + 1)(H − l + 1)(W − l + 1) per volume) when max_patches ≤ 0 or there are no more than
// max_patches positions, else a seeded uniform random subset of exactly max_patches positions
// (without replacement, over all inputs together). Mean and covariance (divided by n − 1) are
// accumulated in float64: mean first, then centred blocks of patches through a float32 GEMM whose
// block results are summed in float64. Throws an input error for bad arguments or too few patches.
GaussianPatchModel fit_gaussian(const std::vector<Tensor>& images, int64_t k, int64_t pad, int64_t max_patches,
                                uint64_t seed);

// Which patches a fit takes, and whether it is location-conditioned.
struct PatchFitOptions {
    int64_t max_patches = 0;  // per Gaussian (the global one and each cell's), as above
    uint64_t seed = 0;
    // (D·H·W, or H·W for images) over the inputs' common grid: a patch is a candidate when the mask
    // is nonzero at its centre (defined above). Null: every patch.
    const std::vector<uint8_t>* mask = nullptr;
    std::string mask_name = "the mask";  // names the mask in errors
    int64_t cell = 0;                    // > 0: location-conditioned, cells of this edge
    int64_t min_cell_patches = -1;       // < 0: kMinCellPatchesPerDim · d (at least 2 in any case)
};

// The fit above with a mask and location conditioning. The global Gaussian is fitted on every
// candidate (or a seeded subset of max_patches, selection sampling as above over the candidates in
// position order); each cell with at least min_cell_patches candidates gets its own, on its
// candidates (or a seeded subset of max_patches, the same scheme on a stream of the cells), in the same two passes:
// with all candidates, a cell's Gaussian is bit for bit the fit above on the inputs cropped to the
// cell's patches (without a mask). A mask or cells need every input of one size. Input errors: those above, a mask of
// another size, no candidate at all (naming mask_name), more than kMaxCells cells.
GaussianPatchModel fit_gaussian(const std::vector<Tensor>& images, int64_t k, int64_t pad, const PatchFitOptions& opt);

// One context configuration: the window at offset (oy, ox) ∈ [0, 2·pad]² inside its l × l context,
// or (oz, oy, ox) ∈ [0, 2·pad]³ inside the l × l × l context of a volume model (oz = 0 for images).
struct ConditionalConfig {
    int64_t oz = 0, oy = 0, ox = 0;
    std::vector<int64_t> inner;  // (di = kz·k·k·C) patch indices of the window, in (c, z, y, x) order
    std::vector<int64_t> ring;   // (do = (lz·l² − kz·k²)·C) patch indices of the ring, in (c, z, y, x) order
    std::vector<double> mean_inner, mean_ring;  // μ_i (di), μ_o (do)
    std::vector<double> a;                      // (di, do) A = Σ_io Σ_oo⁻¹; empty when pad = 0
    std::vector<double> cond_cov;               // (di, di) Σ_{i|o} (before any ridge)
    std::vector<double> chol;                   // (di, di) lower L with L Lᵀ = Σ_{i|o} + ridge_cond·I
    double ridge_ring = 0, ridge_cond = 0;      // ridges added to Σ_oo and Σ_{i|o}; 0 = none was needed
};

// The conditional algebra of configuration (oz, oy, ox); oz must be 0 for an image model. per_channel:
// each channel is conditioned on its own ring only — the joint algebra with every cross-channel
// covariance entry set to zero (the reference code's model). A factorisation that fails is retried
// with a ridge 1e-6·mean(diag), then 10× larger, up to 1e2·mean(diag); the ridge used is recorded.
// Never forms an inverse.
ConditionalConfig condition_gaussian(const GaussianPatchModel& m, int64_t oz, int64_t oy, int64_t ox, bool per_channel);
// The same for an image model's configuration (oy, ox): condition_gaussian(m, 0, oy, ox, per_channel).
ConditionalConfig condition_gaussian(const GaussianPatchModel& m, int64_t oy, int64_t ox, bool per_channel);
// The same for the Gaussian of m.location.fitted[j] (a location-conditioned model's j-th fitted cell).
ConditionalConfig condition_cell(const GaussianPatchModel& m, int64_t j, int64_t oz, int64_t oy, int64_t ox,
                                 bool per_channel);

// In-place Cholesky of the (n, n) row-major symmetric matrix a: on success the lower triangle holds
// L (upper triangle zeroed) and true is returned; false when a pivot is not positive and finite.
bool cholesky_lower(std::vector<double>& a, int64_t n);

}  // namespace pda
