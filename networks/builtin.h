// The networks of the PDA paper built in code, so they need no model file: BVLC Caffe AlexNet,
// BVLC GoogLeNet (no auxiliary heads), VGG16, and torchvision's AlexNet and GoogLeNet topologies.
// Width-scaled variants serve fast tests; seeded random weights serve benchmarks; trained weights
// are loaded by constant name (weights/load_by_name.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "networks/graph.h"

namespace pda {

struct BuildOptions {
    float width = 1.0f;          // channel multiplier for every Conv / fully connected layer (not the classes)
    int num_classes = 1000;      // outputs of the classifier
    int64_t input_size = 0;      // square input side; 0 = the network's own (227 AlexNet, 224 the others)
    uint64_t seed = 0;           // seed of the random weights
    bool random_weights = true;  // false: weights and biases are zero (BatchNorm variances one), to be loaded
};

// Builds network `name` (one of builtin_names()). The graph has one input "data" of shape
// (1, 3, S, S) (the batch is given per run) and one output "prob", the softmax over the classes;
// node names are the Caffe deploy.prototxt layer names (torchvision module names for the
// *_torchvision variants), value names equal node names, and constants are "<node>.weight",
// "<node>.bias" (BatchNorm: also "<node>.running_mean", "<node>.running_var"). Conv weights are
// (O, I/group, K, K), fully connected weights (O, I) with trans_b. Throws an input error for an
// unknown name or options that leave no valid network.
Graph build_network(const std::string& name, const BuildOptions& opt = {});

// The names build_network accepts: alexnet, googlenet, vgg16, alexnet_torchvision, googlenet_torchvision.
std::vector<std::string> builtin_names();

// A channel count scaled by width: round(c·width) to a multiple of `multiple` (half rounds up), at
// least `multiple`. AlexNet uses multiple 2 for its convolutions so that group 2 stays valid.
// tests/golden/make_golden.py implements the same rule.
int64_t scaled_channels(int64_t c, float width, int64_t multiple = 1);

}  // namespace pda
