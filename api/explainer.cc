// pda::Explainer: the public face of api/explain_setup (the same option checks, samplers and run as
// `pda explain`) and api/explain_output (the same files), converting results to standard types.
#include "pda/explainer.h"

#include <omp.h>

#include <chrono>

#include "api/explain_output.h"
#include "api/explain_setup.h"

namespace pda {

struct Explainer::Impl {
    std::unique_ptr<ExplainSession> session;
};

Explainer::Explainer(const std::string& model, const ExplainerOptions& opt, const ModelOptions& model_opt) {
    ExplainConfig c;
    c.sampler = opt.sampler;
    c.sampler_file = opt.sampler_file;
    c.sample_images = opt.sample_images;
    c.fill = opt.fill;
    c.pad = opt.pad;
    c.per_channel = opt.per_channel;
    c.clip = opt.clip;
    c.device = opt.device;
    c.precision = opt.precision;
    c.threads = model_opt.threads;
    c.params.k = opt.k;
    c.params.samples = opt.samples;
    c.params.stride = opt.stride;
    c.params.classes = opt.classes;
    c.params.nodes = opt.nodes;
    c.params.laplace_n = opt.laplace_n;
    c.params.seed = opt.seed;
    c.params.batch = opt.batch;
    c.params.exec = opt.exec;
    CheckedConfig checked = check_config(std::move(c));  // before the model is loaded
    if (model_opt.threads > 0) omp_set_num_threads(model_opt.threads);
    LoadOptions lo;
    lo.preset = model_opt.preset;
    lo.weights = model_opt.weights;
    lo.seed = model_opt.seed;
    impl_ = std::make_unique<Impl>();
    impl_->session = std::make_unique<ExplainSession>(load_model(model, lo), std::move(checked));
}

Explainer::Explainer(Explainer&&) noexcept = default;
Explainer& Explainer::operator=(Explainer&&) noexcept = default;
Explainer::~Explainer() = default;

int64_t Explainer::windows() const { return impl_->session->windows(); }
int64_t Explainer::samples_per_window() const { return impl_->session->samples_per_window(); }

ExplainResult Explainer::explain(const std::string& image_path, const std::string& out_dir,
                                 const std::function<void(int64_t, int64_t)>& progress) {
    ExplainSession& s = *impl_->session;
    if (!out_dir.empty()) check_output_dir(out_dir);
    auto t0 = std::chrono::steady_clock::now();
    ImageExplanation r = s.explain(load_explain_input(s.model(), image_path), progress);
    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string stem = image_stem(image_path);
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

}  // namespace pda
