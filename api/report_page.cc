// One input's page of a report (api/report.h): its maps read back from the result folders and
// quantised for the page (16 bits for class maps, 8 for volumes and hidden layers: finer than the
// colour scale either way), the photo it explains (found by the path summary.json records), the
// figures at the photo's resolution and the index's thumbnail.
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "api/report.h"
#include "io/figure.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/preprocess.h"
#include "io/volume.h"
#include "io/volume_slices.h"
#include "pda/error.h"

namespace fs = std::filesystem;

namespace pda {
namespace {

constexpr int kPagePhotoSide = 768;  // the photo embedded in a page: enough for a screen
constexpr int kThumbSide = 160;

std::string str(const nlohmann::json& j, const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// A map quantised to `bits` (8 or 16) signed integers of limit / (2^(bits−1) − 1), base64.
nlohmann::json encode_map(const float* v, int64_t n, std::vector<int64_t> shape, int bits, float limit) {
    const double qmax = bits == 16 ? 32767.0 : 127.0;
    std::vector<uint8_t> bytes(static_cast<size_t>(n) * (bits / 8));
    for (int64_t i = 0; i < n; ++i) {
        const double x = std::isfinite(v[i]) && limit > 0 ? std::clamp(v[i] / limit, -1.0f, 1.0f) : 0.0;
        const int q = static_cast<int>(std::lround(x * qmax));
        if (bits == 16) {
            const uint16_t u = static_cast<uint16_t>(static_cast<int16_t>(q));  // little-endian, as browsers read it
            bytes[static_cast<size_t>(i) * 2] = static_cast<uint8_t>(u & 0xff);
            bytes[static_cast<size_t>(i) * 2 + 1] = static_cast<uint8_t>(u >> 8);
        } else {
            bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(static_cast<int8_t>(q));
        }
    }
    return {{"shape", shape},
            {"bits", bits},
            {"limit", limit},
            {"scale", limit > 0 ? limit / qmax : 1.0},
            {"b64", base64(bytes.data(), bytes.size())}};
}

std::string png_data_uri(const Image& img) {
    const std::vector<uint8_t> png = encode_png(img);
    return "data:image/png;base64," + base64(png.data(), png.size());
}

// The run's parameters as the page lists them.
nlohmann::json run_parameters(const nlohmann::json& s) {
    nlohmann::json p = nlohmann::json::object();
    const nlohmann::json& par = s.value("parameters", nlohmann::json::object());
    const nlohmann::json& model = s.value("model", nlohmann::json::object());
    p["model"] = str(model, "spec");
    for (const char* k : {"sampler", "k", "pad", "samples", "stride", "classes", "laplace_n", "seed"})
        if (par.contains(k)) p[k] = par[k];
    if (par.contains("sampler_file") && !str(par, "sampler_file").empty()) p["sampler file"] = par["sampler_file"];
    for (const char* k : {"device", "precision", "execution", "windows", "forward_passes"})
        if (s.contains(k)) p[k] = s[k];
    if (s.contains("timings") && s["timings"].contains("total_s")) p["seconds"] = s["timings"]["total_s"];
    for (const char* k : {"version", "date"})
        if (s.contains(k)) p[k] = s[k];
    return p;
}

nlohmann::json class_entry(const nlohmann::json& c) {
    return {{"id", c.value("id", -1)}, {"label", str(c, "label")}, {"probability", c.value("probability", 0.0)}};
}

// The explained classes a page shows: at most `most`, the most probable first (summary order on ties).
std::vector<size_t> shown_classes(const nlohmann::json& classes, int most) {
    std::vector<size_t> order(classes.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return classes[a].value("probability", 0.0) > classes[b].value("probability", 0.0);
    });
    if (order.size() > static_cast<size_t>(most)) order.resize(static_cast<size_t>(most));
    return order;
}

// The index's line: top classes of the first result, the explained classes, the time.
nlohmann::json index_entry(const ReportItem& item) {
    const nlohmann::json& s = item.results.front().summary;
    nlohmann::json top = nlohmann::json::array(), explained = nlohmann::json::array();
    for (const nlohmann::json& c : s.value("predicted", nlohmann::json::array()))
        if (top.size() < 3) top.push_back(class_entry(c));
    // The five most probable explained classes and their count: the line of a 1000-class run stays short.
    for (size_t i : shown_classes(s["classes"], 5)) explained.push_back(class_entry(s["classes"][i]));
    const double seconds = s.contains("timings") ? s["timings"].value("total_s", 0.0) : 0.0;
    return {{"name", item.name},
            {"kind", item.volume ? "volume" : "image"},
            {"href", "pages/" + item.name + "/index.html"},
            {"thumb", "pages/" + item.name + "/thumb.png"},
            {"top", top},
            {"classes", explained},
            {"explained", s["classes"].size()},
            {"runs", item.results.size()},
            {"seconds", seconds}};
}

Tensor read_map(const ReportResult& r, const std::string& file, bool volume) {
    const fs::path path = r.dir / file;
    if (file.empty() || !fs::is_regular_file(path))
        fail_input(path.string() + ": missing (summary.json names it; the result folder is incomplete)");
    if (volume) return read_volume(path.string()).data;
    return read_npy(path.string());
}

// Hidden layers: per node of summary.json its strongest channels (by max |value|), strongest first,
// at most `most`; each map on the input's grid `grid` ((H, W) or (D, H, W)).
nlohmann::json node_maps(const ReportResult& r, const nlohmann::json& s, const std::vector<int64_t>& grid,
                         int64_t most) {
    const bool volume = grid.size() == 3;
    nlohmann::json nodes = nlohmann::json::array();
    for (const nlohmann::json& n : s.value("nodes", nlohmann::json::array())) {
        const std::string file = str(n, "file");
        const Tensor t = read_map(r, file, volume);  // (units, [D,] H, W)
        std::vector<int64_t> got = t.shape().vec();
        if (got.size() != grid.size() + 1 || !std::equal(grid.begin(), grid.end(), got.begin() + 1)) {
            std::string want = "(units";
            for (int64_t g : grid) want += ", " + std::to_string(g);
            fail_input((r.dir / file).string() + ": holds " + t.shape().str() + ", not " + want + ")");
        }
        const int64_t units = got[0], plane = t.numel() / std::max<int64_t>(units, 1);
        std::vector<float> strength(static_cast<size_t>(units));
        for (int64_t u = 0; u < units; ++u) strength[u] = heatmap_limit(t.data() + u * plane, plane);
        std::vector<int64_t> order(static_cast<size_t>(units));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return strength[a] > strength[b]; });
        const int64_t kept = std::min<int64_t>(units, most);
        nlohmann::json channels = nlohmann::json::array();
        for (int64_t k = 0; k < kept; ++k) {
            const int64_t u = order[k];
            channels.push_back({{"unit", u}, {"map", encode_map(t.data() + u * plane, plane, grid, 8, strength[u])}});
        }
        nodes.push_back({{"name", str(n, "name")}, {"units", units}, {"channels", channels}});
    }
    return nodes;
}

