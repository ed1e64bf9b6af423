// Gemm on oneDNN matmul (pre-packed constant B, fused bias and ReLU where they fit, a broadcast
// add of C otherwise) and numpy MatMul on top of it, with plain loops for batched right operands.
#include "kernels/cpu/gemm.h"

#include <algorithm>

#include "kernels/check.h"
#include "kernels/matmul_math.h"

namespace pda {

GemmForward::GemmForward(const GemmParams& p, const ConstFloats& b_const, const float* c_const, CpuContext& ctx)
    : p_(p), ctx_(ctx) {
    using md = dnnl::memory::desc;
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    // Below AVX-512, oneDNN 2.6's GEMM computes a row with another kernel (another order of its sum)
    // when the row falls in the tail of M beyond a multiple of 16, so that an image's outputs would
    // depend on its place in the batch and on the batch size. There the product runs on M padded to
    // a multiple of 16 (zero rows), in the shared scratchpad: every row then sums alike (measured
    // for K up to 9216; ExplainerInvariance.BatchSizeAndThreads). A single row (one image's
    // prediction) keeps its matrix-vector kernel, 4x faster than 16 padded rows for a 9216 x 4096
    // layer, and may differ from the same image in a batch by that rounding.
    rows_ = !cpu_has_avx512() && !p.trans_a && p.m > 1 ? (p.m + kRowBlock - 1) / kRowBlock * kRowBlock : p.m;
    const int64_t m = rows_, k = p.k, n = p.n;
    md a_plain({m, k}, dt::f32, p.trans_a ? tag::ba : tag::ab);
    md b_plain({k, n}, dt::f32, p.trans_b ? tag::ba : tag::ab);
    md y_plain({m, n}, dt::f32, tag::ab);
    b_packed_ = b_const.data != nullptr;
    // bf16: a fully connected layer (constant weights) reads A and B in bf16, as convolutions do, and
    // accumulates and writes in f32; a product of two computed values stays f32.
    const dt in_type = ctx.bf16 && b_packed_ ? dt::bf16 : dt::f32;
    const md a_md = in_type == dt::f32 ? a_plain : md({m, k}, in_type, p.trans_a ? tag::ba : tag::ab);

    bool has_c = p.c.rank > 0 && p.beta != 0.f;
    if (has_c) {
        PDA_CHECK(p.c.rank <= 2, "gemm C " + p.c.str());
        c_rows_ = p.c.rank == 2 ? p.c[0] : 1;
        c_cols_ = p.c.at(-1);
        PDA_CHECK((c_rows_ == 1 || c_rows_ == p.m) && (c_cols_ == 1 || c_cols_ == n), "gemm C " + p.c.str());
        // A constant row vector becomes oneDNN's bias, added after the (alpha-folded) product.
        c_fused_ = c_const && c_rows_ == 1 && (b_packed_ || p.alpha == 1.f);
        post_ = !c_fused_;
    }

    dnnl::primitive_attr attr = dnnl_user_scratchpad_attr();
    if (!b_packed_ && p.alpha != 1.f) attr.set_output_scales(0, {p.alpha});
    if (p.relu && !post_) {
        dnnl::post_ops ops;
        ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        attr.set_post_ops(ops);
    }
    md b_md = b_packed_ ? md({k, n}, in_type, tag::any) : b_plain;
    md bias_md = c_fused_ ? md({1, n}, dt::f32, tag::ab) : md();
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, bias_md, y_plain), attr, ctx.engine);
    // Constant weights that oneDNN keeps plain (K × N rows, as on AVX2) get rows of N + 64 floats
    // where N · 4 bytes is a multiple of 1 KiB (a fully connected layer of 4096 outputs). Measured
    // with oneDNN 2.6 on AVX2 (9216 x 4096 and 4096 x 4096 at 16 and 64 rows, bench/RESULTS.md): on
    // such B at an aligned address its GEMM runs 1.4-2x slower than on the same B 16 bytes off or
    // with longer rows (presumably rows a power of two apart falling on the same cache sets). A single row's
    // matrix-vector kernel reads the padded rows too, so every program of a model shares one copy.
    if (b_packed_ && in_type == dt::f32 && n % kAliasingCols == 0 &&
        pd.weights_desc() == md({k, n}, dt::f32, tag::ab)) {
        b_md = md({k, n}, dt::f32, dnnl::memory::dims{n + kRowPad, 1});
        pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, bias_md, y_plain), attr, ctx.engine);
    }
    prim_ = dnnl::matmul(pd);

    src_.init(a_plain, pd.src_desc(), ctx.engine);
    if (b_packed_) {
        std::vector<float> scaled;  // alpha·B, only where alpha is not 1 (a VGG16's B is 0.4 GB)
        if (p.alpha != 1.f) {
            scaled.assign(b_const.data, b_const.data + k * n);
            for (float& v : scaled) v *= p.alpha;
        }
        weights_ = scaled.empty()
                       ? ctx.packed->get(b_const, b_plain, pd.weights_desc(), ctx.engine, ctx.stream)
                       : dnnl_pack_constant(b_plain, scaled.data(), pd.weights_desc(), ctx.engine, ctx.stream);
    } else {
        weights_ = dnnl::memory(b_plain, ctx.engine, DNNL_MEMORY_NONE);
    }
    if (c_fused_) {
        bias_ = dnnl::memory(bias_md, ctx.engine);
        float* bp = static_cast<float*>(bias_.get_data_handle());
        for (int64_t j = 0; j < n; ++j) bp[j] = p.beta * c_const[c_cols_ == 1 ? 0 : j];
    }
    PDA_CHECK(pd.dst_desc() == y_plain, "gemm: oneDNN chose a blocked output");
    dst_ = dnnl::memory(y_plain, ctx.engine, DNNL_MEMORY_NONE);
    scratch_.init(pd.scratchpad_desc(), ctx.scratchpad, ctx.engine);
    if (rows_ != p.m) {  // [oneDNN's scratchpad | A padded | Y padded]
        a_at_ = (scratch_.bytes() + 63) / 64 * 64;
        y_at_ = a_at_ + (sizeof(float) * static_cast<size_t>(m * k) + 63) / 64 * 64;
        padded_bytes_ = y_at_ + sizeof(float) * static_cast<size_t>(m * n);
        ctx.scratchpad.reserve(padded_bytes_);
    }
    args_ = {{DNNL_ARG_SRC, src_.mem()},
             {DNNL_ARG_WEIGHTS, weights_},
             {DNNL_ARG_DST, dst_},
             {DNNL_ARG_SCRATCHPAD, scratch_.mem()}};
    if (c_fused_) args_.emplace(DNNL_ARG_BIAS, bias_);
}

