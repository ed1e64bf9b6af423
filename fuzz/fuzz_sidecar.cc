// libFuzzer target: a model's sidecar JSON (load_sidecar: every field's type and range, unknown
// keys, the labels file it names). A labels file "labels.txt" lies beside the sidecar, so that inputs
// naming it reach the labels reader as well as the refusal of a missing one.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz/fuzz_common.h"
#include "io/model_desc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const bool labels_written = [] {
        static const char kLabels[] = "n01440764 tench, Tinca tinca\nn01443537 goldfish\nbackground\r\n\n";
        pda::fuzz::write_input("labels.txt", reinterpret_cast<const uint8_t*>(kLabels), std::strlen(kLabels));
        return true;
    }();
    (void)labels_written;
    const std::string path = pda::fuzz::write_input("model.json", data, size);
    pda::fuzz::expect_input_errors_only([&] { (void)pda::load_sidecar(path); });
    return 0;
}
