// Max pools on the blocked layout: pda's C++ kernel (PoolForward, kernels/cpu/pool.cc) against
// oneDNN's pooling primitive on the same blocked data, for SqueezeNet's three pools (3 × 3, stride
// 2, ceil mode). pool_max/cpp/<shape> and pool_max/onednn/<shape>; compare them interleaved:
//   build/bench/pda_bench --benchmark_filter=pool_max --benchmark_repetitions=10
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
#include "kernels/cpu/pool.h"

#include <benchmark/benchmark.h>

#include <vector>

namespace {

struct PoolShape {
    int64_t n, c, in, out;
};

pda::PoolParams squeezenet_pool(const PoolShape& s) {
    pda::PoolParams p;
    p.kind = pda::PoolKind::kMax;
    p.x = pda::Shape{s.n, s.c, s.in, s.in};
    p.y = pda::Shape{s.n, s.c, s.out, s.out};
    p.kernel = {3, 3, 1};
    p.stride = {2, 2, 1};
    return p;
}

std::vector<float> filled(int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.f;
    return v;
}

void pool_cpp(benchmark::State& state, PoolShape s) {
    const pda::PoolParams p = squeezenet_pool(s);
    pda::CpuContext ctx;
    pda::PoolForward pool(p, ctx, pda::Layout::kBlocked, pda::Layout::kBlocked);
    if (!pool.blocked_max()) return state.SkipWithError("the C++ path does not take this pool");
    std::vector<float> x = filled(p.x.numel()), y(static_cast<size_t>(p.y.numel()));
    for (auto _ : state) pool.run(x.data(), y.data());
    state.SetBytesProcessed(state.iterations() * 4 * (p.x.numel() + p.y.numel()));
}

void pool_onednn(benchmark::State& state, PoolShape s) {
    const pda::PoolParams p = squeezenet_pool(s);
    pda::CpuContext ctx;
    const dnnl::memory::desc x_md = pda::dnnl_md(p.x, pda::Layout::kBlocked),
                             y_md = pda::dnnl_md(p.y, pda::Layout::kBlocked);
    const int64_t pad_r = (s.out - 1) * 2 + 3 - s.in;  // ceil mode: the right padding that gives `out`
    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, x_md, y_md,
                                     {2, 2}, {3, 3}, {0, 0}, {0, 0}, {pad_r, pad_r});
    dnnl::pooling_v2_forward prim(dnnl::pooling_v2_forward::primitive_desc(d, ctx.engine));
    std::vector<float> x = filled(p.x.numel());
    dnnl::memory xm(x_md, ctx.engine, x.data()), ym(y_md, ctx.engine);
    for (auto _ : state) {
        prim.execute(ctx.stream, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DST, ym}});
        ctx.stream.wait();
    }
    state.SetBytesProcessed(state.iterations() * 4 * (p.x.numel() + p.y.numel()));
}

// The torchvision SqueezeNet 1.1's pools at batch 16 (the Caffe one's input is 227, so 113 → 56).
const PoolShape kPool1{16, 64, 111, 55}, kPool3{16, 128, 55, 27}, kPool5{16, 256, 27, 13};

}  // namespace

BENCHMARK_CAPTURE(pool_cpp, squeezenet_pool1_b16, kPool1)->Name("pool_max/cpp/squeezenet_pool1_b16")->UseRealTime();
BENCHMARK_CAPTURE(pool_onednn, squeezenet_pool1_b16, kPool1)
    ->Name("pool_max/onednn/squeezenet_pool1_b16")
    ->UseRealTime();
BENCHMARK_CAPTURE(pool_cpp, squeezenet_pool3_b16, kPool3)->Name("pool_max/cpp/squeezenet_pool3_b16")->UseRealTime();
BENCHMARK_CAPTURE(pool_onednn, squeezenet_pool3_b16, kPool3)
    ->Name("pool_max/onednn/squeezenet_pool3_b16")
    ->UseRealTime();
BENCHMARK_CAPTURE(pool_cpp, squeezenet_pool5_b16, kPool5)->Name("pool_max/cpp/squeezenet_pool5_b16")->UseRealTime();
BENCHMARK_CAPTURE(pool_onednn, squeezenet_pool5_b16, kPool5)
    ->Name("pool_max/onednn/squeezenet_pool5_b16")
    ->UseRealTime();
