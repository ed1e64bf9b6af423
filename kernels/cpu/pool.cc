// Pooling kernels: oneDNN pooling_v2 (dilation) for max and average, C++ for max pools on the
// blocked layout and for averages that oneDNN would divide wrongly, and OpenMP loops for the global
// pools.
#include "kernels/cpu/pool.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/check.h"

namespace pda {

namespace {

// The right padding that makes oneDNN's floor formula give exactly the output size asked for.
int64_t right_pad_needed(const PoolParams& p, int i) {
    int64_t ext = p.dilation[i] * (p.kernel[i] - 1) + 1;
    return (p.y[2 + i] - 1) * p.stride[i] + ext - p.x[2 + i] - p.pad_begin[i];
}

// y[l] = mean or max over i < size of x[i * stride + l], l < lanes (≤ kMax), each lane in the plain
// path's order; with lanes a constant kMax the compiler vectorises the lanes.
template <int64_t kMax>
inline void reduce_lanes(PoolKind kind, const float* x, int64_t stride, int64_t size, int64_t lanes, float* y) {
    if (kind == PoolKind::kMax) {
        float m[kMax];
        std::fill(m, m + kMax, -std::numeric_limits<float>::infinity());
        for (int64_t i = 0; i < size; ++i)
            for (int64_t l = 0; l < lanes; ++l) m[l] = std::max(m[l], x[i * stride + l]);
        std::copy(m, m + lanes, y);
    } else {
        double sum[kMax] = {};
        for (int64_t i = 0; i < size; ++i)
            for (int64_t l = 0; l < lanes; ++l) sum[l] += x[i * stride + l];
        for (int64_t l = 0; l < lanes; ++l) y[l] = static_cast<float>(sum[l] / static_cast<double>(size));
    }
}

// Spatial axes padded to three (leading size-1 axes), as the C++ paths walk them.
struct Axes3 {
    std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1}, k{1, 1, 1}, s{1, 1, 1}, pb{}, pe{}, d{1, 1, 1};
};
Axes3 axes3(const PoolParams& p) {
    Axes3 a;
    const int nd = p.x.rank - 2;
    for (int i = 0; i < nd; ++i) {
        const int j = 3 - nd + i;
        a.in[j] = p.x[2 + i];
        a.out[j] = p.y[2 + i];
        a.k[j] = p.kernel[i];
        a.s[j] = p.stride[i];
        a.pb[j] = p.pad_begin[i];
        a.pe[j] = p.pad_end[i];
        a.d[j] = p.dilation[i];
    }
    return a;
}

// Whether every output window of p holds at least one input position (a window wholly in the
// padding, which ONNX allows, has no maximum; oneDNN gives it its own fill value).
bool every_window_reaches_input(const PoolParams& p) {
    const Axes3 a = axes3(p);
    for (int j = 0; j < 3; ++j)
        for (int64_t o = 0; o < a.out[j]; ++o) {
            bool hit = false;
            for (int64_t t = 0; t < a.k[j] && !hit; ++t) {
                const int64_t pos = o * a.s[j] - a.pb[j] + t * a.d[j];
                hit = pos >= 0 && pos < a.in[j];
            }
            if (!hit) return false;
        }
    return true;
}

}  // namespace

bool PoolForward::runs_on_onednn(const PoolParams& p) {
    // With count_include_pad, oneDNN divides by the whole kernel even where the window reaches the
    // ceil-mode extension; ONNX does not count that part.
    if (p.kind != PoolKind::kAverage || !p.count_include_pad) return true;
    for (int i = 0; i < p.x.rank - 2; ++i)
        if (right_pad_needed(p, i) > p.pad_end[i]) return false;
    return true;
}

