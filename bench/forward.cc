// CPU forward throughput (images/s) of the paper's networks (built in, seeded random weights), of
// the shared SqueezeNet models and of any ONNX file named in PDA_BENCH_ONNX ("name=path,name=path"),
// at batch 1, 16 and 64; forward_plain/ the same with every activation in plain NCHW (no blocked
// layouts between oneDNN ops: engine/cpu/layouts.h); forward_bf16/ with bf16 convolutions
// (--precision bf16), where the CPU runs them natively; forward_winograd/ with 3 × 3 convolutions by
// Winograd's algorithm (--precision winograd). scripts/bench.sh runs this and PyTorch on the same networks,
// batches and thread count in one go; scripts/bench-forward.sh runs it interleaved with onnxruntime.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "api/loader.h"
#include "engine/program.h"
#include "kernels/cpu/context.h"

namespace {

std::string shared_models() {
    const char* env = std::getenv("PDA_SHARED_MODELS");
    return env ? env : "../shared/models";
}

enum class Variant { kBlocked, kPlain, kBf16, kWinograd };

void forward(benchmark::State& state, const std::string& spec, Variant v) {
    const int64_t batch = state.range(0);
    pda::LoadedModel m = pda::load_model(spec, {});
    pda::fuse(m.graph);
    pda::Shape s = m.input_shape;
    s[0] = batch;
    pda::Tensor x(s);
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.f, 50.f);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = nd(rng);
    pda::CpuContext ctx;
    ctx.bf16 = v == Variant::kBf16;
    ctx.winograd = v == Variant::kWinograd;
    pda::CompileOptions opt;
    opt.blocked_layouts = v != Variant::kPlain;
    auto prog = pda::compile_cpu(m.graph, {s}, ctx, opt);
    prog->run({x.view()});  // warm-up: primitive JIT, first-touch of buffers
    for (auto _ : state) {
        prog->run({x.view()});
        benchmark::DoNotOptimize(prog->value(m.desc.output).data);
    }
    state.SetItemsProcessed(state.iterations() * batch);
    state.counters["threads"] = omp_get_max_threads();
}

void register_all() {
    std::vector<std::pair<std::string, std::string>> nets = {
        {"alexnet", "alexnet"}, {"googlenet", "googlenet"}, {"vgg16", "vgg16"}};
    for (const char* sq : {"squeezenet1.1-caffe", "squeezenet1.1-torchvision"}) {
        std::string p = shared_models() + "/" + sq + ".onnx";
        if (std::filesystem::exists(p)) nets.emplace_back(sq, p);
    }
    if (const char* extra = std::getenv("PDA_BENCH_ONNX")) {
        std::string list = extra;
        for (size_t at = 0; at < list.size();) {
            const size_t end = std::min(list.find(',', at), list.size());
            const std::string item = list.substr(at, end - at);
            const size_t eq = item.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
                std::fprintf(stderr, "pda_bench: PDA_BENCH_ONNX: '%s' is not name=path\n", item.c_str());
                std::exit(2);
            }
            nets.emplace_back(item.substr(0, eq), item.substr(eq + 1));
            at = end + 1;
        }
    }
    for (const auto& [name, spec] : nets) {
        for (Variant v : {Variant::kBlocked, Variant::kPlain, Variant::kBf16, Variant::kWinograd}) {
            if (v == Variant::kBf16 && !pda::cpu_has_bf16()) continue;
            if (v == Variant::kWinograd && !pda::cpu_has_winograd()) continue;
            const std::string family = v == Variant::kBlocked ? "forward/"
                                       : v == Variant::kPlain ? "forward_plain/"
                                       : v == Variant::kBf16  ? "forward_bf16/"
                                                              : "forward_winograd/";
            auto* b = benchmark::RegisterBenchmark((family + name).c_str(), forward, spec, v);
            b->Arg(1)->Arg(16)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
