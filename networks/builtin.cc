// The built-in networks, each written as the list of its layers with a small builder that tracks
// every value's shape (so fully connected layers know their inputs at any input size) and records
// how each constant is initialised. The layer tables follow the BVLC deploy.prototxt files and
// torchvision 0.14; tests/golden/make_golden.py defines the same networks in PyTorch.
#include "networks/builtin.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "weights/random_init.h"

namespace pda {

int64_t scaled_channels(int64_t c, float width, int64_t multiple) {
    int64_t n = static_cast<int64_t>(std::floor(static_cast<double>(c) * width / static_cast<double>(multiple) + 0.5));
    return std::max<int64_t>(multiple, n * multiple);
}

namespace {

enum class Init { kHe, kZero, kOne };

class NetBuilder {
  public:
    NetBuilder(const std::string& name, int64_t size) {
        g_.name = name;
        g_.inputs.push_back({"data", Shape{1, 3, size, size}});
        shapes_["data"] = Shape{1, 3, size, size};
    }

    std::string conv(const std::string& name, const std::string& in, int64_t out_ch, int64_t k, int64_t s, int64_t p,
                     int64_t group = 1, bool bias = true) {
        const Shape& x = shape(name, in);
        if (x[1] % group || out_ch % group) fail_input("node '" + name + "': channels not divisible by group");
        Node n = node(name, OpType::kConv, in);
        n.geo = Geometry::square(2, k, s, p);
        n.group = group;
        n.inputs.push_back(constant(name + ".weight", Shape{out_ch, x[1] / group, k, k}, Init::kHe));
        if (bias) n.inputs.push_back(constant(name + ".bias", Shape{out_ch}, Init::kZero));
        return add(std::move(n), window_shape(name, x, out_ch, k, s, p, false));
    }

    std::string relu(const std::string& name, const std::string& in) {
        return add(node(name, OpType::kRelu, in), shape(name, in));
    }

    // Local response normalisation across 5 channels, as in both BVLC networks.
    std::string lrn(const std::string& name, const std::string& in) {
        Node n = node(name, OpType::kLRN, in);
        n.size = 5;
        n.alpha = 1e-4f;
        n.beta = 0.75f;
        n.bias = 1.f;
        return add(std::move(n), shape(name, in));
    }

    std::string pool(const std::string& name, OpType op, const std::string& in, int64_t k, int64_t s, int64_t p,
                     bool ceil_mode) {
        Node n = node(name, op, in);
        n.geo = Geometry::square(2, k, s, p, ceil_mode);
        n.count_include_pad = false;
        const Shape& x = shape(name, in);
        return add(std::move(n), window_shape(name, x, x[1], k, s, p, ceil_mode));
    }

    std::string global_avg_pool(const std::string& name, const std::string& in) {
        Shape y = shape(name, in);
        y[2] = y[3] = 1;
        return add(node(name, OpType::kGlobalAveragePool, in), y);
    }

    std::string flatten(const std::string& name, const std::string& in) {
        Node n = node(name, OpType::kFlatten, in);
        n.axis = 1;
        const Shape& x = shape(name, in);
        return add(std::move(n), Shape{x[0], x.numel() / x[0]});
    }

    // Fully connected: y = x·Wᵀ + b with W of shape (out, in), as ONNX Gemm with transB.
    std::string fc(const std::string& name, const std::string& in, int64_t out) {
        const Shape& x = shape(name, in);
        if (x.rank != 2) fail_internal("fc '" + name + "' needs a flattened input");
        Node n = node(name, OpType::kGemm, in);
        n.alpha = n.beta = 1.f;
        n.trans_b = true;
        n.inputs.push_back(constant(name + ".weight", Shape{out, x[1]}, Init::kHe));
        n.inputs.push_back(constant(name + ".bias", Shape{out}, Init::kZero));
        return add(std::move(n), Shape{x[0], out});
    }

    std::string batch_norm(const std::string& name, const std::string& in, float eps) {
        const Shape& x = shape(name, in);
        Node n = node(name, OpType::kBatchNorm, in);
        n.epsilon = eps;
        n.inputs.push_back(constant(name + ".weight", Shape{x[1]}, Init::kOne));
        n.inputs.push_back(constant(name + ".bias", Shape{x[1]}, Init::kZero));
        n.inputs.push_back(constant(name + ".running_mean", Shape{x[1]}, Init::kZero));
        n.inputs.push_back(constant(name + ".running_var", Shape{x[1]}, Init::kOne));
        return add(std::move(n), x);
    }

