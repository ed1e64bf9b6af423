// find_linear_head (linear_head.h).
#include "engine/linear_head.h"

#include <algorithm>

namespace pda {
namespace {

int readers(const Graph& g, const std::string& v) {
    int n = 0;
    for (const Node& node : g.nodes) n += static_cast<int>(std::count(node.inputs.begin(), node.inputs.end(), v));
    return n;
}

bool is_output(const Graph& g, const std::string& v) {
    return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}

}  // namespace

std::optional<LinearHead> find_linear_head(const Graph& g, const std::set<std::string>& keep) {
    if (g.inputs.size() != 1 || g.nodes.size() < 2) return std::nullopt;
    const std::string& x = g.inputs[0].name;
    const Node &f = g.nodes[0], &m = g.nodes[1];
    if (f.op != OpType::kFlatten || f.axis != 1 || f.inputs != std::vector<std::string>{x} || readers(g, x) != 1)
        return std::nullopt;
    if (m.op != OpType::kGemm || m.trans_a || m.inputs.size() < 2 || m.inputs[0] != f.output ||
        readers(g, f.output) != 1 || is_output(g, f.output) || keep.count(f.output) || keep.count(x))
        return std::nullopt;
    if (!g.is_constant(m.inputs[1]) || (m.inputs.size() > 2 && !g.is_constant(m.inputs[2]))) return std::nullopt;
    const Shape& xs = g.inputs[0].shape;
    int64_t d = 1;
    for (int i = 1; i < xs.rank; ++i) d *= xs[i];
    const Tensor& w = g.constant(m.inputs[1]);
    if (w.shape().rank != 2) return std::nullopt;
    const int64_t K = m.trans_b ? w.shape()[0] : w.shape()[1];
    if ((m.trans_b ? w.shape()[1] : w.shape()[0]) != d) return std::nullopt;

    LinearHead h;
    h.flat = f.output;
    h.z = m.output;
    h.inputs = d;
    h.units = K;
    h.relu = m.fused_relu;
    h.wt.resize(static_cast<size_t>(d * K));
    for (int64_t o = 0; o < d; ++o)
        for (int64_t k = 0; k < K; ++k)
            h.wt[o * K + k] = m.alpha * (m.trans_b ? w.data()[k * d + o] : w.data()[o * K + k]);
    h.bias.assign(static_cast<size_t>(K), 0.0);
    if (m.inputs.size() > 2) {
        const Tensor& c = g.constant(m.inputs[2]);
        if (c.numel() != K && c.numel() != 1) return std::nullopt;
        for (int64_t k = 0; k < K; ++k) h.bias[k] = static_cast<double>(m.beta) * c.data()[c.numel() == 1 ? 0 : k];
    }
    h.tail.name = g.name + " (after its linear head)";
    h.tail.inputs = {{h.z, Shape{xs[0], K}}};
    h.tail.outputs = g.outputs;
    h.tail.nodes.assign(g.nodes.begin() + 2, g.nodes.end());
    for (const Node& n : h.tail.nodes)
        for (const std::string& v : n.inputs)
            if (g.is_constant(v)) h.tail.constants.emplace(v, g.constant(v).share());
    return h;
}

}  // namespace pda