PoolForward::PoolForward(const PoolParams& p, CpuContext& ctx, Layout src, Layout dst) : p_(p), ctx_(ctx) {
    const int nd = p.x.rank - 2;
    PDA_CHECK(nd >= 1 && nd <= 3 && p.y.rank == p.x.rank, "pool ranks " + p.x.str());
    plain_ = !runs_on_onednn(p);
    PDA_CHECK(!plain_ || (src == Layout::kPlain && dst == Layout::kPlain), "pool: the C++ path runs on plain layout");
    if (plain_) return;
    // A max pool from and to the blocked layout runs in C++: a maximum is exact, so the bits are the
    // same as oneDNN's.
    blocked_max_ = p.kind == PoolKind::kMax && blockable(p.x) && src == Layout::kBlocked && dst == Layout::kBlocked &&
                   every_window_reaches_input(p);
    if (blocked_max_) return;
    dnnl::memory::dims strides, kernel, dil, pl, pr;
    for (int i = 0; i < nd; ++i) {
        int64_t need = right_pad_needed(p, i);
        strides.push_back(p.stride[i]);
        kernel.push_back(p.kernel[i]);
        dil.push_back(p.dilation[i] - 1);
        pl.push_back(p.pad_begin[i]);
        pr.push_back(std::max(p.pad_end[i], need));
    }
    dnnl::algorithm alg = p.kind == PoolKind::kMax ? dnnl::algorithm::pooling_max
                          : p.count_include_pad    ? dnnl::algorithm::pooling_avg_include_padding
                                                   : dnnl::algorithm::pooling_avg_exclude_padding;
    // The primitive runs on the layout its shapes call for, whatever the caller's (reordered to and
    // from it), so that a value pools to the same bits in every layout: oneDNN's blocked layout for
    // channels in whole blocks, else channels last (in plain layout oneDNN 2.6 pools with its
    // reference kernel, several times slower).
    const Layout kernel_layout = blockable(p.x) ? Layout::kBlocked : Layout::kChannelsLast;
    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, dnnl_md(p.x, kernel_layout),
                                     dnnl_md(p.y, kernel_layout), strides, kernel, dil, pl, pr);
    dnnl::pooling_v2_forward::primitive_desc pd(d, dnnl_user_scratchpad_attr(), ctx.engine);
    prim_ = dnnl::pooling_v2_forward(pd);
    src_.init(dnnl_md(p.x, src), pd.src_desc(), ctx.engine);
    dst_.init(dnnl_md(p.y, dst), pd.dst_desc(), ctx.engine);
    scratch_.init(pd.scratchpad_desc(), ctx.scratchpad, ctx.engine);
    args_ = {{DNNL_ARG_SRC, src_.mem()}, {DNNL_ARG_DST, dst_.mem()}, {DNNL_ARG_SCRATCHPAD, scratch_.mem()}};
}

void PoolForward::run(const float* x, float* y) {
    if (plain_) return run_plain(x, y);
    if (blocked_max_) return channel_block() == 16 ? run_blocked_max<16>(x, y) : run_blocked_max<8>(x, y);
    src_.prepare(x, ctx_.stream);
    dst_.target(y);
    scratch_.bind();
    prim_.execute(ctx_.stream, args_);
    dst_.finish(ctx_.stream);
    ctx_.stream.wait();
}

// Average pooling with ONNX's divisor: the window clipped to the padded input (count_include_pad)
// or to the input itself. Spatial axes are padded to three with size-1 axes.
void PoolForward::run_plain(const float* x, float* y) const {
    const Axes3 ax = axes3(p_);
    const auto &in = ax.in, &out = ax.out, &k = ax.k, &s = ax.s, &pb = ax.pb, &pe = ax.pe, &d = ax.d;
    const int64_t planes = p_.x[0] * p_.x[1], in_size = in[0] * in[1] * in[2], out_size = out[0] * out[1] * out[2];
    const bool incl = p_.count_include_pad;
#pragma omp parallel for collapse(2)
    for (int64_t pl = 0; pl < planes; ++pl) {
        for (int64_t o0 = 0; o0 < out[0]; ++o0) {
            const float* xp = x + pl * in_size;
            float* yp = y + pl * out_size + o0 * out[1] * out[2];
            for (int64_t o1 = 0; o1 < out[1]; ++o1) {
                for (int64_t o2 = 0; o2 < out[2]; ++o2) {
                    const int64_t o[3] = {o0, o1, o2};
                    float sum = 0.f;
                    int64_t count = 1;
                    int64_t lo[3];
                    for (int a = 0; a < 3; ++a) {
                        int64_t start = o[a] * s[a] - pb[a];
                        // Positions counted: inside [−pb, in + pe) with padding, inside [0, in) without.
                        int64_t lim_lo = incl ? -pb[a] : 0, lim_hi = incl ? in[a] + pe[a] : in[a];
                        int64_t c = 0;
                        for (int64_t t = 0; t < k[a]; ++t) {
                            int64_t pos = start + t * d[a];
                            c += (pos >= lim_lo && pos < lim_hi);
                        }
                        lo[a] = start;
                        count *= c;
                    }
                    for (int64_t t0 = 0; t0 < k[0]; ++t0) {
                        int64_t i0 = lo[0] + t0 * d[0];
                        if (i0 < 0 || i0 >= in[0]) continue;
                        for (int64_t t1 = 0; t1 < k[1]; ++t1) {
                            int64_t i1 = lo[1] + t1 * d[1];
                            if (i1 < 0 || i1 >= in[1]) continue;
                            const float* row = xp + (i0 * in[1] + i1) * in[2];
                            for (int64_t t2 = 0; t2 < k[2]; ++t2) {
                                int64_t i2 = lo[2] + t2 * d[2];
                                if (i2 >= 0 && i2 < in[2]) sum += row[i2];
                            }
                        }
                    }
                    yp[o1 * out[2] + o2] = count > 0 ? sum / static_cast<float>(count) : 0.f;
                }
            }
        }
    }
}

