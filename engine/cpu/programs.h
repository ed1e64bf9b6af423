// The CPU's two BatchPrograms (engine/batch_program.h): the whole network on every image
// (compile_cpu, engine/program.h) and exact incremental execution (IncrementalProgram,
// engine/cpu/incremental.h), both with their input batch in host memory.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "engine/batch_program.h"
#include "networks/graph.h"

namespace pda {

struct CpuContext;

std::unique_ptr<BatchProgram> make_cpu_full_program(const Graph& g, const Shape& image, int64_t batch, CpuContext& ctx,
                                                    const std::set<std::string>& keep);
std::unique_ptr<BatchProgram> make_cpu_incremental_program(const Graph& g, ConstTensorView clean_x, int64_t k,
                                                           int64_t batch, CpuContext& ctx,
                                                           const std::set<std::string>& keep);

}  // namespace pda
