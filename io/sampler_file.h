// The sampler file: a fitted Gaussian patch model with the facts needed to refuse it for the wrong
// model (docs/sampler-file.md): magic "PDASAMP1", a JSON header (k, pad, l, channels, patches, seed,
// images, preprocessing, model; for a volume model version 2 with `volume` and `lz`; for a
// location-conditioned model version 3 with a `location` block), then little-endian float64 mean and
// covariance, float32 value ranges and (version 3) each fitted cell's mean and covariance. Fitted
// once by `pda fit-sampler`, read by `pda explain`. Image models are version 1, as before volumes.
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
    bool volume = false;              // a model of volumes (l × l × l × C patches), not of images
    Preprocess pre;                   // the preprocessing whose input space the model lives in
    std::string model;                // the model (file name or built-in net) it was fitted for
    uint64_t seed = 0;                // seed of the patch subset
    int64_t max_patches = 0;          // subset size asked for (≤ 0: all positions)
    std::vector<std::string> images;  // file names of the fitted images, in fitting order
    std::string created_by;           // "pda <version>"
    std::string mask;                 // the mask the fit's patch centres were restricted to (file name; empty: none)
    int64_t mask_voxels = 0;          // its voxels inside (> 0)
};

struct SamplerFile {
    GaussianPatchModel model;
    SamplerFileMeta meta;
};

// Writes the file atomically ("<path>.tmp", then renamed; no .tmp is left behind on failure), as
// version 1 for an image model, 2 for a volume model, 3 for a location-conditioned model of either.
// Input error when it cannot be written.
void write_sampler_file(const std::string& path, const GaussianPatchModel& model, const SamplerFileMeta& meta);

// Reads and validates a sampler file. A missing, truncated, oversized or corrupt file, a wrong magic
// or an inconsistent header is an input error naming the file.
SamplerFile read_sampler_file(const std::string& path);

// Refuses (input error, one line naming `file` and the first mismatching field) a sampler fitted for
// another preprocessing (input size, resize_shorter, crop, channel order, scale, mean, std), channel
// count, k or pad than the run's. This form leaves images vs volumes to the form below or to the
// conditional sampler's begin_image, which refuses a mismatch naming the file too.
void check_sampler_matches(const SamplerFileMeta& meta, const Preprocess& pre, int64_t channels, int64_t k, int64_t pad,
                           const std::string& file);
// The same, first refusing a model of volumes for a run on images (volume = false) or a model of
// images for a run on volumes (volume = true).
void check_sampler_matches(const SamplerFileMeta& meta, const Preprocess& pre, int64_t channels, int64_t k, int64_t pad,
                           const std::string& file, bool volume);

}  // namespace pda
