// Sampler file reader and writer (see sampler_file.h and docs/sampler-file.md). Every byte read is
// validated before use: the header's sizes decide the exact file length, so a truncated or padded
// file is refused before anything large is allocated. Writes the oldest version that holds the model
// (1 for images, byte for byte as before volumes; 2 for volumes; 3 for location-conditioned models)
// and reads all three.
#include "io/sampler_file.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pda/build_info.h"
#include "pda/error.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sampler files are little-endian; this reader assumes a little-endian host"
#endif

namespace pda {
namespace {

constexpr char kMagic[8] = {'P', 'D', 'A', 'S', 'A', 'M', 'P', '1'};
constexpr uint64_t kMaxHeader = 16u << 20;
// 3: the `location` block and the cells' Gaussians after the global one (location conditioning);
// 2: the `volume` and `lz` fields (volumes); 1: images only.
constexpr int64_t kVersion = 3;

bool close_enough(double a, double b) { return std::fabs(a - b) <= 1e-6 * std::max({1.0, std::fabs(a), std::fabs(b)}); }

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string triple(const std::array<float, 3>& a) { return num(a[0]) + "," + num(a[1]) + "," + num(a[2]); }

// A required header field of the given JSON type, else an input error naming the file.
const nlohmann::json& field(const nlohmann::json& j, const char* key, const std::string& path,
                            nlohmann::json::value_t type) {
    auto it = j.find(key);
    const bool numeric_ok = type == nlohmann::json::value_t::number_float && it != j.end() && it->is_number();
    const bool int_ok = type == nlohmann::json::value_t::number_integer && it != j.end() && it->is_number_integer();
    if (it == j.end() || !(numeric_ok || int_ok || it->type() == type))
        fail_input(path + ": corrupt sampler file header: field '" + key + "' missing or of the wrong type");
    return *it;
}

std::array<float, 3> read_triple(const nlohmann::json& j, const char* key, const std::string& path) {
    const nlohmann::json& a = field(j, key, path, nlohmann::json::value_t::array);
    if (a.size() != 3 || !a[0].is_number() || !a[1].is_number() || !a[2].is_number())
        fail_input(path + ": corrupt sampler file header: '" + key + "' must be 3 numbers");
    return {a[0].get<float>(), a[1].get<float>(), a[2].get<float>()};
}

// A list of integers in the header, else an input error naming the file and the field.
std::vector<int64_t> int_list(const nlohmann::json& j, const char* key, const std::string& path) {
    std::vector<int64_t> out;
    for (const auto& v : field(j, key, path, nlohmann::json::value_t::array)) {
        if (!v.is_number_integer())
            fail_input(path + ": corrupt sampler file header: 'location." + key + "' must be integers");
        out.push_back(v.get<int64_t>());
    }
    return out;
}

// The `location` block of a version 3 header: the grid and which cells have a Gaussian (their data
// is read with the rest); consistency is checked before any cell's data is allocated.
void read_location(const nlohmann::json& h, const std::string& path, GaussianPatchModel& m) {
    using V = nlohmann::json::value_t;
    const nlohmann::json& j = field(h, "location", path, V::object);
    LocationCells& loc = m.location;
    loc.cell = field(j, "cell", path, V::number_integer).get<int64_t>();
    const std::vector<int64_t> extent = int_list(j, "extent", path), grid = int_list(j, "grid", path);
    if (loc.cell < 1 || extent.size() != 3 || grid.size() != 3)
        fail_input(path + ": corrupt sampler file header: 'location' needs cell ≥ 1, extent [D, H, W], grid");
    loc.depth = extent[0];
    loc.height = extent[1];
    loc.width = extent[2];
    loc.min_patches = field(j, "min_patches", path, V::number_integer).get<int64_t>();
    loc.available = int_list(j, "available", path);
    const std::vector<int64_t> fitted = int_list(j, "fitted", path), patches = int_list(j, "fitted_patches", path);
    if (fitted.size() != patches.size())
        fail_input(path + ": corrupt sampler file header: 'location.fitted' and 'fitted_patches' differ in length");
    for (size_t i = 0; i < fitted.size(); ++i) {
        CellGaussian g;
        g.cell = fitted[i];
        g.patches = patches[i];
        loc.fitted.push_back(std::move(g));
    }
    // The grid and cells without their data (check_gaussian_model checks the data once it is read).
    check_location_grid(loc, m.volume, path + ": corrupt sampler file header");
    if (grid != std::vector<int64_t>{loc.cells_z(), loc.cells_y(), loc.cells_x()})
        fail_input(path + ": corrupt sampler file header: 'location.grid' does not match cell and extent");
    if (int_list(j, "fallback", path) != loc.fallback())
        fail_input(path + ": corrupt sampler file header: 'location.fallback' does not list the cells without data");
}

}  // namespace

void write_sampler_file(const std::string& path, const GaussianPatchModel& m, const SamplerFileMeta& meta) {
    const int64_t d = m.dim();
    if (m.k < 1 || m.pad < 0 || m.l != m.k + 2 * m.pad || m.channels < 1 || static_cast<int64_t>(m.mean.size()) != d ||
        static_cast<int64_t>(m.cov.size()) != d * d || static_cast<int64_t>(m.min.size()) != m.channels ||
        static_cast<int64_t>(m.max.size()) != m.channels)
        fail_internal("write_sampler_file: inconsistent model");
    const Preprocess& p = meta.pre;
    const LocationCells& loc = m.location;
    // An image model is written as version 1, which every pda reads; a volume model needs version 2,
    // a location-conditioned model version 3, which older readers refuse rather than misread.
    nlohmann::json h = {
        {"format", "pda-sampler"},
        {"version", loc.on()   ? 3
                    : m.volume ? 2
                               : 1},
        {"kind", "gaussian-patch"},
        {"k", m.k},
        {"pad", m.pad},
        {"l", m.l},
        {"channels", m.channels},
        {"dim", d},
        {"layout", m.volume ? "patch vector index ((c*lz + z)*l + y)*l + x with lz = l; covariance row-major (dim, dim)"
                            : "patch vector index (c*l + y)*l + x; covariance row-major (dim, dim)"},
        {"patches", m.patches},
        {"seed", meta.seed},
        {"max_patches", meta.max_patches},
        {"images", meta.images},
        {"model", meta.model},
        {"created_by", meta.created_by.empty() ? std::string("pda ") + PDA_VERSION_STRING : meta.created_by},
        {"preprocessing",
         {{"input_size", {p.height, p.width}},
          {"resize_shorter", p.resize_shorter},
          {"crop", p.crop},
          {"channel_order", p.bgr ? "BGR" : "RGB"},
          {"scale", p.scale},
          {"mean", p.mean},
          {"std", p.std}}},
        {"data", "float64 mean (dim), float64 cov (dim*dim), float32 min (channels), float32 max (channels)"}};
    if (m.volume || loc.on()) {
        h["volume"] = m.volume;
        h["lz"] = m.lz();
    }
    if (!meta.mask.empty()) {  // informative: which patches the fit took
        h["mask"] = meta.mask;
        h["mask_voxels"] = meta.mask_voxels;
    }
    if (loc.on()) {
        nlohmann::json fitted = nlohmann::json::array(), patches = nlohmann::json::array();
        for (const CellGaussian& g : loc.fitted) {
            fitted.push_back(g.cell);
            patches.push_back(g.patches);
        }
        h["location"] = {{"cell", loc.cell},
                         {"extent", {loc.depth, loc.height, loc.width}},
                         {"grid", {loc.cells_z(), loc.cells_y(), loc.cells_x()}},
                         {"centre", "a patch or window belongs to the cell of its centre voxel"},
                         {"min_patches", loc.min_patches},
                         {"available", loc.available},
                         {"fitted", fitted},
                         {"fitted_patches", patches},
                         {"fallback", loc.fallback()}};
        h["data"] =
            "float64 mean (dim), float64 cov (dim*dim), float32 min (channels), float32 max (channels), "
            "then per fitted cell in location.fitted order: float64 mean (dim), float64 cov (dim*dim)";
    }
    // File names are bytes; one that is not UTF-8 is written with U+FFFD in place of its odd bytes
    // (the names are informative only) rather than failing after the whole fit.
    std::string header = h.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    header.append((8 - (16 + header.size()) % 8) % 8, ' ');  // data starts 8-byte aligned
    const std::string tmp = path + ".tmp";
    bool ok = false;
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (f) {
            const uint64_t len = header.size();
            f.write(kMagic, 8);
            f.write(reinterpret_cast<const char*>(&len), 8);
            f.write(header.data(), static_cast<std::streamsize>(header.size()));
            f.write(reinterpret_cast<const char*>(m.mean.data()), static_cast<std::streamsize>(8 * d));
            f.write(reinterpret_cast<const char*>(m.cov.data()), static_cast<std::streamsize>(8 * d * d));
            f.write(reinterpret_cast<const char*>(m.min.data()), static_cast<std::streamsize>(4 * m.channels));
            f.write(reinterpret_cast<const char*>(m.max.data()), static_cast<std::streamsize>(4 * m.channels));
            for (const CellGaussian& g : loc.fitted) {
                f.write(reinterpret_cast<const char*>(g.mean.data()), static_cast<std::streamsize>(8 * d));
                f.write(reinterpret_cast<const char*>(g.cov.data()), static_cast<std::streamsize>(8 * d * d));
            }
            ok = static_cast<bool>(f.flush());
        }
    }
    std::error_code ec;
    if (!ok) {
        std::filesystem::remove(tmp, ec);
        fail_input(path + ": cannot write the sampler file");
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        fail_input(path + ": cannot rename the sampler file into place: " + ec.message());
    }
}

