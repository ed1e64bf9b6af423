// Fitting the Gaussian patch model and the conditional algebra of one context configuration (see
// gaussian.h). The fit is two passes (mean, then centred covariance) with the heavy part, Xᵀ X over
// blocks of patches, on oneDNN's float32 GEMM and every block summed in float64.
#include "engine/gaussian.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <dnnl.hpp>
#include <string>

#include "engine/memory.h"
#include "kernels/philox.h"
#include "pda/error.h"

namespace pda {
namespace {

constexpr uint64_t kFitStream = 0x6669742d70617463ull;   // "fit-patc": the stream of the patch subset
constexpr uint64_t kCellStream = 0x6669742d63656c6cull;  // "fit-cell": the streams of the cells' subsets
constexpr int64_t kFitBlock = 4096;                      // patches per GEMM block
constexpr int64_t kFitPanel = 128;  // rows of Xᵀ X per GEMM (only the lower triangle is computed)

// Where the patches come from: input n has positions (D − lz + 1)·(H − l + 1)·(W − l + 1) (D = lz = 1
// for images), numbered slices outer, then rows; global position t belongs to the input whose range
// [first[n], first[n + 1]) holds it.
struct PatchSource {
    const std::vector<Tensor>* images = nullptr;
    std::vector<int64_t> first;
    int64_t l = 0, lz = 1, channels = 0;

