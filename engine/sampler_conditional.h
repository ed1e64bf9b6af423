// The conditional sampler (METHOD.md §3, paper §3.1 eq. 4): a window's k × k × C values (k × k × k × C
// in a volume) drawn from the Gaussian patch model conditioned on the ring around it,
// x̃ = μ_{i|o} + L z. Contexts that would leave the image are shifted inside it along every axis,
// giving up to (2·pad + 1)² configurations ((2·pad + 1)³ in a volume), each with its own (A, L),
// computed lazily and cached. All windows' means are GEMMs per configuration, as are L·z. A
// location-conditioned model (GaussianPatchModel::location) gives each window the Gaussian of the
// cell holding its centre, or the global one where that cell fell back: (A, L) are then per (cell,
// configuration) in use (an interior cell's windows use only the interior configuration).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/gaussian.h"
#include "engine/sampler.h"

namespace pda {

struct ConditionalOptions {
    bool per_channel = false;  // each channel conditioned on its own ring only (the reference code's model)
    bool clip = false;         // clip samples to the per-channel value range seen when fitting
    std::string file;          // where the model was read from (reported by describe(); may be empty)
};

// Randomness: sample s of window w takes z_j = random_normal(seed, w, s·di + j) with di = kz·k²·C, the
// window's values (kernels/philox.h),
// and every GEMM accumulates each output element in one fixed order, so samples are bit-identical
// whatever the block [w0, w1) they are drawn in and whatever the thread count.
class ConditionalSampler : public Sampler {
  public:
    ConditionalSampler(GaussianPatchModel model, const ConditionalOptions& opt);
    ~ConditionalSampler() override;

    std::string name() const override { return "conditional"; }
    // Prepares the first `windows` windows' configurations and means. Input errors: x not
    // (1, C, H, W) for an image model or (1, C, D, H, W) for a volume model (the error names the
    // file and which kind of model it holds), not the model's C, grid of another k, context
    // l = k + 2·pad larger than the image or volume along any axis, an input of another size than
    // a location-conditioned model's grid.
    void begin_image(ConstTensorView x, const WindowGrid& grid, int64_t windows, uint64_t seed) override;
    // out (w1 − w0, S, C, kd, k, k) (kd = k for a volume, 1 for an image): sample values of each
    // window, channel-major as the image is, ready to be pasted at (grid.slice(w), grid.row(w),
    // grid.col(w)). Only reads state set by begin_image, so several threads may draw disjoint blocks
    // at once.
    void draw(int64_t w0, int64_t w1, int64_t S, float* out) override;
    std::map<std::string, std::string> describe() const override;

    const GaussianPatchModel& model() const { return model_; }
    const ConditionalOptions& options() const { return opt_; }
    // After begin_image, for a prepared window w: its configuration index source·configs +
    // (oz·side + oy)·side + ox with side = 2·pad + 1, configs = side² (images, oz = 0) or side³
    // (volumes) and source 0 for the global Gaussian, 1 + j for the model's j-th fitted cell
    // (location.fitted[j]); so without location conditioning it is (oz·side + oy)·side + ox. And
    // its conditional mean μ_{i|o} (C, kd, k, k).
    int64_t window_config(int64_t w) const;
    const float* window_mean(int64_t w) const;
    // The algebra of configuration `index` (computed now when not cached yet).
    const ConditionalConfig& config(int64_t index);
    // After begin_image: the cell holding window w's centre (0 without location conditioning).
    int64_t window_cell(int64_t w) const;

  private:
    struct Prepared;
    Prepared& prepared(int64_t index);
    ConditionalConfig condition(int64_t index) const;

    GaussianPatchModel model_;
    ConditionalOptions opt_;
    int64_t side_ = 1;                                    // 2·pad + 1
    int64_t configs_ = 1;                                 // side_² (images) or side_³ (volumes)
    int64_t sources_ = 1;                                 // 1 + fitted cells
    std::vector<int32_t> source_of_cell_;                 // (cells) 0: the global Gaussian, 1 + j: fitted cell j
    std::map<int64_t, std::unique_ptr<Prepared>> cache_;  // by configuration index, filled on first use
    std::vector<int32_t> window_cell_;                    // (windows) the cell of each window's centre
    WindowGrid grid_;
    uint64_t seed_ = 0;
    bool ready_ = false;
    int64_t windows_ = 0;              // windows [0, windows_) prepared
    std::vector<int32_t> window_cfg_;  // (windows)
    std::vector<float> means_;         // (windows, C, kd, k, k)
};

}  // namespace pda
