// Model loading: resolve the user's MODEL argument to a graph and a model description, and check
// that the two agree (input and output names, input size, class count, labels).
#include "api/loader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "io/preprocess.h"
#include "io/volume.h"
#include "networks/builtin.h"
#include "networks/onnx_import.h"
#include "weights/load_by_name.h"

namespace pda {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_builtin(const std::string& spec) {
    auto names = builtin_names();
    return std::find(names.begin(), names.end(), spec) != names.end();
}

std::string builtin_list() {
    std::string s;
    for (const std::string& n : builtin_names()) s += (s.empty() ? "" : ", ") + n;
    return s;
}

}  // namespace

LoadedModel load_model(const std::string& spec, const LoadOptions& opt) {
    LoadedModel m;
    m.spec = spec;
    bool size_given = false;
    for (const auto& [key, value] : opt.overrides) size_given |= key == "input_size";
    if (is_builtin(spec)) {
        m.builtin = true;
        m.desc = preset(opt.preset.empty() ? "caffe" : opt.preset);
        for (const auto& [key, value] : opt.overrides) apply_override(m.desc, key, value);
        BuildOptions b;
        b.seed = opt.seed;
        b.random_weights = opt.weights.empty();
        if (size_given) {
            if (m.desc.pre.height != m.desc.pre.width) fail_input(spec + ": built-in networks take square inputs");
            b.input_size = m.desc.pre.height;
        }
        m.graph = build_network(spec, b);
        if (!opt.weights.empty()) {
            Graph src = import_onnx(opt.weights);
            load_weights_by_name(m.graph.constants, src.constants, opt.weights);
        }
        // The built-in nets' own input size, unless the user asked for another.
        m.desc.pre.height = m.graph.inputs.at(0).shape[2];
        m.desc.pre.width = m.graph.inputs.at(0).shape[3];
    } else {
        if (!ends_with(spec, ".onnx"))
            fail_input("model '" + spec + "' is neither an .onnx file nor a built-in network (" + builtin_list() + ")");
        if (!opt.weights.empty()) fail_input("--weights applies to built-in networks only, not to " + spec);
        if (!std::filesystem::exists(spec)) fail_input(spec + ": no such file");
        m.graph = import_onnx(spec);
        std::string side = sidecar_path(spec);
        if (!opt.preset.empty())
            m.desc = preset(opt.preset);
        else if (std::filesystem::exists(side))
            m.desc = load_sidecar(side);
        else
            fail_input(spec + ": no sidecar " + side + "; pass --preset caffe or --preset torchvision");
        for (const auto& [key, value] : opt.overrides) apply_override(m.desc, key, value);
        // A preset does not know the model's size: take the graph's unless the user gave one.
        if (!opt.preset.empty() && !size_given && m.graph.inputs.size() == 1 && m.graph.inputs[0].shape.rank == 4) {
            m.desc.pre.height = m.graph.inputs[0].shape[2];
            m.desc.pre.width = m.graph.inputs[0].shape[3];
        }
    }

    // Input: named in the description or the graph's only input; its shape decides the size.
    const Graph& g = m.graph;
    if (m.desc.input.empty()) {
        if (g.inputs.size() != 1) fail_input(spec + ": the graph has several inputs; name one with --input");
        m.desc.input = g.inputs[0].name;
    }
    auto in =
        std::find_if(g.inputs.begin(), g.inputs.end(), [&](const ValueInfo& v) { return v.name == m.desc.input; });
    if (in == g.inputs.end()) fail_input(spec + ": the graph has no input '" + m.desc.input + "'");
    if (g.inputs.size() != 1) fail_input(spec + ": graphs with several inputs are not supported");
    if (m.desc.volume) {
        static const char* const kImageOnly[] = {"channel_order",  "scale",      "mean", "std",
                                                 "resize_shorter", "input_size", "crop"};
        for (const auto& [key, value] : opt.overrides)
            if (std::find(std::begin(kImageOnly), std::end(kImageOnly), key) != std::end(kImageOnly))
                fail_input(spec + ": --" + key + " applies to image models; this is a volume model");
        const VolumeInput& v = m.desc.vol;
        m.input_shape = Shape{1, v.channels, v.depth, v.height, v.width};
        const Shape& s = in->shape;
        bool match = s.rank == 5;
        for (int i = 1; i < 5 && match; ++i) match = s[i] <= 0 || s[i] == m.input_shape[i];
        if (!match)
            fail_input(spec + ": input '" + in->name + "' has shape " + s.str() + "; the sidecar describes volumes " +
                       Shape{v.channels, v.depth, v.height, v.width}.str() + " (N, C, D, H, W)");
    } else if (in->shape.rank != 4 || in->shape[1] != 3) {
        fail_input(spec + ": input '" + in->name + "' has shape " + in->shape.str() + "; expected (N, 3, H, W)" +
                   (in->shape.rank == 5 ? " (a volume model needs a sidecar with \"kind\": \"volume\")" : ""));
    }
    if (!m.desc.volume) m.input_shape = Shape{1, in->shape[1], m.desc.pre.height, m.desc.pre.width};
    if (!m.desc.volume && (m.desc.pre.height != in->shape[2] || m.desc.pre.width != in->shape[3]))
        fail_input(spec + ": the model takes " + std::to_string(in->shape[2]) + "×" + std::to_string(in->shape[3]) +
                   " inputs, the description asks for " + std::to_string(m.desc.pre.height) + "×" +
                   std::to_string(m.desc.pre.width));

    if (m.desc.output.empty()) {
        if (g.outputs.size() != 1) fail_input(spec + ": the graph has several outputs; name one with --output");
        m.desc.output = g.outputs[0];
    }
    auto shapes = infer_shapes(g, {m.input_shape});
    auto out = shapes.find(m.desc.output);
    if (out == shapes.end()) fail_input(spec + ": the graph has no value '" + m.desc.output + "'");
    m.num_classes = out->second.numel();
    if (m.num_classes < 2) fail_input(spec + ": output '" + m.desc.output + "' has " + out->second.str() + " values");
    if (!m.desc.labels.empty() && static_cast<int64_t>(m.desc.labels.size()) != m.num_classes)
        fail_input(spec + ": " + std::to_string(m.desc.labels.size()) + " labels in " + m.desc.labels_path + " but " +
                   std::to_string(m.num_classes) + " classes");
    if (std::find(g.outputs.begin(), g.outputs.end(), m.desc.output) == g.outputs.end())
        m.graph.outputs = {m.desc.output};
    return m;
}

