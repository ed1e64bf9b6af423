// Sidecar JSON, presets, labels and overrides for ModelDesc. Each field has one setter that checks
// its value and names where it came from ("<file>: field \"scale\"" or "override scale=..."), so the
// sidecar reader and the command-line overrides cannot drift apart in what they accept.
#include "io/model_desc.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kernels/utf8.h"
#include "pda/error.h"

namespace pda {
namespace {

using json = nlohmann::json;

// Sizes above this are surely mistakes and would overflow int pixel arithmetic later.
constexpr int64_t kMaxSide = 1 << 16;

std::string fmt(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

// ---- setters shared by the sidecar reader and the overrides; `where` prefixes every message ----

void set_output_kind(ModelDesc& d, const std::string& v, const std::string& where) {
    if (v == "probabilities")
        d.output_kind = ModelDesc::OutputKind::kProbabilities;
    else if (v == "logits")
        d.output_kind = ModelDesc::OutputKind::kLogits;
    else
        fail_input(where + ": unknown output_kind \"" + v + "\" (expected \"probabilities\" or \"logits\")");
}

void set_channel_order(ModelDesc& d, const std::string& v, const std::string& where) {
    if (v == "RGB")
        d.pre.bgr = false;
    else if (v == "BGR")
        d.pre.bgr = true;
    else
        fail_input(where + ": unknown channel_order \"" + v + "\" (expected \"RGB\" or \"BGR\")");
}

void set_crop(ModelDesc& d, const std::string& v, const std::string& where) {
    if (v != "center") fail_input(where + ": unknown crop \"" + v + "\" (expected \"center\")");
    d.pre.crop = v;
}

void set_scale(ModelDesc& d, double v, const std::string& where) {
    if (!std::isfinite(v) || v <= 0) fail_input(where + ": scale must be a number > 0, got " + fmt(v));
    d.pre.scale = static_cast<float>(v);
}

void set_mean(ModelDesc& d, const std::array<double, 3>& v, const std::string& where) {
    for (int c = 0; c < 3; ++c)
        if (!std::isfinite(v[c])) fail_input(where + ": mean[" + std::to_string(c) + "] is not finite");
    for (int c = 0; c < 3; ++c) d.pre.mean[c] = static_cast<float>(v[c]);
}

void set_std(ModelDesc& d, const std::array<double, 3>& v, const std::string& where) {
    for (int c = 0; c < 3; ++c)
        if (!std::isfinite(v[c]) || v[c] <= 0)
            fail_input(where + ": std[" + std::to_string(c) + "] must be > 0, got " + fmt(v[c]));
    for (int c = 0; c < 3; ++c) d.pre.std[c] = static_cast<float>(v[c]);
}

void set_resize_shorter(ModelDesc& d, int64_t v, const std::string& where) {
    if (v < 0 || v > kMaxSide)
        fail_input(where + ": resize_shorter must be 0 (resize to input_size) or a positive size up to " +
                   std::to_string(kMaxSide) + ", got " + std::to_string(v));
    d.pre.resize_shorter = v;
}

void set_input_size(ModelDesc& d, int64_t h, int64_t w, const std::string& where) {
    if (h <= 0 || w <= 0 || h > kMaxSide || w > kMaxSide)
        fail_input(where + ": input_size must be two positive sizes up to " + std::to_string(kMaxSide) + ", got " +
                   std::to_string(h) + "x" + std::to_string(w));
    d.pre.height = h;
    d.pre.width = w;
}

void set_labels(ModelDesc& d, const std::string& path, const std::string& where) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) fail_input(where + ": labels file " + path + " does not exist");
    d.labels = load_labels(path);
    d.labels_path = path;
}

// ---- JSON field readers ----

std::string field_where(const std::string& file, const std::string& key) { return file + ": field \"" + key + "\""; }

std::string json_type(const json& j) { return j.type_name(); }

std::string get_string(const json& j, const std::string& where) {
    if (!j.is_string()) fail_input(where + " must be a string, got " + json_type(j));
    return j.get<std::string>();
}

double get_number(const json& j, const std::string& where) {
    if (!j.is_number()) fail_input(where + " must be a number, got " + json_type(j));
    return j.get<double>();
}

int64_t get_int(const json& j, const std::string& where) {
    // Integral values written as floats (224.0) are accepted; the setters check the range.
    constexpr double kLimit = 4.0e18;
    if (j.is_number_unsigned() && j.get<uint64_t>() <= static_cast<uint64_t>(kLimit)) return j.get<int64_t>();
    if (j.is_number_integer() && !j.is_number_unsigned()) return j.get<int64_t>();
    if (j.is_number_float()) {
        double v = j.get<double>();
        if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) <= kLimit) return static_cast<int64_t>(v);
    }
    fail_input(where + " must be an integer, got " + (j.is_number() ? j.dump() : json_type(j)));
}