// The photo a result explains, when it can still be read where summary.json says it was: a relative
// path from the current folder, else from the folders above the result (where `pda explain` was
// likely run, with --out below it).
bool load_photo(const std::string& path, const fs::path& result_dir, Image& out) {
    if (path.empty()) return false;
    std::vector<fs::path> tries{path};
    if (fs::path(path).is_relative())
        for (fs::path d = result_dir.parent_path(); !d.empty() && tries.size() < 6; d = d.parent_path()) {
            tries.push_back(d / path);
            if (d == d.root_path()) break;
        }
    for (const fs::path& p : tries) {
        std::error_code ec;
        if (!fs::is_regular_file(p, ec)) continue;
        try {
            out = load_image(p.string());
            return true;
        } catch (const Error&) {
        }
    }
    return false;
}

// Where the map's crop lies in the photo; the whole photo when the recorded preprocessing no longer
// fits it (a photo changed since, or a tensor input).
CropBox crop_box(const nlohmann::json& s, const Image& photo, int64_t h, int64_t w) {
    CropBox whole{0, 0, static_cast<double>(photo.height), static_cast<double>(photo.width)};
    const nlohmann::json& pre = s.value("preprocessing", nlohmann::json::object());
    Preprocess p;
    p.height = h;
    p.width = w;
    p.resize_shorter = pre.value("resize_shorter", int64_t{0});
    try {
        const CropGeometry g = crop_geometry(photo.height, photo.width, p);
        const double fy = static_cast<double>(photo.height) / static_cast<double>(g.resized_height);
        const double fx = static_cast<double>(photo.width) / static_cast<double>(g.resized_width);
        return {static_cast<double>(g.top) * fy, static_cast<double>(g.left) * fx, static_cast<double>(h) * fy,
                static_cast<double>(w) * fx};
    } catch (const Error&) {
        return whole;
    }
}