size_t GemmForward::scratchpad_bytes() const { return rows_ != p_.m ? padded_bytes_ : scratch_.bytes(); }

void GemmForward::run(const float* a, const float* b, const float* c, float* y) {
    const int64_t m = p_.m, k = p_.k, n = p_.n;
    float* y_pad = nullptr;
    if (rows_ != m) {
        char* base = static_cast<char*>(ctx_.scratchpad.data());
        float* a_pad = reinterpret_cast<float*>(base + a_at_);
        y_pad = reinterpret_cast<float*>(base + y_at_);
        std::copy(a, a + m * k, a_pad);
        std::fill(a_pad + m * k, a_pad + rows_ * k, 0.f);
        a = a_pad;
    }
    src_.prepare(a, ctx_.stream);
    if (!b_packed_) weights_.set_data_handle(const_cast<float*>(b));
    dst_.set_data_handle(y_pad ? y_pad : y);
    scratch_.bind();
    prim_.execute(ctx_.stream, args_);
    ctx_.stream.wait();
    if (y_pad) std::copy(y_pad, y_pad + m * n, y);
    if (post_) add_c(c, y);
}

// y += beta·C broadcast to (M, N), then the ReLU that could not be fused.
void GemmForward::add_c(const float* c, float* y) const {
    const int64_t m = p_.m, n = p_.n;
    const float beta = p_.beta;
    const bool relu = p_.relu, row = c_rows_ > 1, col = c_cols_ > 1;
#pragma omp parallel for
    for (int64_t i = 0; i < m; ++i) {
        float* yr = y + i * n;
        const float* cr = c + (row ? i * c_cols_ : 0);
        for (int64_t j = 0; j < n; ++j) {
            float v = yr[j] + beta * cr[col ? j : 0];
            yr[j] = relu ? std::max(v, 0.f) : v;
        }
    }
}

MatmulForward::MatmulForward(const MatmulParams& p, const ConstFloats& b_const, CpuContext& ctx) {
    Shape a = p.a, b = p.b;
    if (a.rank == 1) a = Shape{1, a[0]};
    if (b.rank == 1) b = Shape{b[0], 1};
    m_ = a.at(-2);
    k_ = a.at(-1);
    n_ = b.at(-1);
    PDA_CHECK(b.at(-2) == k_, "matmul " + p.a.str() + " × " + p.b.str());
    if (b.rank == 2) {
        // Every row of every batch of A against the same B: one (rows, K) × (K, N) product.
        GemmParams gp;
        gp.m = a.numel() / std::max<int64_t>(k_, 1);
        gp.k = k_;
        gp.n = n_;
        gp.beta = 0.f;
        gemm_ = std::make_unique<GemmForward>(gp, b_const, nullptr, ctx);
        return;
    }
    matmul_batch_offsets(a, b, m_, k_, n_, a_off_, b_off_);
    b_const_ = b_const.data;
}

void MatmulForward::run(const float* a, const float* b, float* y) {
    if (gemm_) return gemm_->run(a, b, nullptr, y);
    if (b_const_) b = b_const_;
    const int64_t batches = static_cast<int64_t>(a_off_.size()), m = m_, k = k_, n = n_;
#pragma omp parallel for collapse(2)
    for (int64_t t = 0; t < batches; ++t) {
        for (int64_t i = 0; i < m; ++i) {
            const float* ar = a + a_off_[t] + i * k;
            const float* bm = b + b_off_[t];
            float* yr = y + (t * m + i) * n;
            std::fill(yr, yr + n, 0.f);
            for (int64_t kk = 0; kk < k; ++kk) {
                const float av = ar[kk];
                const float* br = bm + kk * n;
                for (int64_t j = 0; j < n; ++j) yr[j] += av * br[j];
            }
        }
    }
}

}  // namespace pda