    std::string concat(const std::string& name, const std::vector<std::string>& ins) {
        Node n = node(name, OpType::kConcat, ins[0]);
        n.axis = 1;
        Shape y = shape(name, ins[0]);
        for (size_t i = 1; i < ins.size(); ++i) {
            n.inputs.push_back(ins[i]);
            y[1] += shape(name, ins[i])[1];
        }
        return add(std::move(n), y);
    }

    std::string softmax(const std::string& name, const std::string& in) {
        Node n = node(name, OpType::kSoftmax, in);
        n.axis = 1;
        return add(std::move(n), shape(name, in));
    }

    const Shape& shape(const std::string& who, const std::string& v) const {
        auto it = shapes_.find(v);
        if (it == shapes_.end()) fail_internal("builtin '" + g_.name + "', node '" + who + "': no value '" + v + "'");
        return it->second;
    }

    Graph finish(const std::string& output, const BuildOptions& opt) {
        g_.outputs = {output};
        for (const auto& [name, init] : inits_) {
            Tensor& t = g_.constants.at(name);
            if (init == Init::kOne) std::fill(t.data(), t.data() + t.numel(), 1.f);
            if (init == Init::kHe && opt.random_weights) fill_he_normal(t, opt.seed, name);
        }
        validate(g_);
        return std::move(g_);
    }

  private:
    static Node node(const std::string& name, OpType op, const std::string& in) {
        Node n;
        n.name = name;
        n.op = op;
        n.inputs = {in};
        n.output = name;
        return n;
    }

    std::string constant(const std::string& name, const Shape& s, Init init) {
        g_.constants[name] = Tensor(s);
        inits_.emplace_back(name, init);
        return name;
    }

    Shape window_shape(const std::string& name, const Shape& x, int64_t channels, int64_t k, int64_t s, int64_t p,
                       bool ceil_mode) const {
        Geometry geo = Geometry::square(2, k, s, p, ceil_mode);
        Shape y{x[0], channels, geo.out_size(0, x[2]), geo.out_size(1, x[3])};
        if (y[2] <= 0 || y[3] <= 0)
            fail_input("builtin '" + g_.name + "': the input is too small for node '" + name + "' (its input is " +
                       x.str() + ")");
        return y;
    }

    std::string add(Node n, const Shape& y) {
        shapes_[n.output] = y;
        std::string out = n.output;
        g_.nodes.push_back(std::move(n));
        return out;
    }