CropBox scaled(const CropBox& b, double f) { return {b.top * f, b.left * f, b.height * f, b.width * f}; }

std::string figure_name(int64_t cls, size_t run, size_t runs) {
    return "figure-" + std::to_string(cls) + (runs > 1 ? "-run" + std::to_string(run + 1) : "") + ".png";
}

ReportPage image_page(const ReportItem& item, const std::vector<std::string>& labels, const fs::path& folder,
                      const ReportOptions& opt) {
    ReportPage page;
    Image photo;
    std::string photo_path;
    bool found = false;
    for (const ReportResult& r : item.results) {
        photo_path = str(r.summary["image"], "path");
        if ((found = load_photo(photo_path, r.dir, photo))) break;
    }
    if (!found) {  // the maps over mid grey at the crop's size
        const nlohmann::json& im = item.results.front().summary["image"];
        photo.height = static_cast<int>(im.value("height", 0));
        photo.width = static_cast<int>(im.value("width", 0));
        if (photo.height <= 0 || photo.width <= 0) fail_input(item.name + ": summary.json has no image size");
        photo.rgb.assign(static_cast<size_t>(photo.height) * photo.width * 3, 128);
    }
    const Image figure_photo = shrink_to_fit(photo, opt.figure_max_side);
    const Image page_photo = shrink_to_fit(photo, kPagePhotoSide);
    const Image thumb_photo = shrink_to_fit(photo, kThumbSide);
    auto factor = [&](const Image& img) { return static_cast<double>(img.width) / photo.width; };

    nlohmann::json runs = nlohmann::json::array();
    for (size_t ri = 0; ri < item.results.size(); ++ri) {
        const ReportResult& r = item.results[ri];
        const nlohmann::json& s = r.summary;
        const Tensor rel = read_map(r, str(s["relevance"], "file"), false);  // (M, H, W)
        const nlohmann::json& classes = s["classes"];
        if (rel.shape().rank != 3 || rel.shape()[0] != static_cast<int64_t>(classes.size()))
            fail_input((r.dir / str(s["relevance"], "file")).string() + ": holds " + rel.shape().str() +
                       ", not one map per each of the " + std::to_string(classes.size()) + " classes of summary.json");
        const int64_t h = rel.shape()[1], w = rel.shape()[2];
        const CropBox box = found ? crop_box(s, photo, h, w) : CropBox{0, 0, double(photo.height), double(photo.width)};
        nlohmann::json cls = nlohmann::json::array();
        const std::vector<size_t> shown = shown_classes(classes, opt.max_classes);
        for (size_t i : shown) {
            const float* m = rel.data() + static_cast<int64_t>(i) * h * w;
            const float limit = heatmap_limit(m, h * w);
            const int64_t id = classes[i].value("id", int64_t{-1});
            const std::string fig = figure_name(id, ri, item.results.size());
            write_png((folder / fig).string(), relevance_figure(figure_photo, scaled(box, factor(figure_photo)), m, h,
                                                                w, FigureStyle{opt.threshold, limit, "bits"}));
            ++page.figures;
            nlohmann::json c = class_entry(classes[i]);
            c["figure"] = fig;
            c["map"] = encode_map(m, h * w, {h, w}, 16, limit);
            cls.push_back(c);
            if (ri == 0 && i == shown.front()) {  // the thumbnail: the first map over the photo, without its bar
                Image t = relevance_figure(thumb_photo, scaled(box, factor(thumb_photo)), m, h, w,
                                           FigureStyle{opt.threshold, limit, ""});
                Image cut{thumb_photo.height, thumb_photo.width, {}};
                for (int y = 0; y < cut.height; ++y)
                    cut.rgb.insert(cut.rgb.end(), t.rgb.begin() + static_cast<int64_t>(y) * t.width * 3,
                                   t.rgb.begin() + (static_cast<int64_t>(y) * t.width + cut.width) * 3);
                write_png((folder / "thumb.png").string(), cut);
            }
        }
        const nlohmann::json nodes = node_maps(r, s, {h, w}, opt.max_channels);
        const double f = factor(page_photo);
        runs.push_back({{"label", labels[r.run]},
                        {"params", run_parameters(s)},
                        {"crop", {box.left * f, box.top * f, box.width * f, box.height * f}},
                        {"classes", cls},
                        {"explained", classes.size()},
                        {"nodes", nodes}});
    }
    page.data = {{"kind", "image"},
                 {"name", item.name},
                 {"photo",
                  {{"src", png_data_uri(page_photo)},
                   {"width", page_photo.width},
                   {"height", page_photo.height},
                   {"found", found},
                   {"path", photo_path}}},
                 {"runs", runs}};
    return page;
}

