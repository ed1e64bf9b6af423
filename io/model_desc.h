// How a model wants its input and what its output means: preprocessing (size, resize, crop, channel
// order, scale, mean, std), input/output tensor names, output kind and class labels. Read from the
// sidecar JSON beside an ONNX file (format: ../shared/models/README.md), or taken from a preset, and
// adjusted by command-line overrides; every path validates with a message naming the source and field.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace pda {

struct Preprocess {
    int64_t height = 224;  // network input size (the crop)
    int64_t width = 224;
    int64_t resize_shorter = 256;                 // shorter side after resizing; 0 = resize straight to height×width
    std::string crop = "center";                  // the only crop policy so far
    bool bgr = false;                             // channel order of the network input
    float scale = 1.0f;                           // value of a full-intensity pixel before mean/std
    std::array<float, 3> mean{0.0f, 0.0f, 0.0f};  // in the network's channel order
    std::array<float, 3> std{1.0f, 1.0f, 1.0f};   // in the network's channel order
};

// A volume model's input (sidecar "kind": "volume"): a NIfTI or .npy volume of exactly this grid,
// normalised as (v − mean) / std per voxel; no resampling.
struct VolumeInput {
    int64_t channels = 1, depth = 0, height = 0, width = 0;  // C, D = nz, H = ny, W = nx
    float mean = 0.0f, std = 1.0f;
    std::string mask_path;  // a brain mask on the same grid (checked to exist; recorded, windows not yet restricted)
};

struct ModelDesc {
    enum class OutputKind { kProbabilities, kLogits };

    std::string input;   // graph input name; empty = the graph's only input
    std::string output;  // graph output name; empty = the graph's only output
    OutputKind output_kind = OutputKind::kProbabilities;
    Preprocess pre;
    std::string labels_path;          // empty when there are no labels
    std::vector<std::string> labels;  // one per class, in output order; empty when unknown
    bool volume = false;              // a volume model: `vol` replaces `pre`
    VolumeInput vol;
};

// "probabilities" / "logits".
const char* output_kind_name(ModelDesc::OutputKind kind);

// Reads and validates a sidecar. Required: output_kind, input_size [H, W], resize_shorter,
// channel_order ("RGB" | "BGR"), scale (> 0), mean [3 numbers], std [3 numbers > 0]. Optional:
// input, output (strings), crop ("center"), labels (path relative to the sidecar's folder; the file
// must exist and is loaded). Any other key is an error, so a typo cannot silently be ignored.
// A volume model's sidecar has "kind": "volume" and requires output_kind and input_shape [C, D, H, W]
// (D, H, W = the NIfTI grid's nz, ny, nx); optional: input, output, normalization {"mean": m,
// "std": s > 0}, labels (a file as above, or an inline list of names) and mask (a file relative to the
// sidecar's folder).
ModelDesc load_sidecar(const std::string& json_path);

// Built-in descriptions for models without a sidecar: "caffe" (BGR, 0–255, mean B,G,R = 104, 117,
// 123, probabilities) and "torchvision" (RGB, 0–1, ImageNet mean/std, logits). Both resize the
// shorter side to 256 and centre-crop 224×224; the model's input shape overrides the size. No labels.
ModelDesc preset(const std::string& name);

// "<dir>/<stem>.json" for "<dir>/<stem>.onnx" (any extension is replaced).
std::string sidecar_path(const std::string& onnx_path);

// Class names, one per line. A line "n01440764 tench, Tinca tinca" (synset id = 'n' + 8 digits, then
// a space) gives "tench, Tinca tinca"; any other line is kept whole. Trailing '\r' and a leading UTF-8
// byte order mark are stripped; empty lines at the end are ignored. A missing or empty file, or a line
// that is not UTF-8 text (labels are written into JSON), is an input error.
std::vector<std::string> load_labels(const std::string& path);

// Applies one command-line override, validated like the sidecar field of the same name. Keys:
// input, output, output_kind, channel_order, scale, mean ("a,b,c"), std ("a,b,c"), resize_shorter,
// input_size ("HxW" or "H,W"), crop, labels (a path, loaded at once).
void apply_override(ModelDesc& desc, const std::string& key, const std::string& value);

}  // namespace pda
