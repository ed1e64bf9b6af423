// pda::Model, the public API: a loaded model on its backend, with its fused graph and one compiled
// program per batch size used so far; info_json() is what `pda info` shows.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "api/explain_setup.h"
#include "api/loader.h"
#include "api/model_impl.h"
#include "engine/cpu/threads.h"
#include "engine/explain_common.h"
#include "engine/program.h"
#include "io/preprocess.h"
#include "networks/regions.h"
#include "pda/build_info.h"
#include "pda/pda.h"

namespace pda {

std::string version() { return PDA_VERSION_STRING; }

std::string build_info() {
    std::string s = std::string("pda ") + PDA_VERSION_STRING + " (" + PDA_BUILD_TYPE + ", " + PDA_CXX_COMPILER + ")\n";
    s += std::string("oneDNN ") + PDA_DNNL_VERSION + ", ONNX import " + PDA_ONNX_ENABLED + "\n";
    s += std::string("CUDA backend ") + PDA_CUDA_ENABLED;
    if (std::string(PDA_CUDA_ENABLED) == "ON")
        s += std::string(" (nvcc ") + PDA_CUDA_COMPILER_VERSION + ", cuDNN " + PDA_CUDNN_VERSION_STRING + ", sm " +
             PDA_CUDA_ARCHITECTURES + ")";
    return s + "\n";
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& model, const ModelOptions& opt) {
    check_options(opt);
    auto impl = std::make_unique<Impl>();
    impl->opt = opt;
    if (opt.threads > hardware_threads()) impl->opt.threads = hardware_threads();
    LoadOptions lo;
    lo.preset = opt.preset;
    lo.weights = opt.weights;
    lo.seed = opt.seed;
    lo.overrides = opt.sidecar;
    const CpuThreads threads(impl->opt.threads);
    impl->m = std::make_shared<LoadedModel>(load_model(model, lo));
    impl->backend = make_backend(opt);
    return Model(std::move(impl));
}

Device Model::device() const { return impl_->backend->device(); }
Precision Model::precision() const { return impl_->backend->precision(); }
int Model::threads() const { return impl_->opt.threads; }

int hardware_threads() { return cpu_processors(); }

const std::string& Model::name() const { return impl_->m->spec; }
int Model::channels() const { return static_cast<int>(impl_->m->input_shape[1]); }
bool Model::volume() const { return impl_->m->desc.volume; }
int Model::depth() const { return volume() ? static_cast<int>(impl_->m->input_shape[2]) : 1; }
int Model::height() const { return static_cast<int>(impl_->m->input_shape.at(-2)); }
int Model::width() const { return static_cast<int>(impl_->m->input_shape.at(-1)); }
int Model::num_classes() const { return static_cast<int>(impl_->m->num_classes); }
const std::vector<std::string>& Model::labels() const { return impl_->m->desc.labels; }

std::vector<float> Model::preprocess(const std::string& image_path) const {
    Tensor t = load_input(*impl_->m, image_path);
    return std::vector<float>(t.data(), t.data() + t.numel());
}

std::vector<float> Model::preprocess(const RgbImage& image) const {
    const LoadedModel& m = *impl_->m;
    check_rgb_image(image, m);
    Image img;
    img.height = image.height;
    img.width = image.width;
    img.rgb.assign(image.pixels, image.pixels + static_cast<size_t>(image.height) * image.width * 3);
    Tensor t = pda::preprocess(img, m.desc.pre);
    return std::vector<float>(t.data(), t.data() + t.numel());
}

std::vector<float> Model::probabilities(const std::vector<float>& batch, int n) {
    const Shape& in = impl_->m->input_shape;
    int64_t per = in.numel();
    if (n <= 0 || static_cast<int64_t>(batch.size()) != per * n)
        fail_input("batch holds " + std::to_string(batch.size()) + " floats; " + std::to_string(n) + " images of " +
                   in.str() + " need " + std::to_string(per * n));
    const CpuThreads threads(impl_->opt.threads);
    if (!impl_->have_fused) {
        impl_->fused = fused_copy(impl_->m->graph, {impl_->m->desc.output, false}, {});
        impl_->have_fused = true;
    }
    auto& prog = impl_->programs[n];
    Shape s = in;
    s[0] = n;
    if (!prog) prog = impl_->backend->compile(impl_->fused, {s});
    prog->run({ConstTensorView(batch.data(), s)});
    ConstTensorView out = prog->value(impl_->m->desc.output);
    std::vector<float> probs(out.data, out.data + out.numel());
    to_probabilities(impl_->m->desc, probs.data(), n, impl_->m->num_classes);
    return probs;
}

std::vector<Prediction> Model::top(const float* probs, int k) const {
    const auto& labels = impl_->m->desc.labels;
    std::vector<Prediction> out;
    for (int64_t c : top_classes(probs, num_classes(), k))
        out.push_back({static_cast<int>(c), c < static_cast<int64_t>(labels.size()) ? labels[c] : "", probs[c]});
    return out;
}

}  // namespace pda

