// ONNX TensorProto → pda tensors: float32 tensors (any numeric element type widened or narrowed to
// float) for initializers and test data, int64 vectors for shape-like inputs (Reshape's target), and
// the raw element bytes the importer's constant folding moves. Every reader checks the dimensions
// against the stored data and kOnnxMaxTensorElements before it allocates anything.
// The onnx protobuf types stay out of this header so only the ONNX files pay for its includes.
#pragma once

#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace onnx {
class TensorProto;
}

namespace pda {

// The most elements pda reads into one tensor from a file, 2^31 − 1 (8 GiB of float32): a count that
// still fits the 32-bit dimensions of cuDNN / cuBLAS descriptors. A tensor whose dimensions claim more
// is refused before any allocation, whatever data it holds (a protobuf message holds at most 2 GiB,
// so no real initializer comes near it; corrupt dimensions do).
constexpr int64_t kOnnxMaxTensorElements = (int64_t{1} << 31) - 1;

// The ONNX name of an element type (TensorProto.DataType), e.g. "float", "uint8"; "type N" if unknown.
const char* onnx_type_name(int data_type);

// Converts t to float32. `where` names the tensor's origin (file, node) for error messages.
// Refuses external data, strings and complex numbers with an input error.
Tensor onnx_to_float(const onnx::TensorProto& t, const std::string& where);

// Reads an integer (or bool) tensor as int64 values, e.g. Reshape's target shape.
std::vector<int64_t> onnx_to_int64(const onnx::TensorProto& t, const std::string& where);

// The dimensions of t as a Shape (rank 0 for a scalar). Refuses negative dimensions and more than
// kOnnxMaxTensorElements elements (the product is checked without overflow).
Shape onnx_shape(const onnx::TensorProto& t, const std::string& where);

// Bytes per element of a numeric ONNX element type (TensorProto.DataType); 0 for strings, complex
// numbers and unknown types.
size_t onnx_element_size(int data_type);

// The elements of t as dense little-endian bytes of its own element type (onnx_element_size(type)
// each), whether the file stores them in raw_data or in a typed field. Checked like onnx_to_float.
std::string onnx_to_raw(const onnx::TensorProto& t, const std::string& where);

// Reads a file holding one serialized TensorProto (the conformance cases' input_0.pb) as float32.
Tensor load_tensor_pb(const std::string& path);

// Reads a file holding one serialized TensorProto, unconverted. Throws an input error naming the
// file when it is missing or does not parse.
void read_tensor_pb(const std::string& path, onnx::TensorProto& out);

}  // namespace pda
