// The conditional sampler (see sampler_conditional.h). Work is split into chunks of rows (windows,
// or window × sample pairs) of one configuration; each chunk gathers its inputs, runs a small
// row-blocked GEMM whose element sums run in one fixed order, and scatters — so a row's values never
// depend on the chunking, the block a caller asks for, or the threads.
#include "engine/sampler_conditional.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include "kernels/philox.h"
#include "pda/error.h"

namespace pda {

namespace {

constexpr int64_t kTileRows = 4, kTileCols = 8;  // the GEMM's register tile
constexpr int64_t kChunkRows = 32;               // rows per task (a multiple of kTileRows)

// y (m, np) = x (m, kk) · b (kk, np), m a multiple of kTileRows, np of kTileCols. With `upper`, b is
// upper triangular and a column tile stops at its last column's diagonal. Every element is the same
// sum over j = 0, 1, ... in the same instructions whatever its row and whatever m, so results do
// not depend on how rows are chunked.
void gemm_rows(const float* x, int64_t m, int64_t kk, const float* b, int64_t np, bool upper, float* y) {
    for (int64_t r0 = 0; r0 < m; r0 += kTileRows)
        for (int64_t c0 = 0; c0 < np; c0 += kTileCols) {
            float acc[kTileRows][kTileCols] = {};
            const int64_t jend = upper ? std::min(kk, c0 + kTileCols) : kk;
            for (int64_t j = 0; j < jend; ++j) {
                const float* bj = b + j * np + c0;
                for (int64_t q = 0; q < kTileRows; ++q) {
                    const float xv = x[(r0 + q) * kk + j];
                    for (int64_t c = 0; c < kTileCols; ++c) acc[q][c] += xv * bj[c];
                }
            }
            for (int64_t q = 0; q < kTileRows; ++q)
                for (int64_t c = 0; c < kTileCols; ++c) y[(r0 + q) * np + c0 + c] = acc[q][c];
        }
}

}  // namespace

// A configuration's algebra in the float layouts the GEMMs read.
struct ConditionalSampler::Prepared {
    ConditionalConfig cfg;
    int64_t dip = 0;                // di rounded up to the GEMM's column tile
    std::vector<float> at;          // (do, dip) Aᵀ, zero-padded columns
    std::vector<float> lt;          // (di, dip) Lᵀ (upper triangular), zero-padded columns
    std::vector<float> mu_i, mu_o;  // (di), (do)
    std::vector<int64_t> ring_off;  // (do) offset of each ring value from the context's corner in (C, [D,] H, W)
    int64_t ring_d = -1, ring_h = -1, ring_w = -1;

