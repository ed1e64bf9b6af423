// The one table of op cases (op_cases.cc): each a one-node graph on seeded inputs, a float64
// reference and two tolerances. test_ops.cc runs every case on the CPU against its reference,
// test_cuda_ops.cc runs the same cases on CUDA against the CPU; both compare with expect_close.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "ops_harness.h"

namespace pda::ops_test {

// An input of a case: "const_" names become graph constants. Drawn from U(lo, hi); `pins` then set
// single elements (values that must not overflow, fixed scalars).
struct OpInput {
    std::string name;
    Shape shape;
    float lo = -1.f, hi = 1.f;
    std::vector<std::pair<int64_t, float>> pins = {};
};

// The float64 result of the node on its inputs (in the node's order) for output shape ys.
using OpReference = Ref (*)(const Node& n, const std::vector<const Tensor*>& in, const Shape& ys);

struct OpCase {
    std::string name;  // a gtest name: letters, digits, '_'
    Node node;         // attributes; OneNode sets inputs and output
    std::vector<OpInput> inputs;
    uint32_t seed, step;  // input k is drawn with seed seed + k·step
    OpReference reference;
    double cpu_tol;   // CPU against the reference
    double cuda_tol;  // CUDA against the CPU

    OneNode build() const {
        std::vector<Tensor> ts;
        std::vector<std::pair<std::string, const Tensor*>> ins;
        for (size_t k = 0; k < inputs.size(); ++k) {
            const OpInput& in = inputs[k];
            ts.push_back(random_tensor(in.shape, seed + static_cast<uint32_t>(k) * step, in.lo, in.hi));
            for (auto [i, v] : in.pins) ts.back().data()[i] = v;
        }
        for (size_t k = 0; k < inputs.size(); ++k) ins.emplace_back(inputs[k].name, &ts[k]);
        return OneNode(node, ins);
    }
};

const std::vector<OpCase>& op_cases();

inline std::string op_case_name(const ::testing::TestParamInfo<OpCase>& info) { return info.param.name; }
inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

}  // namespace pda::ops_test
