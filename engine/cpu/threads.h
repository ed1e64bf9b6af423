// CpuThreads: the thread count of one call into the CPU backend, for the calling thread only.
// OpenMP's thread count is a per-thread setting (its nthreads ICV), so each Model or Explainer can
// run with its own count without touching the process's default; the previous value comes back
// when the scope ends.
#pragma once

#include <omp.h>

namespace pda {

// The processors this process may run on (its affinity mask), at least 1.
inline int cpu_processors() { return omp_get_num_procs() > 0 ? omp_get_num_procs() : 1; }

// The threads a requested count runs with: 0 = every hardware thread, more is capped there.
inline int effective_threads(int requested) {
    return requested <= 0 || requested > cpu_processors() ? cpu_processors() : requested;
}

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
