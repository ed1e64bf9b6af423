// Times the convolutions, fully connected layers and pools that dominate pda's CPU forward passes
// (SqueezeNet 1.1, AlexNet, VGG16) with one oneDNN, each primitive in the layouts it picks itself
// (format_tag::any) and ReLU fused, so that two oneDNN versions can be compared kernel for kernel.
// Builds against oneDNN 2.x (Debian 12's 2.6) and 3.x (PyPI's onednn-devel-cpu-gomp);
// scripts/bench-onednn.sh builds both and runs them interleaved.
// Prints one line per shape: name, implementation, median milliseconds per call, GFLOP/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

struct ConvShape {
    const char* name;
    int mb, ic, oc, ih, k, stride, pad;
    bool plain_src;  // a network's input (3 channels): the source stays NCHW as pda gives it
};

struct PoolShape {
    const char* name;
    int mb, c, ih, k, stride;
};

double median_ms(stream& s, const std::function<void()>& call, double seconds) {
    for (int i = 0; i < 3; ++i) call();
    s.wait();
    std::vector<double> ms;
    const auto t_end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (ms.size() < 5 || std::chrono::steady_clock::now() < t_end) {
        const auto t0 = std::chrono::steady_clock::now();
        call();
        s.wait();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    return ms[ms.size() / 2];
}

memory filled(const memory::desc& md, const engine& eng, float v) {
    memory m(md, eng);
    float* p = static_cast<float*>(m.get_data_handle());
    std::fill(p, p + md.get_size() / sizeof(float), v);
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
    engine eng(engine::kind::cpu, 0);
    stream s(eng);
    const ConvShape convs[] = {
        {"squeezenet conv1 3>64 k3 s2", 64, 3, 64, 227, 3, 2, 0, true},
        {"squeezenet fire2 expand3x3 16>64", 64, 16, 64, 56, 3, 1, 1, false},
        {"squeezenet fire9 squeeze 512>64 1x1", 64, 512, 64, 14, 1, 1, 0, false},
        {"squeezenet fire9 expand3x3 64>256", 64, 64, 256, 14, 3, 1, 1, false},
        {"squeezenet conv10 512>1000 1x1 p1", 64, 512, 1000, 14, 1, 1, 1, false},
        {"squeezenet conv10 batch 1", 1, 512, 1000, 14, 1, 1, 1, false},
        {"alexnet conv1 3>64 k11 s4 (batch 16)", 16, 3, 64, 224, 11, 4, 2, true},
        {"alexnet conv1, input padded beforehand", 16, 3, 64, 227, 11, 4, 0, true},  // as pda runs it on AVX2
        {"alexnet conv2 64>192 k5", 64, 64, 192, 27, 5, 1, 2, false},
        {"alexnet conv3 192>384 k3", 64, 192, 384, 13, 3, 1, 1, false},
        {"vgg16 conv3_2 256>256 k3", 16, 256, 256, 56, 3, 1, 1, false},
        {"vgg16 conv5_1 512>512 k3", 16, 512, 512, 14, 3, 1, 1, false},
    };
    std::printf("oneDNN %d.%d.%d\n", DNNL_VERSION_MAJOR, DNNL_VERSION_MINOR, DNNL_VERSION_PATCH);
    for (const ConvShape& c : convs) {
        const int oh = (c.ih + 2 * c.pad - c.k) / c.stride + 1;
        const memory::desc src_any({c.mb, c.ic, c.ih, c.ih}, dt::f32, c.plain_src ? tag::nchw : tag::any);
        const memory::desc wei_any({c.oc, c.ic, c.k, c.k}, dt::f32, tag::any);
        const memory::desc bia({c.oc}, dt::f32, tag::a);
        const memory::desc dst_any({c.mb, c.oc, oh, oh}, dt::f32, tag::any);
        post_ops po;
        primitive_attr attr;
#if DNNL_VERSION_MAJOR >= 3
        po.append_eltwise(algorithm::eltwise_relu, 0.f, 0.f);
        attr.set_post_ops(po);
        const convolution_forward::primitive_desc pd(eng, prop_kind::forward_inference, algorithm::convolution_direct,
                                                     src_any, wei_any, bia, dst_any, {c.stride, c.stride},
                                                     {c.pad, c.pad}, {c.pad, c.pad}, attr);
#else
        po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
        attr.set_post_ops(po);
        const convolution_forward::desc d(prop_kind::forward_inference, algorithm::convolution_direct, src_any, wei_any,
                                          bia, dst_any, {c.stride, c.stride}, {c.pad, c.pad}, {c.pad, c.pad});
        const convolution_forward::primitive_desc pd(d, attr, eng);
#endif
        memory src = filled(pd.src_desc(), eng, 0.5f), wei = filled(pd.weights_desc(), eng, 0.01f),
               b = filled(bia, eng, 0.1f), dst = filled(pd.dst_desc(), eng, 0.f);
        convolution_forward conv(pd);
        const double ms = median_ms(
            s,
            [&] {
                conv.execute(s,
                             {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst}});
            },
            seconds);
        const double gflop = 2.0 * c.mb * c.oc * oh * oh * c.ic * c.k * c.k / 1e9;
        std::printf("%-40s %-28s %9.3f ms %8.1f GFLOP/s\n", c.name, pd.impl_info_str(), ms, gflop / ms * 1e3);
    }
    const PoolShape pools[] = {{"squeezenet pool1 3x3 s2", 64, 64, 113, 3, 2},
                               {"alexnet pool1 3x3 s2", 64, 64, 55, 3, 2}};
    // Fully connected layers: a matmul of plain rows by weights packed in the layout the primitive
    // picks, bias and ReLU fused; or (padded) by plain weights whose rows are 64 floats longer, as
    // pda lays out weights of 4096 columns where oneDNN keeps them plain (kernels/cpu/gemm.cc).
    struct FcShape {
        const char* name;
        int m, k, n;
        bool padded;
    };
    const FcShape fcs[] = {{"alexnet fc6 9216>4096 (16 rows)", 16, 9216, 4096, false},
                           {"alexnet fc6 (16 rows), rows padded", 16, 9216, 4096, true},
                           {"alexnet fc6 9216>4096 (64 rows)", 64, 9216, 4096, false},
                           {"alexnet fc6 (64 rows), rows padded", 64, 9216, 4096, true},
                           {"alexnet fc7 4096>4096 (64 rows)", 64, 4096, 4096, false},
                           {"alexnet fc7 (64 rows), rows padded", 64, 4096, 4096, true}};
    for (const FcShape& f : fcs) {
        const memory::desc a({f.m, f.k}, dt::f32, tag::ab);
        const memory::desc w_any = f.padded ? memory::desc({f.k, f.n}, dt::f32, memory::dims{f.n + 64, 1})
                                            : memory::desc({f.k, f.n}, dt::f32, tag::any);
        const memory::desc bia({1, f.n}, dt::f32, tag::ab), y({f.m, f.n}, dt::f32, tag::ab);
        post_ops po;
        primitive_attr attr;
#if DNNL_VERSION_MAJOR >= 3
        po.append_eltwise(algorithm::eltwise_relu, 0.f, 0.f);
        attr.set_post_ops(po);
        const matmul::primitive_desc pd(eng, a, w_any, bia, y, attr);
#else
        po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
        attr.set_post_ops(po);
        const matmul::primitive_desc pd(matmul::desc(a, w_any, bia, y), attr, eng);
#endif
        memory am = filled(a, eng, 0.5f), wm = filled(pd.weights_desc(), eng, 0.01f), bm = filled(bia, eng, 0.1f),
               ym = filled(y, eng, 0.f);
        matmul mm(pd);
        const double ms = median_ms(
            s,
            [&] {
                mm.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, ym}});
            },
            seconds);
        std::printf("%-40s %-28s %9.3f ms %8.1f GFLOP/s\n", f.name, pd.impl_info_str(), ms,
                    2.0 * f.m * f.k * f.n / 1e9 / ms * 1e3);
    }
    // Pools read the blocked layout pda gives them: blocks of the vector width (16 floats with
    // AVX-512, 8 below; oneDNN has only its reference pool for another block).
    const unsigned isa = static_cast<unsigned>(get_effective_cpu_isa()), avx512 = dnnl_cpu_isa_avx512_core;
    const tag blocked = (isa & avx512) == avx512 ? tag::nChw16c : tag::nChw8c;
    for (const PoolShape& p : pools) {
        const int oh = (p.ih - p.k + p.stride - 1) / p.stride + 1;  // ceil mode
        const int pad_r = (oh - 1) * p.stride + p.k - p.ih;
        const memory::desc src({p.mb, p.c, p.ih, p.ih}, dt::f32, blocked);
        const memory::desc dst({p.mb, p.c, oh, oh}, dt::f32, blocked);
#if DNNL_VERSION_MAJOR >= 3
        const pooling_forward::primitive_desc pd(eng, prop_kind::forward_inference, algorithm::pooling_max, src, dst,
                                                 {p.stride, p.stride}, {p.k, p.k}, {0, 0}, {0, 0}, {pad_r, pad_r});
        pooling_forward pool(pd);
#else
        const pooling_v2_forward::desc d(prop_kind::forward_inference, algorithm::pooling_max, src, dst,
                                         {p.stride, p.stride}, {p.k, p.k}, {0, 0}, {0, 0}, {pad_r, pad_r});
        const pooling_v2_forward::primitive_desc pd(d, eng);
        pooling_v2_forward pool(pd);
#endif
        memory sm = filled(src, eng, 0.5f), dm = filled(dst, eng, 0.f);
        const double ms = median_ms(
            s,
            [&] {
                pool.execute(s, {{DNNL_ARG_SRC, sm}, {DNNL_ARG_DST, dm}});
            },
            seconds);
        std::printf("%-40s %-28s %9.3f ms %8.1f GB/s\n", p.name, pd.impl_info_str(), ms,
                    4.0 * p.mb * p.c * (p.ih * p.ih + oh * oh) / 1e9 / ms * 1e3);
    }
    return 0;
}
