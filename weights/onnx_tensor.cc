// ONNX TensorProto decoding: the typed repeated fields and raw_data (little-endian) of every numeric
// element type, converted to float32 or int64 or kept as raw bytes. The dimensions are checked against
// the stored data and kOnnxMaxTensorElements before anything is allocated, so that a corrupt file
// gives an input error, never an out-of-bounds read or a huge allocation.
#include "weights/onnx_tensor.h"

#include <onnx/onnx_pb.h>

#include <cstdio>
#include <cstring>
#include <fstream>

namespace pda {
namespace {

using TP = onnx::TensorProto;

float half_to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do {
                ++e;
                man <<= 1;
            } while ((man & 0x400u) == 0);
            bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

float bfloat16_to_float(uint16_t b) {
    uint32_t bits = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

size_t element_size(int type) {  // bytes per element; 0: no fixed-size numeric type
    switch (type) {
        case TP::FLOAT:
        case TP::INT32:
        case TP::UINT32:
            return 4;
        case TP::UINT8:
        case TP::INT8:
        case TP::BOOL:
            return 1;
        case TP::UINT16:
        case TP::INT16:
        case TP::FLOAT16:
        case TP::BFLOAT16:
            return 2;
        case TP::INT64:
        case TP::UINT64:
        case TP::DOUBLE:
            return 8;
        default:
            return 0;
    }
}

template <class S, class T>
void copy_raw(const char* p, int64_t n, T* out) {
    for (int64_t i = 0; i < n; ++i) {
        S s;
        std::memcpy(&s, p + i * static_cast<int64_t>(sizeof(S)), sizeof(S));
        out[i] = static_cast<T>(s);
    }
}

template <class T>
T from_bits16(int type, uint16_t bits) {
    return static_cast<T>(type == TP::FLOAT16 ? half_to_float(bits) : bfloat16_to_float(bits));
}

[[noreturn]] void count_error(const std::string& where, int64_t have, int64_t want) {
    fail_input(where + ": tensor holds " + std::to_string(have) + " values, its dimensions say " +
               std::to_string(want) + " (corrupt file?)");
}

// Decodes the n elements of t into out, converting each with static_cast; n is checked_count(t).
template <class T>
void decode(const TP& t, int64_t n, T* out, const std::string& where) {
    const int type = t.data_type();
    if (t.has_raw_data()) {
        const char* p = t.raw_data().data();
        switch (type) {
            case TP::FLOAT:
                copy_raw<float>(p, n, out);
                return;
            case TP::DOUBLE:
                copy_raw<double>(p, n, out);
                return;
            case TP::INT64:
                copy_raw<int64_t>(p, n, out);
                return;
            case TP::UINT64:
                copy_raw<uint64_t>(p, n, out);
                return;
            case TP::INT32:
                copy_raw<int32_t>(p, n, out);
                return;
            case TP::UINT32:
                copy_raw<uint32_t>(p, n, out);
                return;
            case TP::INT16:
                copy_raw<int16_t>(p, n, out);
                return;
            case TP::UINT16:
                copy_raw<uint16_t>(p, n, out);
                return;
            case TP::INT8:
                copy_raw<int8_t>(p, n, out);
                return;
            case TP::UINT8:
            case TP::BOOL:
                copy_raw<uint8_t>(p, n, out);
                return;
            case TP::FLOAT16:
            case TP::BFLOAT16:
                for (int64_t i = 0; i < n; ++i) {
                    uint16_t b;
                    std::memcpy(&b, p + 2 * i, 2);
                    out[i] = from_bits16<T>(type, b);
                }
                return;
        }
    }
    switch (type) {
        case TP::FLOAT:
            for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(t.float_data(static_cast<int>(i)));
            return;
        case TP::DOUBLE:
            for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(t.double_data(static_cast<int>(i)));
            return;
        case TP::INT64:
            for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(t.int64_data(static_cast<int>(i)));
            return;
        case TP::UINT32:
        case TP::UINT64:
            for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(t.uint64_data(static_cast<int>(i)));
            return;
        case TP::INT32:
        case TP::INT16:
        case TP::UINT16:
        case TP::INT8:
        case TP::UINT8:
        case TP::BOOL:
            for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(t.int32_data(static_cast<int>(i)));
            return;
        case TP::FLOAT16:
        case TP::BFLOAT16:
            for (int64_t i = 0; i < n; ++i)
                out[i] = from_bits16<T>(type, static_cast<uint16_t>(t.int32_data(static_cast<int>(i))));
            return;
        default:
            fail_input(where + ": element type " + onnx_type_name(type) + " is not supported");
    }
}

void check_storage(const TP& t, const std::string& where) {
    if (t.data_location() == TP::EXTERNAL || t.external_data_size() > 0)
        fail_input(where + ": tensor '" + t.name() +
                   "' keeps its data in an external file, which is not supported; save the model with its "
                   "weights inside the .onnx file");
    if (t.has_segment()) fail_input(where + ": tensor '" + t.name() + "' is segmented, which is not supported");
}

std::string dims_of(const TP& t) {
    std::string s;
    for (int i = 0; i < t.dims_size(); ++i) s += (i ? "," : "") + std::to_string(t.dims(i));
    return "[" + s + "]";
}

// The element count t's dimensions claim: each at least 0, the product at most kOnnxMaxTensorElements
// (checked factor by factor, so it never overflows).
int64_t claimed_count(const TP& t, const std::string& where) {
    int64_t n = 1;
    double claimed = 1;  // for the message only
    bool over = false;
    for (int64_t d : t.dims()) {
        if (d < 0) fail_input(where + ": dimensions " + dims_of(t) + " include a negative one (corrupt file?)");
        claimed *= static_cast<double>(d);
        if (d > 0 && n > kOnnxMaxTensorElements / d) over = true;
        if (!over) n *= d;
    }
    if (over && claimed != 0) {
        char c[32];
        std::snprintf(c, sizeof c, "%.3g", claimed);
        fail_input(where + ": dimensions " + dims_of(t) + " claim " + c + " elements, more than pda's limit of " +
                   std::to_string(kOnnxMaxTensorElements) + " per tensor (corrupt file?)");
    }
    return over ? 0 : n;
}

// The element count the file stores for t (raw_data bytes or the typed field's length).
int64_t stored_count(const TP& t, const std::string& where) {
    const int type = t.data_type();
    const size_t es = element_size(type);
    if (es == 0) fail_input(where + ": element type " + onnx_type_name(type) + " is not supported");
    if (t.has_raw_data()) {
        if (t.raw_data().size() % es)
            fail_input(where + ": raw_data holds " + std::to_string(t.raw_data().size()) +
                       " bytes, not a whole number of " + onnx_type_name(type) + " elements (corrupt file?)");
        return static_cast<int64_t>(t.raw_data().size() / es);
    }
    switch (type) {
        case TP::FLOAT:
            return t.float_data_size();
        case TP::DOUBLE:
            return t.double_data_size();
        case TP::INT64:
            return t.int64_data_size();
        case TP::UINT32:
        case TP::UINT64:
            return t.uint64_data_size();
        default:  // the narrower integers, bool, float16 and bfloat16 live in int32_data
            return t.int32_data_size();
    }
}

// The number of elements of t, after every check that needs no allocation: storage inside the file,
// dimensions, the limit, a supported element type and as many stored values as the dimensions say.
int64_t checked_count(const TP& t, const std::string& where) {
    check_storage(t, where);
    const int64_t n = claimed_count(t, where);
    const int64_t have = stored_count(t, where);
    if (have != n) count_error(where, have, n);
    return n;
}

// Narrows the n values of a typed field to S and stores them as bytes.
template <class S, class Field>
void narrow_to_bytes(const Field& field, int64_t n, char* out) {
    for (int64_t i = 0; i < n; ++i) {
        S s = static_cast<S>(field.Get(static_cast<int>(i)));
        std::memcpy(out + i * static_cast<int64_t>(sizeof(S)), &s, sizeof(S));
    }
}

}  // namespace

const char* onnx_type_name(int data_type) {
    switch (data_type) {
        case TP::FLOAT:
            return "float";
        case TP::UINT8:
            return "uint8";
        case TP::INT8:
            return "int8";
        case TP::UINT16:
            return "uint16";
        case TP::INT16:
            return "int16";
        case TP::INT32:
            return "int32";
        case TP::INT64:
            return "int64";
        case TP::STRING:
            return "string";
        case TP::BOOL:
            return "bool";
        case TP::FLOAT16:
            return "float16";
        case TP::DOUBLE:
            return "double";
        case TP::UINT32:
            return "uint32";
        case TP::UINT64:
            return "uint64";
        case TP::COMPLEX64:
            return "complex64";
        case TP::COMPLEX128:
            return "complex128";
        case TP::BFLOAT16:
            return "bfloat16";
        case TP::UNDEFINED:
            return "undefined";
        default:
            return "unknown type";
    }
}

Shape onnx_shape(const TP& t, const std::string& where) {
    claimed_count(t, where);
    return Shape(std::vector<int64_t>(t.dims().begin(), t.dims().end()));
}

size_t onnx_element_size(int data_type) { return element_size(data_type); }

std::string onnx_to_raw(const TP& t, const std::string& where) {
    const int64_t n = checked_count(t, where);
    if (t.has_raw_data()) return t.raw_data();
    const int type = t.data_type();
    std::string out(static_cast<size_t>(n) * element_size(type), '\0');
    char* p = out.data();
    switch (type) {
        case TP::FLOAT:
            narrow_to_bytes<float>(t.float_data(), n, p);
            break;
        case TP::DOUBLE:
            narrow_to_bytes<double>(t.double_data(), n, p);
            break;
        case TP::INT64:
            narrow_to_bytes<int64_t>(t.int64_data(), n, p);
            break;
        case TP::UINT64:
            narrow_to_bytes<uint64_t>(t.uint64_data(), n, p);
            break;
        case TP::UINT32:
            narrow_to_bytes<uint32_t>(t.uint64_data(), n, p);
            break;
        case TP::INT32:
            narrow_to_bytes<int32_t>(t.int32_data(), n, p);
            break;
        case TP::INT16:
        case TP::UINT16:
        case TP::FLOAT16:
        case TP::BFLOAT16:
            narrow_to_bytes<uint16_t>(t.int32_data(), n, p);
            break;
        default:  // int8, uint8, bool
            narrow_to_bytes<uint8_t>(t.int32_data(), n, p);
            break;
    }
    return out;
}

Tensor onnx_to_float(const TP& t, const std::string& where) {
    const int64_t n = checked_count(t, where);  // before the allocation
    Tensor out(onnx_shape(t, where));
    if (t.data_type() == TP::FLOAT && !t.has_raw_data()) {  // the common case, kept fast
        if (n) std::memcpy(out.data(), t.float_data().data(), sizeof(float) * static_cast<size_t>(n));
        return out;
    }
    decode(t, n, out.data(), where);
    return out;
}

std::vector<int64_t> onnx_to_int64(const TP& t, const std::string& where) {
    const int64_t n = checked_count(t, where);  // before the allocation
    switch (t.data_type()) {
        case TP::FLOAT:
        case TP::DOUBLE:
        case TP::FLOAT16:
        case TP::BFLOAT16:
            fail_input(where + ": tensor '" + t.name() + "' must hold integers, it holds " +
                       onnx_type_name(t.data_type()));
        default:
            break;
    }
    std::vector<int64_t> out(static_cast<size_t>(n));
    decode(t, n, out.data(), where);
    return out;
}

void read_tensor_pb(const std::string& path, TP& out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail_input(path + ": cannot open the tensor file");
    const bool parsed = out.ParseFromIstream(&f);
    if (f.bad()) fail_input(path + ": cannot read the tensor file");
    if (!parsed) fail_input(path + ": not a serialized ONNX TensorProto (truncated or corrupt)");
}

Tensor load_tensor_pb(const std::string& path) {
    TP t;
    read_tensor_pb(path, t);
    return onnx_to_float(t, path);
}

}  // namespace pda
