// CpuThreads: the thread count of one call into the CPU backend, for the calling thread only.
// OpenMP's thread count is a per-thread setting (its nthreads ICV), so each Model or Explainer can
// run with its own count without touching the process's default; the previous value comes back
// when the scope ends.
#pragma once

#include <omp.h>

namespace pda {

class CpuThreads {
  public:
    explicit CpuThreads(int threads) : saved_(omp_get_max_threads()), set_(threads > 0) {
        if (set_) omp_set_num_threads(threads);
    }
    ~CpuThreads() {
        if (set_) omp_set_num_threads(saved_);
    }
    CpuThreads(const CpuThreads&) = delete;
    CpuThreads& operator=(const CpuThreads&) = delete;

  private:
    int saved_;
    bool set_;
};

}  // namespace pda
