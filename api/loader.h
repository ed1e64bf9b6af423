// Loading a model as a user names it: an .onnx file (with its sidecar <stem>.json, or a preset) or a
// built-in network (random weights, or weights taken by name from an ONNX file); flags override
// sidecar fields. The result is everything the CLI and the public API need to run it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "io/image.h"
#include "io/model_desc.h"
#include "io/volume.h"
#include "networks/graph.h"
#include "pda/pda.h"

namespace pda {

struct LoadOptions {
    std::string preset;   // caffe | torchvision | "" (sidecar, else the built-in net's own)
    std::string weights;  // ONNX file with initializers for a built-in network
    std::vector<std::pair<std::string, std::string>> overrides;  // sidecar fields from flags
    uint64_t seed = 0;                                           // random weights of built-in networks
};

struct LoadedModel {
    std::string spec;  // what the user named
    bool builtin = false;
    Graph graph;        // unfused, as imported or built
    ModelDesc desc;     // input/output names resolved, input size equal to the graph's
    Shape input_shape;  // (1, C, H, W)
    int64_t num_classes = 0;
};

LoadedModel load_model(const std::string& spec, const LoadOptions& opt);

// The network input of a file, preprocessed as the model says: (1, C, H, W) of an image, or
// (1, C, D, H, W) of a volume for a volume model (load_volume_input).
Tensor load_input(const LoadedModel& m, const std::string& path);

// A volume model's input: the volume at `path` (NIfTI or .npy, io/volume.h), which must have the
// model's grid exactly, normalised as the sidecar says; data (1, C, D, H, W), the file's affine kept.
Volume load_volume_input(const LoadedModel& m, const std::string& path);

// Refuses (input error) RGB pixels in memory that cannot be this model's input: no pixels, a size
// below 1 × 1, or a volume model.
void check_rgb_image(const RgbImage& image, const LoadedModel& m);

// Turns the model's output rows (n, K) into probabilities in place (softmax for logits models).
void to_probabilities(const ModelDesc& desc, float* rows, int64_t n, int64_t k);

// Indices of the t largest of probs[0..k), largest first (ties: lower index first).
std::vector<int64_t> top_classes(const float* probs, int64_t k, int64_t t);

}  // namespace pda
