// CpuContext: the oneDNN engine and stream every CPU op runs on, and the thread count. Passed
// explicitly to every op; there are no globals.
#pragma once

#include <dnnl.hpp>

namespace pda {

struct CpuContext {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    int threads = 0;  // 0: all cores (OpenMP default)
};

}  // namespace pda
