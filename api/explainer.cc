// pda::Explainer: the public face of api/explain_setup (option checks, samplers, the run) and
// api/explain_output (the files), over a loaded pda::Model whose graph and backend it shares,
// converting results to standard types. `pda explain` and `pda bench` are built on it.
#include "pda/explainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "api/explain_output.h"
#include "api/explain_setup.h"
#include "api/interrupts.h"
#include "api/model_impl.h"

namespace pda {

struct Explainer::Impl {
    std::unique_ptr<ExplainSession> session;
};

Explainer::Explainer(const Model& model, const ExplainerOptions& opt) : impl_(std::make_unique<Impl>()) {
    const Model::Impl& m = *model.impl_;
    impl_->session = std::make_unique<ExplainSession>(m.m, m.backend, m.opt.threads, opt);
    if (!opt.slices.empty()) {
        if (!m.m->desc.volume) fail_input("--slices applies to volume models; this model takes images");
        const Shape& in = m.m->input_shape;  // (1, C, D, H, W) = (1, C, nz, ny, nx)
        for (const VolumeSlicePick& p : opt.slices) {
            const int64_t n = p.axis == 'x' ? in[4] : p.axis == 'y' ? in[3] : in[2];
            if (p.index >= n)
                fail_input(std::string("--slices ") + p.axis + std::to_string(p.index) + ": the volume has " +
                           std::to_string(n) + " slices across " + p.axis + " (0 to " + std::to_string(n - 1) + ")");
        }
    }
}

Explainer::Explainer(const std::string& model, const ExplainerOptions& opt, const ModelOptions& model_opt)
    : Explainer((check_options(opt), Model::load(model, model_opt)), opt) {}

Explainer::Explainer(Explainer&&) noexcept = default;
Explainer& Explainer::operator=(Explainer&&) noexcept = default;
Explainer::~Explainer() = default;

int64_t Explainer::windows() const { return impl_->session->windows(); }
int64_t Explainer::samples_per_window() const { return impl_->session->samples_per_window(); }
const ExplainerOptions& Explainer::options() const { return impl_->session->options(); }
Device Explainer::device() const { return impl_->session->backend().device(); }
Precision Explainer::precision() const { return impl_->session->backend().precision(); }
std::string Explainer::describe_json() const { return impl_->session->describe().dump(); }
void Explainer::set_max_windows(int64_t n) {
    if (n < -1) fail_input("max_windows must be ≥ −1 (−1 = all windows)");
    impl_->session->set_max_windows(n);
}

namespace {

std::vector<std::string> stems_of(const std::vector<std::string>& image_paths) {
    std::vector<std::string> stems;
    for (const std::string& p : image_paths) stems.push_back(image_stem(p));
    return stems;
}

}  // namespace

void check_outputs(const std::string& out_dir, const std::vector<std::string>& image_paths) {
    check_unique_stems(image_paths);
    check_output_dir(out_dir, stems_of(image_paths));
}

double Explainer::output_bytes() const { return impl_->session->output_bytes(); }

void Explainer::check_outputs(const std::string& out_dir, const std::vector<std::string>& image_paths) const {
    check_unique_stems(image_paths);
    sweep_stale_results(out_dir);  // their space counts as free
    check_output_dir(out_dir, stems_of(image_paths), output_bytes() * static_cast<double>(image_paths.size()));
}

namespace {

// One explained input through the session, with its summary and standard-type maps; written to
// out_dir/<stem>/ when out_dir is given (checked before the work).
ExplainResult run(ExplainSession& s, ExplainInput input, const std::string& out_dir,
                  const std::function<void(int64_t, int64_t)>& progress) {
    const std::string stem = image_stem(input.path);
    if (!out_dir.empty()) check_output_dir(out_dir, {stem}, s.output_bytes());
    auto t0 = std::chrono::steady_clock::now();
    ImageExplanation r = s.explain(std::move(input), progress);
    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json summary = image_summary(s, r, stem, total);
    auto non_finite = [](const float* v, size_t n) {
        return static_cast<int64_t>(std::count_if(v, v + n, [](float x) { return !std::isfinite(x); }));
    };
    const int64_t bad_p = non_finite(r.e.probabilities.data(), r.e.probabilities.size());
    const int64_t bad_r = non_finite(r.e.relevance.data(), static_cast<size_t>(r.e.relevance.numel()));
    int64_t bad_n = 0;
    for (const auto& [name, t] : r.e.node_maps) bad_n += non_finite(t.data(), static_cast<size_t>(t.numel()));
    summary["non_finite"] = {{"probabilities", bad_p}, {"relevance", bad_r}, {"nodes", bad_n}};

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
    out.windows = r.e.windows;
    out.forward_passes = r.e.forward_passes;
    out.batch = r.e.batch;
    out.non_finite_probabilities = bad_p;
    out.non_finite_relevance = bad_r;
    out.non_finite_nodes = bad_n;
    out.seconds = {r.seconds_setup,     r.e.seconds_compile, r.e.seconds_sampling,
                   r.e.seconds_network, r.e.seconds_reduce,  total};
    out.summary_json = summary.dump(2);
    if (!out_dir.empty()) out.folder = write_image_result(out_dir, stem, summary, r, s.options());
    return out;
}

}  // namespace

ExplainResult Explainer::explain(const std::string& image_path, const std::string& out_dir,
                                 const std::function<void(int64_t, int64_t)>& progress) {
    ExplainSession& s = *impl_->session;
    return run(s, load_explain_input(s.model(), image_path), out_dir, progress);
}

ExplainResult Explainer::explain(const RgbImage& image, const std::string& out_dir,
                                 const std::function<void(int64_t, int64_t)>& progress) {
    ExplainSession& s = *impl_->session;
    check_rgb_image(image, s.model());
    return run(s, make_explain_input(s.model(), image.name, to_image(image)), out_dir, progress);
}

ExplainResult Explainer::explain_preprocessed(const float* chw, int64_t count, const std::string& name,
                                              const std::string& out_dir,
                                              const std::function<void(int64_t, int64_t)>& progress) {
    ExplainSession& s = *impl_->session;
    const Shape& in = s.model().input_shape;  // (1, C, H, W)
    if (!chw || count != in.numel())
        fail_input("a preprocessed image for " + s.model().spec + " is " + Shape{in[1], in[2], in[3]}.str() + " = " +
                   std::to_string(in.numel()) + " floats, got " + std::to_string(count));
    return run(s, make_explain_input(s.model(), name, ConstTensorView(chw, in)), out_dir, progress);
}

}  // namespace pda
