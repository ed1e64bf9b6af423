// libFuzzer target: a sampler file as `pda explain --sampler-file` reads it (read_sampler_file: the
// magic, the JSON header, the sizes it implies against the file's length, the Gaussian's checks),
// then the comparison with a run's preprocessing, channels, k and pad.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_common.h"
#include "io/sampler_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = pda::fuzz::write_input("model.pdas", data, size);
    pda::fuzz::expect_input_errors_only([&] {
        const pda::SamplerFile f = pda::read_sampler_file(path);
        pda::check_sampler_matches(f.meta, f.meta.pre, f.meta.channels, f.meta.k, f.meta.pad, path);
        pda::Preprocess other;
        pda::check_sampler_matches(f.meta, other, 3, 2, 1, path);
    });
    return 0;
}
