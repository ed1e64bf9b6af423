// The ONNX project's own operator cases (Debian libonnx-testdata) run through the importer and the
// CPU executor, one ctest test per case: every case whose ops are all ours runs and matches the
// expected outputs, or — when it needs something pda refuses (non-float types, training mode, used
// extra outputs, opsets outside 1–17) — must be refused with an error naming the node, op and opset.
// Also: the importer's errors for missing, truncated, garbage and unsupported models, and its
// reading of the legacy (opset < 7) attributes.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "engine/program.h"
#include "kernels/cpu/context.h"
#include "networks/onnx_import.h"
#include "test_util.h"
#include "weights/onnx_tensor.h"

namespace pda {
namespace {

namespace fs = std::filesystem;
const char* const kTestData = "/usr/share/libonnx-testdata/data";

// The ONNX ops the importer converts (Dropout → Identity, Constant → a constant).
const std::set<std::string> kOurOps = {"Conv",          "Relu",
                                       "LeakyRelu",     "Clip",
                                       "Sigmoid",       "MaxPool",
                                       "AveragePool",   "GlobalAveragePool",
                                       "LRN",           "Gemm",
                                       "MatMul",        "Flatten",
                                       "Reshape",       "Concat",
                                       "Add",           "Mul",
                                       "Softmax",       "Dropout",
                                       "Identity",      "Constant",
                                       "GlobalMaxPool", "BatchNormalization"};

// Input slots pda needs to be constants; the conformance cases feed them as graph inputs, so the
// test binds them to the data set's values (OnnxImportOptions::frozen_inputs).
const std::map<std::string, std::set<int>> kConstantSlots = {
    {"Conv", {1, 2}}, {"BatchNormalization", {1, 2, 3, 4}}, {"Reshape", {1}}, {"Clip", {1, 2}}, {"Dropout", {1, 2}}};

struct Case {
    std::string id;   // test name: <folder>_<case>
    std::string dir;  // empty: the test data is absent
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.id; }

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool load_model(const std::string& dir, onnx::ModelProto& m) {
    return m.ParseFromString(read_file(dir + "/model.onnx"));
}

std::vector<Case> discover() {
    std::vector<Case> cases;
    for (const char* sub : {"node", "pytorch-converted"}) {
        fs::path root = fs::path(kTestData) / sub;
        if (!fs::is_directory(root)) continue;
        std::vector<fs::path> dirs;
        for (const auto& e : fs::directory_iterator(root))
            if (e.is_directory() && e.path().filename().string().rfind("test_", 0) == 0 &&
                fs::exists(e.path() / "model.onnx"))
                dirs.push_back(e.path());
        std::sort(dirs.begin(), dirs.end());
        for (const fs::path& d : dirs) {
            onnx::ModelProto m;
            if (!load_model(d.string(), m) || m.graph().node_size() == 0) continue;
            bool ours = true;
            for (const auto& n : m.graph().node()) ours = ours && kOurOps.count(n.op_type());
            if (!ours) continue;
            std::string id = std::string(sub) + "_" + d.filename().string();
            std::replace_if(
                id.begin(), id.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
            cases.push_back({id, d.string()});
        }
    }
    if (cases.empty()) cases.push_back({"testdata_absent", ""});
    return cases;
}

int default_opset(const onnx::ModelProto& m) {
    for (const auto& o : m.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") return static_cast<int>(o.version());
    return 1;
}

bool is_float_tensor(const onnx::ValueInfoProto& v) {
    return v.type().has_tensor_type() && v.type().tensor_type().elem_type() == onnx::TensorProto::FLOAT;
}

bool used(const onnx::GraphProto& g, const std::string& v) {
    if (v.empty()) return false;
    for (const auto& n : g.node())
        for (const auto& i : n.input())
            if (i == v) return true;
    for (const auto& o : g.output())
        if (o.name() == v) return true;
    return false;
}

// What the case needs that pda refuses by design, read from the model independently of the
// importer ("" when nothing); frozen: the graph inputs that sit in constant slots.
std::string refusal_reason(const onnx::ModelProto& m, const std::string& set_dir, const std::set<std::string>& frozen) {
    const auto& g = m.graph();
    int opset = default_opset(m);
    if (opset < kOnnxMinOpset || opset > kOnnxMaxOpset) return "opset " + std::to_string(opset);
    std::set<std::string> inits;
    for (const auto& t : g.initializer()) inits.insert(t.name());
    for (const auto& v : g.input())
        if (!inits.count(v.name()) && !frozen.count(v.name()) && !is_float_tensor(v)) return "non-float input";
    for (const auto& v : g.output())
        if (!is_float_tensor(v)) return "non-float output";
    for (const auto& v : g.input()) {  // a frozen bound or shape of another type (the int8 Clip cases)
        int t = v.type().tensor_type().elem_type();
        if (frozen.count(v.name()) && t != onnx::TensorProto::FLOAT && t != onnx::TensorProto::INT64 &&
            t != onnx::TensorProto::BOOL)
            return "non-float bound";
    }
    for (const auto& n : g.node()) {
        if (n.op_type() == "MaxPool" && n.output_size() > 1 && used(g, n.output(1))) return "MaxPool indices";
        if (n.op_type() == "Dropout") {
            if (n.output_size() > 1 && used(g, n.output(1))) return "Dropout mask";
            if (n.input_size() > 2 && !n.input(2).empty()) {
                // training_mode is a graph input here: its value decides.
                for (int k = 0, slot = 0; k < g.input_size(); ++k) {
                    if (inits.count(g.input(k).name())) continue;
                    if (g.input(k).name() == n.input(2) &&
                        load_tensor_pb(set_dir + "/input_" + std::to_string(slot) + ".pb").data()[0] != 0.f)
                        return "Dropout training mode";
                    ++slot;
                }
            }
        }
        if (opset < 7 && (n.op_type() == "BatchNormalization" || n.op_type() == "Dropout")) {
            bool is_test = false;  // the default before opset 7: training
            for (const auto& a : n.attribute()) is_test |= a.name() == "is_test" && a.i() != 0;
            if (!is_test) return n.op_type() + " is_test=0 (training mode)";
        }
        if (n.op_type() == "BatchNormalization") {
            for (const auto& a : n.attribute())
                if (a.name() == "training_mode" && a.i() != 0) return "BatchNormalization training mode";
            for (int i = 1; i < n.output_size(); ++i)
                if (!n.output(i).empty()) return "BatchNormalization training outputs";
        }
    }
    return "";
}

// Why the case cannot run for reasons other than a refusal ("" when it can).
std::string skip_reason(const onnx::ModelProto& m) {
    std::set<std::string> inits;
    for (const auto& t : m.graph().initializer()) inits.insert(t.name());
    int runtime_inputs = 0;
    for (const auto& v : m.graph().input()) {
        if (inits.count(v.name())) continue;
        ++runtime_inputs;
        if (v.type().has_tensor_type())
            for (const auto& d : v.type().tensor_type().shape().dim())
                if (d.has_dim_value() && d.dim_value() == 0)
                    return "input '" + v.name() + "' is an empty tensor (a 0 dimension); pda has no empty tensors";
    }
    if (runtime_inputs == 0) return "the graph has no inputs (a constant-only model); pda graphs take at least one";
    return "";
}

std::vector<std::string> data_sets(const std::string& dir) {
    std::vector<std::string> sets;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
            sets.push_back(e.path().string());
    std::sort(sets.begin(), sets.end());
    return sets;
}

// Graph inputs (not initializers) in data-file order, and which of them sit in constant slots.
struct Inputs {
    std::vector<std::string> names;
    std::set<std::string> frozen;
};
Inputs runtime_inputs(const onnx::ModelProto& m) {
    Inputs r;
    std::set<std::string> inits;
    for (const auto& t : m.graph().initializer()) inits.insert(t.name());
    for (const auto& v : m.graph().input())
        if (!inits.count(v.name())) r.names.push_back(v.name());
    for (const auto& n : m.graph().node()) {
        auto it = kConstantSlots.find(n.op_type());
        if (it == kConstantSlots.end()) continue;
        for (int s : it->second)
            if (s < n.input_size() && std::count(r.names.begin(), r.names.end(), n.input(s)))
                r.frozen.insert(n.input(s));
    }
    return r;
}

OnnxImportOptions freeze(const Inputs& in, const std::string& set_dir) {
    OnnxImportOptions opt;
    for (size_t k = 0; k < in.names.size(); ++k)
        if (in.frozen.count(in.names[k]))
            opt.frozen_inputs[in.names[k]] = set_dir + "/input_" + std::to_string(k) + ".pb";
    return opt;
}

class OnnxConformance : public ::testing::TestWithParam<Case> {};

TEST_P(OnnxConformance, Case) {
    const Case& c = GetParam();
    if (c.dir.empty()) GTEST_SKIP() << "skipped: " << kTestData << " is absent (install libonnx-testdata)";
    onnx::ModelProto m;
    ASSERT_TRUE(load_model(c.dir, m));
    std::vector<std::string> sets = data_sets(c.dir);
    if (sets.empty()) GTEST_SKIP() << "skipped: the case has no test_data_set_*";
    std::string skip = skip_reason(m);
    if (!skip.empty()) GTEST_SKIP() << "skipped: " << skip;
    const std::string model = c.dir + "/model.onnx";
    Inputs in = runtime_inputs(m);
    const int opset = default_opset(m);

    std::string refusal = refusal_reason(m, sets[0], in.frozen);
    if (!refusal.empty()) {
        try {
            import_onnx(model, freeze(in, sets[0]));
            FAIL() << "expected the importer to refuse (" << refusal << ")";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::kInput);
            std::string msg = e.what();
            bool names_node = false;
            for (int i = 0; i < m.graph().node_size(); ++i) {
                const auto& n = m.graph().node(i);
                std::string name = n.name().empty() ? n.op_type() + "_" + std::to_string(i) : n.name();
                names_node |= msg.find("node '" + name + "' (" + n.op_type() + ", opset " + std::to_string(opset) +
                                       ")") != std::string::npos;
            }
            EXPECT_TRUE(names_node) << msg;
            EXPECT_NE(msg.find(model), std::string::npos) << msg;
            std::printf("[ refused  ] %s (%s): %s\n", c.id.c_str(), refusal.c_str(), msg.c_str());
        }
        return;
    }

    CpuContext ctx;
    for (const std::string& set : sets) {
        SCOPED_TRACE(set);
        Graph g = import_onnx(model, freeze(in, set));
        std::vector<Tensor> data;
        std::vector<Shape> shapes;
        std::vector<ConstTensorView> views;
        for (size_t k = 0; k < in.names.size(); ++k) {
            if (in.frozen.count(in.names[k])) continue;
            data.push_back(load_tensor_pb(set + "/input_" + std::to_string(k) + ".pb"));
            shapes.push_back(data.back().shape());
        }
        for (const Tensor& t : data) views.push_back(t.view());
        std::unique_ptr<Program> prog = compile_cpu(g, shapes, ctx);
        prog->run(views);
        for (size_t k = 0; k < g.outputs.size(); ++k) {
            Tensor want = load_tensor_pb(set + "/output_" + std::to_string(k) + ".pb");
            ConstTensorView got = prog->value(g.outputs[k]);
            ASSERT_TRUE(got.shape == want.shape())
                << "output '" << g.outputs[k] << "': got " << got.shape.str() << ", want " << want.shape().str();
            double max_abs = 0, worst = 0, tol_at_worst = 0;
            int64_t worst_i = -1;
            for (int64_t i = 0; i < want.numel(); ++i) max_abs = std::max(max_abs, std::fabs(double(want.data()[i])));
            const double tol = 1e-4 * max_abs + 1e-5;
            for (int64_t i = 0; i < want.numel(); ++i) {
                double d = std::fabs(double(got.data[i]) - double(want.data()[i]));
                if (std::isnan(got.data[i]) != std::isnan(want.data()[i])) d = INFINITY;
                if (std::isnan(d)) d = 0;  // both NaN
                if (worst_i < 0 || d > worst) worst = d, worst_i = i, tol_at_worst = tol;
            }
            std::printf("[ worst    ] %s %s output '%s': |got-want| = %.3g at %lld (got %.7g, want %.7g), tol %.3g\n",
                        c.id.c_str(), fs::path(set).filename().c_str(), g.outputs[k].c_str(), worst,
                        static_cast<long long>(worst_i), worst_i >= 0 ? got.data[worst_i] : 0.f,
                        worst_i >= 0 ? want.data()[worst_i] : 0.f, tol_at_worst);
            EXPECT_LE(worst, tol) << "output '" << g.outputs[k] << "' " << want.shape().str() << ": worst mismatch at "
                                  << worst_i << ": got " << got.data[worst_i] << ", want " << want.data()[worst_i];
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Onnx, OnnxConformance, ::testing::ValuesIn(discover()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.id; });

// ---- importer errors ---------------------------------------------------------------------------

std::string temp_file(const std::string& name, const std::string& bytes) {
    fs::path p = fs::temp_directory_path() / ("pda_onnx_test_" + std::to_string(::getpid()) + "_" + name);
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
}

using test::input_error;

// y = Op(x) with x: float (1×3), in a model of the given opset.
onnx::ModelProto tiny_model(const std::string& op, const std::string& node_name, int opset) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    auto* g = m.mutable_graph();
    g->set_name("tiny");
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(node_name);
    n->add_input("x");
    n->add_output("y");
    for (const char* v : {"x", "y"}) {
        auto* vi = std::string(v) == "x" ? g->add_input() : g->add_output();
        vi->set_name(v);
        auto* tt = vi->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(onnx::TensorProto::FLOAT);
        tt->mutable_shape()->add_dim()->set_dim_value(1);
        tt->mutable_shape()->add_dim()->set_dim_value(3);
    }
    return m;
}

TEST(OnnxImport, MissingFileIsAnInputError) {
    std::string msg = input_error([] { import_onnx("/nonexistent/dir/model.onnx"); });
    EXPECT_NE(msg.find("/nonexistent/dir/model.onnx"), std::string::npos) << msg;
}

TEST(OnnxImport, TruncatedFileIsAnInputError) {
    PDA_SKIP_WITHOUT_SHARED();
    std::string bytes = read_file(test::shared_dir() + "/models/squeezenet1.1-caffe.onnx");
    std::string path = temp_file("truncated.onnx", bytes.substr(0, bytes.size() / 2));
    std::string msg = input_error([&] { import_onnx(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    fs::remove(path);
}

TEST(OnnxImport, GarbageBytesAreAnInputError) {
    std::string junk = "this is not a model\n";
    for (int i = 0; i < 256; ++i) junk += static_cast<char>((i * 37 + 11) & 0xff);
    std::string path = temp_file("garbage.onnx", junk);
    std::string msg = input_error([&] { import_onnx(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
    fs::remove(path);
    EXPECT_NE(input_error([] { import_onnx_bytes("", "empty.onnx"); }).find("empty.onnx"), std::string::npos);
}

TEST(OnnxImport, UnsupportedOpNamesNodeOpAndOpset) {
    std::string path = temp_file("tan.onnx", tiny_model("Tan", "my_tan", 13).SerializeAsString());
    std::string msg = input_error([&] { import_onnx(path); });
    EXPECT_NE(msg.find(path + ": node 'my_tan' (Tan, opset 13) is not supported"), std::string::npos) << msg;
    fs::remove(path);
}

TEST(OnnxImport, UnsupportedOpsetAndAttributeAreRefused) {
    std::string msg = input_error([] { import_onnx_bytes(tiny_model("Relu", "r", 18).SerializeAsString(), "m.onnx"); });
    EXPECT_NE(msg.find("node 'r' (Relu, opset 18)"), std::string::npos) << msg;
    onnx::ModelProto m = tiny_model("Relu", "", 13);
    auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("mystery");
    a->set_type(onnx::AttributeProto::INT);
    msg = input_error([&] { import_onnx_bytes(m.SerializeAsString(), "m.onnx"); });
    EXPECT_NE(msg.find("node 'Relu_0' (Relu, opset 13)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("mystery"), std::string::npos) << msg;
}

TEST(OnnxImport, ExternalDataIsRefused) {
    onnx::ModelProto m = tiny_model("Add", "add", 13);
    auto* n = m.mutable_graph()->mutable_node(0);
    n->add_input("b");
    auto* t = m.mutable_graph()->add_initializer();
    t->set_name("b");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(3);
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* e = t->add_external_data();
    e->set_key("location");
    e->set_value("weights.bin");
    std::string msg = input_error([&] { import_onnx_bytes(m.SerializeAsString(), "m.onnx"); });
    EXPECT_NE(msg.find("external"), std::string::npos) << msg;
}

TEST(OnnxImport, SymbolicBatchBecomesOneAndTypesConvert) {
    onnx::ModelProto m = tiny_model("Add", "add", 13);
    auto* dim0 =
        m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0);
    dim0->set_dim_param("N");
    m.mutable_graph()->mutable_node(0)->add_input("b");
    auto* t = m.mutable_graph()->add_initializer();  // float16 bias 1, -2, 0.5
    t->set_name("b");
    t->set_data_type(onnx::TensorProto::FLOAT16);
    t->add_dims(3);
    for (int bits : {0x3c00, 0xc000, 0x3800}) t->add_int32_data(bits);
    EXPECT_NE(input_error([&] { import_onnx_bytes(m.SerializeAsString(), "m.onnx"); }).find("float16"),
              std::string::npos);  // a float16 operand of a float32 graph is refused, not guessed
    Tensor b = onnx_to_float(*t, "b");
    ASSERT_EQ(b.shape(), Shape{3});
    EXPECT_EQ(b.data()[0], 1.f);
    EXPECT_EQ(b.data()[1], -2.f);
    EXPECT_EQ(b.data()[2], 0.5f);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->clear_int32_data();
    for (float f : {1.f, -2.f, 0.5f}) t->add_float_data(f);
    Graph g = import_onnx_bytes(m.SerializeAsString(), "m.onnx");
    ASSERT_EQ(g.inputs.size(), 1u);
    EXPECT_EQ(g.inputs[0].shape, (Shape{1, 3}));
    EXPECT_EQ(g.constant("b").data()[1], -2.f);
}

TEST(OnnxImport, RealSqueezeNets) {
    PDA_SKIP_WITHOUT_SHARED();
    for (const char* f : {"squeezenet1.1-caffe.onnx", "squeezenet1.1-torchvision.onnx"}) {
        SCOPED_TRACE(f);
        Graph g = import_onnx(test::shared_dir() + "/models/" + f);
        ASSERT_EQ(g.inputs.size(), 1u);
        ASSERT_EQ(g.outputs.size(), 1u);
        EXPECT_EQ(g.constants.size(), 52u);  // 26 convolutions, weight and bias
        auto shapes = infer_shapes(g, {g.inputs[0].shape});
        EXPECT_EQ(shapes.at(g.outputs[0]), (Shape{1, 1000}));
        const Node* pool = nullptr;
        for (const Node& n : g.nodes)
            if (n.op == OpType::kMaxPool && !pool) pool = &n;
        ASSERT_NE(pool, nullptr);
        EXPECT_TRUE(pool->geo.ceil_mode);
        EXPECT_EQ(pool->geo.kernel[0], 3);
    }
}

// ---- legacy opsets -------------------------------------------------------------------------------

void set_dims(onnx::ValueInfoProto* v, const std::vector<int64_t>& dims) {
    auto* s = v->mutable_type()->mutable_tensor_type()->mutable_shape();
    s->clear_dim();
    for (int64_t d : dims) s->add_dim()->set_dim_value(d);
}

// Adds input `name` to the node: an initializer holding v (dims), or a float graph input when v is empty.
void add_input(onnx::ModelProto& m, const std::string& name, const std::vector<int64_t>& dims,
               const std::vector<float>& v) {
    auto* g = m.mutable_graph();
    g->mutable_node(0)->add_input(name);
    if (v.empty()) {
        auto* vi = g->add_input();
        vi->set_name(name);
        vi->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
        return set_dims(vi, dims);
    }
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float f : v) t->add_float_data(f);
}

void add_attr(onnx::ModelProto& m, const std::string& name, const std::vector<int64_t>& v, bool list = false) {
    auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name(name);
    a->set_type(list ? onnx::AttributeProto::INTS : onnx::AttributeProto::INT);
    for (int64_t i : v) list ? a->add_ints(i) : a->set_i(i);
}

// y = op(x, ...) in the given opset, x of shape xs.
onnx::ModelProto legacy_model(const std::string& op, int opset, const std::vector<int64_t>& xs) {
    onnx::ModelProto m = tiny_model(op, "n", opset);
    set_dims(m.mutable_graph()->mutable_input(0), xs);
    return m;
}

Graph legacy_import(const onnx::ModelProto& m) { return import_onnx_bytes(m.SerializeAsString(), "legacy.onnx"); }

// The importer's refusal of m: names the node, op and opset and contains `why`.
void expect_refused(const onnx::ModelProto& m, const std::string& why) {
    std::string msg = input_error([&] { legacy_import(m); });
    const auto& n = m.graph().node(0);
    std::string opset = std::to_string(m.opset_import(0).version());
    EXPECT_NE(msg.find("node 'n' (" + n.op_type() + ", opset " + opset + ")"), std::string::npos) << msg;
    EXPECT_NE(msg.find(why), std::string::npos) << msg;
}

std::vector<float> run_graph(const Graph& g, const Tensor& x) {
    CpuContext ctx;
    std::unique_ptr<Program> prog = compile_cpu(g, {x.shape()}, ctx);
    prog->run({x.view()});
    ConstTensorView y = prog->value(g.outputs[0]);
    return std::vector<float>(y.data, y.data + y.shape.numel());
}

TEST(OnnxLegacy, AddMulBroadcastFromAxisBecomesNumpy) {
    Tensor x(Shape{2, 3, 4});
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>(i);
    for (const char* op : {"Add", "Mul"}) {
        SCOPED_TRACE(op);
        onnx::ModelProto m = legacy_model(op, 6, {2, 3, 4});
        add_input(m, "b", {3}, {10, 20, 30});
        add_attr(m, "broadcast", {1});
        add_attr(m, "axis", {1});
        Graph g = legacy_import(m);
        ASSERT_EQ(g.nodes.size(), 1u);
        EXPECT_EQ(g.constant(g.nodes[0].inputs[1]).shape(), (Shape{3, 1}));
        std::vector<float> y = run_graph(g, x);
        ASSERT_EQ(y.size(), 24u);
        for (int64_t i = 0; i < 24; ++i) {
            float b = 10.f * static_cast<float>(i / 4 % 3 + 1);
            EXPECT_EQ(y[i], std::string(op) == "Add" ? x.data()[i] + b : x.data()[i] * b) << i;
        }
    }
    onnx::ModelProto m = legacy_model("Add", 5, {2, 3, 4});  // suffix alignment, B an activation
    add_input(m, "b", {3, 4}, {});
    add_attr(m, "broadcast", {1});
    add_attr(m, "consumed_inputs", {0, 0}, true);
    EXPECT_EQ(legacy_import(m).nodes[0].inputs[1], "b");
}

TEST(OnnxLegacy, AddMulBroadcastRefusals) {
    onnx::ModelProto m = legacy_model("Mul", 6, {2, 3, 4});
    add_input(m, "b", {3}, {});
    add_attr(m, "broadcast", {1});
    add_attr(m, "axis", {1});
    expect_refused(m, "must be a constant");  // B would need trailing 1s
    m = legacy_model("Add", 6, {2, 3, 4});
    add_input(m, "b", {4}, {1, 2, 3, 4});
    expect_refused(m, "broadcast=1 is not set");  // no broadcast: shapes must agree
    add_attr(m, "broadcast", {1});
    add_attr(m, "axis", {0});
    expect_refused(m, "does not match A");
    m = legacy_model("Add", 6, {2, 3, 4});
    add_input(m, "b", {1, 4}, {1, 2, 3, 4});
    add_attr(m, "broadcast", {1});
    expect_refused(m, "does not expand 1s");
    m = legacy_model("Add", 7, {2, 3, 4});
    add_input(m, "b", {4}, {1, 2, 3, 4});
    add_attr(m, "broadcast", {1});
    expect_refused(m, "only up to opset 6");
}

TEST(OnnxLegacy, TrainingFlagsGemmBiasAndOldAttributes) {
    onnx::ModelProto bn = legacy_model("BatchNormalization", 5, {1, 2, 3});
    for (const char* s : {"scale", "bias", "mean", "var"}) add_input(bn, s, {2}, {1, 1});
    add_attr(bn, "consumed_inputs", {0, 0, 0, 1, 1}, true);
    expect_refused(bn, "is_test=0");  // the default before opset 7 is training
    add_attr(bn, "is_test", {1});
    EXPECT_EQ(legacy_import(bn).nodes[0].op, OpType::kBatchNorm);

    onnx::ModelProto drop = legacy_model("Dropout", 6, {1, 3});
    expect_refused(drop, "is_test=0");
    add_attr(drop, "is_test", {1});
    EXPECT_EQ(legacy_import(drop).nodes[0].op, OpType::kIdentity);

    onnx::ModelProto gemm = legacy_model("Gemm", 6, {2, 3});
    add_input(gemm, "w", {3, 2}, {1, 2, 3, 4, 5, 6});
    add_input(gemm, "c", {2}, {1, 2});
    expect_refused(gemm, "broadcast=1 is not set");  // C must be (M,N) without it
    add_attr(gemm, "broadcast", {1});
    EXPECT_EQ(legacy_import(gemm).nodes[0].op, OpType::kGemm);

    onnx::ModelProto reshape = legacy_model("Reshape", 4, {1, 3});
    add_attr(reshape, "shape", {3, -1}, true);
    EXPECT_EQ(legacy_import(reshape).nodes[0].shape, (std::vector<int64_t>{3, -1}));

    onnx::ModelProto concat = legacy_model("Concat", 3, {1, 3});
    concat.mutable_graph()->mutable_node(0)->add_input("x");
    EXPECT_EQ(legacy_import(concat).nodes[0].axis, 1);  // optional before opset 4, default 1
    concat.mutable_opset_import(0)->set_version(4);
    expect_refused(concat, "'axis' is missing");

    onnx::ModelProto clip = legacy_model("Clip", 6, {1, 3});  // defaults: the float range, not ±inf
    EXPECT_EQ(legacy_import(clip).nodes[0].max, std::numeric_limits<float>::max());
    EXPECT_EQ(legacy_import(clip).nodes[0].min, std::numeric_limits<float>::lowest());

    onnx::ModelProto pool = legacy_model("MaxPool", 9, {1, 1, 4});
    add_attr(pool, "kernel_shape", {2}, true);
    add_attr(pool, "ceil_mode", {0});  // added in opset 10: its default value is harmless
    EXPECT_EQ(legacy_import(pool).nodes[0].geo.kernel[0], 2);
    pool.mutable_graph()->mutable_node(0)->mutable_attribute(1)->set_i(1);
    expect_refused(pool, "only from opset 10");
}

}  // namespace
}  // namespace pda