std::array<double, 3> get_triple(const json& j, const std::string& where) {
    if (!j.is_array() || j.size() != 3)
        fail_input(where + " must be an array of 3 numbers, got " + (j.is_array() ? j.dump() : json_type(j)));
    std::array<double, 3> v{};
    for (int c = 0; c < 3; ++c) v[c] = get_number(j[c], where + "[" + std::to_string(c) + "]");
    return v;
}

// ---- override value parsers ----

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    size_t e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, const std::string& seps) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || seps.find(s[i]) != std::string::npos) {
            parts.push_back(trim(s.substr(start, i - start)));
            start = i + 1;
        }
    }
    return parts;
}

double parse_number(const std::string& s, const std::string& where) {
    const std::string t = trim(s);
    char* end = nullptr;
    errno = 0;
    double v = t.empty() ? 0.0 : std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
        fail_input(where + ": \"" + s + "\" is not a number");
    return v;
}

int64_t parse_int(const std::string& s, const std::string& where) {
    const std::string t = trim(s);
    char* end = nullptr;
    errno = 0;
    long long v = t.empty() ? 0 : std::strtoll(t.c_str(), &end, 10);
    if (t.empty() || *end != '\0' || errno == ERANGE) fail_input(where + ": \"" + s + "\" is not an integer");
    return v;
}

std::array<double, 3> parse_triple(const std::string& s, const std::string& where) {
    auto parts = split(s, ",");
    if (parts.size() != 3) fail_input(where + ": expected 3 comma-separated numbers \"a,b,c\", got \"" + s + "\"");
    std::array<double, 3> v{};
    for (int c = 0; c < 3; ++c) v[c] = parse_number(parts[c], where);
    return v;
}

}  // namespace

const char* output_kind_name(ModelDesc::OutputKind kind) {
    return kind == ModelDesc::OutputKind::kLogits ? "logits" : "probabilities";
}

// The sidecar of a volume model (see load_sidecar).
static ModelDesc load_volume_sidecar(const json& j, const std::string& json_path) {
    auto where = [&](const char* key) { return field_where(json_path, key); };
    static const char* const kKnown[] = {"kind",        "input",         "output", "output_kind",
                                         "input_shape", "normalization", "labels", "mask"};
    for (const char* key : {"output_kind", "input_shape"})
        if (!j.contains(key)) fail_input(where(key) + " is missing (it is required for a volume model)");
    for (auto it = j.begin(); it != j.end(); ++it)
        if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) == std::end(kKnown))
            fail_input(field_where(json_path, it.key()) +
                       " is unknown for a volume model (known: kind, input, output, output_kind, input_shape, "
                       "normalization, labels, mask)");
    ModelDesc d;
    d.volume = true;
    if (j.contains("input")) d.input = get_string(j["input"], where("input"));
    if (j.contains("output")) d.output = get_string(j["output"], where("output"));
    set_output_kind(d, get_string(j["output_kind"], where("output_kind")), where("output_kind"));
    const json& shape = j["input_shape"];
    if (!shape.is_array() || shape.size() != 4)
        fail_input(where("input_shape") + " must be [channels, depth, height, width], got " +
                   (shape.is_array() ? shape.dump() : json_type(shape)));
    int64_t dims[4];
    for (int i = 0; i < 4; ++i) {
        dims[i] = get_int(shape[i], where("input_shape") + "[" + std::to_string(i) + "]");
        if (dims[i] < 1 || dims[i] > 65536)
            fail_input(where("input_shape") + "[" + std::to_string(i) + "] must be in [1, 65536], got " +
                       std::to_string(dims[i]));
    }
    d.vol.channels = dims[0];
    d.vol.depth = dims[1];
    d.vol.height = dims[2];
    d.vol.width = dims[3];
    if (j.contains("normalization")) {
        const json& n = j["normalization"];
        if (!n.is_object()) fail_input(where("normalization") + " must be {\"mean\": m, \"std\": s}");
        for (auto it = n.begin(); it != n.end(); ++it)
            if (it.key() != "mean" && it.key() != "std")
                fail_input(where("normalization") + "." + it.key() + " is unknown (known: mean, std)");
        if (n.contains("mean"))
            d.vol.mean = static_cast<float>(get_number(n["mean"], where("normalization") + ".mean"));
        if (n.contains("std")) d.vol.std = static_cast<float>(get_number(n["std"], where("normalization") + ".std"));
        if (!std::isfinite(d.vol.mean)) fail_input(where("normalization") + ".mean must be finite");
        if (!(d.vol.std > 0) || !std::isfinite(d.vol.std))
            fail_input(where("normalization") + ".std must be finite and > 0");
    }
    if (j.contains("mask")) {
        std::filesystem::path p(get_string(j["mask"], where("mask")));
        if (p.is_relative()) p = std::filesystem::path(json_path).parent_path() / p;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(p, ec)) fail_input(where("mask") + ": " + p.string() + " does not exist");
        d.vol.mask_path = p.string();
    }
    if (j.contains("labels")) {
        const json& l = j["labels"];
        if (l.is_array()) {
            for (size_t i = 0; i < l.size(); ++i)
                d.labels.push_back(get_string(l[i], where("labels") + "[" + std::to_string(i) + "]"));
            d.labels_path = json_path;
        } else {
            std::filesystem::path p(get_string(l, where("labels")));
            if (p.is_relative()) p = std::filesystem::path(json_path).parent_path() / p;
            set_labels(d, p.string(), where("labels"));
        }
    }
    return d;
}

