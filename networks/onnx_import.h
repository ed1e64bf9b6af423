// ONNX import: reads a .onnx model (default-domain opsets 1–17) into a pda Graph, converting the
// ops in OpType and refusing everything else with an input error that names the file, the node, its
// op and the opset — an unsupported model is never run with a wrong meaning. Each op is read with the
// meaning of its version at the model's opset; the legacy forms of opsets 1–6 (is_test, legacy
// broadcast, consumed_inputs, Reshape's shape attribute, ...) are converted or refused (onnx_ops.cc).
#pragma once

#include <map>
#include <string>

#include "networks/graph.h"

namespace pda {

constexpr int kOnnxMinOpset = 1;
constexpr int kOnnxMaxOpset = 17;

struct OnnxImportOptions {
    // Graph inputs to bind to fixed values: input name → path of a serialized TensorProto. A bound
    // input becomes a constant, so it may serve where pda needs one (Conv weights, Reshape's shape,
    // Clip's bounds, Dropout's training_mode).
    std::map<std::string, std::string> frozen_inputs;
};

// Reads the model at path. Nodes without a name are called "<OpType>_<index in the ONNX node list>".
// Graph inputs keep the model's static shapes (a symbolic first dimension becomes 1). Throws
// pda::Error (kInput) for a missing, corrupt, inconsistent or unsupported model.
Graph import_onnx(const std::string& path, const OnnxImportOptions& opt = {});

// The same for a serialized ModelProto in memory; `label` stands for the file name in messages.
Graph import_onnx_bytes(const std::string& bytes, const std::string& label, const OnnxImportOptions& opt = {});

}  // namespace pda
