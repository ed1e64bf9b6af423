// `pda bench MODEL [IMAGE] [explain flags] [--windows N] [--repeat R] [--json]`: throughput of the
// explain loop on the first N windows of one image, after a warm-up, median of R repeats: resampled
// images/s, GFLOP/s and seconds per whole image at stride 1. Works without any file: built-in nets
// take random weights, the image is a seeded synthetic picture, and the conditional sampler is fitted
// on a few other seeded synthetic pictures (benchmark only: the maps mean nothing, the cost is real).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/common.h"

namespace pda::cli {

namespace {

// A smooth random picture (coloured blobs on a gradient, mild noise), so that a Gaussian fitted on
// such pictures has a well-conditioned covariance. Integer draws of mt19937_64 only: the same
// picture on every platform.
struct Picture {
    std::vector<uint8_t> rgb;
    int height = 0, width = 0;
    RgbImage view(const std::string& name) const { return {rgb.data(), height, width, name}; }
};

Picture synthetic_photo(int h, int w, uint64_t seed) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 12345);
    auto uni = [&rng] { return static_cast<double>(rng() >> 11) / 9007199254740992.0; };
    struct Blob {
        double y, x, r, c[3];
    };
    std::vector<Blob> blobs(8);
    for (Blob& b : blobs) b = {uni() * h, uni() * w, (0.05 + 0.2 * uni()) * std::min(h, w), {uni(), uni(), uni()}};
    double base[3] = {uni(), uni(), uni()};
    Picture img;
    img.height = h;
    img.width = w;
    img.rgb.resize(static_cast<size_t>(h) * w * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) {
                double v = base[c] * (0.5 + 0.5 * y / h);
                for (const Blob& b : blobs) {
                    double d2 = ((y - b.y) * (y - b.y) + (x - b.x) * (x - b.x)) / (b.r * b.r);
                    v += (b.c[c] - 0.5) * std::exp(-d2);
                }
                v += 0.04 * (uni() - 0.5);
                img.rgb[(static_cast<size_t>(y) * w + x) * 3 + c] =
                    static_cast<uint8_t>(std::clamp(std::lround(255 * v), 0L, 255L));
            }
    return img;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

void add_bench(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "bench",
        "measure PDA throughput: the explain loop on the first --windows windows of one image (after a warm-up), "
        "median of --repeat runs. Without IMAGE a seeded synthetic picture is used; a conditional sampler without "
        "--sampler-file/--sample-images is fitted on 4 other seeded synthetic pictures (20000 patches unless "
        "--max-patches; the cost is real, the maps "
        "are meaningless).");
    auto flags = std::make_shared<ModelFlags>();
    auto config = std::make_shared<ExplainFlags>();
    auto image = std::make_shared<std::string>();
    auto windows = std::make_shared<int64_t>(64);
    auto repeat = std::make_shared<int>(3);
    auto json = std::make_shared<bool>(false);
    flags->add_to(*cmd);
    cmd->get_option("--seed")->description("seed of the sampling, the synthetic pictures and a built-in net's weights");
    cmd->add_option("IMAGE", *image, "photo to explain (default: a seeded synthetic picture)");
    config->add_to(*cmd);
    cmd->add_option("--windows", *windows, "windows per timed run")->check(at_least(1))->capture_default_str();
    cmd->add_option("--repeat", *repeat, "timed runs (the median is reported)")
        ->check(at_least(1))
        ->capture_default_str();
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->callback([flags, config, image, windows, repeat, json] {
        ExplainerOptions c = config->typed(*flags);
        const ModelOptions model_opt = config->model_options(*flags);
        const bool synthetic_set =
            c.sampler != SamplerKind::kOcclusion && c.sampler_file.empty() && c.sample_images.empty();
        if (synthetic_set) c.sample_pictures_source = "seeded synthetic pictures";
        check_options(c);  // before the model is loaded
        check_options(model_opt);
        const Model model = Model::load(flags->model, model_opt);
        const nlohmann::json info = nlohmann::json::parse(model.info_json());
        const bool builtin = info["builtin"].get<bool>();
        const int h = model.height(), w = model.width();
        const int side = std::max(info["preprocessing"]["resize_shorter"].get<int>(), std::max(h, w));
        std::string sampler_note;
        std::vector<Picture> pictures;
        if (synthetic_set) {
            // Pictures seeded seed+1, seed+2, ...: never the explained one (seed).
            const int64_t n = c.sampler == SamplerKind::kMarginal ? std::max<int64_t>(c.samples, 4) : 4;
            for (int64_t i = 1; i <= n; ++i) pictures.push_back(synthetic_photo(side, side, flags->seed + i));
            for (const Picture& p : pictures) c.sample_pictures.push_back(p.view(""));
            if (c.max_patches == 0) c.max_patches = 20000;  // the loop is measured, not the fit
            c.sample_pictures_source = std::to_string(n) + " seeded synthetic pictures";
            sampler_note = (c.sampler == SamplerKind::kMarginal ? "drawn from " : "fitted on ") +
                           c.sample_pictures_source + " (benchmark only: the cost is real, the maps are meaningless)";
        }
        Explainer explainer(model, c);
        const Picture synthetic = synthetic_photo(side, side, flags->seed);
        const std::string image_name = image->empty() ? "synthetic (seed " + std::to_string(flags->seed) + ")" : *image;

        const int64_t n = std::min(*windows, explainer.windows());
        auto run = [&](int64_t count) {
            explainer.set_max_windows(count);
            return image->empty() ? explainer.explain(synthetic.view(image_name)) : explainer.explain(*image);
        };
        ExplainResult warm = run(std::max<int64_t>(1, n / 4));  // compiles, fits, touches memory
        std::vector<double> rates, seconds;
        std::string last_summary = warm.summary_json;
        int64_t images = 0, batch = 0;
        const nlohmann::json sampler = nlohmann::json::parse(warm.summary_json)["sampler"];
        for (int r = 0; r < *repeat; ++r) {
            ExplainResult res = run(n);
            last_summary = res.summary_json;
            // The loop's time: sampling, network and reduction of every batch (the clean image rides
            // in the first batch's spare slot; compile excluded).
            const double t = res.seconds.sampling + res.seconds.reduce + res.seconds.network;
            images = res.forward_passes;
            batch = res.batch;
            seconds.push_back(t);
            rates.push_back(t > 0 ? images / t : 0);
        }
        const int64_t peak_rss = nlohmann::json::parse(last_summary)["memory"]["peak_resident_bytes"].get<int64_t>();
        const double flops = info["gflop"].get<double>() * 1e9;
        const double rate = median(rates);
        const int64_t S = explainer.samples_per_window();
        const int64_t k = c.k;
        const int64_t windows_s1 = (h - k + 1) * (w - k + 1);
        const double s_per_image = rate > 0 ? windows_s1 * S / rate : 0;
        const std::string device = explainer.device().str();
        const char* precision = precision_name(explainer.precision());
        const char* execution = execution_name(c.exec);
        nlohmann::json out = {
            {"model", model.name()},
            {"weights",
             builtin && flags->weights.empty() ? "random (seed " + std::to_string(flags->seed) + ")" : "trained"},
            {"image", image_name},
            {"device", device},
            {"precision", precision},
            {"execution", execution},
            {"threads", flags->threads},
            {"sampler", sampler},
            {"sampler_note", sampler_note},
            {"k", k},
            {"samples_per_window", S},
            {"windows", n},
            {"resampled_images_per_run", images},
            {"batch", batch},
            {"repeat", *repeat},
            {"seconds_per_run_median", median(seconds)},
            {"seconds_compile", warm.seconds.compile},
            {"images_per_s", rate},
            {"gflop_per_image", flops / 1e9},
            {"gflop_per_s", rate * flops / 1e9},
            {"windows_stride1", windows_s1},
            {"seconds_per_image_stride1", s_per_image},
            {"peak_resident_bytes", peak_rss}};
        if (*json) {
            std::cout << out.dump(2) << "\n";
            return;
        }
        std::printf("pda bench: %s (%s weights), image %s\n", model.name().c_str(),
                    out["weights"].get<std::string>().c_str(), image_name.c_str());
        std::printf("device %s, precision %s, execution %s, threads %d\n", device.c_str(), precision, execution,
                    flags->threads);
        std::printf("sampler %s%s\n", sampler_name(c.sampler),
                    sampler_note.empty() ? "" : (": " + sampler_note).c_str());
        std::printf(
            "k %lld, %lld samples/window, %lld windows = %lld resampled images per run, batch %lld, median of %d\n",
            static_cast<long long>(k), static_cast<long long>(S), static_cast<long long>(n),
            static_cast<long long>(images), static_cast<long long>(batch), *repeat);
        std::printf("  resampled images/s        %10.1f   (loop only: compile and the clean image's batch excluded)\n",
                    rate);
        std::printf("  GFLOP/s                   %10.1f   (%.3f GFLOP per image)\n", rate * flops / 1e9, flops / 1e9);
        std::printf("  s per image, stride 1     %10.1f   (%lld windows x %lld samples)\n", s_per_image,
                    static_cast<long long>(windows_s1), static_cast<long long>(S));
        std::printf("  peak resident memory      %10.1f   MB\n", static_cast<double>(peak_rss) / 1e6);
    });
}

}  // namespace pda::cli
