// Program: one graph compiled for fixed input shapes (the batch size included) on one backend.
// Build once, run many times: the workload of PDA is hundreds of thousands of forward passes.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "networks/graph.h"

namespace pda {

struct CpuContext;

class Program {
  public:
    virtual ~Program() = default;
    // inputs in the order of graph.inputs, shapes as compiled.
    virtual void run(const std::vector<ConstTensorView>& inputs) = 0;
    // A value computed by the last run(): a graph output or a value named in `keep` at compile
    // time. Valid until the next run().
    virtual ConstTensorView value(const std::string& name) const = 0;
    virtual const Shape& shape(const std::string& name) const = 0;
    // Bytes of activation memory the plan allocated (inputs and constants not counted).
    virtual int64_t activation_bytes() const = 0;
    // Bytes of scratch memory its kernels need at most (the CPU's oneDNN scratchpads, shared by the
    // programs of a context: counted per program only to size batches).
    virtual int64_t scratchpad_bytes() const { return 0; }
};

// Activation memory that several CPU programs of one model take turns in (one runs at a time): sized
// for the largest of them, grown when a larger one first runs, so programs for batch 1, 16 and 64 take
// the memory of batch 64 once, not the sum.
class SharedArena {
  public:
    // At least `floats` floats, 64-byte aligned; a pointer returned earlier is invalid once it grows.
    float* reserve(int64_t floats) {
        if (floats > floats_) {
            data_.reset();
            data_ = alloc_floats(floats);
            floats_ = floats;
        }
        return data_.get();
    }
    int64_t floats() const { return floats_; }

  private:
    std::unique_ptr<float[], AlignedFree> data_;
    int64_t floats_ = 0;
};

struct CompileOptions {
    std::set<std::string> keep;  // values besides the graph outputs to keep readable after run()
    // CPU: activations between oneDNN ops in its blocked layout where the graph allows it
    // (engine/cpu/layouts.h); false keeps every value plain (the reference the tests compare with).
    bool blocked_layouts = true;
    // CPU: the activations live in this arena (its values valid until another of its programs runs)
    // instead of one of the program's own; null: its own.
    SharedArena* arena = nullptr;
};

// The CPU program: oneDNN and plain C++ ops, activation buffers reused by a liveness plan.
std::unique_ptr<Program> compile_cpu(const Graph& g, const std::vector<Shape>& input_shapes, CpuContext& ctx,
                                     const CompileOptions& opt = {});

}  // namespace pda