ModelDesc load_sidecar(const std::string& json_path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(json_path, ec)) fail_input(json_path + ": model sidecar does not exist");
    std::ifstream in(json_path);
    if (!in) fail_input(json_path + ": cannot open model sidecar (" + std::strerror(errno) + ")");
    json j;
    try {
        j = json::parse(in);
    } catch (const json::exception& e) {
        fail_input(json_path + ": invalid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) fail_input(json_path + ": a model sidecar must be a JSON object, got " + json_type(j));

    if (j.contains("kind")) {
        const std::string kind = get_string(j["kind"], field_where(json_path, "kind"));
        if (kind == "volume") return load_volume_sidecar(j, json_path);
        if (kind != "image")
            fail_input(field_where(json_path, "kind") + " must be \"image\" or \"volume\", got \"" + kind + "\"");
        j.erase("kind");
    }
    static const char* const kRequired[] = {"output_kind", "input_size", "resize_shorter", "channel_order", "scale",
                                            "mean",        "std"};
    static const char* const kOptional[] = {"input", "output", "crop", "labels"};
    for (const char* key : kRequired)
        if (!j.contains(key)) fail_input(field_where(json_path, key) + " is missing (it is required)");
    for (auto it = j.begin(); it != j.end(); ++it) {
        bool known = false;
        for (const char* k : kRequired) known = known || it.key() == k;
        for (const char* k : kOptional) known = known || it.key() == k;
        if (!known)
            fail_input(field_where(json_path, it.key()) +
                       " is unknown (known: input, output, output_kind, input_size, resize_shorter, crop, "
                       "channel_order, scale, mean, std, labels)");
    }

    ModelDesc d;
    auto where = [&](const char* key) { return field_where(json_path, key); };
    if (j.contains("input")) d.input = get_string(j["input"], where("input"));
    if (j.contains("output")) d.output = get_string(j["output"], where("output"));
    set_output_kind(d, get_string(j["output_kind"], where("output_kind")), where("output_kind"));

    const json& size = j["input_size"];
    if (!size.is_array() || size.size() != 2)
        fail_input(where("input_size") + " must be [height, width], got " +
                   (size.is_array() ? size.dump() : json_type(size)));
    set_input_size(d, get_int(size[0], where("input_size") + "[0]"), get_int(size[1], where("input_size") + "[1]"),
                   where("input_size"));
    set_resize_shorter(d, get_int(j["resize_shorter"], where("resize_shorter")), where("resize_shorter"));
    if (j.contains("crop")) set_crop(d, get_string(j["crop"], where("crop")), where("crop"));
    set_channel_order(d, get_string(j["channel_order"], where("channel_order")), where("channel_order"));
    set_scale(d, get_number(j["scale"], where("scale")), where("scale"));
    set_mean(d, get_triple(j["mean"], where("mean")), where("mean"));
    set_std(d, get_triple(j["std"], where("std")), where("std"));

    if (j.contains("labels")) {
        std::filesystem::path p(get_string(j["labels"], where("labels")));
        if (p.is_relative()) p = std::filesystem::path(json_path).parent_path() / p;
        set_labels(d, p.string(), where("labels"));
    }
    return d;
}

ModelDesc preset(const std::string& name) {
    ModelDesc d;
    d.pre.height = 224;
    d.pre.width = 224;
    d.pre.resize_shorter = 256;
    d.pre.crop = "center";
    if (name == "caffe") {
        d.output_kind = ModelDesc::OutputKind::kProbabilities;
        d.pre.bgr = true;
        d.pre.scale = 255.0f;
        d.pre.mean = {104.0f, 117.0f, 123.0f};
        d.pre.std = {1.0f, 1.0f, 1.0f};
    } else if (name == "torchvision") {
        d.output_kind = ModelDesc::OutputKind::kLogits;
        d.pre.bgr = false;
        d.pre.scale = 1.0f;
        d.pre.mean = {0.485f, 0.456f, 0.406f};
        d.pre.std = {0.229f, 0.224f, 0.225f};
    } else {
        fail_input("unknown preprocessing preset \"" + name + "\" (expected \"caffe\" or \"torchvision\")");
    }
    return d;
}

std::string sidecar_path(const std::string& onnx_path) {
    std::filesystem::path p(onnx_path);
    p.replace_extension(".json");
    return p.string();
}

std::vector<std::string> load_labels(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) fail_input(path + ": labels file does not exist");
    std::ifstream in(path);
    if (!in) fail_input(path + ": cannot open labels file (" + std::strerror(errno) + ")");
    std::vector<std::string> labels;
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (number == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // a UTF-8 byte order mark
        if (!is_utf8(line))  // labels go into JSON output, which must be UTF-8
            fail_input(path + ": line " + std::to_string(number) + " of the labels file is not UTF-8 text");
        bool synset = line.size() > 9 && line[0] == 'n' && (line[9] == ' ' || line[9] == '\t');
        for (int i = 1; synset && i <= 8; ++i) synset = line[i] >= '0' && line[i] <= '9';
        if (synset) {
            size_t start = line.find_first_not_of(" \t", 9);
            line = start == std::string::npos ? std::string() : line.substr(start);
        }
        labels.push_back(line);
    }
    if (in.bad()) fail_input(path + ": read error");
    while (!labels.empty() && labels.back().empty()) labels.pop_back();
    if (labels.empty()) fail_input(path + ": labels file has no labels");
    return labels;
}

