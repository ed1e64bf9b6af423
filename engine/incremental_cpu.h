// The exact incremental executor on the CPU (METHOD.md §5, issue 5 item 2): the clean image's
// activations are cached once; a batch of resampled images, each differing from the clean image only
// inside its own k × k window, is run by recomputing every node on a crop of one size per batch
// (the shared plan: engine/incremental_plan.h) read from the cache with the changed crops pasted in, and nodes
// whose crop covers (nearly) the whole map on full maps. Results equal a full forward up to float
// reordering (tests/test_incremental.cc).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/cpu_ops.h"
#include "engine/incremental_plan.h"

namespace pda {

class IncrementalProgram {
  public:
    // g: the graph (one input with 2 spatial axes); clean_x: the explained image (1, C, H, W); k: the
    // window side; batch: images per run; keep: values besides the graph outputs readable after run().
    // g and ctx must outlive the program.
    IncrementalProgram(const Graph& g, ConstTensorView clean_x, int64_t k, int64_t batch, CpuContext& ctx,
                       const std::set<std::string>& keep = {});
    ~IncrementalProgram();
    IncrementalProgram(const IncrementalProgram&) = delete;
    IncrementalProgram& operator=(const IncrementalProgram&) = delete;

    // batch: (B, C, H, W) images equal to clean_x except inside window (rows[b], cols[b]) of side k
    // (rows, cols: B entries each; a clean image may name any window). Only the windows are read.
    void run(const float* batch, const std::vector<int64_t>& rows, const std::vector<int64_t>& cols);

    // A graph output or kept value of the last run(), (B, ...) as a full forward gives it. Valid until
    // the next run().
    ConstTensorView value(const std::string& name) const;
    // The clean image's value (1, ...), computed once at construction.
    ConstTensorView clean_value(const std::string& name) const;
    const CropPlan& plan() const { return plan_.crops; }
    const IncrementalPlan& incremental_plan() const { return plan_; }
    int64_t batch() const { return B_; }

  private:
    struct Value;  // per value: kind, shapes, buffers, per-image crop origins
    struct Step;   // per node: the op built for crop or full shapes and how its inputs are gathered

    Value& val(const std::string& name);
    const Value& val(const std::string& name) const;
    void place_crops(const std::vector<int64_t>& rows, const std::vector<int64_t>& cols);
    const float* gather(Step& st, size_t input, Value& out);
    void materialise(const std::string& name);
    void assemble(const Value& v, float* out) const;

    const Graph& g_;
    int64_t B_ = 0;
    IncrementalPlan plan_;
    std::map<std::string, std::unique_ptr<Value>> values_;
    std::vector<std::unique_ptr<Step>> steps_;
    std::set<std::string> kept_;
    const float* batch_ = nullptr;
};

}  // namespace pda