Tensor load_input(const LoadedModel& m, const std::string& path) {
    if (m.desc.volume) return load_volume_input(m, path).data;
    return preprocess(load_image(path), m.desc.pre);
}

Volume load_volume_input(const LoadedModel& m, const std::string& path) {
    Volume v = read_volume(path);
    const VolumeInput& want = m.desc.vol;
    const Shape& s = v.data.shape();  // (C, D, H, W)
    if (s[0] != want.channels || s[1] != want.depth || s[2] != want.height || s[3] != want.width)
        fail_input(path + ": the volume is " + std::to_string(s[3]) + "×" + std::to_string(s[2]) + "×" +
                   std::to_string(s[1]) + " voxels (x×y×z) with " + std::to_string(s[0]) + " channel(s); " + m.spec +
                   " takes " + std::to_string(want.width) + "×" + std::to_string(want.height) + "×" +
                   std::to_string(want.depth) + " with " + std::to_string(want.channels) + " (no resampling is done)");
    Tensor x(Shape{1, s[0], s[1], s[2], s[3]});
    const float* src = v.data.data();
    const double mean = want.mean, inv = 1.0 / static_cast<double>(want.std);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>((src[i] - mean) * inv);
    v.data = std::move(x);
    return v;
}

void check_rgb_image(const RgbImage& image, const LoadedModel& m) {
    if (!image.pixels || image.height < 1 || image.width < 1)
        fail_input("an RGB image needs pixels and a positive size, got " + std::to_string(image.height) + "×" +
                   std::to_string(image.width));
    if (m.desc.volume)
        fail_input(m.spec + " is a volume model: its input is a volume (C × D × H × W), not an RGB image");
}

void to_probabilities(const ModelDesc& desc, float* rows, int64_t n, int64_t k) {
    if (desc.output_kind != ModelDesc::OutputKind::kLogits) return;
    for (int64_t i = 0; i < n; ++i) {
        float* r = rows + i * k;
        float mx = *std::max_element(r, r + k);
        double sum = 0;
        for (int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(r[j]) - mx);
        for (int64_t j = 0; j < k; ++j) r[j] = static_cast<float>(std::exp(static_cast<double>(r[j]) - mx) / sum);
    }
}

std::vector<int64_t> top_classes(const float* probs, int64_t k, int64_t t) {
    t = std::clamp<int64_t>(t, 0, k);
    std::vector<int64_t> idx(k);
    for (int64_t c = 0; c < k; ++c) idx[c] = c;
    std::partial_sort(idx.begin(), idx.begin() + t, idx.end(),
                      [&](int64_t a, int64_t b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });
    idx.resize(t);
    return idx;
}

}  // namespace pda
