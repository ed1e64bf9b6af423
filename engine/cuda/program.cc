// The CUDA executor: compiles a graph into CUDA op instances, one device arena whose slots are
// reused once their last reader has run (the CPU executor's liveness plan, engine/cpu/executor.cc),
// the weights uploaded once, and the batch sized from free device memory and cuDNN's 2^31-element
// limit. Reshape, Flatten and Identity are views of their input and cost nothing. Every value is
// FP32 in every precision (FP16 / BF16 convert around convolutions and GEMMs: engine/cuda/cuda_ops.h).
#include <algorithm>
#include <map>
#include <vector>

#include "engine/cuda/cuda_ops.h"
#include "engine/cuda_program.h"
#include "engine/memory_plan.h"
#include "kernels/check.h"
#include "kernels/cuda/context.h"

namespace pda {
namespace {

constexpr int64_t kAlignFloats = kCudaAlignFloats;
constexpr int64_t kMaxElements = kCudaMaxElements;

int64_t align(int64_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

// The largest batch at which no value of g has more than kMaxElements elements, from the value
// sizes at batch 1 and 2 (each value is fixed + batch · per_image elements). Constants are left
// out: they do not grow with the batch (the first run's cap divided by a constant's size, wrongly).
// Convolutions' padded and 16-bit copies are per chunk (kernels/cuda/conv.h) and stay far below.
int64_t batch_cap_elements(const Graph& g, const std::map<std::string, Shape>& s1,
                           const std::map<std::string, Shape>& s2) {
    int64_t cap = kMaxElements;
    for (auto& [v, shape2] : s2) {
        if (g.is_constant(v)) continue;
        const int64_t n1 = s1.at(v).numel(), per_image = shape2.numel() - n1, fixed = n1 - per_image;
        if (per_image > 0) cap = std::min(cap, std::max<int64_t>(kMaxElements - fixed, 0) / per_image);
    }
    return cap;
}

class CudaProgramImpl : public CudaProgram {
  public:
    CudaProgramImpl(const Graph& g, const std::vector<Shape>& input_shapes, CudaContext& ctx,
                    const CudaCompileOptions& opt)
        : g_(g), ctx_(ctx), precision_(opt.precision) {
        shapes_ = infer_shapes(g, input_shapes);
        for (auto& [v, s] : shapes_)
            if (!g.is_constant(v) && s.numel() > kMaxElements)
                throw cuda::CudaOutOfMemory("value '" + v + "' of shape " + s.str() +
                                            " has more than 2^31 elements (cuDNN's limit): lower the batch size");
        plan_ = plan_memory(g, shapes_, opt.keep, kAlignFloats);
        PDA_CUDA_CHECK(cudaSetDevice(ctx.device));
        arena_ = cuda::DeviceBuffer(sizeof(float) * static_cast<size_t>(plan_.arena_floats));
        for (const ValueInfo& in : g.inputs) {
            input_index_[in.name] = static_cast<int>(inputs_.size());
            inputs_.emplace_back(sizeof(float) * static_cast<size_t>(shapes_.at(in.name).numel()));
        }
        upload_constants();
        ctx.find_conv_algorithms = opt.time_conv_algorithms;
        for (const Node& n : g.nodes) {
            std::vector<Shape> in;
            for (const std::string& v : n.inputs) in.push_back(shapes_.at(v));
            const bool skip = is_view_op(n.op) || g.is_constant(n.output);
            ops_.push_back(skip ? nullptr : make_cuda_op(g, n, in, shapes_.at(n.output), ctx, opt.precision));
            if (ops_.back()) workspace_ = std::max(workspace_, ops_.back()->workspace_bytes());
        }
        ctx.workspace(workspace_);
        start_ = cuda::make_event();
        stop_ = cuda::make_event();
    }

    TensorView device_input(size_t i) override {
        PDA_CHECK(i < inputs_.size(), "device_input " + std::to_string(i));
        return {inputs_[i].floats(), shapes_.at(g_.inputs[i].name)};
    }

    void run_device() override {
        host_.clear();
        std::vector<const float*> in;
        for (size_t i = 0; i < g_.nodes.size(); ++i) {
            if (!ops_[i]) continue;
            const Node& n = g_.nodes[i];
            in.clear();
            for (const std::string& v : n.inputs) in.push_back(device_ptr(v));
            ops_[i]->run(in, const_cast<float*>(device_ptr(n.output)), ctx_);
        }
    }

    void run(const std::vector<ConstTensorView>& inputs) override {
        if (inputs.size() != g_.inputs.size())
            fail_input("expected " + std::to_string(g_.inputs.size()) + " inputs, got " +
                       std::to_string(inputs.size()));
        for (size_t i = 0; i < inputs.size(); ++i) {
            if (inputs[i].shape != shapes_.at(g_.inputs[i].name))
                fail_input("input '" + g_.inputs[i].name + "' has shape " + inputs[i].shape.str() + ", compiled for " +
                           shapes_.at(g_.inputs[i].name).str());
            PDA_CUDA_CHECK(cudaMemcpyAsync(inputs_[i].data(), inputs[i].data,
                                           sizeof(float) * static_cast<size_t>(inputs[i].numel()),
                                           cudaMemcpyHostToDevice, ctx_.stream()));
        }
        run_device();
        synchronize();
    }

    ConstTensorView device_value(const std::string& name) const override { return {device_ptr(name), shape(name)}; }

    ConstTensorView value(const std::string& name) const override {
        const Shape& s = shape(name);
        auto it = host_.find(name);
        if (it == host_.end()) {
            std::vector<float> h(static_cast<size_t>(s.numel()));
            PDA_CUDA_CHECK(cudaMemcpyAsync(h.data(), device_ptr(name), sizeof(float) * h.size(), cudaMemcpyDeviceToHost,
                                           ctx_.stream()));
            ctx_.synchronize();
            it = host_.emplace(name, std::move(h)).first;
        }
        return {it->second.data(), s};
    }

    const Shape& shape(const std::string& name) const override {
        auto s = shapes_.find(name);
        if (s == shapes_.end()) fail_input("value '" + name + "' is not in graph '" + g_.name + "'");
        return s->second;
    }

    double run_device_timed() override {
        PDA_CUDA_CHECK(cudaEventRecord(start_.get(), ctx_.stream()));
        run_device();
        PDA_CUDA_CHECK(cudaEventRecord(stop_.get(), ctx_.stream()));
        PDA_CUDA_CHECK(cudaEventSynchronize(stop_.get()));
        float ms = 0.f;
        PDA_CUDA_CHECK(cudaEventElapsedTime(&ms, start_.get(), stop_.get()));
        return ms;
    }

    void synchronize() override { ctx_.synchronize(); }
    int64_t batch() const override { return g_.inputs.empty() ? 0 : shapes_.at(g_.inputs[0].name)[0]; }
    int64_t activation_bytes() const override { return static_cast<int64_t>(arena_.bytes()); }
    int64_t workspace_bytes() const override { return static_cast<int64_t>(workspace_); }
    int64_t constant_bytes() const override { return static_cast<int64_t>(constants_.bytes()); }
    Precision precision() const override { return precision_; }

    std::string summary() const override {
        std::string s = std::string("precision ") + precision_name(precision_) + "\n";
        for (size_t i = 0; i < ops_.size(); ++i) {
            if (!ops_[i]) continue;
            std::string d = ops_[i]->describe();
            if (!d.empty()) s += g_.nodes[i].name + " " + shapes_.at(g_.nodes[i].output).str() + ": " + d + "\n";
        }
        return s;
    }

  private:
    // Every constant a node reads, in one buffer, copied once.
    void upload_constants() {
        std::vector<const std::string*> names;
        int64_t total = 0;
        for (const Node& n : g_.nodes)
            for (const std::string& v : n.inputs)
                if (g_.is_constant(v) && !const_offset_.count(v)) {
                    const_offset_[v] = total;
                    total += align(g_.constant(v).numel());
                    names.push_back(&v);
                }
        constants_ = cuda::DeviceBuffer(sizeof(float) * static_cast<size_t>(total));
        for (const std::string* v : names) {
            const Tensor& t = g_.constant(*v);
            PDA_CUDA_CHECK(cudaMemcpy(constants_.floats() + const_offset_.at(*v), t.data(),
                                      sizeof(float) * static_cast<size_t>(t.numel()), cudaMemcpyHostToDevice));
        }
    }

    const float* device_ptr(const std::string& v) const {
        auto c = const_offset_.find(v);
        if (c != const_offset_.end()) return constants_.floats() + c->second;
        const std::string& r = plan_.root_of(v);
        c = const_offset_.find(r);
        if (c != const_offset_.end()) return constants_.floats() + c->second;
        auto in = input_index_.find(r);
        if (in != input_index_.end()) return inputs_[in->second].floats();
        auto off = plan_.offset.find(r);
        if (off == plan_.offset.end()) fail_input("value '" + v + "' is not computed by graph '" + g_.name + "'");
        return arena_.floats() + off->second;
    }

    const Graph& g_;
    CudaContext& ctx_;
    Precision precision_;
    std::map<std::string, Shape> shapes_;
    MemoryPlan plan_;
    cuda::DeviceBuffer arena_, constants_;
    std::vector<cuda::DeviceBuffer> inputs_;
    std::map<std::string, int> input_index_;
    std::map<std::string, int64_t> const_offset_;
    std::vector<std::unique_ptr<CudaOp>> ops_;
    size_t workspace_ = 0;
    cuda::Event start_, stop_;
    mutable std::map<std::string, std::vector<float>> host_;  // host copies made by value() since the last run
};

Shape with_batch(Shape s, int64_t batch) {
    if (s.rank < 1) fail_input("per-image shape " + s.str() + " has no batch dimension");
    s[0] = batch;
    return s;
}

}  // namespace

std::unique_ptr<CudaProgram> compile_cuda(const Graph& g, const std::vector<Shape>& input_shapes, CudaContext& ctx,
                                          const CudaCompileOptions& opt) {
    validate(g);
    return std::make_unique<CudaProgramImpl>(g, input_shapes, ctx, opt);
}

int64_t cuda_max_batch(const Graph& g, Shape per_image, CudaContext& ctx) {
    if (g.inputs.size() != 1) fail_input("cuda_max_batch: graph '" + g.name + "' must have exactly one input");
    validate(g);
    const auto s1 = infer_shapes(g, {with_batch(per_image, 1)}), s2 = infer_shapes(g, {with_batch(per_image, 2)});
    const auto input_floats = [&](const std::map<std::string, Shape>& s) {
        int64_t n = 0;
        for (const ValueInfo& in : g.inputs) n += align(s.at(in.name).numel());
        return n;
    };
    const int64_t f1 = plan_memory(g, s1, {}, kAlignFloats).arena_floats + input_floats(s1);
    const int64_t f2 = plan_memory(g, s2, {}, kAlignFloats).arena_floats + input_floats(s2);
    const int64_t per_image_bytes = std::max<int64_t>(f2 - f1, 1) * static_cast<int64_t>(sizeof(float));
    const int64_t fixed_bytes = std::max<int64_t>(f1 - (f2 - f1), 0) * static_cast<int64_t>(sizeof(float));
    int64_t const_bytes = 0;
    for (auto& [name, t] : g.constants) const_bytes += align(t.numel()) * static_cast<int64_t>(sizeof(float));
    // Headroom as batch_for_device_memory (engine/memory_plan.h) states it.
    const int64_t batch = batch_for_device_memory(per_image_bytes, fixed_bytes, const_bytes, cuda_device_budget(ctx));
    return std::max<int64_t>(std::min(batch, batch_cap_elements(g, s1, s2)), 0);
}

DeviceBudget cuda_device_budget(CudaContext& ctx) {
    size_t free_b = 0, total_b = 0;
    PDA_CUDA_CHECK(cudaSetDevice(ctx.device));
    PDA_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    DeviceBudget b;
    b.free_bytes = static_cast<int64_t>(free_b);
    b.conv_workspace_limit = static_cast<int64_t>(ctx.conv_workspace_limit);
    b.conv_chunk_elements = ctx.conv_chunk_elements;
    return b;
}

FittedProgram compile_cuda_fitting(const Graph& g, Shape per_image, int64_t batch, CudaContext& ctx,
                                   const CudaCompileOptions& opt) {
    if (batch < 0) fail_input("batch must be ≥ 0, got " + std::to_string(batch));
    FittedProgram r;
    if (batch == 0) batch = cuda_max_batch(g, per_image, ctx);
    if (batch < 1) fail_input("graph '" + g.name + "' does not fit in free device memory even for one image");
    r.program = cuda::halve_on_out_of_memory(
        batch, [&](int64_t b) { return compile_cuda(g, {with_batch(per_image, b)}, ctx, opt); }, &r.batch, &r.note);
    return r;
}

}  // namespace pda
