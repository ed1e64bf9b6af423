// The CUDA incremental executor (engine/incremental_cuda.h). On the GPU (CudaIncremental*, skipped
// visibly without a device): its outputs and hidden values equal CUDA full execution and the CPU
// incremental executor on the random graphs and the built-in AlexNet, GoogLeNet, VGG16 (width 1/8) at
// k ∈ {1, 5, 10, 20}, strides 1 and 3, windows at every border and corner (tests/test_incremental.cc's
// cases), and on the random volume graphs (test_incremental_volume.cc's); explain maps equal the CPU's and CUDA full
// execution's for the three samplers. Everywhere: the host-side parts it runs on, the device memory layout
// (engine/incremental_layout.h), the batch arithmetic and each image's window (kernels/crop_math.h) against WindowGrid.
// Worst differences are printed with a "[ cuda incr ]" prefix. The CUDA program's run over the same layout and binding
// is the CPU executor's (IncrementalEmulation*), so that all but its launches and cuDNN calls are checked on any
// machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/cpu/incremental.h"
#include "engine/cpu/ops.h"
#include "engine/cuda_program.h"
#include "engine/device.h"
#include "engine/explainer.h"
#include "engine/gaussian.h"
#include "engine/incremental_cuda.h"
#include "engine/incremental_layout.h"
#include "engine/memory_plan.h"
#include "engine/program.h"
#include "engine/sampler_conditional.h"
#include "engine/samplers.h"
#include "engine/windows.h"
#include "incremental_cases.h"
#include "kernels/cpu/context.h"
#include "kernels/crop_math.h"
#include "test_util.h"

