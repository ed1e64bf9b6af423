// GEMM and numpy MatMul on cuBLAS (cublasGemmEx with an explicit compute type), C added by a
// broadcast fill before the product (beta 1), the ReLU after it.
#include "kernels/cuda/gemm.h"

#include <algorithm>

#include "kernels/check.h"
#include "kernels/cuda/eltwise.h"
#include "kernels/matmul_math.h"

namespace pda::cuda {
namespace {

int as_int(int64_t v, const char* what) {
    PDA_CHECK(v >= 0 && v < (int64_t{1} << 31), std::string("gemm: ") + what + " too large for cuBLAS");
    return static_cast<int>(v);
}

size_t align256(size_t b) { return (b + 255) / 256 * 256; }

cudaDataType_t cuda_type(Storage s) {
    return s == Storage::kF32 ? CUDA_R_32F : s == Storage::kF16 ? CUDA_R_16F : CUDA_R_16BF;
}

// Row-major Y (m, n) = alpha·op(A)·op(B) + beta·Y, as column-major Yᵀ = op(B)ᵀ·op(A)ᵀ. A and B hold
// p.storage elements; Y is FP32; the accumulation is FP32 (TF32 inputs when p.tf32).
void gemm_row_major(const GemmParams& p, const void* a, const void* b, float beta, float* y, CudaContext& ctx) {
    const int m = as_int(p.m, "M"), n = as_int(p.n, "N"), k = as_int(p.k, "K");
    const int lda = p.trans_a ? m : k, ldb = p.trans_b ? k : n;
    const cublasComputeType_t compute = p.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const cudaDataType_t ab = cuda_type(p.storage);
    PDA_CUDA_CHECK(cublasGemmEx(ctx.cublas.get(), p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &p.alpha, b, ab, ldb, a, ab, lda, &beta,
                                y, CUDA_R_32F, n, compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace

GemmForward::GemmForward(const GemmParams& p) : p_(p) {
    PDA_CHECK(!(p.tf32 && p.storage != Storage::kF32), "gemm: TF32 applies to FP32 storage only");
    has_c_ = p.c.rank > 0 && p.beta != 0.f;
    if (has_c_) {
        PDA_CHECK(p.c.rank <= 2, "gemm C " + p.c.str());
        c_rows_ = p.c.rank == 2 ? p.c[0] : 1;
        c_cols_ = p.c.at(-1);
        PDA_CHECK((c_rows_ == 1 || c_rows_ == p.m) && (c_cols_ == 1 || c_cols_ == p.n), "gemm C " + p.c.str());
    }
}

void GemmForward::set_b(const float* b, CudaContext& ctx) {
    if (p_.storage == Storage::kF32 || p_.k * p_.n == 0) return;
    b16_ = DeviceBuffer(storage_bytes(p_.storage) * static_cast<size_t>(p_.k * p_.n));
    convert_forward(b, b16_.data(), p_.storage, p_.k * p_.n, ctx.stream());
}

size_t GemmForward::workspace_bytes() const {
    if (p_.storage == Storage::kF32) return 0;
    const size_t e = storage_bytes(p_.storage);
    return align256(e * static_cast<size_t>(p_.m * p_.k)) +
           (b16_.data() ? 0 : align256(e * static_cast<size_t>(p_.k * p_.n)));
}

void GemmForward::run(const float* a, const float* b, const float* c, float* y, CudaContext& ctx) const {
    if (has_c_) fill_broadcast_2d(c, c_rows_, c_cols_, p_.beta, y, p_.m, p_.n, ctx.stream());
    if (p_.m > 0 && p_.n > 0) {
        if (p_.k > 0) {
            const void *ak = a, *bk = b;
            if (p_.storage != Storage::kF32) {
                // 16-bit copies in the workspace: A, then B unless set_b converted it once.
                char* ws = static_cast<char*>(ctx.workspace(workspace_bytes()));
                convert_forward(a, ws, p_.storage, p_.m * p_.k, ctx.stream());
                ak = ws;
                if (b16_.data()) {
                    bk = b16_.data();
                } else {
                    char* wb = ws + align256(storage_bytes(p_.storage) * static_cast<size_t>(p_.m * p_.k));
                    convert_forward(b, wb, p_.storage, p_.k * p_.n, ctx.stream());
                    bk = wb;
                }
            }
            gemm_row_major(p_, ak, bk, has_c_ ? 1.f : 0.f, y, ctx);
        } else if (!has_c_) {
            PDA_CUDA_CHECK(cudaMemsetAsync(y, 0, sizeof(float) * static_cast<size_t>(p_.m * p_.n), ctx.stream()));
        }
    }
    if (p_.relu) unary_forward(UnaryParams{UnaryKind::kRelu, 0.f, 0.f, 0.f}, y, y, p_.m * p_.n, ctx.stream());
}

MatmulForward::MatmulForward(const MatmulParams& p) {
    Shape a = p.a, b = p.b;
    if (a.rank == 1) a = Shape{1, a[0]};
    if (b.rank == 1) b = Shape{b[0], 1};
    const int64_t m = a.at(-2), k = a.at(-1), n = b.at(-1);
    PDA_CHECK(b.at(-2) == k, "matmul " + p.a.str() + " × " + p.b.str());
    gp_.k = k;
    gp_.n = n;
    gp_.beta = 0.f;
    gp_.tf32 = p.tf32;
    if (b.rank == 2) {
        // Every row of every batch of A against the same B: one (rows, K) × (K, N) product.
        gp_.m = a.numel() / std::max<int64_t>(k, 1);
        return;
    }
    gp_.m = m;
    matmul_batch_offsets(a, b, m, k, n, a_off_, b_off_);
}

void MatmulForward::run(const float* a, const float* b, float* y, CudaContext& ctx) const {
    GemmForward g(gp_);
    if (a_off_.empty()) return g.run(a, b, nullptr, y, ctx);
    for (size_t t = 0; t < a_off_.size(); ++t)
        g.run(a + a_off_[t], b + b_off_[t], nullptr, y + static_cast<int64_t>(t) * gp_.m * gp_.n, ctx);
}

}  // namespace pda::cuda
