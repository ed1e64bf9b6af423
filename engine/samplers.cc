// Occlusion and marginal samplers. Both write whole blocks of windows at once, one window per
// parallel iteration; the marginal choice is a pure function of (seed, window), so the same seed
// gives the same samples whatever the block boundaries or the thread count.
#include "engine/samplers.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "kernels/pda_math.h"

namespace pda {
namespace {

class OcclusionSampler : public Sampler {
  public:
    explicit OcclusionSampler(float fill) : fill_(fill) {}
    std::string name() const override { return "occlusion"; }
    int64_t samples_per_window(int64_t) const override { return 1; }
    void begin_image(ConstTensorView x, const WindowGrid& grid, int64_t, uint64_t) override {
        if ((x.shape.rank != 4 && x.shape.rank != 5) || x.shape[0] != 1)
            fail_input("occlusion: image must be (1, C, H, W) or a volume (1, C, D, H, W), got " + x.shape.str());
        channels_ = x.shape[1];
        grid_ = grid;
    }
    void draw(int64_t w0, int64_t w1, int64_t S, float* out) override {
        const int64_t n = (w1 - w0) * S * grid_.block(channels_, S, w0, 0).patch();
        std::fill(out, out + n, fill_);
    }
    std::map<std::string, std::string> describe() const override {
        std::ostringstream f;
        f << fill_;
        return {{"sampler", "occlusion"}, {"fill", f.str()}};
    }

  private:
    float fill_;
    int64_t channels_ = 0;
    WindowGrid grid_;
};

class MarginalSampler : public Sampler {
  public:
    MarginalSampler(std::vector<Tensor> set, std::string source) : set_(std::move(set)), source_(std::move(source)) {
        if (set_.empty()) fail_input("marginal sampler: the sample set is empty");
        const Shape& s0 = set_[0].shape();
        if ((s0.rank != 4 && s0.rank != 5) || s0[0] != 1)
            fail_input("marginal sampler: sample images must be (1, C, H, W) or volumes (1, C, D, H, W), got " +
                       s0.str());
        for (size_t i = 1; i < set_.size(); ++i)
            if (set_[i].shape() != s0)
                fail_input("marginal sampler: sample image " + std::to_string(i) + " has shape " +
                           set_[i].shape().str() + ", image 0 has " + s0.str());
    }
    std::string name() const override { return "marginal"; }

    void begin_image(ConstTensorView x, const WindowGrid& grid, int64_t, uint64_t seed) override {
        if (x.shape != set_[0].shape())
            fail_input("marginal sampler: the explained image is " + x.shape.str() + ", the sample images are " +
                       set_[0].shape().str() + " (same preprocessing and size needed)");
        grid_ = grid;
        seed_ = seed;
        eligible_.clear();
        const size_t bytes = sizeof(float) * static_cast<size_t>(x.numel());
        for (size_t i = 0; i < set_.size(); ++i)
            if (std::memcmp(set_[i].data(), x.data, bytes) != 0) eligible_.push_back(static_cast<int64_t>(i));
        excluded_ = static_cast<int64_t>(set_.size() - eligible_.size());
    }

    void draw(int64_t w0, int64_t w1, int64_t S, float* out) override {
        const int64_t n = static_cast<int64_t>(eligible_.size());
        if (S > n)
            fail_input("marginal sampler: " + std::to_string(S) + " samples per window need at least " +
                       std::to_string(S) + " sample images other than the explained one; the set has " +
                       std::to_string(set_.size()) +
                       (excluded_ ? " (" + std::to_string(excluded_) + " equal to the explained image, excluded)"
                                  : std::string()));
        const PdaWindows b = grid_.block(set_[0].shape()[1], S, w0, w1 - w0);  // (C, D, H, W) geometry
        const int64_t patch = b.patch();
#pragma omp parallel
        {
            std::vector<int64_t> pick(static_cast<size_t>(S));
#pragma omp for
            for (int64_t w = w0; w < w1; ++w) {
                pda_choose_distinct(seed_, static_cast<uint64_t>(w), n, S, pick.data());
                const int64_t slice = b.slice(w), row = b.row(w), col = b.col(w);
                for (int64_t j = 0; j < S; ++j) {
                    const float* src = set_[eligible_[pick[j]]].data();
                    float* dst = out + ((w - w0) * S + j) * patch;
                    for (int64_t e = 0; e < patch; ++e) dst[e] = src[pda_window_offset(e, b, slice, row, col)];
                }
            }
        }
    }

    std::map<std::string, std::string> describe() const override {
        return {{"sampler", "marginal"},
                {"sample_images", std::to_string(set_.size())},
                {"excluded_equal_to_image", std::to_string(excluded_)},
                {"source", source_}};
    }

  private:
    std::vector<Tensor> set_;
    std::string source_;
    WindowGrid grid_;
    uint64_t seed_ = 0;
    std::vector<int64_t> eligible_;  // indices into set_ of the images that may be drawn
    int64_t excluded_ = 0;
};

}  // namespace

std::unique_ptr<Sampler> make_occlusion_sampler(float fill) { return std::make_unique<OcclusionSampler>(fill); }

std::unique_ptr<Sampler> make_marginal_sampler(std::vector<Tensor> sample_set, std::string source) {
    return std::make_unique<MarginalSampler>(std::move(sample_set), std::move(source));
}

std::vector<int64_t> marginal_choice(uint64_t seed, int64_t window, int64_t eligible, int64_t S) {
    if (S < 0 || S > eligible)
        fail_input("marginal_choice: cannot choose " + std::to_string(S) + " of " + std::to_string(eligible));
    std::vector<int64_t> pick(static_cast<size_t>(S));
    pda_choose_distinct(seed, static_cast<uint64_t>(window), eligible, S, pick.data());
    return pick;
}

std::unique_ptr<Sampler> make_basic_sampler(const std::string& kind, BasicSamplerOptions opt) {
    if (kind == "occlusion") return make_occlusion_sampler(opt.fill);
    if (kind == "marginal") return make_marginal_sampler(std::move(opt.sample_set), std::move(opt.source));
    fail_input("unknown sampler '" + kind + "' (this factory knows occlusion and marginal)");
}

}  // namespace pda