    explicit Prepared(ConditionalConfig c) : cfg(std::move(c)) {
        const int64_t di = static_cast<int64_t>(cfg.inner.size()), dr = static_cast<int64_t>(cfg.ring.size());
        dip = (di + kTileCols - 1) / kTileCols * kTileCols;
        at.assign(static_cast<size_t>(dr * dip), 0.0f);
        for (int64_t r = 0; r < di; ++r)
            for (int64_t s = 0; s < dr; ++s) at[s * dip + r] = static_cast<float>(cfg.a[r * dr + s]);
        lt.assign(static_cast<size_t>(di * dip), 0.0f);
        for (int64_t r = 0; r < di; ++r)
            for (int64_t s = 0; s <= r; ++s) lt[s * dip + r] = static_cast<float>(cfg.chol[r * di + s]);
        mu_i.assign(cfg.mean_inner.begin(), cfg.mean_inner.end());
        mu_o.assign(cfg.mean_ring.begin(), cfg.mean_ring.end());
    }
};

namespace {

// out[j] = random_normal(seed, stream, index0 + j) for j < n, bit for bit, computing each Philox
// block once for the four normals it yields.
void fill_normals(uint64_t seed, uint64_t stream, uint64_t index0, int64_t n, float* out) {
    uint64_t group = ~uint64_t{0};
    float radius[2] = {0, 0}, angle[2] = {0, 0};
    for (int64_t j = 0; j < n; ++j) {
        const uint64_t idx = index0 + static_cast<uint64_t>(j);
        if ((idx >> 2) != group) {
            group = idx >> 2;
            Philox4 r = philox4x32_10(static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32),
                                      static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                                      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
            for (int h = 0; h < 2; ++h) {
                radius[h] = sqrtf(-2.0f * logf(philox_uniform(r.v[2 * h])));
                angle[h] = 6.2831853071795864f * philox_uniform(r.v[2 * h + 1]);
            }
        }
        const int h = static_cast<int>((idx >> 1) & 1);
        out[j] = radius[h] * ((idx & 1) ? sinf(angle[h]) : cosf(angle[h]));
    }
}

// Runs body(i) for i < n on OpenMP threads and rethrows the first exception on the calling thread.
template <typename F>
void parallel_for(int64_t n, const F& body) {
    std::exception_ptr err;
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < n; ++i) {
        try {
            body(i);
        } catch (...) {
#pragma omp critical(pda_sampler_error)
            if (!err) err = std::current_exception();
        }
    }
    if (err) std::rethrow_exception(err);
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

}  // namespace

ConditionalSampler::ConditionalSampler(GaussianPatchModel model, const ConditionalOptions& opt)
    : model_(std::move(model)), opt_(opt) {
    check_gaussian_model(model_, opt_.file.empty() ? std::string("conditional sampler") : opt_.file);
    side_ = 2 * model_.pad + 1;
    configs_ = (model_.volume ? side_ : 1) * side_ * side_;
    const LocationCells& loc = model_.location;
    sources_ = 1 + static_cast<int64_t>(loc.fitted.size());
    if (sources_ * configs_ > INT32_MAX) fail_internal("conditional sampler: too many cells × configurations");
    source_of_cell_.assign(static_cast<size_t>(loc.on() ? loc.cells() : 1), 0);
    for (size_t j = 0; j < loc.fitted.size(); ++j)
        source_of_cell_[static_cast<size_t>(loc.fitted[j].cell)] = static_cast<int32_t>(1 + j);
}

ConditionalSampler::~ConditionalSampler() = default;

ConditionalConfig ConditionalSampler::condition(int64_t index) const {
    const int64_t source = index / configs_, g = index % configs_;
    const int64_t oz = g / (side_ * side_), oy = g / side_ % side_, ox = g % side_;
    return source == 0 ? condition_gaussian(model_, oz, oy, ox, opt_.per_channel)
                       : condition_cell(model_, source - 1, oz, oy, ox, opt_.per_channel);
}

ConditionalSampler::Prepared& ConditionalSampler::prepared(int64_t index) {
    if (index < 0 || index >= sources_ * configs_)
        fail_internal("conditional sampler: configuration index out of range");
    const auto found = cache_.find(index);  // draw() only looks up: threads may draw at once
    if (found != cache_.end()) return *found->second;
    auto& slot = cache_[index];
    slot = std::make_unique<Prepared>(condition(index));
    return *slot;
}

const ConditionalConfig& ConditionalSampler::config(int64_t index) { return prepared(index).cfg; }

int64_t ConditionalSampler::window_cell(int64_t w) const {
    if (!ready_ || w < 0 || w >= windows_) fail_internal("conditional sampler: window_cell of a window not prepared");
    return window_cell_[static_cast<size_t>(w)];
}

int64_t ConditionalSampler::window_config(int64_t w) const {
    if (!ready_ || w < 0 || w >= windows_) fail_internal("conditional sampler: window_config of a window not prepared");
    return window_cfg_[static_cast<size_t>(w)];
}

const float* ConditionalSampler::window_mean(int64_t w) const {
    if (!ready_ || w < 0 || w >= windows_) fail_internal("conditional sampler: window_mean of a window not prepared");
    return means_.data() + w * model_.window_dim();
}

void ConditionalSampler::begin_image(ConstTensorView x, const WindowGrid& grid, int64_t windows, uint64_t seed) {
    ready_ = false;
    const int64_t k = model_.k, l = model_.l, pad = model_.pad, C = model_.channels, lz = model_.lz();
    const std::string src = opt_.file.empty() ? "conditional sampler" : opt_.file;
    const int rank = x.shape.rank;
    if (rank == 5 && !model_.volume)
        fail_input(src + ": the Gaussian was fitted on images (l × l × C patches), the input is a volume " +
                   x.shape.str() + "; fit one on volumes");
    if (rank == 4 && model_.volume)
        fail_input(src + ": the Gaussian was fitted on volumes (l × l × l × C patches), the input is an image " +
                   x.shape.str() + "; fit one on images");
    if ((rank != 4 && rank != 5) || x.shape[0] != 1 || x.shape[1] != C)
        fail_input(src + ": fitted for " + std::to_string(C) + " channels, the " +
                   (model_.volume ? "volume" : "image") + " is " + x.shape.str());
    const int64_t D = rank == 5 ? x.shape[2] : 1, H = x.shape[rank - 2], W = x.shape[rank - 1];
    if (grid.depth != D || grid.height != H || grid.width != W)
        fail_internal("conditional sampler: window grid does not match the image");
    if (grid.k != k)
        fail_input(src + ": fitted for k = " + std::to_string(k) + ", the windows have k = " + std::to_string(grid.k));
    if (lz > D || l > H || l > W)
        fail_input(src + ": context l = k + 2·pad = " + std::to_string(l) + " is larger than the " +
                   (model_.volume ? "volume (" + std::to_string(D) + "×" : std::string("image (")) + std::to_string(H) +
                   "×" + std::to_string(W) + ")");
    if (grid.kd() != model_.kz())  // a volume of depth 1 meets the volume model only when l = k = 1
        fail_internal("conditional sampler: window depth does not match the model");
    if (windows < 0 || windows > grid.count())
        fail_internal("conditional sampler: " + std::to_string(windows) + " windows asked of a grid of " +
                      std::to_string(grid.count()));
    const LocationCells& loc = model_.location;
    if (loc.on() && (loc.depth != D || loc.height != H || loc.width != W))
        fail_input(src + ": location-conditioned on cells of a " +
                   (model_.volume ? std::to_string(loc.depth) + "×" : std::string()) + std::to_string(loc.height) +
                   "×" + std::to_string(loc.width) + " grid, the " + (model_.volume ? "volume is " : "image is ") +
                   (model_.volume ? std::to_string(D) + "×" : std::string()) + std::to_string(H) + "×" +
                   std::to_string(W));
    const int64_t nw = windows, di = model_.window_dim();

    // Each window's configuration (the context shifted inside the volume along each axis) and cell
    // (of its centre), and the configurations in use.
    window_cfg_.resize(static_cast<size_t>(nw));
    window_cell_.assign(static_cast<size_t>(nw), 0);
    std::map<int64_t, std::vector<int64_t>> members;
    const int64_t kz = model_.kz();
    for (int64_t w = 0; w < nw; ++w) {
        const int64_t s = grid.slice(w), r = grid.row(w), c = grid.col(w);
        const int64_t oz = s - std::clamp<int64_t>(s - pad, 0, D - lz), oy = r - std::clamp<int64_t>(r - pad, 0, H - l),
                      ox = c - std::clamp<int64_t>(c - pad, 0, W - l);
        int64_t g = (oz * side_ + oy) * side_ + ox;
        if (loc.on()) {
            const int64_t cell = loc.cell_of(s + (kz - 1) / 2, r + (k - 1) / 2, c + (k - 1) / 2);
            window_cell_[static_cast<size_t>(w)] = static_cast<int32_t>(cell);
            g += source_of_cell_[static_cast<size_t>(cell)] * configs_;
        }
        window_cfg_[static_cast<size_t>(w)] = static_cast<int32_t>(g);
        members[g].push_back(w);
    }
    std::vector<int64_t> missing, used;
    for (const auto& group : members) {
        used.push_back(group.first);
        if (!cache_.count(group.first)) missing.push_back(group.first);
    }
    // Configurations are independent: compute them in parallel into a local list, then cache.
    {
        std::vector<ConditionalConfig> cfgs(missing.size());
        parallel_for(static_cast<int64_t>(missing.size()),
                     [&](int64_t i) { cfgs[static_cast<size_t>(i)] = condition(missing[static_cast<size_t>(i)]); });
        for (size_t i = 0; i < missing.size(); ++i) cache_[missing[i]] = std::make_unique<Prepared>(std::move(cfgs[i]));
    }

    // Conditional means: per configuration, chunks of windows gather (x_o − μ_o), one GEMM with Aᵀ,
    // then + μ_i.
    means_.assign(static_cast<size_t>(nw * di), 0.0f);
    const float* img = x.data;
    for (int64_t g : used) {
        Prepared& p = prepared(g);
        const std::vector<int64_t>& ws = members.at(g);
        const int64_t dr = static_cast<int64_t>(p.cfg.ring.size()), n = static_cast<int64_t>(ws.size());
        if (p.ring_d != D || p.ring_h != H || p.ring_w != W) {
            p.ring_off.resize(static_cast<size_t>(dr));
            for (int64_t j = 0; j < dr; ++j) {
                const int64_t idx = p.cfg.ring[j], c = idx / (lz * l * l), z = idx / (l * l) % lz, y = idx / l % l,
                              xx = idx % l;
                p.ring_off[j] = ((c * D + z) * H + y) * W + xx;
            }
            p.ring_d = D;
            p.ring_h = H;
            p.ring_w = W;
        }
        parallel_for((n + kChunkRows - 1) / kChunkRows, [&](int64_t chunk) {
            const int64_t r0 = chunk * kChunkRows, rows = std::min(kChunkRows, n - r0);
            std::vector<float> ring(static_cast<size_t>(kChunkRows * dr), 0.0f),
                mu(static_cast<size_t>(kChunkRows * p.dip));
            for (int64_t q = 0; q < rows; ++q) {
                const int64_t w = ws[r0 + q], sl = grid.slice(w), r = grid.row(w), c = grid.col(w);
                const float* base =
                    img + (std::clamp<int64_t>(sl - pad, 0, D - lz) * H + std::clamp<int64_t>(r - pad, 0, H - l)) * W +
                    std::clamp<int64_t>(c - pad, 0, W - l);
                for (int64_t j = 0; j < dr; ++j) ring[q * dr + j] = base[p.ring_off[j]] - p.mu_o[j];
            }
            gemm_rows(ring.data(), kChunkRows, dr, p.at.data(), p.dip, false, mu.data());
            for (int64_t q = 0; q < rows; ++q) {
                float* dst = means_.data() + ws[r0 + q] * di;
                for (int64_t j = 0; j < di; ++j) dst[j] = mu[q * p.dip + j] + p.mu_i[j];
            }
        });
    }
    grid_ = grid;
    seed_ = seed;
    windows_ = nw;
    ready_ = true;
}

void ConditionalSampler::draw(int64_t w0, int64_t w1, int64_t S, float* out) {
    if (!ready_) fail_internal("conditional sampler: draw before begin_image");
    if (w0 < 0 || w1 < w0 || w1 > windows_ || S < 1)
        fail_internal("conditional sampler: draw(" + std::to_string(w0) + ", " + std::to_string(w1) + ", " +
                      std::to_string(S) + ") outside the " + std::to_string(windows_) + " windows prepared");
    const int64_t kk = model_.kz() * model_.k * model_.k, di = kk * model_.channels;  // kk: values per channel
    // Rows (window, sample) grouped by configuration, in window order.
    std::map<int64_t, std::vector<int64_t>> members;
    for (int64_t w = w0; w < w1; ++w) members[window_cfg_[static_cast<size_t>(w)]].push_back(w);
    for (const auto& group : members) {
        const std::vector<int64_t>& ws = group.second;
        const Prepared& p = prepared(group.first);
        const int64_t n = static_cast<int64_t>(ws.size()) * S;
        parallel_for((n + kChunkRows - 1) / kChunkRows, [&](int64_t chunk) {
            const int64_t r0 = chunk * kChunkRows, rows = std::min(kChunkRows, n - r0);
            std::vector<float> z(static_cast<size_t>(kChunkRows * di), 0.0f),
                y(static_cast<size_t>(kChunkRows * p.dip));
            for (int64_t q = 0; q < rows; ++q) {
                const int64_t w = ws[(r0 + q) / S], s = (r0 + q) % S;
                fill_normals(seed_, static_cast<uint64_t>(w), static_cast<uint64_t>(s * di), di, z.data() + q * di);
            }
            gemm_rows(z.data(), kChunkRows, di, p.lt.data(), p.dip, true, y.data());
            for (int64_t q = 0; q < rows; ++q) {
                const int64_t w = ws[(r0 + q) / S], s = (r0 + q) % S;
                const float* mu = means_.data() + w * di;
                float* dst = out + ((w - w0) * S + s) * di;
                for (int64_t j = 0; j < di; ++j) dst[j] = mu[j] + y[q * p.dip + j];
                if (opt_.clip)
                    for (int64_t j = 0; j < di; ++j) {
                        const int64_t c = j / kk;
                        dst[j] = std::min(std::max(dst[j], model_.min[c]), model_.max[c]);
                    }
            }
        });
    }
}

std::map<std::string, std::string> ConditionalSampler::describe() const {
    std::map<std::string, std::string> d;
    d["sampler"] = "conditional";
    if (!opt_.file.empty()) d["sampler_file"] = opt_.file;
    d["k"] = std::to_string(model_.k);
    d["pad"] = std::to_string(model_.pad);
    d["l"] = std::to_string(model_.l);
    d["channels"] = std::to_string(model_.channels);
    if (model_.volume) d["volume"] = "true";  // l × l × l context, k × k × k windows
    d["per_channel"] = opt_.per_channel ? "true" : "false";
    d["clip"] = opt_.clip ? "true" : "false";
    d["fit_patches"] = std::to_string(model_.patches);
    std::string ridges;
    int64_t computed = 0;
    for (const auto& entry : cache_) {
        ++computed;
        const ConditionalConfig& c = entry.second->cfg;
        if (c.ridge_ring == 0 && c.ridge_cond == 0) continue;
        const int64_t source = entry.first / configs_;
        ridges +=
            (ridges.empty() ? "" : "; ") +
            (source == 0 ? std::string() : "cell " + std::to_string(model_.location.fitted[source - 1].cell) + " ") +
            "(" + (model_.volume ? std::to_string(c.oz) + "," : std::string()) + std::to_string(c.oy) + "," +
            std::to_string(c.ox) + "):";
        if (c.ridge_ring != 0) ridges += " ring +" + fmt(c.ridge_ring);
        if (c.ridge_cond != 0) ridges += " conditional +" + fmt(c.ridge_cond);
    }
    d["configurations"] = std::to_string(computed);
    d["ridge"] = ridges.empty() ? "none" : ridges;
    const LocationCells& loc = model_.location;
    d["location_conditioned"] = loc.on() ? "true" : "false";
    if (!loc.on()) return d;
    // The grid, the cells that fell back to the global Gaussian, and those the prepared windows met.
    auto list = [](const std::vector<int64_t>& v) {
        std::string out;
        for (int64_t c : v) out += (out.empty() ? "" : ",") + std::to_string(c);
        return out;
    };
    const std::vector<int64_t> fallback = loc.fallback();
    d["location_cell"] = std::to_string(loc.cell);
    d["location_grid"] = (model_.volume ? std::to_string(loc.cells_z()) + "×" : std::string()) +
                         std::to_string(loc.cells_y()) + "×" + std::to_string(loc.cells_x());
    d["location_cells"] = std::to_string(loc.cells());
    d["location_min_patches"] = std::to_string(loc.min_patches);
    d["location_fallback_count"] = std::to_string(fallback.size());
    d["location_fallback_cells"] = list(fallback);
    if (ready_) {
        std::vector<char> met(static_cast<size_t>(loc.cells()), 0);
        for (int32_t c : window_cell_) met[static_cast<size_t>(c)] = 1;
        int64_t used = 0, used_fallback = 0;
        for (int64_t c = 0; c < loc.cells(); ++c) {
            used += met[static_cast<size_t>(c)];
            used_fallback += met[static_cast<size_t>(c)] && source_of_cell_[static_cast<size_t>(c)] == 0;
        }
        d["location_cells_used"] = std::to_string(used);
        d["location_fallback_cells_used"] = std::to_string(used_fallback);
    }
    return d;
}

}  // namespace pda