    // Copies patch t, minus `centre` (may be null), into out (d), in (c, z, y, x) order.
    template <typename T>
    void gather(int64_t t, const double* centre, T* out) const {
        const int64_t n = std::upper_bound(first.begin(), first.end(), t) - first.begin() - 1;
        const Tensor& img = (*images)[n];
        const int rank = img.shape().rank;
        const int64_t dd = rank == 5 ? img.shape()[2] : 1, h = img.shape()[rank - 2], w = img.shape()[rank - 1];
        const int64_t cols = w - l + 1, plane = (h - l + 1) * cols;
        const int64_t local = t - first[n], pz = local / plane, py = local % plane / cols, px = local % cols;
        int64_t j = 0;
        for (int64_t c = 0; c < channels; ++c)
            for (int64_t z = 0; z < lz; ++z)
                for (int64_t y = 0; y < l; ++y) {
                    const float* row = img.data() + ((c * dd + pz + z) * h + py + y) * w + px;
                    for (int64_t x = 0; x < l; ++x, ++j)
                        out[j] = static_cast<T>(centre ? static_cast<double>(row[x]) - centre[j] : row[x]);
                }
    }
};

double dot(const double* a, const double* b, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; ++i) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

// Cholesky factor of the (n, n) matrix a, adding a ridge to the diagonal when the plain one fails;
// *ridge receives the ridge used (0 = none). `what` names the matrix in the error.
std::vector<double> factor_with_ridge(const std::vector<double>& a, int64_t n, double* ridge, const char* what) {
    std::vector<double> f = a;
    *ridge = 0;
    if (cholesky_lower(f, n)) return f;
    double md = 0;
    for (int64_t i = 0; i < n; ++i) md += a[i * n + i];
    md /= static_cast<double>(n);
    if (!(md > 0) || !std::isfinite(md)) md = 1.0;
    for (double rel = 1e-6; rel <= 1e2 * 1.0001; rel *= 10) {
        f = a;
        for (int64_t i = 0; i < n; ++i) f[i * n + i] += rel * md;
        if (cholesky_lower(f, n)) {
            *ridge = rel * md;
            return f;
        }
    }
    fail_input(std::string("Gaussian sampler model: ") + what +
               " cannot be factorised even with a ridge of 100 × its mean diagonal (non-finite or corrupt covariance)");
}

}  // namespace

namespace {

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace

double gaussian_fit_bytes(int64_t k, int64_t pad, int64_t channels, int64_t patches, bool volume) {
    const double l = static_cast<double>(k + 2 * pad), n = static_cast<double>(patches);
    const double d = (volume ? l : 1.0) * l * l * static_cast<double>(channels);
    // acc and cov (float64), the block GEMM's result (float32); per block: a float64 partial mean and
    // a float32 block of patches; the chosen positions.
    return 20 * d * d + (n / kFitBlock + 1) * d * 8 + kFitBlock * d * 4 + n * 8;
}

double conditional_sampler_bytes(int64_t k, int64_t pad, int64_t channels, int64_t windows, int threads, bool volume) {
    const double l = static_cast<double>(k + 2 * pad), c = static_cast<double>(channels);
    const double kd = static_cast<double>(k), side = static_cast<double>(2 * pad + 1);
    const double d = (volume ? l : 1.0) * l * l * c, di = (volume ? kd : 1.0) * kd * kd * c, dr = d - di;
    const double configs = (volume ? side : 1.0) * side * side;
    // Per configuration: A in float64 and as float32 Aᵀ, Σ_{i|o} and its factor in float64, Lᵀ in
    // float32. Transient per thread: Σ_oo and its factor.
    const double per_config = dr * di * 12 + di * di * 20 + (dr + di) * 24;
    return d * d * 8 + configs * per_config + static_cast<double>(std::max(threads, 1)) * dr * dr * 16 +
           static_cast<double>(windows) * di * 4;
}

void check_gaussian_dim(int64_t k, int64_t pad, int64_t channels, const std::string& what, bool volume) {
    const int64_t l = k + 2 * pad;
    // Each factor ≤ 3·8192, so l³·C < 2⁶³.
    const bool small = k <= kMaxGaussianDim && pad <= kMaxGaussianDim && channels <= kMaxGaussianDim;
    const int64_t d = small ? (volume ? l : 1) * l * l * channels : 0;
    if (small && d <= kMaxGaussianDim) return;
    fail_input(what + ": the Gaussian over " + (volume ? "l × l × l × C" : "l × l × C") +
               " patches (l = k + 2·pad = " + std::to_string(l) + ", C = " + std::to_string(channels) +
               ") has dimension " + (small ? std::to_string(d) : std::string("far")) + " above the limit of " +
               std::to_string(kMaxGaussianDim));
}

namespace {

// The checks of check_gaussian_model on one Gaussian (mean (d), cov (d, d)); `what` names it.
// zero_ok: variances may be 0 (a cell's voxel that is the same in every patch, such as one outside
// the brain next to a mask's edge; its row and column must then be 0).
void check_moments(const std::vector<double>& mean, const std::vector<double>& cov, int64_t d, const std::string& what,
                   bool zero_ok) {
    for (int64_t i = 0; i < d; ++i) {
        if (!std::isfinite(mean[i])) fail_input(what + ": the mean holds a non-finite value at " + std::to_string(i));
        const double vi = cov[i * d + i];
        if (!(vi > 0 || (zero_ok && vi == 0)) || !std::isfinite(vi))
            fail_input(what + ": the covariance's variance " + std::to_string(i) + " is " + number(vi) +
                       (zero_ok ? " (a fitted cell's variances are finite and ≥ 0)"
                                : " (a fitted covariance has positive, finite variances)"));
    }
    for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < i; ++j) {
            const double a = cov[i * d + j], b = cov[j * d + i];
            if (!std::isfinite(a) || !std::isfinite(b))
                fail_input(what + ": the covariance holds a non-finite value at (" + std::to_string(i) + ", " +
                           std::to_string(j) + ")");
            const double bound = std::sqrt(cov[i * d + i] * cov[j * d + j]);
            if (std::abs(a - b) > 1e-9 * bound)
                fail_input(what + ": the covariance is not symmetric at (" + std::to_string(i) + ", " +
                           std::to_string(j) + ")");
            if (std::abs(a) > bound * (1 + 1e-9))
                fail_input(what + ": the covariance is not positive semi-definite (|Σ_ij| > sqrt(Σ_ii Σ_jj) at (" +
                           std::to_string(i) + ", " + std::to_string(j) + "))");
        }
}

}  // namespace

void check_location_grid(const LocationCells& loc, bool volume, const std::string& what) {
    constexpr int64_t kBig = int64_t{1} << 31;  // bounds every size first, so that no product overflows
    const bool sizes = loc.cell >= 1 && loc.cell <= kBig && loc.depth >= 1 && loc.depth <= kBig && loc.height >= 1 &&
                       loc.height <= kBig && loc.width >= 1 && loc.width <= kBig && (volume || loc.depth == 1) &&
                       loc.cells_z() <= kMaxCells && loc.cells_y() <= kMaxCells && loc.cells_x() <= kMaxCells;
    if (!sizes || loc.cells() > kMaxCells || loc.min_patches < 2)
        fail_input(what + ": inconsistent location cells (cell " + std::to_string(loc.cell) + " over " +
                   std::to_string(loc.depth) + "×" + std::to_string(loc.height) + "×" + std::to_string(loc.width) +
                   ", min_patches " + std::to_string(loc.min_patches) + ")");
    if (static_cast<int64_t>(loc.available.size()) != loc.cells())
        fail_input(what + ": " + std::to_string(loc.available.size()) + " candidate counts for " +
                   std::to_string(loc.cells()) + " cells");
    int64_t previous = -1;
    for (const CellGaussian& g : loc.fitted) {
        const std::string cell = what + ": cell " + std::to_string(g.cell);
        if (g.cell <= previous || g.cell >= loc.cells())
            fail_input(cell + " is out of order or outside the " + std::to_string(loc.cells()) + " cells");
        const int64_t available = loc.available[static_cast<size_t>(g.cell)];
        if (g.patches < 2 || g.patches > available || available < loc.min_patches)
            fail_input(cell + " was fitted on " + std::to_string(g.patches) + " of " + std::to_string(available) +
                       " candidate patches (at least 2, and min_patches " + std::to_string(loc.min_patches) +
                       " candidates)");
        previous = g.cell;
    }
    for (int64_t c : loc.fallback()) {
        const int64_t available = loc.available[static_cast<size_t>(c)];
        if (available >= loc.min_patches || available < 0)
            fail_input(what + ": cell " + std::to_string(c) + " has " + std::to_string(available) +
                       " candidate patches but no Gaussian");
    }
}

void check_gaussian_model(const GaussianPatchModel& m, const std::string& what) {
    check_gaussian_dim(m.k, m.pad, m.channels, what, m.volume);
    const int64_t d = m.dim();
    if (m.k < 1 || m.pad < 0 || m.l != m.k + 2 * m.pad || m.channels < 1 || static_cast<int64_t>(m.mean.size()) != d ||
        static_cast<int64_t>(m.cov.size()) != d * d || static_cast<int64_t>(m.min.size()) != m.channels ||
        static_cast<int64_t>(m.max.size()) != m.channels)
        fail_input(what + ": inconsistent Gaussian patch model (sizes do not match k, pad and channels)");
    for (int64_t c = 0; c < m.channels; ++c)
        if (!std::isfinite(m.min[c]) || !std::isfinite(m.max[c]) || m.min[c] > m.max[c])
            fail_input(what + ": the value range of channel " + std::to_string(c) + " is not finite and ordered");
    check_moments(m.mean, m.cov, d, what, false);
    if (m.location.on()) {
        check_location_grid(m.location, m.volume, what);
        for (const CellGaussian& g : m.location.fitted) {
            const std::string cell = what + ": cell " + std::to_string(g.cell);
            if (static_cast<int64_t>(g.mean.size()) != d || static_cast<int64_t>(g.cov.size()) != d * d)
                fail_input(cell + ": mean/covariance sizes do not match d = " + std::to_string(d));
            check_moments(g.mean, g.cov, d, cell, true);
        }
    } else if (m.location.cell < 0 || !m.location.fitted.empty() || !m.location.available.empty())
        fail_input(what + ": cells without a cell size");
}

bool cholesky_lower(std::vector<double>& a, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        double* ri = a.data() + i * n;
        for (int64_t j = 0; j <= i; ++j) {
            const double* rj = a.data() + j * n;
            const double s = ri[j] - dot(ri, rj, j);
            if (i == j) {
                if (!(s > 0) || !std::isfinite(s)) return false;
                ri[i] = std::sqrt(s);
            } else {
                ri[j] = s / rj[j];
            }
        }
        for (int64_t j = i + 1; j < n; ++j) ri[j] = 0;
    }
    return true;
}

