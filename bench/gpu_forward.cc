// GPU forward throughput (images/s) of the paper's networks (built in, seeded random weights,
// fused) on the CUDA backend, timed with CUDA events around each forward pass (manual time; the median is a counter),
// at batch sizes a GPU runs them (AlexNet 64/256/1024, GoogLeNet 64/256, VGG16 32/128), in FP32, TF32, FP16 and BF16
// (FP32 accumulation). Registered at start-up next to forward.cc's CPU benchmarks; skips without a device.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "engine/cuda_program.h"
#include "engine/device.h"
#include "networks/builtin.h"

namespace {

void gpu_forward(benchmark::State& state, const std::string& name, pda::Precision precision) {
    if (pda::cuda_device_count() == 0) {
        state.SkipWithError(("no CUDA device: " + pda::cuda_info().runtime_note).c_str());
        return;
    }
    const int64_t batch = state.range(0);
    pda::Graph g = pda::build_network(name, {});
    pda::fuse(g);
    pda::Shape s = g.inputs[0].shape;
    s[0] = batch;
    pda::Tensor x(s);
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.f, 50.f);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = nd(rng);
    pda::CudaContextPtr ctx = pda::make_cuda_context(0);
    pda::CudaCompileOptions opt;
    opt.precision = precision;
    pda::FittedProgram f = pda::compile_cuda_fitting(g, s, batch, *ctx, opt);
    if (f.batch != batch) {
        state.SkipWithError(("batch does not fit: " + f.note).c_str());
        return;
    }
    f.program->run({x.view()});  // copies the input in; warm-up
    f.program->run_device_timed();
    std::vector<double> ms;
    for (auto _ : state) {
        ms.push_back(f.program->run_device_timed());
        state.SetIterationTime(ms.back() / 1e3);
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    state.SetItemsProcessed(state.iterations() * batch);
    state.counters["median_ms"] = median;
    state.counters["images_per_s"] = static_cast<double>(batch) * 1e3 / median;
    state.counters["arena_MiB"] = static_cast<double>(f.program->activation_bytes() >> 20);
    state.counters["workspace_MiB"] = static_cast<double>(f.program->workspace_bytes() >> 20);
}

bool register_gpu_benchmarks() {
    const std::pair<const char*, std::vector<int64_t>> nets[] = {
        {"alexnet", {64, 256, 1024}}, {"googlenet", {64, 256}}, {"vgg16", {32, 128}}};
    for (pda::Precision p :
         {pda::Precision::kFp32, pda::Precision::kTf32, pda::Precision::kFp16, pda::Precision::kBf16})
        for (const auto& [name, batches] : nets) {
            std::string label = std::string("gpu_forward/") + name + "/" + pda::precision_name(p);
            auto* b = benchmark::RegisterBenchmark(label.c_str(), gpu_forward, std::string(name), p);
            for (int64_t batch : batches) b->Arg(batch);
            b->UseManualTime()->Iterations(10)->Unit(benchmark::kMillisecond);
        }
    return true;
}

const bool registered = register_gpu_benchmarks();

}  // namespace
