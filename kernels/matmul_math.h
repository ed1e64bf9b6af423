// numpy-style batched matmul bookkeeping shared by the CPU and CUDA MatMul: the batch dimensions of
// A (…, m, k) and B (…, k, n) broadcast against each other; for every output batch, the float offset
// of the A and B matrices it multiplies.
#pragma once

#include <algorithm>
#include <vector>

#include "kernels/shape.h"

namespace pda {

// a, b: shapes of rank ≥ 2 (1-D operands already promoted by the caller).
inline void matmul_batch_offsets(const Shape& a, const Shape& b, int64_t m, int64_t k, int64_t n,
                                 std::vector<int64_t>& a_off, std::vector<int64_t>& b_off) {
    const int rank = std::max(a.rank, b.rank) - 2;
    std::vector<int64_t> ad(rank, 1), bd(rank, 1), od(rank, 1);
    for (int i = 0; i < rank; ++i) {
        int ia = a.rank - 2 - rank + i, ib = b.rank - 2 - rank + i;
        ad[i] = ia >= 0 ? a[ia] : 1;
        bd[i] = ib >= 0 ? b[ib] : 1;
        od[i] = std::max(ad[i], bd[i]);
    }
    int64_t batches = 1;
    for (int64_t d : od) batches *= d;
    a_off.clear();
    b_off.clear();
    for (int64_t t = 0; t < batches; ++t) {
        int64_t rem = t, ao = 0, bo = 0, as = m * k, bs = k * n;
        for (int i = rank - 1; i >= 0; --i) {
            int64_t idx = rem % od[i];
            rem /= od[i];
            if (ad[i] > 1) ao += idx * as;
            if (bd[i] > 1) bo += idx * bs;
            as *= ad[i];
            bs *= bd[i];
        }
        a_off.push_back(ao);
        b_off.push_back(bo);
    }
}

}  // namespace pda