// A volume page holds at most this many voxels of hidden-layer maps per node (8 bits each, in the
// page): the strongest channels that fit, at least one.
constexpr int64_t kVolumeNodeVoxels = int64_t(8) << 20;

// The voxel sizes along x, y, z of summary.json's "affine" (row major, as the input's NIfTI header
// gave it); 1 where the summary has no usable affine.
std::array<double, 3> voxel_spacing(const nlohmann::json& volume) {
    const nlohmann::json a = volume.value("affine", nlohmann::json());
    std::array<double, 16> m{};
    if (!a.is_array() || a.size() != 16) return {1, 1, 1};
    for (size_t i = 0; i < 16; ++i) {
        if (!a[i].is_number()) return {1, 1, 1};
        m[i] = a[i].get<double>();
    }
    return affine_spacing(m);
}

ReportPage volume_page(const ReportItem& item, const std::vector<std::string>& labels, const fs::path& folder,
                       const ReportOptions& opt) {
    ReportPage page;
    nlohmann::json runs = nlohmann::json::array();
    std::vector<int64_t> dims;  // (D, H, W) of the first run; the others must match
    std::vector<float> grey;
    bool found = false;
    std::string grey_path;
    std::array<double, 3> spacing{1, 1, 1};  // voxel sizes along x, y, z, so the views keep the anatomy's proportions
    for (size_t ri = 0; ri < item.results.size(); ++ri) {
        const ReportResult& r = item.results[ri];
        const nlohmann::json& s = r.summary;
        const std::string file = str(s["relevance"], "file");
        const Tensor rel = read_map(r, file, true);  // (M, D, H, W)
        if (ri == 0) spacing = voxel_spacing(s["volume"]);
        const nlohmann::json& classes = s["classes"];
        if (rel.shape()[0] != static_cast<int64_t>(classes.size()))
            fail_input((r.dir / file).string() + ": holds " + std::to_string(rel.shape()[0]) +
                       " volumes, summary.json lists " + std::to_string(classes.size()) + " classes");
        const std::vector<int64_t> d{rel.shape()[1], rel.shape()[2], rel.shape()[3]};
        if (dims.empty()) {
            dims = d;
            grey_path = str(s["volume"], "path");
            try {  // the input volume's first channel, when it can still be read and has the grid
                const Volume v = read_volume(grey_path);
                if (v.data.shape()[1] == d[0] && v.data.shape()[2] == d[1] && v.data.shape()[3] == d[2]) {
                    grey.assign(v.data.data(), v.data.data() + d[0] * d[1] * d[2]);
                    found = true;
                }
            } catch (const Error&) {
            }
            if (!found) grey.assign(static_cast<size_t>(d[0] * d[1] * d[2]), 0.f);
        } else if (d != dims) {
            fail_input(item.name + ": the runs' volumes have different grids");
        }
        const int64_t n = d[0] * d[1] * d[2];
        nlohmann::json cls = nlohmann::json::array();
        const std::vector<size_t> shown = shown_classes(classes, opt.max_classes);
        for (size_t i : shown) {
            const float* m = rel.data() + static_cast<int64_t>(i) * n;
            const float limit = heatmap_limit(m, n);
            nlohmann::json c = class_entry(classes[i]);
            c["map"] = encode_map(m, n, d, 8, limit);
            cls.push_back(c);
            if (ri == 0 && i == shown.front())
                write_png((folder / "thumb.png").string(),
                          shrink_to_fit(volume_slice_figure(grey.data(), m, d[0], d[1], d[2], SliceAxis::kZ, d[0] / 2,
                                                            SliceStyle{opt.threshold, 0.f, spacing}),
                                        kThumbSide));
        }
        const int64_t most =  // --channels 0 shows none
            std::min<int64_t>(opt.max_channels, std::max<int64_t>(1, kVolumeNodeVoxels / std::max<int64_t>(n, 1)));
        runs.push_back({{"label", labels[r.run]},
                        {"params", run_parameters(s)},
                        {"classes", cls},
                        {"explained", classes.size()},
                        {"nodes", node_maps(r, s, d, most)}});
    }
    // The grey volume in 8 bits over its own range.
    float lo = INFINITY, hi = -INFINITY;
    for (float g : grey)
        if (std::isfinite(g)) lo = std::min(lo, g), hi = std::max(hi, g);
    std::vector<uint8_t> g8(grey.size());
    for (size_t i = 0; i < grey.size(); ++i)
        g8[i] = hi > lo && std::isfinite(grey[i])
                    ? static_cast<uint8_t>(std::lround(std::clamp((grey[i] - lo) / (hi - lo), 0.f, 1.f) * 255.f))
                    : 0;
    page.data = {
        {"kind", "volume"},
        {"name", item.name},
        {"grey", {{"shape", dims}, {"b64", base64(g8.data(), g8.size())}, {"found", found}, {"path", grey_path}}},
        {"spacing", spacing},
        {"runs", runs}};
    return page;
}

}  // namespace

std::string base64(const uint8_t* bytes, size_t n) {
    static const char* kDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        const uint32_t a = bytes[i], b = i + 1 < n ? bytes[i + 1] : 0, c = i + 2 < n ? bytes[i + 2] : 0;
        const uint32_t v = (a << 16) | (b << 8) | c;
        out += kDigits[(v >> 18) & 63];
        out += kDigits[(v >> 12) & 63];
        out += i + 1 < n ? kDigits[(v >> 6) & 63] : '=';
        out += i + 2 < n ? kDigits[v & 63] : '=';
    }
    return out;
}

ReportPage build_report_page(const ReportItem& item, const std::vector<std::string>& labels, const fs::path& folder,
                             const ReportOptions& opt) {
    ReportPage page = item.volume ? volume_page(item, labels, folder, opt) : image_page(item, labels, folder, opt);
    page.entry = index_entry(item);
    page.data["threshold"] = opt.threshold;
    page.data["shared_scale"] = opt.shared_scale;
    return page;
}

}  // namespace pda
