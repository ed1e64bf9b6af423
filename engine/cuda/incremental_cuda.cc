// CudaIncrementalProgram (engine/incremental_cuda.h): the run of IncrementalProgram (engine/cpu/incremental.cc)
// on the device. The clean activations come from a batch-1 compile_cuda program run once; the buffers are
// engine/incremental_layout.h's (one arena: the batch, the values, kept values assembled, a scratch all
// steps reuse; a second, small one: the clean cache); ops are make_cuda_op's at the plan's shapes; the
// gathers, assembly and average-pool divisors are kernels/cuda/crop.h's. Everything a run needs is
// resolved at construction (bind_layout: device pointers and kernel parameters, the same binding the
// CPU program runs): run_device only launches.
#include "engine/incremental_cuda.h"

#include <algorithm>
#include <map>
#include <utility>

#include "engine/cuda/cuda_ops.h"
#include "engine/incremental_layout.h"
#include "kernels/check.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/crop.h"

namespace pda {
namespace {

int64_t aligned(int64_t n) { return (n + kCudaAlignFloats - 1) / kCudaAlignFloats * kCudaAlignFloats; }

// n elements of T copied to a new device buffer (at least one element), waiting: setup only.
template <class T>
cuda::DeviceBuffer upload_array(const T* host, size_t n, CudaContext& ctx) {
    cuda::DeviceBuffer d(sizeof(T) * std::max<size_t>(n, 1));
    if (n > 0) {
        PDA_CUDA_CHECK(cudaMemcpyAsync(d.data(), host, sizeof(T) * n, cudaMemcpyHostToDevice, ctx.stream()));
        ctx.synchronize();
    }
    return d;
}

class CudaIncrementalImpl : public CudaIncrementalProgram {
  public:
    CudaIncrementalImpl(const Graph& g, ConstTensorView clean_x, int64_t k, int64_t batch, CudaContext& ctx,
                        const CudaCompileOptions& opt)
        : g_(g), ctx_(ctx), precision_(opt.precision), B_(batch) {
        plan_ = plan_incremental(g, clean_x.shape, k);
        layout_ = layout_incremental(g, plan_, batch, opt.keep, kCudaAlignFloats);
        for (int64_t n : layout_.buffer_elements)
            if (n > kCudaMaxElements)
                throw cuda::CudaOutOfMemory("a buffer of " + std::to_string(n) + " elements at batch " +
                                            std::to_string(batch) +
                                            " exceeds cuDNN's 2^31 elements: lower the batch size");
        shapes_ = infer_shapes(g, {plan_.batch_shape(batch)});
        PDA_CUDA_CHECK(cudaSetDevice(ctx.device));
        cache_clean(clean_x, opt);
        upload_constants();
        arena_ = cuda::DeviceBuffer(sizeof(float) * static_cast<size_t>(layout_.arena_floats));
        for (const auto& [name, pv] : plan_.values) {
            if (pv.held != Held::kCrop) continue;
            Tables& t = tables_[name];
            t.oz = upload_array(pv.oz.data(), pv.oz.size(), ctx);
            t.oy = upload_array(pv.oy.data(), pv.oy.size(), ctx);
            t.ox = upload_array(pv.ox.data(), pv.ox.size(), ctx);
        }
        factors_.resize(plan_.steps.size());
        for (size_t i = 0; i < plan_.steps.size(); ++i) {
            const std::vector<float>& f = plan_.steps[i].avg_factor;
            if (!f.empty()) factors_[i] = upload_array(f.data(), f.size(), ctx);
        }
        LayoutMemory mem;
        mem.arena = arena_.floats();
        mem.clean = clean_.floats();
        mem.constant = [this](const std::string& v) -> const float* {
            return constants_.floats() + const_offset_.at(v);
        };
        mem.table = [this](const std::string& v, int axis) {
            const Tables& t = tables_.at(v);
            return static_cast<const int32_t*>(axis == 0 ? t.oz.data() : axis == 1 ? t.oy.data() : t.ox.data());
        };
        mem.avg_factor = [this](size_t step) -> const float* { return factors_.at(step).floats(); };
        bind_ = bind_layout(g, plan_, layout_, mem);

        ctx.find_conv_algorithms = opt.time_conv_algorithms;
        size_t workspace = 0;
        for (size_t i = 0; i < plan_.steps.size(); ++i) {
            const LayoutStep& ls = layout_.steps[i];
            ops_.push_back(make_cuda_op(g, plan_.steps[i].op, ls.in_shapes, ls.out_shape, ctx, precision_));
            workspace = std::max(workspace, ops_.back()->workspace_bytes());
        }
        ctx.workspace(workspace);
        // Unchanged values read in full or kept: replicated over the batch once.
        for (const LayoutBinding::Broadcast& b : bind_.broadcasts)
            cuda::crop_broadcast(b.out, b.clean, b.n, B_, ctx.stream());
        slices_ = cuda::DeviceBuffer(sizeof(int32_t) * static_cast<size_t>(B_));
        rows_ = cuda::DeviceBuffer(sizeof(int32_t) * static_cast<size_t>(B_));
        cols_ = cuda::DeviceBuffer(sizeof(int32_t) * static_cast<size_t>(B_));
        ctx.synchronize();
    }