// Max pool on the blocked layout (N, C/B, spatial, B): each output position is the lane-wise
// maximum of its window's B-channel vectors, taps outside the input skipped (ONNX's padding takes
// no part in a maximum); every window holds one tap at least (every_window_reaches_input). One
// output row at a time: for each tap of the window the whole row is updated from the input row it
// reads, over the outputs whose tap lies inside the input, so that the inner loops have no branch.
template <int64_t B>
void PoolForward::run_blocked_max(const float* x, float* y) const {
    const Axes3 a = axes3(p_);
    const int64_t planes = p_.x[0] * p_.x[1] / B;  // (image, channel block) pairs
    const int64_t in_row = a.in[2] * B, out_row = a.out[2] * B;
    const int64_t in_size = a.in[0] * a.in[1] * in_row, out_size = a.out[0] * a.out[1] * out_row;
    // Per tap t2: the outputs [lo, hi) whose input position o2·s − pb + t2·d lies inside the input.
    std::vector<int64_t> lo(static_cast<size_t>(a.k[2])), hi(lo.size());
    for (int64_t t2 = 0; t2 < a.k[2]; ++t2) {
        const int64_t off = t2 * a.d[2] - a.pb[2];
        lo[t2] = off >= 0 ? 0 : (-off + a.s[2] - 1) / a.s[2];
        hi[t2] = a.in[2] - off <= 0 ? 0 : std::min(a.out[2], (a.in[2] - off - 1) / a.s[2] + 1);
    }
#pragma omp parallel for collapse(3)
    for (int64_t pl = 0; pl < planes; ++pl) {
        for (int64_t o0 = 0; o0 < a.out[0]; ++o0) {
            for (int64_t o1 = 0; o1 < a.out[1]; ++o1) {
                const float* xp = x + pl * in_size;
                float* yr = y + pl * out_size + (o0 * a.out[1] + o1) * out_row;
                std::fill(yr, yr + out_row, -std::numeric_limits<float>::infinity());
                for (int64_t t0 = 0; t0 < a.k[0]; ++t0) {
                    const int64_t i0 = o0 * a.s[0] - a.pb[0] + t0 * a.d[0];
                    if (i0 < 0 || i0 >= a.in[0]) continue;
                    for (int64_t t1 = 0; t1 < a.k[1]; ++t1) {
                        const int64_t i1 = o1 * a.s[1] - a.pb[1] + t1 * a.d[1];
                        if (i1 < 0 || i1 >= a.in[1]) continue;
                        const float* row = xp + (i0 * a.in[1] + i1) * in_row;
                        for (int64_t t2 = 0; t2 < a.k[2]; ++t2) {
                            const int64_t off = t2 * a.d[2] - a.pb[2];  // input position of output 0's tap
                            for (int64_t o2 = lo[t2]; o2 < hi[t2]; ++o2) {
                                const float* v = row + (o2 * a.s[2] + off) * B;  // inside the row: o2 ≥ lo
                                for (int64_t l = 0; l < B; ++l) yr[o2 * B + l] = std::max(yr[o2 * B + l], v[l]);
                            }
                        }
                    }
                }
            }
        }
    }
}

void global_pool_forward(PoolKind kind, ConstTensorView x, TensorView y, Layout x_layout) {
    const int64_t planes = x.shape[0] * x.shape[1];
    const int64_t size = planes > 0 ? x.numel() / planes : 0;
    if (x_layout == Layout::kBlocked) {
        // x: (N, C/B, spatial, B): each block of B channels reduced over its spatial rows, B lanes at
        // a time, in the plain path's order (the same float result per channel).
        const int64_t b = channel_block(), blocks = planes / b;
#pragma omp parallel for
        for (int64_t blk = 0; blk < blocks; ++blk) {
            const float* xb = x.data + blk * size * b;
            float* yb = y.data + blk * b;
            if (b == 16)
                reduce_lanes<16>(kind, xb, 16, size, 16, yb);
            else
                reduce_lanes<8>(kind, xb, 8, size, 8, yb);
        }
        return;
    }
    if (x_layout == Layout::kChannelsLast) {
        // x: (N, spatial, C): each image's channels, 16 at a time, reduced over its spatial positions
        // in the plain path's order (the same float result per channel); the last group may be short.
        constexpr int64_t kB = 16;
        const int64_t n_img = x.shape[0], c = x.shape[1], groups = (c + kB - 1) / kB;
#pragma omp parallel for
        for (int64_t ng = 0; ng < n_img * groups; ++ng) {
            const int64_t img = ng / groups, c0 = (ng % groups) * kB, lanes = std::min(kB, c - c0);
            const float* xb = x.data + img * size * c + c0;
            float* yb = y.data + img * c + c0;
            if (lanes == kB)
                reduce_lanes<kB>(kind, xb, c, size, kB, yb);
            else
                reduce_lanes<kB>(kind, xb, c, size, lanes, yb);
        }
        return;
    }
#pragma omp parallel for
    for (int64_t pl = 0; pl < planes; ++pl) {
        const float* xp = x.data + pl * size;
        if (kind == PoolKind::kMax) {
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t i = 0; i < size; ++i) m = std::max(m, xp[i]);
            y.data[pl] = m;
        } else {
            double sum = 0;
            for (int64_t i = 0; i < size; ++i) sum += xp[i];
            y.data[pl] = static_cast<float>(sum / static_cast<double>(size));
        }
    }
}

}  // namespace pda
