// A tiny valid ONNX classifier for tests that need a model file without ../shared:
// Conv "conv" (3→4, 3×3, no pad) → <middle op> "mid" → GlobalAveragePool → Flatten → Softmax "prob",
// input "x" of 1×3×size×size; `middle` lets a test put an unsupported op into an otherwise fine
// model. kTinySidecar describes it (16×16 input); random_photo makes pictures to explain with it.
#pragma once

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "io/image.h"

namespace pda::test {

inline std::string tiny_model(const std::string& middle = "Relu", int64_t size = 16) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(13);
    auto* g = m.mutable_graph();
    g->set_name("tiny");
    auto* in = g->add_input();
    in->set_name("x");
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {int64_t{1}, int64_t{3}, size, size}) tt->mutable_shape()->add_dim()->set_dim_value(d);
    g->add_output()->set_name("prob");
    auto* w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {4, 3, 3, 3}) w->add_dims(d);
    for (int i = 0; i < 4 * 27; ++i) w->add_float_data(std::sin(0.37f * i));
    auto node = [&](const std::string& name, const std::string& type, std::vector<std::string> ins,
                    const std::string& out) {
        auto* n = g->add_node();
        n->set_name(name);
        n->set_op_type(type);
        for (auto& i : ins) n->add_input(i);
        n->add_output(out);
    };
    node("conv", "Conv", {"x", "w"}, "c");
    node("mid", middle, {"c"}, "r");
    node("gap", "GlobalAveragePool", {"r"}, "p");
    node("flat", "Flatten", {"p"}, "f");
    node("softmax", "Softmax", {"f"}, "prob");
    std::string bytes;
    m.SerializeToString(&bytes);
    return bytes;
}

inline const char* kTinySidecar = R"({"output_kind": "probabilities", "input_size": [16, 16], "resize_shorter": 16,
  "crop": "center", "channel_order": "RGB", "scale": 1, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]})";

// An h × w picture of uniform random bytes, the same for the same seed.
inline Image random_photo(int h, int w, uint64_t seed) {
    std::mt19937_64 rng(seed);
    Image img;
    img.height = h;
    img.width = w;
    img.rgb.resize(static_cast<size_t>(h) * w * 3);
    for (auto& v : img.rgb) v = static_cast<uint8_t>(rng() & 0xff);
    return img;
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
}

}  // namespace pda::test
