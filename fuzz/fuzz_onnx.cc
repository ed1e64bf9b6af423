// libFuzzer target: an .onnx file as `pda info` loads it. The bytes go through the importer alone
// (import_onnx: protobuf parsing, constant folding, op conversion), then through the public loading
// path (pda::Model::load with a preset: the graph's input and output checks and shape inference) and
// info_json (per-node FLOPs, and the incremental crop plan for 2 x 2 windows).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_common.h"
#include "networks/onnx_import.h"
#include "pda/pda.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = pda::fuzz::write_input("model.onnx", data, size);
    pda::fuzz::expect_input_errors_only([&] { pda::import_onnx(path); });
    pda::fuzz::expect_input_errors_only([&] {
        pda::ModelOptions opt;
        opt.preset = "torchvision";
        opt.threads = 1;
        pda::Model model = pda::Model::load(path, opt);
        const int64_t k = model.height() >= 2 && model.width() >= 2 ? 2 : 0;
        (void)model.info_json(k);
    });
    return 0;
}
