// libFuzzer target: an image file as `pda predict` and `pda explain` read it: load_image (PNG by
// libpng, JPEG by libjpeg-turbo, BMP by our decoder, chosen by magic bytes), then the preprocessing
// of a small model (resize of the shorter side, centre crop, scale, mean and std), so that decoded
// pictures of every shape reach the resampling code.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_common.h"
#include "io/image.h"
#include "io/preprocess.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = pda::fuzz::write_input("image", data, size);
    pda::fuzz::expect_input_errors_only([&] {
        const pda::Image image = pda::load_image(path);
        pda::Preprocess pre;
        pre.height = 5;
        pre.width = 7;
        pre.resize_shorter = 9;
        (void)pda::preprocess(image, pre);
    });
    return 0;
}
