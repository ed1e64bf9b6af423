// The sampler file: a fitted Gaussian patch model with the facts needed to refuse it for the wrong
// model (docs/sampler-file.md): magic "PDASAMP1", a JSON header (k, pad, l, channels, patches, seed,
// images, preprocessing, model), then little-endian float64 mean and covariance and float32 value
// ranges. Fitted once by `pda fit-sampler`, read by `pda explain`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/gaussian.h"
#include "io/model_desc.h"

namespace pda {

struct SamplerFileMeta {
    // Geometry, filled by read_sampler_file (write_sampler_file takes it from the model).
    int64_t k = 0, pad = 0, l = 0, channels = 0;
    Preprocess pre;                   // the preprocessing whose input space the model lives in
    std::string model;                // the model (file name or built-in net) it was fitted for
    uint64_t seed = 0;                // seed of the patch subset
    int64_t max_patches = 0;          // subset size asked for (≤ 0: all positions)
    std::vector<std::string> images;  // file names of the fitted images, in fitting order
    std::string created_by;           // "pda <version>"
};

struct SamplerFile {
    GaussianPatchModel model;
    SamplerFileMeta meta;
};

// Writes the file atomically ("<path>.tmp", then renamed; no .tmp is left behind on failure).
// Input error when it cannot be written.
void write_sampler_file(const std::string& path, const GaussianPatchModel& model, const SamplerFileMeta& meta);

// Reads and validates a sampler file. A missing, truncated, oversized or corrupt file, a wrong magic
// or an inconsistent header is an input error naming the file.
SamplerFile read_sampler_file(const std::string& path);

// Refuses (input error, one line naming `file` and the first mismatching field) a sampler fitted for
// another preprocessing (input size, resize_shorter, crop, channel order, scale, mean, std), channel
// count, k or pad than the run's.
void check_sampler_matches(const SamplerFileMeta& meta, const Preprocess& pre, int64_t channels, int64_t k, int64_t pad,
                           const std::string& file);

}  // namespace pda
