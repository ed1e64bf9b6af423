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

constexpr uint64_t kFitStream = 0x6669742d70617463ull;  // "fit-patc": the stream of the patch subset
constexpr int64_t kFitBlock = 4096;                     // patches per GEMM block
constexpr int64_t kFitPanel = 128;                      // rows of Xᵀ X per GEMM (only the lower triangle is computed)

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
    for (int64_t i = 0; i < d; ++i) {
        if (!std::isfinite(m.mean[i])) fail_input(what + ": the mean holds a non-finite value at " + std::to_string(i));
        const double vi = m.cov[i * d + i];
        if (!(vi > 0) || !std::isfinite(vi))
            fail_input(what + ": the covariance's variance " + std::to_string(i) + " is " + number(vi) +
                       " (a fitted covariance has positive, finite variances)");
    }
    for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < i; ++j) {
            const double a = m.cov[i * d + j], b = m.cov[j * d + i];
            if (!std::isfinite(a) || !std::isfinite(b))
                fail_input(what + ": the covariance holds a non-finite value at (" + std::to_string(i) + ", " +
                           std::to_string(j) + ")");
            const double bound = std::sqrt(m.cov[i * d + i] * m.cov[j * d + j]);
            if (std::abs(a - b) > 1e-9 * bound)
                fail_input(what + ": the covariance is not symmetric at (" + std::to_string(i) + ", " +
                           std::to_string(j) + ")");
            if (std::abs(a) > bound * (1 + 1e-9))
                fail_input(what + ": the covariance is not positive semi-definite (|Σ_ij| > sqrt(Σ_ii Σ_jj) at (" +
                           std::to_string(i) + ", " + std::to_string(j) + "))");
        }
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