    TensorView device_input() override { return {bind_.input, shapes_.at(plan_.input)}; }

    void run_device(const CropWindows& win) override {
        if (!win.slices || !win.rows || !win.cols) fail_input("incremental run: no window slices, rows or columns");
        host_.clear();
        const cudaStream_t stream = ctx_.stream();
        std::vector<const float*> in;
        for (size_t i = 0; i < ops_.size(); ++i) {
            const BoundStep& st = bind_.steps[i];
            in.clear();
            for (const BoundInput& x : st.inputs) {
                if (x.scratch) cuda::crop_gather(x.scratch, x.tile, x.source, win, stream);
                in.push_back(x.ptr);
            }
            ops_[i]->run(in, st.out, ctx_);
            if (st.factor) cuda::crop_scale(st.out, st.factor, st.crop, st.map_h, st.map_w, win, stream);
        }
        for (const LayoutBinding::Assembly& a : bind_.shown) cuda::crop_gather(a.out, a.tile, a.source, win, stream);
        ran_ = true;
    }

    ConstTensorView device_value(const std::string& name) const override {
        auto it = bind_.kept_values.find(name);
        if (it == bind_.kept_values.end()) fail_input("value '" + name + "' was not kept by the incremental program");
        if (!ran_) fail_input("value '" + name + "' is read before the first run");
        return {it->second, shapes_.at(name)};
    }

    void run(const float* batch, const std::vector<int64_t>& slices, const std::vector<int64_t>& rows,
             const std::vector<int64_t>& cols) override {
        if (!batch) fail_input("incremental run: no batch");
        const WindowTables t = checked_windows(plan_, B_, slices, rows, cols);
        const cudaStream_t stream = ctx_.stream();
        const TensorView in = device_input();
        PDA_CUDA_CHECK(cudaMemcpyAsync(in.data, batch, sizeof(float) * static_cast<size_t>(in.numel()),
                                       cudaMemcpyHostToDevice, stream));
        const std::pair<cuda::DeviceBuffer*, const std::vector<int32_t>*> tables[] = {
            {&slices_, &t.slices}, {&rows_, &t.rows}, {&cols_, &t.cols}};
        for (const auto& [dev, host] : tables)
            PDA_CUDA_CHECK(cudaMemcpyAsync(dev->data(), host->data(), sizeof(int32_t) * host->size(),
                                           cudaMemcpyHostToDevice, stream));
        run_device({static_cast<const int32_t*>(slices_.data()), static_cast<const int32_t*>(rows_.data()),
                    static_cast<const int32_t*>(cols_.data())});
        synchronize();  // t must outlive the copies
    }

    ConstTensorView value(const std::string& name) const override {
        const ConstTensorView d = device_value(name);
        auto it = host_.find(name);
        if (it == host_.end()) {
            std::vector<float> h(static_cast<size_t>(d.numel()));
            PDA_CUDA_CHECK(
                cudaMemcpyAsync(h.data(), d.data, sizeof(float) * h.size(), cudaMemcpyDeviceToHost, ctx_.stream()));
            ctx_.synchronize();
            it = host_.emplace(name, std::move(h)).first;
        }
        return {it->second.data(), d.shape};
    }

    int64_t batch() const override { return B_; }
    const IncrementalPlan& plan() const override { return plan_; }
    Precision precision() const override { return precision_; }
    int64_t device_bytes() const override {
        return static_cast<int64_t>(arena_.bytes() + clean_.bytes() + constants_.bytes());
    }
    void synchronize() override { ctx_.synchronize(); }

  private:
    struct Tables {
        cuda::DeviceBuffer oz, oy, ox;  // int32: the plan's crop origin tables
    };
    float* clean(int64_t offset) const {
        PDA_CHECK(offset >= 0 && offset < layout_.clean_floats, "incremental clean offset " + std::to_string(offset));
        return clean_.floats() + offset;
    }

    // The clean image's values the layout keeps, from a batch-1 program keeping every value; that
    // program (and its copy of the weights) is freed before the batch's buffers are allocated.
    void cache_clean(ConstTensorView clean_x, const CudaCompileOptions& opt) {
        clean_ = cuda::DeviceBuffer(sizeof(float) * static_cast<size_t>(std::max<int64_t>(layout_.clean_floats, 1)));
        CudaCompileOptions all;
        all.precision = opt.precision;
        all.time_conv_algorithms = opt.time_conv_algorithms;
        for (const Node& n : g_.nodes) all.keep.insert(n.output);
        std::unique_ptr<CudaProgram> once = compile_cuda(g_, {clean_x.shape}, ctx_, all);
        once->run({clean_x});
        for (const auto& [name, lv] : layout_.values) {
            if (lv.clean < 0) continue;
            const ConstTensorView v = once->device_value(name);
            PDA_CHECK(v.numel() == plan_.value(name).shape.numel(), "clean value '" + name + "' " + v.shape.str());
            PDA_CUDA_CHECK(cudaMemcpyAsync(clean(lv.clean), v.data, sizeof(float) * static_cast<size_t>(v.numel()),
                                           cudaMemcpyDeviceToDevice, ctx_.stream()));
        }
        ctx_.synchronize();  // before `once` frees what was copied
    }