std::vector<int64_t> LocationCells::fallback() const {
    std::vector<int64_t> out;
    size_t j = 0;
    for (int64_t c = 0; c < cells(); ++c) {
        if (j < fitted.size() && fitted[j].cell == c) {
            ++j;
            continue;
        }
        out.push_back(c);
    }
    return out;
}

namespace {

// Picks `want` of the `count` candidates that each(f) visits in increasing position order (all of
// them when want ≤ 0 or count ≤ want) by selection sampling (Knuth's algorithm S): candidate i at
// position t is taken when u(t)·(count − i) < still needed, u(t) one seeded number per position on
// `stream`. Keeps them in order; each(f) stops when f returns false.
template <class Each>
std::vector<int64_t> select_positions(int64_t count, int64_t want, uint64_t seed, uint64_t stream, const Each& each) {
    std::vector<int64_t> chosen;
    if (want <= 0 || count <= want) {
        chosen.reserve(static_cast<size_t>(count));
        each([&](int64_t t) {
            chosen.push_back(t);
            return true;
        });
        return chosen;
    }
    chosen.reserve(static_cast<size_t>(want));
    int64_t needed = want, i = 0;
    each([&](int64_t t) {
        const double u = (static_cast<double>(random_u32(seed, stream, static_cast<uint64_t>(t))) + 0.5) / 4294967296.0;
        if (u * static_cast<double>(count - i) < static_cast<double>(needed)) {
            chosen.push_back(t);
            --needed;
        }
        ++i;
        return needed > 0;
    });
    return chosen;
}

// Mean and covariance (divided by n − 1) of the patches `chosen` (positions, increasing) of src.
// Pass 1: the mean, per block in float64, the blocks summed in order (same result for any threads).
// Pass 2: Σ (x − μ)(x − μ)ᵀ, float32 GEMMs Xᵀ X (lower triangle) per block of centred patches,
// summed in float64.
void fit_moments(const PatchSource& src, const std::vector<int64_t>& chosen, int64_t d, std::vector<double>* mean_out,
                 std::vector<double>* cov_out) {
    const int64_t n = static_cast<int64_t>(chosen.size());
    const int64_t blocks = (n + kFitBlock - 1) / kFitBlock;
    std::vector<double> partial(static_cast<size_t>(blocks * d), 0.0);
#pragma omp parallel for schedule(dynamic)
    for (int64_t b = 0; b < blocks; ++b) {
        std::vector<double> patch(d);
        double* acc = partial.data() + b * d;
        for (int64_t t = b * kFitBlock; t < std::min(n, (b + 1) * kFitBlock); ++t) {
            src.gather(chosen[t], nullptr, patch.data());
            for (int64_t j = 0; j < d; ++j) acc[j] += patch[j];
        }
    }
    std::vector<double>& mean = *mean_out;
    mean.assign(d, 0.0);
    for (int64_t b = 0; b < blocks; ++b)
        for (int64_t j = 0; j < d; ++j) mean[j] += partial[b * d + j];
    for (double& v : mean) v /= static_cast<double>(n);

    std::vector<float> x(static_cast<size_t>(std::min(n, kFitBlock) * d)), g(static_cast<size_t>(d * d));
    std::vector<double> acc(static_cast<size_t>(d * d), 0.0);
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t t0 = b * kFitBlock, nb = std::min(n, t0 + kFitBlock) - t0;
#pragma omp parallel for
        for (int64_t r = 0; r < nb; ++r) src.gather(chosen[t0 + r], mean.data(), x.data() + r * d);
        // Only the lower triangle is needed: row panel [i0, i0 + rows) against columns [0, i0 + rows).
        // One GEMM per thread at a time: a GEMM split over threads may split its sum over the patches
        // (oneDNN 2.6 does below AVX-512), and the fit would then depend on the thread count.
        const int64_t panels = (d + kFitPanel - 1) / kFitPanel;
        bool failed = false;
#pragma omp parallel for schedule(dynamic) reduction(|| : failed)
        for (int64_t pi = 0; pi < panels; ++pi) {
            const int64_t i0 = pi * kFitPanel, rows = std::min(kFitPanel, d - i0);
            failed = failed || dnnl::sgemm('T', 'N', rows, i0 + rows, nb, 1.0f, x.data() + i0, d, x.data(), d, 0.0f,
                                           g.data() + i0 * d, d) != dnnl::status::success;
        }
        if (failed) fail_internal("Gaussian fit: oneDNN sgemm failed");
#pragma omp parallel for
        for (int64_t i = 0; i < d; ++i)
            for (int64_t j = 0; j <= i; ++j) acc[i * d + j] += g[i * d + j];
    }
    std::vector<double>& cov = *cov_out;
    cov.assign(static_cast<size_t>(d * d), 0.0);
    const double norm = 1.0 / static_cast<double>(n - 1);
    for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j <= i; ++j) {
            const double v = acc[i * d + j] * norm;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
}

}  // namespace