void apply_override(ModelDesc& d, const std::string& key, const std::string& value) {
    const std::string where = "override " + key + "=" + value;
    if (key == "input") {
        d.input = value;
    } else if (key == "output") {
        d.output = value;
    } else if (key == "output_kind") {
        set_output_kind(d, value, where);
    } else if (key == "channel_order") {
        set_channel_order(d, value, where);
    } else if (key == "crop") {
        set_crop(d, value, where);
    } else if (key == "scale") {
        set_scale(d, parse_number(value, where), where);
    } else if (key == "mean") {
        set_mean(d, parse_triple(value, where), where);
    } else if (key == "std") {
        set_std(d, parse_triple(value, where), where);
    } else if (key == "resize_shorter") {
        set_resize_shorter(d, parse_int(value, where), where);
    } else if (key == "input_size") {
        auto parts = split(value, "xX,");
        if (parts.size() != 2) fail_input(where + ": expected \"HxW\" or \"H,W\"");
        set_input_size(d, parse_int(parts[0], where), parse_int(parts[1], where), where);
    } else if (key == "labels") {
        set_labels(d, value, where);
    } else {
        fail_input("unknown model override \"" + key +
                   "\" (known: input, output, output_kind, channel_order, crop, scale, mean, std, resize_shorter, "
                   "input_size, labels)");
    }
}

}  // namespace pda
