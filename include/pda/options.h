// The typed options of pda, one definition for the CLI, the C++ API and the engine: sampler kind,
// execution, precision, the device, and which classes to explain. Strings (flags, config files) are
// parsed once, at the entry, by the parse_* functions, which refuse anything else with a one-line
// input error; nothing below the entry parses a string again.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pda/export.h"

namespace pda {

enum class SamplerKind {
    kConditional,  // the paper's: a Gaussian of the window given its ring (a fitted file or a photo folder)
    kMarginal,     // the window's values in other photos, same place
    kOcclusion,    // a constant (Zeiler & Fergus), one sample per window
};

enum class Execution {
    kIncremental,  // recompute only what each window changes (exact; the default)
    kFull,         // every resampled image in full
};

// The network's arithmetic. fp32: strict FP32; tf32: tensor cores with TF32 inputs; fp16/bf16: those
// storage types with FP32 accumulation (the CPU: bf16 where it has AVX-512-BF16 or AMX); winograd
// (CPU only): FP32, with 3 × 3 stride-1 convolutions by Winograd's F(4×4, 3×3), fewer multiplications
// and rounding errors of about 1e-6–1e-4 of a map's largest value.
enum class Precision { kFp32, kTf32, kFp16, kBf16, kWinograd };

// Where the work runs. kAuto: the first GPU when one is visible, else the CPU (resolved once, when a
// model or explainer is made).
struct Device {
    enum class Kind { kAuto, kCpu, kCuda };
    Kind kind = Kind::kAuto;
    int index = 0;  // kCuda: the GPU

    static Device automatic() { return {}; }
    static Device cpu() { return {Kind::kCpu, 0}; }
    static Device cuda(int index = 0) { return {Kind::kCuda, index}; }
    bool is_cuda() const { return kind == Kind::kCuda; }
    PDA_API std::string str() const;  // "auto", "cpu", "cuda:N"
    bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
};

// The classes explained: the N most probable (top 3 by default), all of them, or a list of ids.
struct ClassSelection {
    enum class Kind { kTop, kAll, kIds };
    Kind kind = Kind::kTop;
    int64_t top = 3;           // kTop, ≥ 1
    std::vector<int64_t> ids;  // kIds: distinct, ≥ 0 (checked against the model when it is known)

    static ClassSelection top_n(int64_t n) { return {Kind::kTop, n, {}}; }
    static ClassSelection all() { return {Kind::kAll, 0, {}}; }
    static ClassSelection list(std::vector<int64_t> ids) { return {Kind::kIds, 0, std::move(ids)}; }
    PDA_API std::string str() const;  // "top3", "all", "281,285"
};

// A slice of a volume to draw: across voxel axis 'x' (sagittal slices), 'y' (coronal) or 'z' (axial),
// at voxel index `index` along that axis (NIfTI's i, j, k).
struct VolumeSlicePick {
    char axis = 'x';
    int64_t index = 0;
    bool operator==(const VolumeSlicePick& o) const { return axis == o.axis && index == o.index; }
};

PDA_API SamplerKind parse_sampler(const std::string& s);                  // conditional | marginal | occlusion
PDA_API Execution parse_execution(const std::string& s);                  // incremental | full
PDA_API Precision parse_precision(const std::string& s);                  // fp32 | tf32 | fp16 | bf16 | winograd
PDA_API Device parse_device(const std::string& s);                        // auto | cpu | cuda | cuda:N
PDA_API ClassSelection parse_classes(const std::string& s);               // topN | all | id,id,...
PDA_API std::vector<VolumeSlicePick> parse_slices(const std::string& s);  // x45,y54,z40 (distinct)
PDA_API const char* sampler_name(SamplerKind k);
PDA_API const char* execution_name(Execution e);
PDA_API const char* precision_name(Precision p);

}  // namespace pda
