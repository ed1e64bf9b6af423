// The public C++ API of pda: load a model (ONNX file + sidecar, or a built-in network), preprocess
// images exactly as the model expects, run batches, read class probabilities. Only standard types
// cross this boundary, so a program using it needs nothing but libpda.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pda/error.h"
#include "pda/options.h"

namespace pda {

PDA_API std::string version();
// Version and build options (CUDA, cuDNN, oneDNN, ONNX), one per line.
PDA_API std::string build_info();

struct ModelOptions {
    std::string preset;   // "caffe" | "torchvision" | "" (sidecar or built-in default)
    std::string weights;  // ONNX file whose initializers fill a built-in network
    uint64_t seed = 0;    // random weights of built-in networks without --weights
    // Sidecar fields set by the caller over the sidecar's (README: input, output, output_kind,
    // channel_order, scale, mean, std, resize_shorter, input_size, labels), e.g. {"mean", "0,0,0"}.
    std::vector<std::pair<std::string, std::string>> sidecar;
    // Where this model (and every Explainer made from it) runs. The thread count applies to this
    // model's calls only (0: all cores; above hardware_threads() it is capped there, and
    // Model::threads() says so); the process's default is left alone.
    Device device = Device::cpu();
    Precision precision = Precision::kFp32;  // CPU: fp32, winograd, or bf16 where it has AVX-512-BF16 or AMX
    int threads = 0;
};

// For programs (call it first in main, before any thread starts): SIGINT, SIGTERM and SIGHUP then
// stop a result folder being written and remove it, and end the process with the signal's status. Without it a signal
// may leave OUT/.<stem>.tmp-<host>-<pid>, which the next explain into OUT removes. Results already in place are never
// touched.
PDA_API void handle_interrupts();

// The processors this process may run on.
PDA_API int hardware_threads();

// What can be checked without loading the model: the thread count, the device (cuda:N must exist)
// and the precision (beyond fp32 needs a CUDA device). Throws pda::Error (input kind).
PDA_API void check_options(const ModelOptions& opt);

// 8-bit RGB pixels, height × width × 3, row-major (not owned): resized and cropped as the model says.
struct RgbImage {
    const uint8_t* pixels = nullptr;
    int height = 0, width = 0;
    std::string name = "image";  // the result folder's name when written
};

struct Prediction {
    int class_id = 0;
    std::string label;
    float probability = 0.f;
};

// A Model, and every Explainer made from it, is used by one thread at a time: their calls share the
// engine's compiled programs and buffers. For parallel work load one Model per thread (what the
// workers of run_job in pda/job.h do).
class PDA_API Model {
  public:
    // MODEL is an .onnx path (sidecar <stem>.json beside it if present) or a built-in name
    // (alexnet, googlenet, vgg16).
    static Model load(const std::string& model, const ModelOptions& opt = {});
    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    ~Model();

    const std::string& name() const;
    int channels() const;
    bool volume() const;  // a volume model (sidecar "kind": "volume"): inputs (1, C, D, H, W)
    int depth() const;    // D of a volume model, 1 for an image model
    int height() const;
    int width() const;
    int num_classes() const;
    const std::vector<std::string>& labels() const;

    // Decodes an image file and preprocesses it: (C, H, W) float32 in network-input space.
    std::vector<float> preprocess(const std::string& image_path) const;
    // The same for 8-bit RGB pixels in memory (an image model's only: input error for a volume model).
    std::vector<float> preprocess(const RgbImage& image) const;
    // Runs n images stored back to back as (n, C, H, W) on the model's device; returns (n, K) class
    // probabilities (softmax applied when the model outputs logits).
    std::vector<float> probabilities(const std::vector<float>& batch, int n);
    // The k most probable classes of one probability vector.
    std::vector<Prediction> top(const float* probs, int k) const;

    // The device it runs on (resolved: cpu or cuda:N), its precision and CPU threads.
    Device device() const;
    Precision precision() const;
    int threads() const;

    // What `pda info --json` prints: the model (built-in or not), input, output, preprocessing, and per node its op,
    // output shape, parameters and MFLOP (batch 1); with pda_k > 0 also each node's crop for pda_k × pda_k windows
    // (pda_k × pda_k × pda_k on volume models) and its MFLOP under incremental execution.
    std::string info_json(int64_t pda_k = 0) const;

  private:
    friend class Explainer;
    friend class FittedSampler;
    struct Impl;
    explicit Model(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pda