    Graph g_;
    std::map<std::string, Shape> shapes_;
    std::vector<std::pair<std::string, Init>> inits_;
};

// BVLC AlexNet (bvlc_alexnet/deploy.prototxt): grouped conv2/4/5, LRN after conv1 and conv2.
Graph bvlc_alexnet(const BuildOptions& o) {
    NetBuilder b("alexnet", o.input_size ? o.input_size : 227);
    auto c = [&](int64_t n) { return scaled_channels(n, o.width, 2); };
    std::string x = b.relu("relu1", b.conv("conv1", "data", c(96), 11, 4, 0));
    x = b.pool("pool1", OpType::kMaxPool, b.lrn("norm1", x), 3, 2, 0, false);
    x = b.relu("relu2", b.conv("conv2", x, c(256), 5, 1, 2, 2));
    x = b.pool("pool2", OpType::kMaxPool, b.lrn("norm2", x), 3, 2, 0, false);
    x = b.relu("relu3", b.conv("conv3", x, c(384), 3, 1, 1));
    x = b.relu("relu4", b.conv("conv4", x, c(384), 3, 1, 1, 2));
    x = b.relu("relu5", b.conv("conv5", x, c(256), 3, 1, 1, 2));
    x = b.flatten("flatten", b.pool("pool5", OpType::kMaxPool, x, 3, 2, 0, false));
    x = b.relu("relu6", b.fc("fc6", x, scaled_channels(4096, o.width)));
    x = b.relu("relu7", b.fc("fc7", x, scaled_channels(4096, o.width)));
    return b.finish(b.softmax("prob", b.fc("fc8", x, o.num_classes)), o);
}

// torchvision.models.alexnet: no groups, no LRN, 64/192/384/256/256. Its AdaptiveAvgPool2d(6) is
// the identity at the default 224 input and is left out, so other sizes change fc6's input instead.
Graph torchvision_alexnet(const BuildOptions& o) {
    NetBuilder b("alexnet_torchvision", o.input_size ? o.input_size : 224);
    auto c = [&](int64_t n) { return scaled_channels(n, o.width); };
    std::string x = b.relu("relu1", b.conv("conv1", "data", c(64), 11, 4, 2));
    x = b.pool("pool1", OpType::kMaxPool, x, 3, 2, 0, false);
    x = b.relu("relu2", b.conv("conv2", x, c(192), 5, 1, 2));
    x = b.pool("pool2", OpType::kMaxPool, x, 3, 2, 0, false);
    x = b.relu("relu3", b.conv("conv3", x, c(384), 3, 1, 1));
    x = b.relu("relu4", b.conv("conv4", x, c(256), 3, 1, 1));
    x = b.relu("relu5", b.conv("conv5", x, c(256), 3, 1, 1));
    x = b.flatten("flatten", b.pool("pool5", OpType::kMaxPool, x, 3, 2, 0, false));
    x = b.relu("relu6", b.fc("fc6", x, scaled_channels(4096, o.width)));
    x = b.relu("relu7", b.fc("fc7", x, scaled_channels(4096, o.width)));
    return b.finish(b.softmax("prob", b.fc("fc8", x, o.num_classes)), o);
}

// VGG16 (configuration D; Caffe VGG_ILSVRC_16_layers and torchvision vgg16 alike).
Graph vgg16(const BuildOptions& o) {
    NetBuilder b("vgg16", o.input_size ? o.input_size : 224);
    const std::vector<std::pair<int, int64_t>> blocks = {{2, 64}, {2, 128}, {3, 256}, {3, 512}, {3, 512}};
    std::string x = "data";
    for (size_t i = 0; i < blocks.size(); ++i) {
        for (int j = 1; j <= blocks[i].first; ++j) {
            std::string id = std::to_string(i + 1) + "_" + std::to_string(j);
            x = b.relu("relu" + id, b.conv("conv" + id, x, scaled_channels(blocks[i].second, o.width), 3, 1, 1));
        }
        x = b.pool("pool" + std::to_string(i + 1), OpType::kMaxPool, x, 2, 2, 0, false);
    }
    x = b.relu("relu6", b.fc("fc6", b.flatten("flatten", x), scaled_channels(4096, o.width)));
    x = b.relu("relu7", b.fc("fc7", x, scaled_channels(4096, o.width)));
    return b.finish(b.softmax("prob", b.fc("fc8", x, o.num_classes)), o);
}

struct InceptionSpec {
    const char* name;  // BVLC name; torchvision's is the same without the underscore
    int64_t n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj;
};
const InceptionSpec kInception[] = {
    {"inception_3a", 64, 96, 128, 16, 32, 32},     {"inception_3b", 128, 128, 192, 32, 96, 64},
    {"inception_4a", 192, 96, 208, 16, 48, 64},    {"inception_4b", 160, 112, 224, 24, 64, 64},
    {"inception_4c", 128, 128, 256, 24, 64, 64},   {"inception_4d", 112, 144, 288, 32, 64, 64},
    {"inception_4e", 256, 160, 320, 32, 128, 128}, {"inception_5a", 256, 160, 320, 32, 128, 128},
    {"inception_5b", 384, 192, 384, 48, 128, 128},
};

// BVLC GoogLeNet (bvlc_googlenet/deploy.prototxt) without the auxiliary classifiers. Caffe pools
// round up (ceil_mode); pool5/7x7_s1 averages the whole final map (7×7 at 224).
Graph bvlc_googlenet(const BuildOptions& o) {
    NetBuilder b("googlenet", o.input_size ? o.input_size : 224);
    auto c = [&](int64_t n) { return scaled_channels(n, o.width); };
    std::string x = b.relu("conv1/relu_7x7", b.conv("conv1/7x7_s2", "data", c(64), 7, 2, 3));
    x = b.lrn("pool1/norm1", b.pool("pool1/3x3_s2", OpType::kMaxPool, x, 3, 2, 0, true));
    x = b.relu("conv2/relu_3x3_reduce", b.conv("conv2/3x3_reduce", x, c(64), 1, 1, 0));
    x = b.lrn("conv2/norm2", b.relu("conv2/relu_3x3", b.conv("conv2/3x3", x, c(192), 3, 1, 1)));
    x = b.pool("pool2/3x3_s2", OpType::kMaxPool, x, 3, 2, 0, true);
    for (const InceptionSpec& s : kInception) {
        const std::string p = std::string(s.name) + "/";
        auto conv_relu = [&](const std::string& n, const std::string& in, int64_t ch, int64_t k) {
            return b.relu(p + "relu_" + n, b.conv(p + n, in, c(ch), k, 1, k / 2));
        };
        std::string b1 = conv_relu("1x1", x, s.n1x1, 1);
        std::string b3 = conv_relu("3x3", conv_relu("3x3_reduce", x, s.n3x3_reduce, 1), s.n3x3, 3);
        std::string b5 = conv_relu("5x5", conv_relu("5x5_reduce", x, s.n5x5_reduce, 1), s.n5x5, 5);
        std::string bp = conv_relu("pool_proj", b.pool(p + "pool", OpType::kMaxPool, x, 3, 1, 1, true), s.pool_proj, 1);
        x = b.concat(p + "output", {b1, b3, b5, bp});
        if (s.name == std::string("inception_3b")) x = b.pool("pool3/3x3_s2", OpType::kMaxPool, x, 3, 2, 0, true);
        if (s.name == std::string("inception_4e")) x = b.pool("pool4/3x3_s2", OpType::kMaxPool, x, 3, 2, 0, true);
    }
    const Shape& last = b.shape("pool5/7x7_s1", x);
    if (last[2] != last[3]) fail_internal("googlenet: non-square final map");
    x = b.pool("pool5/7x7_s1", OpType::kAveragePool, x, last[2], 1, 0, false);
    x = b.fc("loss3/classifier", b.flatten("flatten", x), o.num_classes);
    return b.finish(b.softmax("prob", x), o);
}

// torchvision.models.googlenet(aux_logits=False, transform_input=False): BasicConv2d = Conv (no
// bias) + BatchNorm (eps 1e-3) + ReLU, no LRN, a 3×3 kernel in the "5×5" branch (as torchvision
// has it), a 2×2 pool4, global average pool. Node names are torchvision's module names.
Graph torchvision_googlenet(const BuildOptions& o) {
    NetBuilder b("googlenet_torchvision", o.input_size ? o.input_size : 224);
    auto basic = [&](const std::string& n, const std::string& in, int64_t ch, int64_t k, int64_t s, int64_t p) {
        std::string y = b.conv(n + ".conv", in, scaled_channels(ch, o.width), k, s, p, 1, false);
        return b.relu(n + ".relu", b.batch_norm(n + ".bn", y, 1e-3f));
    };
    std::string x = b.pool("maxpool1", OpType::kMaxPool, basic("conv1", "data", 64, 7, 2, 3), 3, 2, 0, true);
    x = basic("conv3", basic("conv2", x, 64, 1, 1, 0), 192, 3, 1, 1);
    x = b.pool("maxpool2", OpType::kMaxPool, x, 3, 2, 0, true);
    for (const InceptionSpec& s : kInception) {
        std::string p = std::string(s.name);
        p.erase(p.find('_'), 1);
        std::string b1 = basic(p + ".branch1", x, s.n1x1, 1, 1, 0);
        std::string b2 = basic(p + ".branch2.1", basic(p + ".branch2.0", x, s.n3x3_reduce, 1, 1, 0), s.n3x3, 3, 1, 1);
        std::string b3 = basic(p + ".branch3.1", basic(p + ".branch3.0", x, s.n5x5_reduce, 1, 1, 0), s.n5x5, 3, 1, 1);
        std::string b4 = b.pool(p + ".branch4.0", OpType::kMaxPool, x, 3, 1, 1, true);
        b4 = basic(p + ".branch4.1", b4, s.pool_proj, 1, 1, 0);
        x = b.concat(p, {b1, b2, b3, b4});
        if (p == "inception3b") x = b.pool("maxpool3", OpType::kMaxPool, x, 3, 2, 0, true);
        if (p == "inception4e") x = b.pool("maxpool4", OpType::kMaxPool, x, 2, 2, 0, true);
    }
    x = b.fc("fc", b.flatten("flatten", b.global_avg_pool("avgpool", x)), o.num_classes);
    return b.finish(b.softmax("prob", x), o);
}

using Builder = std::function<Graph(const BuildOptions&)>;
const std::vector<std::pair<std::string, Builder>>& builders() {
    static const std::vector<std::pair<std::string, Builder>> k = {
        {"alexnet", bvlc_alexnet},
        {"googlenet", bvlc_googlenet},
        {"vgg16", vgg16},
        {"alexnet_torchvision", torchvision_alexnet},
        {"googlenet_torchvision", torchvision_googlenet},
    };
    return k;
}

}  // namespace

std::vector<std::string> builtin_names() {
    std::vector<std::string> names;
    for (const auto& [name, f] : builders()) names.push_back(name);
    return names;
}

Graph build_network(const std::string& name, const BuildOptions& opt) {
    if (!(opt.width > 0.f) || !std::isfinite(opt.width)) fail_input("network width must be positive");
    if (opt.num_classes < 1) fail_input("num_classes must be at least 1");
    if (opt.input_size < 0) fail_input("input size must be positive (or 0 for the network's own)");
    for (const auto& [n, f] : builders())
        if (n == name) return f(opt);
    std::string known;
    for (const std::string& n : builtin_names()) known += (known.empty() ? "" : ", ") + n;
    fail_input("unknown built-in network '" + name + "' (known: " + known + ")");
}

}  // namespace pda
