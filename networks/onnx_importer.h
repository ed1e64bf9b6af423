// Internal to the ONNX importer (onnx_import.cc: the model, its values and attributes; onnx_fold.cc:
// constant folding before the graph is built; onnx_ops.cc: the conversion of each node, legacy opsets
// included). Not part of pda's interface.
#pragma once

#include <onnx/onnx_pb.h>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "networks/onnx_import.h"

namespace pda {
namespace onnx_detail {

using TP = onnx::TensorProto;

std::string join(const std::vector<int64_t>& v);
// s for a message: control characters escaped, at most `max` bytes (a corrupt file's names and op
// types must not break the one-line error).
std::string shown(const std::string& s, size_t max = 80);
// Whether op is one that pda evaluates only on constants, at import (onnx_fold.cc).
bool folds_only_on_constants(const std::string& op);

class Importer {
  public:
    Importer(const onnx::ModelProto& m, std::string file, const OnnxImportOptions& opt)
        : m_(m), gp_(m.graph()), file_(std::move(file)), opt_(opt) {}

    Graph run();

  private:
    [[noreturn]] static void fail(const std::string& what) { fail_input(what); }
    std::string node_name(const onnx::NodeProto& n, int index) const {
        return n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
    }
    [[noreturn]] void refuse(const onnx::NodeProto& n, const std::string& why) const;
    void check_names() const;
    const onnx::NodeProto* onnx_producer(const std::string& v) const;
    static std::string type_of(const onnx::TypeProto& t);
    void find_opset();
    void collect_types();
    void read_inputs();

    // values (onnx_import.cc)
    const Tensor& float_const(const std::string& v);
    void float_input(const onnx::NodeProto& n, const std::string& v);
    const TP& const_input(const onnx::NodeProto& n, const std::string& v, const std::string& role);
    float scalar_input(const onnx::NodeProto& n, const std::string& v, const std::string& role);
    bool output_used(const std::string& v) const;
    std::string fresh_name(const std::string& base);  // a value name the model does not use

    // attributes (onnx_import.cc)
    const onnx::AttributeProto* attr(const onnx::NodeProto& n, const char* name,
                                     onnx::AttributeProto::AttributeType type) const;
    int64_t get_int(const onnx::NodeProto& n, const char* name, int64_t def) const;
    float get_float(const onnx::NodeProto& n, const char* name, float def) const;
    std::vector<int64_t> get_ints(const onnx::NodeProto& n, const char* name) const;
    std::string get_string(const onnx::NodeProto& n, const char* name, const std::string& def) const;

    // constant folding (onnx_fold.cc)
    void fold_constants();
    bool fold_node(const onnx::NodeProto& n, int index, const std::set<std::string>& defined,
                   const std::set<std::string>& graph_outputs);
    std::string resolved(const std::string& v) const {
        auto it = alias_.find(v);
        return it == alias_.end() ? v : it->second;
    }

    // nodes (onnx_ops.cc)
    void check_attributes(const onnx::NodeProto& n) const;
    void convert(const onnx::NodeProto& n, int index);
    void convert_constant(const onnx::NodeProto& n);
    Geometry geometry(const onnx::NodeProto& n, const std::string& x, const Shape& w, bool pool);
    void legacy_broadcast(const onnx::NodeProto& n, Node& node);
    void legacy_gemm_bias(const onnx::NodeProto& n, const Node& node) const;
    void infer_output(const onnx::NodeProto& n, const Node& node);

    const onnx::ModelProto& m_;
    const onnx::GraphProto& gp_;
    std::string file_;
    const OnnxImportOptions& opt_;
    int opset_ = 0;
    Graph g_;
    std::map<std::string, const TP*> raw_;  // initializers, Constant nodes, frozen inputs
    std::deque<TP> owned_;                  // the latter two
    std::map<std::string, int> types_;      // element types the file declares
    std::map<std::string, std::string> non_tensor_;
    std::map<std::string, std::string> deferred_inputs_;  // non-float graph inputs
    std::map<std::string, Shape> shapes_;
    std::set<std::string> node_names_;
    std::set<std::string> value_names_;         // every value name in the file, for fresh_name
    std::map<std::string, std::string> alias_;  // Identity outputs → the value they rename
    std::vector<bool> folded_;                  // per ONNX node: evaluated at import, not converted
    int64_t folded_elements_ = 0;               // all folded values together, bounded
};

}  // namespace onnx_detail
}  // namespace pda