GaussianPatchModel fit_gaussian(const std::vector<Tensor>& images, int64_t k, int64_t pad, int64_t max_patches,
                                uint64_t seed) {
    PatchFitOptions opt;
    opt.max_patches = max_patches;
    opt.seed = seed;
    return fit_gaussian(images, k, pad, opt);
}

GaussianPatchModel fit_gaussian(const std::vector<Tensor>& images, int64_t k, int64_t pad, const PatchFitOptions& opt) {
    if (images.empty()) fail_input("Gaussian fit: no images");
    if (k < 1) fail_input("Gaussian fit: window size k must be ≥ 1, got " + std::to_string(k));
    if (pad < 0) fail_input("Gaussian fit: pad must be ≥ 0, got " + std::to_string(pad));
    if (opt.cell < 0)
        fail_input("Gaussian fit: the cell size must be ≥ 0 (0 = no cells), got " + std::to_string(opt.cell));
    GaussianPatchModel m;
    m.k = k;
    m.pad = pad;
    m.l = k + 2 * pad;
    const int64_t l = m.l;
    const int rank = images[0].shape().rank;
    if (rank != 4 && rank != 5)
        fail_input("Gaussian fit: images must be (1, C, H, W) or volumes (1, C, D, H, W), got " +
                   images[0].shape().str());
    m.volume = rank == 5;
    m.channels = images[0].shape()[1];
    check_gaussian_dim(k, pad, m.channels, "Gaussian fit", m.volume);
    const int64_t C = m.channels, d = m.dim(), lz = m.lz();
    const std::string item = m.volume ? "volume " : "image ";
    auto size_of = [&](const Shape& s) {
        return (m.volume ? std::to_string(s[2]) + "×" : std::string()) + std::to_string(s[rank - 2]) + "×" +
               std::to_string(s[rank - 1]);
    };

    PatchSource src;
    src.images = &images;
    src.l = l;
    src.lz = lz;
    src.channels = C;
    src.first.assign(1, 0);
    m.min.assign(C, INFINITY);
    m.max.assign(C, -INFINITY);
    const bool one_grid = opt.mask || opt.cell > 0;  // a mask or cells: every input of the first one's size
    for (size_t n = 0; n < images.size(); ++n) {
        const Shape& s = images[n].shape();
        if (s.rank != rank || s[0] != 1 || s[1] != C)
            fail_input("Gaussian fit: " + item + std::to_string(n) + " has shape " + s.str() + ", expected (1, " +
                       std::to_string(C) + (m.volume ? ", D, H, W)" : ", H, W)") + " like " + item + "0");
        const int64_t D = m.volume ? s[2] : 1, H = s[rank - 2], W = s[rank - 1];
        if (D < lz || H < l || W < l)
            fail_input("Gaussian fit: " + item + std::to_string(n) + " (" + size_of(s) +
                       ") is smaller than the context l = k + 2·pad = " + std::to_string(l));
        if (one_grid && s != images[0].shape())
            fail_input("Gaussian fit: " + item + std::to_string(n) + " is " + size_of(s) + ", " + item + "0 " +
                       size_of(images[0].shape()) + (opt.mask ? "; a mask" : "; cells") +
                       " need every input on one grid");
        src.first.push_back(src.first.back() + (D - lz + 1) * (H - l + 1) * (W - l + 1));
        const int64_t hw = D * H * W;
        for (int64_t c = 0; c < C; ++c) {
            const float* p = images[n].data() + c * hw;
            for (int64_t i = 0; i < hw; ++i) {
                m.min[c] = std::min(m.min[c], p[i]);
                m.max[c] = std::max(m.max[c], p[i]);
            }
        }
    }
    const int64_t total = src.first.back();
    const Shape& s0 = images[0].shape();
    const int64_t D = m.volume ? s0[2] : 1, H = s0[rank - 2], W = s0[rank - 1];
    const int64_t rows = H - l + 1, cols = W - l + 1, per_input = (D - lz + 1) * rows * cols;
    // The centre of the patch with corner (pz, py, px) is (pz + cz0, py + c0, px + c0).
    const int64_t cz0 = (lz - 1) / 2, c0 = (l - 1) / 2;
    const std::vector<uint8_t>* mask = opt.mask;
    if (mask && static_cast<int64_t>(mask->size()) != D * H * W)
        fail_input("Gaussian fit: " + opt.mask_name + " has " + std::to_string(mask->size()) + " voxels, the " +
                   (m.volume ? "volumes " : "images ") + std::to_string(D * H * W) + " (" + size_of(s0) + ")");
    LocationCells& loc = m.location;
    if (opt.cell > 0) {
        loc.cell = opt.cell;
        loc.depth = D;
        loc.height = H;
        loc.width = W;
        if (loc.cells() > kMaxCells)
            fail_input("Gaussian fit: cells of " + std::to_string(opt.cell) + " give " + std::to_string(loc.cells()) +
                       " cells over " + size_of(s0) + ", above the limit of " + std::to_string(kMaxCells));
        loc.min_patches =
            std::max<int64_t>(2, opt.min_cell_patches < 0 ? kMinCellPatchesPerDim * d : opt.min_cell_patches);
    }
    // The candidates of the global fit: every position, or those whose centre the mask holds.
    auto each_candidate = [&](const auto& f) {
        for (int64_t t = 0; t < total; ++t) {
            if (mask) {
                const int64_t local = t % per_input, pz = local / (rows * cols), py = local / cols % rows,
                              px = local % cols;
                if (!(*mask)[static_cast<size_t>(((pz + cz0) * H + py + c0) * W + px + c0)]) continue;
            }
            if (!f(t)) return;
        }
    };
    int64_t candidates = total;
    if (mask) {
        candidates = 0;
        each_candidate([&](int64_t) {
            ++candidates;
            return true;
        });
        if (candidates == 0)
            fail_input("Gaussian fit: no patch centre lies inside " + opt.mask_name + " (centres lie " +
                       std::to_string(cz0) + ".." + std::to_string(D - lz + cz0) + " × " + std::to_string(c0) + ".." +
                       std::to_string(H - l + c0) + " × " + std::to_string(c0) + ".." + std::to_string(W - l + c0) +
                       " for l = " + std::to_string(l) + ")");
    }
    const int64_t fit_n = opt.max_patches > 0 ? std::min(candidates, opt.max_patches) : candidates;
    check_host_memory(gaussian_fit_bytes(k, pad, C, fit_n, m.volume) +
                          (loc.on() ? static_cast<double>(loc.cells()) * static_cast<double>(d * d + d) * 8 : 0.0),
                      "the Gaussian fit (d = " + std::to_string(d) +
                          (loc.on() ? ", " + std::to_string(loc.cells()) + " cells" : std::string()) + ")");

    const std::vector<int64_t> chosen =
        select_positions(candidates, opt.max_patches, opt.seed, kFitStream, each_candidate);
    const int64_t n = static_cast<int64_t>(chosen.size());
    if (n < 2) fail_input("Gaussian fit: " + std::to_string(n) + " patch(es) is too few (at least 2 are needed)");
    m.patches = n;
    fit_moments(src, chosen, d, &m.mean, &m.cov);
    if (!loc.on()) return m;

    // Per cell: its candidates are the corners whose centre lies in the cell (and in the mask), in
    // every input, in position order.
    loc.available.assign(static_cast<size_t>(loc.cells()), 0);
    for (int64_t cz = 0; cz < loc.cells_z(); ++cz)
        for (int64_t cy = 0; cy < loc.cells_y(); ++cy)
            for (int64_t cx = 0; cx < loc.cells_x(); ++cx) {
                const int64_t cell = (cz * loc.cells_y() + cy) * loc.cells_x() + cx, e = opt.cell;
                // Corners along an axis: centre in [c·e, (c + 1)·e) and corner in [0, size − extent].
                auto span = [&](int64_t c, int64_t off, int64_t last) {
                    return std::make_pair(std::max<int64_t>(c * e - off, 0), std::min((c + 1) * e - off, last + 1));
                };
                // (Plain variables: C++17 lambdas cannot capture structured bindings.)
                const std::pair<int64_t, int64_t> sz = span(m.volume ? cz : 0, cz0, D - lz), sy = span(cy, c0, H - l),
                                                  sx = span(cx, c0, W - l);
                const int64_t z0 = sz.first, z1 = sz.second, y0 = sy.first, y1 = sy.second, x0 = sx.first,
                              x1 = sx.second;
                auto each = [&](const auto& f) {
                    for (size_t in = 0; in < images.size(); ++in)
                        for (int64_t pz = z0; pz < z1; ++pz)
                            for (int64_t py = y0; py < y1; ++py)
                                for (int64_t px = x0; px < x1; ++px) {
                                    if (mask && !(*mask)[static_cast<size_t>(((pz + cz0) * H + py + c0) * W + px + c0)])
                                        continue;
                                    if (!f(src.first[in] + (pz * rows + py) * cols + px)) return;
                                }
                };
                int64_t count = 0;
                each([&](int64_t) {
                    ++count;
                    return true;
                });
                loc.available[static_cast<size_t>(cell)] = count;
                if (count < loc.min_patches) continue;
                CellGaussian g;
                g.cell = cell;
                const std::vector<int64_t> picked =
                    select_positions(count, opt.max_patches, opt.seed, kCellStream, each);
                g.patches = static_cast<int64_t>(picked.size());
                fit_moments(src, picked, d, &g.mean, &g.cov);
                loc.fitted.push_back(std::move(g));
            }
    return m;
}