namespace pda {

std::string Model::info_json(int64_t pda_k) const {
    if (pda_k < 0) fail_input("--pda-k must be ≥ 1, got " + std::to_string(pda_k));
    const LoadedModel& m = *impl_->m;
    const Graph& g = m.graph;
    auto shapes = infer_shapes(g, {m.input_shape});
    const std::string input = m.desc.input.empty() ? g.inputs.at(0).name : m.desc.input;
    CropPlan plan;
    FlopModel model;
    if (pda_k > 0) {  // k × k windows on images, k × k × k on volumes
        for (int a = 2; a < m.input_shape.rank; ++a)
            if (pda_k > m.input_shape[a])
                fail_input("--pda-k " + std::to_string(pda_k) + " is larger than the model's input " +
                           m.input_shape.str());
        plan = crop_plan(g, shapes, input, pda_k);
        model = incremental_flops(g, shapes, plan);
    }
    nlohmann::json nodes = nlohmann::json::array();
    double total_flops = 0;
    int64_t total_params = 0;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        int64_t params = 0;
        for (const std::string& v : n.inputs)
            if (g.is_constant(v)) params += g.constant(v).numel();
        double flops = node_flops(g, n, shapes);
        total_flops += flops;
        total_params += params;
        nodes.push_back({{"name", n.name},
                         {"op", op_name(n.op)},
                         {"output", n.output},
                         {"shape", shapes.at(n.output).vec()},
                         {"params", params},
                         {"mflop", flops / 1e6}});
        if (pda_k > 0) {
            const NodeCrop& c = plan.nodes[i];
            int nd = shapes.at(n.output).spatial_rank();
            nodes.back()["crop"] = std::vector<int64_t>(c.out.begin(), c.out.begin() + std::max(nd, 0));
            nodes.back()["exec"] = !c.changed ? "clean" : c.incremental ? "crop" : "full";
            nodes.back()["mflop_incremental"] = model.per_node[i].second / 1e6;
        }
    }
    const Preprocess& p = m.desc.pre;
    const VolumeInput& v = m.desc.vol;
    const nlohmann::json pre =
        m.desc.volume ? nlohmann::json{{"kind", "volume"}, {"normalization", {{"mean", v.mean}, {"std", v.std}}}}
                      : nlohmann::json{{"resize_shorter", p.resize_shorter},
                                       {"crop", p.crop},
                                       {"channel_order", p.bgr ? "BGR" : "RGB"},
                                       {"scale", p.scale},
                                       {"mean", p.mean},
                                       {"std", p.std}};
    nlohmann::json out = {
        {"model", m.spec},
        {"builtin", m.builtin},
        {"input", {{"name", m.desc.input}, {"shape", m.input_shape.vec()}}},
        {"output",
         {{"name", m.desc.output}, {"kind", output_kind_name(m.desc.output_kind)}, {"classes", m.num_classes}}},
        {"preprocessing", pre},
        {"nodes", nodes},
        {"params", total_params},
        {"gflop", total_flops / 1e9}};
    if (pda_k > 0)
        out["incremental"] = {{"k", pda_k},
                              {"window", std::vector<int64_t>(static_cast<size_t>(m.input_shape.rank - 2), pda_k)},
                              {"crop_size", "largest box over all window positions"},
                              {"full_crop_fraction", kFullCropFraction},
                              {"gflop_full", model.full / 1e9},
                              {"gflop_incremental", model.incremental / 1e9},
                              {"ratio", model.ratio()}};
    return out.dump(2);
}

}  // namespace pda