SamplerFile read_sampler_file(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) fail_input(path + ": no such sampler file");
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) fail_input(path + ": cannot read the sampler file: " + ec.message());
    std::ifstream f(path, std::ios::binary);
    if (!f) fail_input(path + ": cannot open the sampler file");
    char magic[8];
    uint64_t len = 0;
    if (size < 16 || !f.read(magic, 8) || !f.read(reinterpret_cast<char*>(&len), 8))
        fail_input(path + ": truncated sampler file (" + std::to_string(size) + " bytes)");
    if (std::memcmp(magic, kMagic, 8) != 0) fail_input(path + ": not a pda sampler file (magic is not PDASAMP1)");
    if (len > kMaxHeader || len > size - 16) fail_input(path + ": truncated or corrupt sampler file header");
    std::string text(len, '\0');
    if (!f.read(text.data(), static_cast<std::streamsize>(len))) fail_input(path + ": truncated sampler file header");
    nlohmann::json h;
    try {
        h = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
        fail_input(path + ": corrupt sampler file header (not JSON): " + e.what());
    }
    using V = nlohmann::json::value_t;
    if (!h.is_object() || field(h, "format", path, V::string).get<std::string>() != "pda-sampler")
        fail_input(path + ": corrupt sampler file header (format is not pda-sampler)");
    const int64_t version = field(h, "version", path, V::number_integer).get<int64_t>();
    if (version < 1 || version > kVersion)
        fail_input(path + ": sampler file version " + h["version"].dump() + " is not supported (this pda reads 1 to " +
                   std::to_string(kVersion) + ")");

    SamplerFile out;
    GaussianPatchModel& m = out.model;
    SamplerFileMeta& meta = out.meta;
    m.k = field(h, "k", path, V::number_integer).get<int64_t>();
    m.pad = field(h, "pad", path, V::number_integer).get<int64_t>();
    m.l = field(h, "l", path, V::number_integer).get<int64_t>();
    m.channels = field(h, "channels", path, V::number_integer).get<int64_t>();
    m.patches = field(h, "patches", path, V::number_integer).get<int64_t>();
    if (m.k < 1 || m.pad < 0 || m.l != m.k + 2 * m.pad || m.channels < 1)
        fail_input(path + ": corrupt sampler file header (k = " + std::to_string(m.k) +
                   ", pad = " + std::to_string(m.pad) + ", l = " + std::to_string(m.l) +
                   ", channels = " + std::to_string(m.channels) + ")");
    if (version >= 2) {  // version 1 holds images only
        m.volume = field(h, "volume", path, V::boolean).get<bool>();
        const int64_t lz = field(h, "lz", path, V::number_integer).get<int64_t>();
        if (lz != m.lz())
            fail_input(path + ": corrupt sampler file header (lz = " + std::to_string(lz) + " for a model of " +
                       (m.volume ? "volumes with l = " + std::to_string(m.l) : std::string("images")) + ")");
    }
    check_gaussian_dim(m.k, m.pad, m.channels, path, m.volume);
    meta.k = m.k;
    meta.pad = m.pad;
    meta.l = m.l;
    meta.channels = m.channels;
    meta.volume = m.volume;
    meta.seed = field(h, "seed", path, V::number_integer).get<uint64_t>();
    meta.max_patches = field(h, "max_patches", path, V::number_integer).get<int64_t>();
    meta.model = field(h, "model", path, V::string).get<std::string>();
    meta.created_by = field(h, "created_by", path, V::string).get<std::string>();
    for (const auto& name : field(h, "images", path, V::array)) {
        if (!name.is_string()) fail_input(path + ": corrupt sampler file header: 'images' must be file names");
        meta.images.push_back(name.get<std::string>());
    }
    const nlohmann::json& p = field(h, "preprocessing", path, V::object);
    const nlohmann::json& size_field = field(p, "input_size", path, V::array);
    if (size_field.size() != 2 || !size_field[0].is_number_integer() || !size_field[1].is_number_integer())
        fail_input(path + ": corrupt sampler file header: 'input_size' must be [H, W]");
    meta.pre.height = size_field[0].get<int64_t>();
    meta.pre.width = size_field[1].get<int64_t>();
    meta.pre.resize_shorter = field(p, "resize_shorter", path, V::number_integer).get<int64_t>();
    meta.pre.crop = field(p, "crop", path, V::string).get<std::string>();
    const std::string order = field(p, "channel_order", path, V::string).get<std::string>();
    if (order != "RGB" && order != "BGR") fail_input(path + ": corrupt sampler file header: channel_order " + order);
    meta.pre.bgr = order == "BGR";
    meta.pre.scale = field(p, "scale", path, V::number_float).get<float>();
    meta.pre.mean = read_triple(p, "mean", path);
    meta.pre.std = read_triple(p, "std", path);

    if (h.contains("mask")) {
        meta.mask = field(h, "mask", path, V::string).get<std::string>();
        meta.mask_voxels = field(h, "mask_voxels", path, V::number_integer).get<int64_t>();
    }
    if (version >= 3 && h.contains("location")) read_location(h, path, m);
    const uint64_t d = static_cast<uint64_t>(m.dim()), C = static_cast<uint64_t>(m.channels);
    const uint64_t cells = m.location.fitted.size();  // ≤ kMaxCells and d ≤ kMaxGaussianDim: no overflow
    const uint64_t expected = 16 + len + 8 * d + 8 * d * d + 8 * C + cells * (8 * d + 8 * d * d);
    if (size < expected)
        fail_input(path + ": truncated sampler file (" + std::to_string(size) + " bytes, the header says " +
                   std::to_string(expected) + ")");
    if (size > expected)
        fail_input(path + ": corrupt sampler file (" + std::to_string(size - expected) + " unexpected trailing bytes)");
    m.mean.resize(d);
    m.cov.resize(d * d);
    m.min.resize(C);
    m.max.resize(C);
    f.read(reinterpret_cast<char*>(m.mean.data()), static_cast<std::streamsize>(8 * d));
    f.read(reinterpret_cast<char*>(m.cov.data()), static_cast<std::streamsize>(8 * d * d));
    f.read(reinterpret_cast<char*>(m.min.data()), static_cast<std::streamsize>(4 * C));
    f.read(reinterpret_cast<char*>(m.max.data()), static_cast<std::streamsize>(4 * C));
    for (CellGaussian& g : m.location.fitted) {
        g.mean.resize(d);
        g.cov.resize(d * d);
        f.read(reinterpret_cast<char*>(g.mean.data()), static_cast<std::streamsize>(8 * d));
        f.read(reinterpret_cast<char*>(g.cov.data()), static_cast<std::streamsize>(8 * d * d));
    }
    if (!f) fail_input(path + ": truncated sampler file (read failed)");
    check_gaussian_model(m, path + ": corrupt sampler file");
    return out;
}

