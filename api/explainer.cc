// pda::Explainer: the public face of api/explain_setup (the same option checks, samplers and run as
// `pda explain`) and api/explain_output (the same files), over a loaded pda::Model whose graph it
// shares, converting results to standard types.
#include "pda/explainer.h"

#include <chrono>

#include "api/explain_output.h"
#include "api/explain_setup.h"
#include "api/model_impl.h"
#include "engine/cpu/threads.h"

namespace pda {

struct Explainer::Impl {
    std::unique_ptr<ExplainSession> session;
    int threads = 0;
};

Explainer::Explainer(const Model& model, const ExplainerOptions& opt) {
    const Model::Impl& m = *model.impl_;
    ExplainConfig c;
    c.sampler = opt.sampler;
    c.sampler_file = opt.sampler_file;
    c.sample_images = opt.sample_images;
    c.fill = opt.fill;
    c.pad = opt.pad;
    c.per_channel = opt.per_channel;
    c.clip = opt.clip;
    c.device = m.device;
    c.precision = m.opt.precision;
    c.threads = m.opt.threads;
    c.params.k = opt.k;
    c.params.samples = opt.samples;
    c.params.stride = opt.stride;
    c.params.classes = opt.classes;
    c.params.nodes = opt.nodes;
    c.params.laplace_n = opt.laplace_n;
    c.params.seed = opt.seed;
    c.params.batch = opt.batch;
    c.params.exec = opt.exec;
    impl_ = std::make_unique<Impl>();
    impl_->threads = m.opt.threads;
    const CpuThreads threads(impl_->threads);
    impl_->session = std::make_unique<ExplainSession>(m.m, check_config(std::move(c)));
}

Explainer::Explainer(const std::string& model, const ExplainerOptions& opt, const ModelOptions& model_opt)
    : Explainer(Model::load(model, model_opt), opt) {}

Explainer::Explainer(Explainer&&) noexcept = default;
Explainer& Explainer::operator=(Explainer&&) noexcept = default;
Explainer::~Explainer() = default;

int64_t Explainer::windows() const { return impl_->session->windows(); }
int64_t Explainer::samples_per_window() const { return impl_->session->samples_per_window(); }

namespace {

// One explained input through the session, with its summary and standard-type maps; written to
// out_dir/<stem>/ when out_dir is given (checked before the work).
ExplainResult run(ExplainSession& s, int threads, ExplainInput input, const std::string& stem,
                  const std::string& out_dir, const std::function<void(int64_t, int64_t)>& progress) {
    const CpuThreads scope(threads);
    auto t0 = std::chrono::steady_clock::now();
    ImageExplanation r = s.explain(std::move(input), progress);
    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json summary = image_summary(s, r, stem, total);

    ExplainResult out;
    const auto& labels = s.model().desc.labels;
    for (int64_t c : r.e.classes)
        out.classes.push_back(
            {static_cast<int>(c), c < static_cast<int64_t>(labels.size()) ? labels[c] : "", r.e.probabilities.at(c)});
    auto to_map = [](const std::string& name, const Tensor& t) {
        return Map{name, t.shape().vec(), std::vector<float>(t.data(), t.data() + t.numel())};
    };
    out.relevance = to_map("relevance", r.e.relevance);
    out.counts = to_map("counts", r.e.counts);
    for (const auto& [name, t] : r.e.node_maps) out.nodes.push_back(to_map(name, t));
    out.uncovered = r.e.uncovered;
    out.summary_json = summary.dump(2);
    if (!out_dir.empty()) out.folder = write_image_result(out_dir, stem, summary, r);
    return out;
}

}  // namespace

ExplainResult Explainer::explain(const std::string& image_path, const std::string& out_dir,
                                 const std::function<void(int64_t, int64_t)>& progress) {
    if (!out_dir.empty()) check_output_dir(out_dir);
    ExplainSession& s = *impl_->session;
    return run(s, impl_->threads, load_explain_input(s.model(), image_path), image_stem(image_path), out_dir, progress);
}

ExplainResult Explainer::explain(const RgbImage& image, const std::string& out_dir,
                                 const std::function<void(int64_t, int64_t)>& progress) {
    if (!image.pixels || image.height < 1 || image.width < 1)
        fail_input("an RGB image needs pixels and a positive size, got " + std::to_string(image.height) + "×" +
                   std::to_string(image.width));
    if (!out_dir.empty()) check_output_dir(out_dir);
    Image photo;
    photo.height = image.height;
    photo.width = image.width;
    photo.rgb.assign(image.pixels, image.pixels + static_cast<size_t>(image.height) * image.width * 3);
    ExplainSession& s = *impl_->session;
    return run(s, impl_->threads, make_explain_input(s.model(), image.name, photo), image_stem(image.name), out_dir,
               progress);
}

ExplainResult Explainer::explain_preprocessed(const float* chw, int64_t count, const std::string& name,
                                              const std::string& out_dir,
                                              const std::function<void(int64_t, int64_t)>& progress) {
    ExplainSession& s = *impl_->session;
    const Shape& in = s.model().input_shape;  // (1, C, H, W)
    if (!chw || count != in.numel())
        fail_input("a preprocessed image for " + s.model().spec + " is " + Shape{in[1], in[2], in[3]}.str() + " = " +
                   std::to_string(in.numel()) + " floats, got " + std::to_string(count));
    if (!out_dir.empty()) check_output_dir(out_dir);
    return run(s, impl_->threads, make_explain_input(s.model(), name, ConstTensorView(chw, in)), image_stem(name),
               out_dir, progress);
}

}  // namespace pda
