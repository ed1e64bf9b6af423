// ONNX TensorProto → pda tensors: float32 tensors (any numeric element type widened or narrowed to
// float) for initializers and test data, int64 vectors for shape-like inputs (Reshape's target).
// The onnx protobuf types stay out of this header so only the ONNX files pay for its includes.
#pragma once

#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace onnx {
class TensorProto;
}

namespace pda {

// The ONNX name of an element type (TensorProto.DataType), e.g. "float", "uint8"; "type N" if unknown.
const char* onnx_type_name(int data_type);

// Converts t to float32. `where` names the tensor's origin (file, node) for error messages.
// Refuses external data, strings and complex numbers with an input error.
Tensor onnx_to_float(const onnx::TensorProto& t, const std::string& where);

// Reads an integer (or bool) tensor as int64 values, e.g. Reshape's target shape.
std::vector<int64_t> onnx_to_int64(const onnx::TensorProto& t, const std::string& where);

// The dimensions of t as a Shape (rank 0 for a scalar).
Shape onnx_shape(const onnx::TensorProto& t, const std::string& where);

// Reads a file holding one serialized TensorProto (the conformance cases' input_0.pb) as float32.
Tensor load_tensor_pb(const std::string& path);

// Reads a file holding one serialized TensorProto, unconverted. Throws an input error naming the
// file when it is missing or does not parse.
void read_tensor_pb(const std::string& path, onnx::TensorProto& out);

}  // namespace pda