    // Every constant a step reads, in one buffer, copied once (as engine/cuda/program.cc does).
    void upload_constants() {
        std::vector<const std::string*> names;
        int64_t total = 0;
        for (const PlannedStep& st : plan_.steps)
            for (const std::string& v : g_.nodes[st.node].inputs)
                if (g_.is_constant(v) && !const_offset_.count(v)) {
                    const_offset_[v] = total;
                    total += aligned(g_.constant(v).numel());
                    names.push_back(&v);
                }
        constants_ = cuda::DeviceBuffer(sizeof(float) * static_cast<size_t>(std::max<int64_t>(total, 1)));
        for (const std::string* v : names) {
            const Tensor& t = g_.constant(*v);
            PDA_CUDA_CHECK(cudaMemcpy(constants_.floats() + const_offset_.at(*v), t.data(),
                                      sizeof(float) * static_cast<size_t>(t.numel()), cudaMemcpyHostToDevice));
        }
    }

    const Graph& g_;
    CudaContext& ctx_;
    Precision precision_;
    int64_t B_ = 0;
    IncrementalPlan plan_;
    IncrementalLayout layout_;
    std::map<std::string, Shape> shapes_;  // the full forward's at the batch
    cuda::DeviceBuffer arena_, clean_, constants_, slices_, rows_, cols_;
    std::map<std::string, int64_t> const_offset_;
    std::map<std::string, Tables> tables_;
    std::vector<cuda::DeviceBuffer> factors_;   // per step: its average-pool factors, when any
    LayoutBinding bind_;                        // what every run gathers and computes, on the device
    std::vector<std::unique_ptr<CudaOp>> ops_;  // per step, at the layout's shapes
    bool ran_ = false;
    mutable std::map<std::string, std::vector<float>> host_;  // host copies made by value() since the last run
};

}  // namespace

std::unique_ptr<CudaIncrementalProgram> compile_cuda_incremental(const Graph& g, ConstTensorView clean_x, int64_t k,
                                                                 int64_t batch, CudaContext& ctx,
                                                                 const CudaCompileOptions& opt) {
    if (batch < 1) fail_input("incremental execution needs a batch of at least one image");
    if (!clean_x.data) fail_input("incremental execution needs the clean image");
    return std::make_unique<CudaIncrementalImpl>(g, clean_x, k, batch, ctx, opt);
}

int64_t cuda_incremental_max_batch(const Graph& g, const Shape& image, int64_t k, CudaContext& ctx,
                                   const std::set<std::string>& keep) {
    const IncrementalPlan plan = plan_incremental(g, image, k);
    const IncrementalLayout l1 = layout_incremental(g, plan, 1, keep, kCudaAlignFloats);
    const IncrementalLayout l2 = layout_incremental(g, plan, 2, keep, kCudaAlignFloats);
    const int64_t per_image = std::max<int64_t>(l2.arena_floats - l1.arena_floats, 1);
    const int64_t fixed = std::max<int64_t>(l1.arena_floats - per_image, 0) + l1.clean_floats;
    int64_t const_bytes = 0;
    for (auto& [name, t] : g.constants) const_bytes += aligned(t.numel()) * static_cast<int64_t>(sizeof(float));
    const int64_t batch =
        batch_for_device_memory(per_image * static_cast<int64_t>(sizeof(float)),
                                fixed * static_cast<int64_t>(sizeof(float)), const_bytes, cuda_device_budget(ctx));
    return std::max<int64_t>(std::min(batch, layout_batch_cap(l1, l2, kCudaMaxElements)), 0);
}

FittedIncremental compile_cuda_incremental_fitting(const Graph& g, ConstTensorView clean_x, int64_t k, int64_t batch,
                                                   CudaContext& ctx, const CudaCompileOptions& opt) {
    if (batch < 0) fail_input("batch must be ≥ 0, got " + std::to_string(batch));
    FittedIncremental r;
    if (batch == 0) batch = cuda_incremental_max_batch(g, clean_x.shape, k, ctx, opt.keep);
    if (batch < 1) fail_input("graph '" + g.name + "' does not fit in free device memory even for one image");
    r.program = cuda::halve_on_out_of_memory(
        batch, [&](int64_t b) { return compile_cuda_incremental(g, clean_x, k, b, ctx, opt); }, &r.batch, &r.note);
    return r;
}

}  // namespace pda