namespace pda {
namespace {

using incremental_test::builtin;
using incremental_test::ExplainCase;
using incremental_test::hidden_values;
using incremental_test::random_graph;
using incremental_test::random_tensor;
using incremental_test::relative_difference;
using incremental_test::WindowBatches;

constexpr int64_t kAlign = 64;  // as the CUDA executors (engine/cuda/cuda_ops.h)

// ---- everywhere: each image's window ---------------------------------------------------------------

TEST(IncrementalWindows, ImageWindowsFollowTheWindowGrid) {
    // Grids with and without a remainder, blocks of 1..7 windows, S = 1..4, program batches past the
    // block's images (a fitted batch that is not a multiple of S, a last partial block).
    for (const WindowGrid& grid : {WindowGrid(12, 9, 3, 1), WindowGrid(227, 227, 10, 24), WindowGrid(17, 31, 5, 3)}) {
        for (int64_t wpb : {1, 3, 7})
            for (int64_t S : {1, 2, 4}) {
                const int64_t images = wpb * S + 2;  // the program's batch
                for (int64_t w0 = 0; w0 < grid.count(); w0 += wpb) {
                    const int64_t count = std::min(wpb, grid.count() - w0);
                    for (int64_t b = 0; b < images; ++b) {
                        const int64_t w = std::min(w0 + b / S, w0 + count - 1);  // engine/explainer.cc's rule
                        int64_t slice = -1, row = -1, col = -1;
                        crop_image_window(b, grid.block(3, S, w0, count), &slice, &row, &col);
                        ASSERT_EQ(slice, grid.slice(w)) << "window " << w << " image " << b;
                        ASSERT_EQ(row, grid.row(w)) << "window " << w << " image " << b;
                        ASSERT_EQ(col, grid.col(w)) << "window " << w << " image " << b;
                        ASSERT_LE(row + grid.k, grid.height);
                        ASSERT_LE(col + grid.k, grid.width);
                    }
                }
            }
    }
}

// ---- everywhere: the device memory layout ----------------------------------------------------------

IncrementalPlan plan_for(const Graph& g, int64_t k) {
    Shape in = g.inputs[0].shape;
    in[0] = 1;
    return plan_incremental(g, in, k);
}

// Every buffer in bounds; buffers whose lifetimes meet disjoint (a value lives from the step that
// writes it to its last reader, kept values, the batch and replicated values for the whole run; a
// buffer reused by a later value is the point of the layout); each step's scratch disjoint from them
// and from each other, at the arena's end; every kept value readable; the forms as
// kernels of a run read them (the gathers of kernels/cpu/crop.h and kernels/cuda/crop.h).
void check_layout(const Graph& g, const IncrementalPlan& plan, const IncrementalLayout& l) {
    const int64_t B = l.batch;
    const std::map<std::string, Shape> shapes_b = infer_shapes(g, {plan.batch_shape(B)});
    // Lifetimes from the plan: [step writing it, last step reading it]; the whole run for the others.
    const size_t forever = plan.steps.size() + 1;
    std::map<std::string, std::pair<size_t, size_t>> life;
    for (size_t i = 0; i < plan.steps.size(); ++i) {
        const Node& n = g.nodes[plan.steps[i].node];
        life[n.output] = {i, i};
        for (const std::string& in : n.inputs)
            if (life.count(in)) life[in].second = std::max(life[in].second, i);
    }
    struct Buffer {
        int64_t at, end;
        size_t first, last;
        std::string what;
    };
    std::vector<Buffer> buffers;
    auto add = [&](int64_t at, int64_t n, const std::string& what, std::pair<size_t, size_t> when) {
        ASSERT_GE(at, 0) << what;
        ASSERT_EQ(at % kAlign, 0) << what;
        ASSERT_LE(at + n, l.arena_floats - l.scratch_floats) << what;
        buffers.push_back({at, at + n, when.first, when.second, what});
    };
    const std::pair<size_t, size_t> always{0, forever};
    add(l.input, shapes_b.at(plan.input).numel(), "input", always);
    for (const auto& [name, lv] : l.values) {
        const PlannedValue& pv = plan.value(name);
        if (lv.buf >= 0)
            add(lv.buf, pv.held == Held::kCrop ? pv.crop_shape(B, pv.channels()).numel() : shapes_b.at(name).numel(),
                name, l.kept.count(name) ? std::make_pair(life.at(name).first, forever) : life.at(name));
        if (lv.broadcast >= 0) add(lv.broadcast, shapes_b.at(name).numel(), name + " broadcast", always);
        if (lv.shown >= 0) add(lv.shown, shapes_b.at(name).numel(), name + " shown", always);
        if (lv.clean >= 0) {
            EXPECT_LE(lv.clean + pv.shape.numel(), l.clean_floats) << name;
        }
        EXPECT_EQ(lv.buf >= 0, pv.held == Held::kCrop || pv.held == Held::kFull) << name;
        if (pv.held == Held::kCrop) {
            EXPECT_GE(lv.clean, 0) << name;
        }
        if (l.kept.count(name) && pv.held == Held::kCrop) {
            EXPECT_GE(lv.shown, 0) << name;
        }
        if (l.kept.count(name) && pv.held == Held::kUnchanged) {
            EXPECT_GE(lv.broadcast, 0) << name;
        }
    }
    int64_t reused = 0;
    for (size_t i = 0; i < buffers.size(); ++i)
        for (size_t j = i + 1; j < buffers.size(); ++j) {
            const Buffer &a = buffers[i], &b = buffers[j];
            const bool space = a.at < b.end && b.at < a.end, time = a.first <= b.last && b.first <= a.last;
            EXPECT_FALSE(space && time) << a.what << " and " << b.what << " share memory while both live";
            reused += space;
        }
    if (B == 1 && plan.steps.size() > 6) {
        EXPECT_GT(reused, 0) << "no buffer reused: the layout gives every value its own memory";
    }
    ASSERT_EQ(l.steps.size(), plan.steps.size());
    int64_t largest = 0;
    for (size_t s = 0; s < l.steps.size(); ++s) {
        const LayoutStep& ls = l.steps[s];
        const PlannedStep& ps = plan.steps[s];
        const Node& n = g.nodes[ps.node];
        std::vector<std::pair<int64_t, int64_t>> scratch;
        for (size_t j = 0; j < ls.form.size(); ++j) {
            const std::string& in = n.inputs[j];
            const InputForm f = ls.form[j];
            if (g.is_constant(in)) {
                EXPECT_EQ(f, InputForm::kConstant) << n.name;
                continue;
            }
            const Held src = plan.value(in).held;
            if (ps.held == Held::kCrop) {
                EXPECT_TRUE(f == InputForm::kGather || (f == InputForm::kValue && src == Held::kCrop)) << n.name;
                if (ps.window && j == 0) {
                    EXPECT_EQ(f, InputForm::kGather) << n.name;
                }
            } else {
                const InputForm want = src == Held::kInput  ? InputForm::kBatch
                                       : src == Held::kFull ? InputForm::kValue
                                       : src == Held::kCrop ? InputForm::kAssemble
                                                            : InputForm::kBroadcast;
                EXPECT_EQ(f, want) << n.name << " input " << in;
            }
            if (f == InputForm::kGather || f == InputForm::kAssemble) {
                ASSERT_GE(ls.scratch[j], l.arena_floats - l.scratch_floats) << n.name;
                ASSERT_LE(ls.scratch[j] + ls.in_shapes[j].numel(), l.arena_floats) << n.name;
                scratch.emplace_back(ls.scratch[j], ls.scratch[j] + ls.in_shapes[j].numel());
                largest = std::max(largest, scratch.back().second - (l.arena_floats - l.scratch_floats));
            } else {
                EXPECT_EQ(ls.scratch[j], -1) << n.name;
            }
        }
        std::sort(scratch.begin(), scratch.end());
        for (size_t i = 1; i < scratch.size(); ++i) EXPECT_LE(scratch[i - 1].second, scratch[i].first) << n.name;
    }
    // Shared, not one region per step: as large as the largest step's (up to alignment).
    EXPECT_LE(l.scratch_floats - largest, kAlign);
}

std::vector<Graph> layout_graphs() {
    std::vector<Graph> gs;
    gs.push_back(random_graph(3, false));
    gs.push_back(random_graph(7, true));
    for (const char* net : {"alexnet", "googlenet", "vgg16"}) gs.push_back(builtin(net, net != std::string("alexnet")));
    gs.push_back(incremental_test::random_volume_graph(3, false));
    return gs;
}

// The larger window side of the layout tests: 10 on images, 3 on the (1, 2, 11, 9, 10) volume graph.
int64_t large_k(const Graph& g) { return g.inputs[0].shape.rank == 5 ? 3 : 10; }

TEST(IncrementalLayout, BuffersAreDisjointAndScratchIsShared) {
    for (const Graph& g : layout_graphs())
        for (int64_t k : {int64_t{1}, large_k(g)}) {
            const IncrementalPlan plan = plan_for(g, k);
            SCOPED_TRACE(g.name + " k=" + std::to_string(k));
            for (int64_t B : {1, 5}) check_layout(g, plan, layout_incremental(g, plan, B, {}, kAlign));
            check_layout(g, plan, layout_incremental(g, plan, 3, {hidden_values(g)[0], plan.input}, kAlign));
        }
}

TEST(IncrementalLayout, LinearInTheBatchAndSmallerThanFull) {
    for (const Graph& g : layout_graphs()) {
        const int64_t k = large_k(g);
        const IncrementalPlan plan = plan_for(g, k);
        int64_t arena[4];
        for (int64_t B = 1; B <= 3; ++B) arena[B] = layout_incremental(g, plan, B, {}, kAlign).arena_floats;
        const int64_t per_image = arena[2] - arena[1];
        // Linear up to each buffer's alignment.
        const int64_t buffers = static_cast<int64_t>(layout_incremental(g, plan, 1, {}, kAlign).buffer_elements.size());
        EXPECT_LE(std::abs((arena[3] - arena[2]) - per_image), buffers * kAlign) << g.name;
        // The full executor's per image (cuda_max_batch: its arena and the input).
        Shape in = g.inputs[0].shape;
        int64_t full[3];
        for (int64_t B = 1; B <= 2; ++B) {
            in[0] = B;
            full[B] = plan_memory(g, infer_shapes(g, {in}), {}, kAlign).arena_floats + in.numel();
        }
        const int64_t full_per_image = full[2] - full[1];
        std::printf("[ cuda incr ] %-20s k=%lld: floats per image incremental %lld, full %lld (%.2fx)\n",
                    g.name.c_str(), static_cast<long long>(k), static_cast<long long>(per_image),
                    static_cast<long long>(full_per_image),
                    static_cast<double>(full_per_image) / static_cast<double>(per_image));
        EXPECT_GT(per_image, plan.C * plan.D * plan.H * plan.W) << g.name;  // the batch itself, at least
        // Crops and reused buffers save memory over the full executor's arena (which reuses too).
        EXPECT_LT(per_image, full_per_image) << g.name;
    }
}

TEST(IncrementalLayout, BatchCapKeepsEveryBufferUnder2To31) {
    const Graph g = builtin("alexnet", false);
    const IncrementalPlan plan = plan_for(g, 10);
    const int64_t max_elements = (int64_t{1} << 31) - 1;
    const IncrementalLayout l1 = layout_incremental(g, plan, 1, {}, kAlign);
    const int64_t cap = layout_batch_cap(l1, layout_incremental(g, plan, 2, {}, kAlign), max_elements);
    std::printf("[ cuda incr ] alexnet/8 k=10: batch cap %lld (input %lld floats per image)\n",
                static_cast<long long>(cap), static_cast<long long>(plan.C * plan.H * plan.W));
    auto largest = [](const IncrementalLayout& l) {
        return *std::max_element(l.buffer_elements.begin(), l.buffer_elements.end());
    };
    EXPECT_LE(largest(layout_incremental(g, plan, cap, {}, kAlign)), max_elements);
    EXPECT_GT(largest(layout_incremental(g, plan, cap + 1, {}, kAlign)), max_elements);
}

TEST(IncrementalLayout, DeviceBatchArithmetic) {
    DeviceBudget d;
    d.free_bytes = int64_t{80} << 30;
    d.conv_workspace_limit = int64_t{1} << 30;
    d.conv_chunk_elements = int64_t{1} << 26;
    // 0.9 · 80 GiB − 1 GiB weights − 0.5 GiB 16-bit copies − 2 GiB fixed − 1 GiB workspace − 256 MiB
    // chunk copies − 512 MiB = 66.75 GiB, over 1.25 MiB per image.
    const int64_t usable = static_cast<int64_t>(0.9 * static_cast<double>(int64_t{80} << 30)) - (int64_t{1} << 30) -
                           (int64_t{1} << 29) - (int64_t{2} << 30) - (int64_t{1} << 30) - (int64_t{1} << 28) -
                           (int64_t{1} << 29);
    EXPECT_EQ(batch_for_device_memory(int64_t{1} << 20, int64_t{2} << 30, int64_t{1} << 30, d),
              usable / ((int64_t{1} << 20) + (int64_t{1} << 18)));
    EXPECT_EQ(batch_for_device_memory(int64_t{1} << 20, int64_t{80} << 30, 0, d), 0);  // nothing left
    d.free_bytes = 0;
    EXPECT_EQ(batch_for_device_memory(1, 0, 0, d), 0);
}

TEST(IncrementalLayout, UnknownKeptValueIsAnInputError) {
    const Graph g = random_graph(3, false);
    const IncrementalPlan plan = plan_for(g, 5);
    EXPECT_THROW(layout_incremental(g, plan, 2, {"no such value"}, kAlign), Error);
    EXPECT_THROW(layout_incremental(g, plan, 0, {}, kAlign), Error);
}

// ---- everywhere: the CUDA program's run on the CPU ------------------------------------------------
// The CPU executor (engine/cpu/incremental.h) is the CUDA program's run over the same layout and
// binding, with the CPU's ops and gathers in place of cuDNN and the kernels, its arena NaN-filled so
// that an element no gather writes shows. What this leaves to a GPU run: the launches, the device
// copies and the CUDA ops themselves.

// Worst relative difference of the CPU run of the layout against a full CPU forward over `values` and the outputs.
double emulated_difference(const Graph& g, const std::vector<std::string>& values, int64_t k, int64_t stride, bool all,
                           int64_t batch, uint32_t seed) {
    CpuContext ctx;
    return incremental_test::worst_against_full(
        g, values, k, stride, all, batch, seed, 1e-5, [&](ConstTensorView x, const std::set<std::string>& keep) {
            return std::make_unique<IncrementalProgram>(g, x, k, batch, ctx, keep);
        });
}

void check_emulated(const Graph& g, const std::vector<int64_t>& ks, const std::vector<int64_t>& strides, bool all,
                    int64_t batch, const std::vector<std::string>& values) {
    for (int64_t k : ks)
        for (int64_t s : strides) {
            const double worst = emulated_difference(g, values, k, s, all, batch, static_cast<uint32_t>(k * 10 + s));
            std::printf("[ cuda incr ] emulated %-24s k=%-2lld stride=%lld worst relative difference to full %.2e\n",
                        g.name.c_str(), static_cast<long long>(k), static_cast<long long>(s), worst);
        }
}

TEST(IncrementalEmulation, RandomGraphsEqualFullEverywhere) {
    for (bool include_pad : {false, true}) {
        const Graph g = random_graph(include_pad ? 7 : 3, include_pad);
        std::vector<std::string> all_values;
        for (const Node& n : g.nodes) all_values.push_back(n.output);
        check_emulated(g, {1, 5, 10, 20}, {1, 3}, true, 16, all_values);
    }
}

TEST(IncrementalEmulation, NetworksEqualFull) {
    const Graph alexnet = builtin("alexnet", false);
    check_emulated(alexnet, {1, 5, 10, 20}, {1, 3}, false, 24, hidden_values(alexnet));
    const Graph googlenet = builtin("googlenet", true);
    check_emulated(googlenet, {5, 10}, {3}, false, 25, hidden_values(googlenet));
    const Graph vgg16 = builtin("vgg16", true);
    check_emulated(vgg16, {10}, {3}, false, 25, hidden_values(vgg16));
}

// ---- on the GPU: incremental == full == CPU incremental -------------------------------------------

class CudaIncremental : public ::testing::Test {
  protected:
    void SetUp() override {
        PDA_SKIP_WITHOUT_CUDA();
        ctx_ = make_cuda_context(0);
    }
    CudaContextPtr ctx_;
};

struct Worst {
    double full = 0, cpu = 0;  // CUDA incremental vs CUDA full, vs CPU incremental
};

// Worst relative differences over `values` and the outputs of g, for every window of the position
// grid in batches of `batch` (the last one padded with clean images); each must stay within its
// tolerance (tol_full against CUDA full execution, tol_cpu against the CPU's FP32).
Worst worst_difference(const Graph& g, const std::vector<std::string>& values, int64_t k, int64_t stride, bool all,
                       int64_t batch, uint32_t seed, CudaContext& cuda, double tol_full, double tol_cpu,
                       Precision precision = Precision::kFp32) {
    WindowBatches wb(g, k, stride, all, batch, seed);
    const std::set<std::string> keep(values.begin(), values.end());
    CpuContext cpu;
    IncrementalProgram ref(g, wb.x().view(), k, batch, cpu, keep);
    CudaCompileOptions opt;
    opt.keep = keep;
    opt.precision = precision;
    opt.time_conv_algorithms = false;  // heuristics: fast to build, and whatever they pick must agree
    std::unique_ptr<CudaIncrementalProgram> inc = compile_cuda_incremental(g, wb.x().view(), k, batch, cuda, opt);
    std::unique_ptr<CudaProgram> full = compile_cuda(g, {wb.images().shape()}, cuda, opt);
    std::vector<std::string> compared = values;
    for (const std::string& o : g.outputs) compared.push_back(o);
    Worst worst;
    while (wb.next()) {
        ref.run(wb.images().data(), wb.slices(), wb.rows(), wb.cols());
        inc->run(wb.images().data(), wb.slices(), wb.rows(), wb.cols());
        full->run({wb.images().view()});
        for (const std::string& v : compared) {
            const ConstTensorView a = inc->value(v), f = full->value(v), c = ref.value(v);
            if (a.shape != f.shape || a.shape != c.shape) {
                ADD_FAILURE() << g.name << " value '" << v << "': shape " << a.shape.str() << ", CUDA full "
                              << f.shape.str() << ", CPU " << c.shape.str();
                return worst;
            }
            const double df = relative_difference(a, f), dc = relative_difference(a, c);
            if (!(df <= tol_full) || !(dc <= tol_cpu))  // NaN fails too
                ADD_FAILURE() << g.name << " " << precision_name(precision) << " k=" << k << " stride=" << stride
                              << " value '" << v << "' windows from (" << wb.slices()[0] << "," << wb.rows()[0] << ","
                              << wb.cols()[0] << "): relative difference to CUDA full " << df << " (tolerance "
                              << tol_full << "), to CPU incremental " << dc << " (tolerance " << tol_cpu << ")";
            worst.full = std::max(worst.full, df);
            worst.cpu = std::max(worst.cpu, dc);
        }
    }
    return worst;
}

void check_network(const Graph& g, const std::vector<int64_t>& ks, const std::vector<int64_t>& strides, bool all,
                   int64_t batch, CudaContext& cuda, double tol, const std::vector<std::string>& values = {}) {
    const std::vector<std::string> hidden = values.empty() ? hidden_values(g) : values;
    for (int64_t k : ks)
        for (int64_t s : strides) {
            const Worst w =
                worst_difference(g, hidden, k, s, all, batch, static_cast<uint32_t>(k * 10 + s), cuda, tol, tol);
            std::printf(
                "[ cuda incr ] %-24s k=%-2lld stride=%lld worst relative difference: CUDA full %.2e, CPU "
                "incremental %.2e\n",
                g.name.c_str(), static_cast<long long>(k), static_cast<long long>(s), w.full, w.cpu);
        }
}

// FP32 tolerances: the random graphs' values are a few ops deep; the networks' differ by up to 1e-3
// between cuDNN and oneDNN already (tests/test_cuda_ops.cc), and between cuDNN's algorithms for a
// crop and for a whole map.
constexpr double kSmallTol = 1e-4, kDeepTol = 1e-3;

TEST_F(CudaIncremental, RandomGraphsEqualFullAndCpuEverywhere) {
    for (bool include_pad : {false, true}) {
        const Graph g = random_graph(include_pad ? 7 : 3, include_pad);
        std::vector<std::string> all_values;
        for (const Node& n : g.nodes) all_values.push_back(n.output);
        check_network(g, {1, 5, 10, 20}, {1, 3}, true, 16, *ctx_, kSmallTol, all_values);
    }
}

// Volumes: the 3-D random graphs (tests/test_incremental_volume.cc on the CPU), k × k × k windows at
// every face, edge and corner of the stride grid.
TEST_F(CudaIncremental, VolumeGraphsEqualFullAndCpuEverywhere) {
    using incremental_test::random_volume_graph;
    for (bool include_pad : {false, true}) {
        const Graph g = random_volume_graph(include_pad ? 7 : 3, include_pad);
        std::vector<std::string> all_values;
        for (const Node& n : g.nodes) all_values.push_back(n.output);
        check_network(g, {1, 2, 3, 5}, {2, 3}, true, 16, *ctx_, kSmallTol, all_values);
    }
}

TEST_F(CudaIncremental, AlexNetEqualsFullAndCpu) {
    check_network(builtin("alexnet", false), {1, 5, 10, 20}, {1, 3}, false, 24, *ctx_, kDeepTol);
    check_network(builtin("alexnet", true), {10}, {3}, false, 24, *ctx_, kDeepTol);
}

TEST_F(CudaIncremental, GoogLeNetEqualsFullAndCpu) {
    check_network(builtin("googlenet", true), {1, 5, 10, 20}, {1, 3}, false, 25, *ctx_, kDeepTol);
    check_network(builtin("googlenet", false), {5}, {3}, false, 25, *ctx_, kDeepTol);
}

TEST_F(CudaIncremental, Vgg16EqualsFullAndCpu) {
    check_network(builtin("vgg16", true), {1, 5, 10, 20}, {1, 3}, false, 25, *ctx_, kDeepTol);
}

TEST_F(CudaIncremental, ReducedPrecisionEqualsFull) {
    // FP16 / BF16 incremental against CUDA full execution in the same precision (the same 16-bit
    // inputs; a different accumulation order may round a value to its 16-bit neighbour), and against
    // the CPU's FP32 (printed only: tests/test_cuda_ops.cc bounds reduced precision itself).
    const Graph g = builtin("alexnet", true);
    for (Precision p : {Precision::kFp16, Precision::kBf16}) {
        const Worst w = worst_difference(g, hidden_values(g), 10, 3, false, 24, 13, *ctx_, 2e-2, INFINITY, p);
        std::printf("[ cuda incr ] %-24s %s k=10 stride=3: vs CUDA full %s %.2e, vs CPU fp32 %.2e\n", g.name.c_str(),
                    precision_name(p), precision_name(p), w.full, w.cpu);
    }
}

TEST_F(CudaIncremental, FittingSizesTheBatch) {
    const Graph g = builtin("alexnet", true);
    std::mt19937 rng(3);
    Shape in = g.inputs[0].shape;
    in[0] = 1;
    const Tensor x = random_tensor(in, rng, -1.f, 1.f);
    const int64_t inc = cuda_incremental_max_batch(g, in, 10, *ctx_), full = cuda_max_batch(g, in, *ctx_);
    std::printf("[ cuda incr ] alexnet/8 fused k=10: max batch incremental %lld, full %lld\n",
                static_cast<long long>(inc), static_cast<long long>(full));
    EXPECT_GT(inc, 0);
    FittedIncremental f = compile_cuda_incremental_fitting(g, x.view(), 10, std::min<int64_t>(inc, 512), *ctx_);
    ASSERT_TRUE(f.program);
    EXPECT_EQ(f.program->batch(), f.batch);
    EXPECT_GT(f.program->device_bytes(), 0);
    EXPECT_THROW(compile_cuda_incremental(g, x.view(), 10, 0, *ctx_), Error);
    EXPECT_THROW(compile_cuda_incremental(g, x.view(), 300, 4, *ctx_), Error);  // k larger than the image
    std::vector<int64_t> rows(4, 0), cols(4, 0);
    rows[2] = in[2] - 9;  // window past the border
    Tensor batch(Shape{4, in[1], in[2], in[3]});
    auto p = compile_cuda_incremental(g, x.view(), 10, 4, *ctx_);
    EXPECT_THROW(p->run(batch.data(), rows, cols), Error);
}

// ---- on the GPU: explain maps ----------------------------------------------------------------------

TEST_F(CudaIncremental, ExplainMapsEqualCpuAndFullForEverySampler) {
    const ExplainCase t;
    const Graph& g = t.g;
    const Tensor& x = t.x;
    ExplainParams p = t.p;
    p.seed = 2;
    CpuContext cpu;
    auto sampler = [&](const std::string& kind) { return t.sampler(kind); };
    for (const std::string kind : {"occlusion", "marginal", "conditional"}) {
        ExplainParams pi = p, pf = p;
        pi.exec = Execution::kIncremental;
        pf.exec = Execution::kFull;
        auto s0 = sampler(kind), s1 = sampler(kind), s2 = sampler(kind);
        const Explanation c = explain_cpu(g, {"prob", false}, x.view(), *s0, pi, cpu);
        const Explanation inc = explain_cuda(g, {"prob", false}, x.view(), *s1, pi, *ctx_, Precision::kFp32);
        const Explanation full = explain_cuda(g, {"prob", false}, x.view(), *s2, pf, *ctx_, Precision::kFp32);
        ASSERT_EQ(inc.classes, c.classes) << kind;
        ASSERT_EQ(inc.classes, full.classes) << kind;
        EXPECT_EQ(inc.forward_passes, c.forward_passes) << kind;
        EXPECT_GT(inc.windows, 50) << kind;
        double prob = 0;
        for (size_t i = 0; i < c.probabilities.size(); ++i)
            prob = std::max(prob, static_cast<double>(std::fabs(inc.probabilities[i] - c.probabilities[i])));
        EXPECT_LE(prob, 1e-4) << kind << ": p(c|x) must be the clean image's";
        const double rel_cpu = relative_difference(inc.relevance.view(), c.relevance.view());
        const double rel_full = relative_difference(inc.relevance.view(), full.relevance.view());
        const double node_cpu = relative_difference(inc.node_maps.at("conv3").view(), c.node_maps.at("conv3").view());
        const double node_full =
            relative_difference(inc.node_maps.at("conv3").view(), full.node_maps.at("conv3").view());
        EXPECT_LE(rel_cpu, kDeepTol) << kind;
        EXPECT_LE(rel_full, kDeepTol) << kind;
        EXPECT_LE(node_cpu, kDeepTol) << kind;
        EXPECT_LE(node_full, kDeepTol) << kind;
        std::printf(
            "[ cuda incr ] explain %-11s relevance vs CPU %.2e, vs CUDA full %.2e; conv3 AD vs CPU %.2e, vs "
            "CUDA full %.2e; p(c|x) max |diff| %.2e; %lld windows\n",
            kind.c_str(), rel_cpu, rel_full, node_cpu, node_full, prob, static_cast<long long>(inc.windows));
    }
}

}  // namespace
}  // namespace pda