GaussianPatchModel fit_gaussian(const std::vector<Tensor>& images, int64_t k, int64_t pad, int64_t max_patches,
                                uint64_t seed) {
    if (images.empty()) fail_input("Gaussian fit: no images");
    if (k < 1) fail_input("Gaussian fit: window size k must be ≥ 1, got " + std::to_string(k));
    if (pad < 0) fail_input("Gaussian fit: pad must be ≥ 0, got " + std::to_string(pad));
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

    PatchSource src;
    src.images = &images;
    src.l = l;
    src.lz = lz;
    src.channels = C;
    src.first.assign(1, 0);
    m.min.assign(C, INFINITY);
    m.max.assign(C, -INFINITY);
    for (size_t n = 0; n < images.size(); ++n) {
        const Shape& s = images[n].shape();
        if (s.rank != rank || s[0] != 1 || s[1] != C)
            fail_input("Gaussian fit: " + item + std::to_string(n) + " has shape " + s.str() + ", expected (1, " +
                       std::to_string(C) + (m.volume ? ", D, H, W)" : ", H, W)") + " like " + item + "0");
        const int64_t D = m.volume ? s[2] : 1, H = s[rank - 2], W = s[rank - 1];
        if (D < lz || H < l || W < l)
            fail_input("Gaussian fit: " + item + std::to_string(n) + " (" +
                       (m.volume ? std::to_string(D) + "×" : std::string()) + std::to_string(H) + "×" +
                       std::to_string(W) + ") is smaller than the context l = k + 2·pad = " + std::to_string(l));
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
    check_host_memory(gaussian_fit_bytes(k, pad, C, max_patches > 0 ? std::min(total, max_patches) : total, m.volume),
                      "the Gaussian fit (d = " + std::to_string(d) + ")");

    // The positions: all, or a uniform subset by selection sampling (Knuth's algorithm S), which
    // keeps them in order and draws one seeded number per position.
    std::vector<int64_t> chosen;
    if (max_patches <= 0 || total <= max_patches) {
        chosen.resize(total);
        for (int64_t t = 0; t < total; ++t) chosen[t] = t;
    } else {
        chosen.reserve(max_patches);
        int64_t needed = max_patches;
        for (int64_t t = 0; t < total && needed > 0; ++t) {
            const double u = (static_cast<double>(random_u32(seed, kFitStream, t)) + 0.5) / 4294967296.0;
            if (u * static_cast<double>(total - t) < static_cast<double>(needed)) {
                chosen.push_back(t);
                --needed;
            }
        }
    }
    const int64_t n = static_cast<int64_t>(chosen.size());
    if (n < 2) fail_input("Gaussian fit: " + std::to_string(n) + " patch(es) is too few (at least 2 are needed)");
    m.patches = n;
    const int64_t blocks = (n + kFitBlock - 1) / kFitBlock;

    // Pass 1: the mean, per block in float64, the blocks summed in order (same result for any threads).
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
    m.mean.assign(d, 0.0);
    for (int64_t b = 0; b < blocks; ++b)
        for (int64_t j = 0; j < d; ++j) m.mean[j] += partial[b * d + j];
    for (double& v : m.mean) v /= static_cast<double>(n);

    // Pass 2: Σ (x − μ)(x − μ)ᵀ, float32 GEMMs Xᵀ X (lower triangle) per block of centred patches, summed in float64.
    std::vector<float> x(static_cast<size_t>(kFitBlock * d)), g(static_cast<size_t>(d * d));
    std::vector<double> acc(static_cast<size_t>(d * d), 0.0);
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t t0 = b * kFitBlock, nb = std::min(n, t0 + kFitBlock) - t0;
#pragma omp parallel for
        for (int64_t r = 0; r < nb; ++r) src.gather(chosen[t0 + r], m.mean.data(), x.data() + r * d);
        // Only the lower triangle is needed: row panel [i0, i0 + rows) against columns [0, i0 + rows).
        for (int64_t i0 = 0; i0 < d; i0 += kFitPanel) {
            const int64_t rows = std::min(kFitPanel, d - i0);
            auto st = dnnl::sgemm('T', 'N', rows, i0 + rows, nb, 1.0f, x.data() + i0, d, x.data(), d, 0.0f,
                                  g.data() + i0 * d, d);
            if (st != dnnl::status::success) fail_internal("Gaussian fit: oneDNN sgemm failed");
        }
#pragma omp parallel for
        for (int64_t i = 0; i < d; ++i)
            for (int64_t j = 0; j <= i; ++j) acc[i * d + j] += g[i * d + j];
    }
    m.cov.assign(static_cast<size_t>(d * d), 0.0);
    const double norm = 1.0 / static_cast<double>(n - 1);
    for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j <= i; ++j) {
            const double v = acc[i * d + j] * norm;
            m.cov[i * d + j] = v;
            m.cov[j * d + i] = v;
        }
    return m;
}

ConditionalConfig condition_gaussian(const GaussianPatchModel& m, int64_t oy, int64_t ox, bool per_channel) {
    return condition_gaussian(m, 0, oy, ox, per_channel);
}

ConditionalConfig condition_gaussian(const GaussianPatchModel& m, int64_t oz, int64_t oy, int64_t ox,
                                     bool per_channel) {
    const int64_t k = m.k, l = m.l, C = m.channels, d = m.dim(), lz = m.lz(), kz = m.kz();
    if (k < 1 || m.pad < 0 || l != k + 2 * m.pad || C < 1)
        fail_input("Gaussian sampler model: inconsistent k = " + std::to_string(k) + ", pad = " +
                   std::to_string(m.pad) + ", l = " + std::to_string(l) + ", channels = " + std::to_string(C));
    if (static_cast<int64_t>(m.mean.size()) != d || static_cast<int64_t>(m.cov.size()) != d * d)
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
        return per_channel && i / ll != j / ll ? 0.0 : m.cov[static_cast<size_t>(i * d + j)];
    };
    for (int64_t i : cfg.inner) cfg.mean_inner.push_back(m.mean[i]);
    for (int64_t i : cfg.ring) cfg.mean_ring.push_back(m.mean[i]);

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

}  // namespace pda