void check_sampler_matches(const SamplerFileMeta& meta, const Preprocess& pre, int64_t channels, int64_t k, int64_t pad,
                           const std::string& file, bool volume) {
    if (meta.volume != volume)
        fail_input(file + ": sampler was fitted on " +
                   (meta.volume ? "volumes (l × l × l patches)" : "images (l × l patches)") +
                   " but this run explains " + (volume ? "a volume" : "an image") +
                   (meta.model.empty() ? "" : " (fitted for model " + meta.model + ")") +
                   "; fit one with pda fit-sampler");
    check_sampler_matches(meta, pre, channels, k, pad, file);
}

void check_sampler_matches(const SamplerFileMeta& meta, const Preprocess& pre, int64_t channels, int64_t k, int64_t pad,
                           const std::string& file) {
    auto refuse = [&](const std::string& what, const std::string& fitted, const std::string& wanted) {
        fail_input(file + ": sampler was fitted for " + what + " " + fitted + " but this run uses " + wanted +
                   (meta.model.empty() ? "" : " (fitted for model " + meta.model + ")") +
                   "; fit one with pda fit-sampler");
    };
    if (meta.channels != channels) refuse("channels", std::to_string(meta.channels), std::to_string(channels));
    if (meta.k != k) refuse("k", std::to_string(meta.k), std::to_string(k));
    if (meta.pad != pad) refuse("pad", std::to_string(meta.pad), std::to_string(pad));
    const Preprocess& f = meta.pre;
    if (f.height != pre.height || f.width != pre.width)
        refuse("input_size", std::to_string(f.height) + "x" + std::to_string(f.width),
               std::to_string(pre.height) + "x" + std::to_string(pre.width));
    if (f.resize_shorter != pre.resize_shorter)
        refuse("resize_shorter", std::to_string(f.resize_shorter), std::to_string(pre.resize_shorter));
    if (f.crop != pre.crop) refuse("crop", f.crop, pre.crop);
    if (f.bgr != pre.bgr) refuse("channel_order", f.bgr ? "BGR" : "RGB", pre.bgr ? "BGR" : "RGB");
    if (!close_enough(f.scale, pre.scale)) refuse("scale", num(f.scale), num(pre.scale));
    for (int c = 0; c < 3; ++c)
        if (!close_enough(f.mean[c], pre.mean[c])) refuse("mean", triple(f.mean), triple(pre.mean));
    for (int c = 0; c < 3; ++c)
        if (!close_enough(f.std[c], pre.std[c])) refuse("std", triple(f.std), triple(pre.std));
}

}  // namespace pda
