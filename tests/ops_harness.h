// Harness shared by the op suites (test_ops.cc, test_cuda_ops.cc and the table in op_cases.cc):
// seeded random tensors, a one-node graph compiled with compile_cpu, and the one comparison of every
// op test (CPU against the float64 reference, CUDA against the CPU), which prints the worst mismatch.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/program.h"
#include "kernels/cpu/context.h"
#include "networks/graph.h"

namespace pda::ops_test {

using Ref = std::vector<double>;

inline Tensor random_tensor(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    Tensor t(s);
    for (int64_t i = 0; i < t.numel(); ++i) {
        float v = u(rng);
        t.data()[i] = v == 0.f ? 0.5f : v;
    }
    return t;
}

// Worst |got − ref| must stay within tol · max(1, max |ref|); the worst mismatch is always printed.
inline void expect_close(const std::vector<float>& got, const Ref& ref, const std::string& what, double tol = 1e-5) {
    ASSERT_EQ(got.size(), ref.size()) << what;
    if (ref.empty()) return;
    double max_ref = 0, worst = -1;
    size_t at = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        max_ref = std::max(max_ref, std::abs(ref[i]));
        double d = std::abs(static_cast<double>(got[i]) - ref[i]);
        if (std::isnan(got[i]) != std::isnan(ref[i])) d = std::numeric_limits<double>::infinity();
        if (d > worst) worst = d, at = i;
    }
    const double bound = tol * std::max(1.0, max_ref);
    std::printf("[ match    ] %-48s worst |got-ref| %.3g at %zu (got %.7g ref %.7g), bound %.3g\n", what.c_str(), worst,
                at, got[at], ref[at], bound);
    EXPECT_LE(worst, bound) << what << ": worst mismatch at " << at << ": got " << got[at] << ", reference " << ref[at];
}

// A graph of one node whose non-constant inputs are graph inputs (in the node's order).
struct OneNode {
    Graph g;
    std::vector<Tensor> feeds;

    OneNode(Node n, const std::vector<std::pair<std::string, const Tensor*>>& ins) {
        g.name = "test_" + n.name;
        for (auto& [name, t] : ins) {
            n.inputs.push_back(name);
            if (name.rfind("const_", 0) == 0) {
                g.constants[name] = t->clone();
            } else {
                g.inputs.push_back({name, t->shape()});
                feeds.push_back(t->clone());
            }
        }
        n.output = "y";
        g.nodes.push_back(n);
        g.outputs = {"y"};
    }

    // The node's inputs in its order, constants and feeds alike (for the references).
    std::vector<const Tensor*> inputs() const {
        std::vector<const Tensor*> r;
        size_t f = 0;
        for (const std::string& v : g.nodes[0].inputs) r.push_back(g.is_constant(v) ? &g.constants.at(v) : &feeds[f++]);
        return r;
    }
};

inline std::vector<float> run_graph(const Graph& g, const std::vector<Tensor>& feeds, Shape* out_shape = nullptr,
                                    bool bf16 = false) {
    CpuContext ctx;
    ctx.bf16 = bf16;
    std::vector<Shape> shapes;
    std::vector<ConstTensorView> views;
    for (const Tensor& t : feeds) {
        shapes.push_back(t.shape());
        views.push_back(t.view());
    }
    auto prog = compile_cpu(g, shapes, ctx);
    prog->run(views);
    ConstTensorView y = prog->value(g.outputs[0]);
    if (out_shape) *out_shape = y.shape;
    return std::vector<float>(y.data, y.data + y.numel());
}

inline std::vector<float> run_one(const OneNode& c, Shape* out_shape = nullptr) {
    return run_graph(c.g, c.feeds, out_shape);
}

}  // namespace pda::ops_test