namespace {

// The conditional algebra of configuration (oz, oy, ox) of the Gaussian (mean, covariance) with m's geometry.
ConditionalConfig condition_moments(const GaussianPatchModel& m, const std::vector<double>& mean,
                                    const std::vector<double>& covariance, int64_t oz, int64_t oy, int64_t ox,
                                    bool per_channel) {
    const int64_t k = m.k, l = m.l, C = m.channels, d = m.dim(), lz = m.lz(), kz = m.kz();
    if (k < 1 || m.pad < 0 || l != k + 2 * m.pad || C < 1)
        fail_input("Gaussian sampler model: inconsistent k = " + std::to_string(k) + ", pad = " +
                   std::to_string(m.pad) + ", l = " + std::to_string(l) + ", channels = " + std::to_string(C));
    if (static_cast<int64_t>(mean.size()) != d || static_cast<int64_t>(covariance.size()) != d * d)
        fail_input("Gaussian sampler model: mean/covariance sizes do not match " +
                   std::string(m.volume ? "l·l·l·C = " : "l·l·C = ") + std::to_string(d));
    if (oz < 0 || oy < 0 || ox < 0 || oz > lz - kz || oy > 2 * m.pad || ox > 2 * m.pad)
        fail_internal("context configuration (" + std::to_string(oz) + ", " + std::to_string(oy) + ", " +
                      std::to_string(ox) + ") outside " + (m.volume ? "[0, 2·pad]³" : "{0} × [0, 2·pad]²"));
    ConditionalConfig cfg;
    cfg.oz = oz;
    cfg.oy = oy;
    cfg.ox = ox;
    for (int64_t c = 0; c < C; ++c)
        for (int64_t z = 0; z < lz; ++z)
            for (int64_t y = 0; y < l; ++y)
                for (int64_t x = 0; x < l; ++x) {
                    const bool in = z >= oz && z < oz + kz && y >= oy && y < oy + k && x >= ox && x < ox + k;
                    (in ? cfg.inner : cfg.ring).push_back(((c * lz + z) * l + y) * l + x);
                }
    const int64_t di = static_cast<int64_t>(cfg.inner.size()), dr = static_cast<int64_t>(cfg.ring.size());
    const int64_t ll = lz * l * l;  // patch values per channel
    auto cov = [&](int64_t i, int64_t j) {
        return per_channel && i / ll != j / ll ? 0.0 : covariance[static_cast<size_t>(i * d + j)];
    };
    for (int64_t i : cfg.inner) cfg.mean_inner.push_back(mean[i]);
    for (int64_t i : cfg.ring) cfg.mean_ring.push_back(mean[i]);

    std::vector<double> s_ii(static_cast<size_t>(di * di));
    for (int64_t r = 0; r < di; ++r)
        for (int64_t s = 0; s < di; ++s) s_ii[r * di + s] = cov(cfg.inner[r], cfg.inner[s]);
    if (dr == 0) {
        cfg.cond_cov = s_ii;
    } else {
        std::vector<double> s_oo(static_cast<size_t>(dr * dr)), s_io(static_cast<size_t>(di * dr));
        for (int64_t r = 0; r < dr; ++r)
            for (int64_t s = 0; s < dr; ++s) s_oo[r * dr + s] = cov(cfg.ring[r], cfg.ring[s]);
        for (int64_t r = 0; r < di; ++r)
            for (int64_t s = 0; s < dr; ++s) s_io[r * dr + s] = cov(cfg.inner[r], cfg.ring[s]);
        std::vector<double> lo = factor_with_ridge(s_oo, dr, &cfg.ridge_ring, "the ring covariance Σ_oo");
        std::vector<double> up(static_cast<size_t>(dr * dr));  // Lᵀ, so back substitution reads rows
        for (int64_t r = 0; r < dr; ++r)
            for (int64_t s = 0; s <= r; ++s) up[s * dr + r] = lo[r * dr + s];
        // Row r of A solves Σ_oo a_r = (Σ_io row r): forward with L, backward with Lᵀ.
        cfg.a.assign(static_cast<size_t>(di * dr), 0.0);
        for (int64_t r = 0; r < di; ++r) {
            double* a = cfg.a.data() + r * dr;
            const double* b = s_io.data() + r * dr;
            for (int64_t i = 0; i < dr; ++i) a[i] = (b[i] - dot(lo.data() + i * dr, a, i)) / lo[i * dr + i];
            for (int64_t i = dr - 1; i >= 0; --i)
                a[i] = (a[i] - dot(up.data() + i * dr + i + 1, a + i + 1, dr - i - 1)) / up[i * dr + i];
        }
        // Σ_{i|o} = Σ_ii − A Σ_oi; (A Σ_oi)[r][s] = A row r · Σ_io row s. Symmetric by construction.
        cfg.cond_cov.assign(static_cast<size_t>(di * di), 0.0);
        for (int64_t r = 0; r < di; ++r)
            for (int64_t s = 0; s <= r; ++s) {
                const double v = s_ii[r * di + s] - dot(cfg.a.data() + r * dr, s_io.data() + s * dr, dr);
                cfg.cond_cov[r * di + s] = v;
                cfg.cond_cov[s * di + r] = v;
            }
    }
    cfg.chol = factor_with_ridge(cfg.cond_cov, di, &cfg.ridge_cond, "the conditional covariance Σ_{i|o}");
    return cfg;
}

}  // namespace

ConditionalConfig condition_gaussian(const GaussianPatchModel& m, int64_t oy, int64_t ox, bool per_channel) {
    return condition_gaussian(m, 0, oy, ox, per_channel);
}

ConditionalConfig condition_gaussian(const GaussianPatchModel& m, int64_t oz, int64_t oy, int64_t ox,
                                     bool per_channel) {
    return condition_moments(m, m.mean, m.cov, oz, oy, ox, per_channel);
}

ConditionalConfig condition_cell(const GaussianPatchModel& m, int64_t j, int64_t oz, int64_t oy, int64_t ox,
                                 bool per_channel) {
    if (j < 0 || j >= static_cast<int64_t>(m.location.fitted.size()))
        fail_internal("condition_cell: fitted cell " + std::to_string(j) + " of " +
                      std::to_string(m.location.fitted.size()));
    const CellGaussian& g = m.location.fitted[static_cast<size_t>(j)];
    return condition_moments(m, g.mean, g.cov, oz, oy, ox, per_channel);
}

}  // namespace pda
