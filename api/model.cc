// pda::Model, the public API: a loaded model with its fused graph and one compiled CPU program per
// batch size used so far.
#include <algorithm>
#include <map>

#include "api/explain_setup.h"
#include "api/loader.h"
#include "api/model_impl.h"
#include "engine/cpu/threads.h"
#include "engine/cuda_program.h"
#include "engine/explain_common.h"
#include "engine/program.h"
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
    if (opt.threads < 0) fail_input("threads must be ≥ 0, got " + std::to_string(opt.threads));
    auto impl = std::make_unique<Impl>();
    impl->opt = opt;
    impl->device = resolve_device(opt.device);
    if (!impl->device.is_cuda() && opt.precision != Precision::kFp32)
        fail_input(std::string("precision ") + precision_name(opt.precision) +
                   " needs a CUDA device; the CPU backend computes in fp32");
    LoadOptions lo;
    lo.preset = opt.preset;
    lo.weights = opt.weights;
    lo.seed = opt.seed;
    lo.overrides = opt.sidecar;
    const CpuThreads threads(opt.threads);
    impl->m = std::make_shared<LoadedModel>(load_model(model, lo));
    impl->ctx.threads = opt.threads;
    if (impl->device.is_cuda()) impl->cuda = make_cuda_context(impl->device.index);
    return Model(std::move(impl));
}

Device Model::device() const { return impl_->device; }

const std::string& Model::name() const { return impl_->m->spec; }
int Model::channels() const { return static_cast<int>(impl_->m->input_shape[1]); }
int Model::height() const { return static_cast<int>(impl_->m->input_shape[2]); }
int Model::width() const { return static_cast<int>(impl_->m->input_shape[3]); }
int Model::num_classes() const { return static_cast<int>(impl_->m->num_classes); }
const std::vector<std::string>& Model::labels() const { return impl_->m->desc.labels; }

std::vector<float> Model::preprocess(const std::string& image_path) const {
    Tensor t = load_input(*impl_->m, image_path);
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
    if (!prog && impl_->cuda) {
        CudaCompileOptions copt;
        copt.precision = impl_->opt.precision;
        prog = compile_cuda(impl_->fused, {s}, *impl_->cuda, copt);
    } else if (!prog) {
        prog = compile_cpu(impl_->fused, {s}, impl_->ctx);
    }
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
