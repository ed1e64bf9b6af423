// A program that uses pda as a library through find_package(pda): classifies one image with a
// model (an .onnx file with its sidecar, or a built-in net) and prints the three likeliest classes.
#include <pda/pda.h>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL IMAGE\n", argv[0]);
        return 2;
    }
    try {
        pda::Model model = pda::Model::load(argv[1]);
        std::vector<float> x = model.preprocess(argv[2]);
        std::vector<float> p = model.probabilities(x, 1);
        std::printf("%s (pda %s, %d classes)\n", argv[2], pda::version().c_str(), model.num_classes());
        for (const pda::Prediction& c : model.top(p.data(), 3))
            std::printf("  %6.2f%%  %4d  %s\n", 100.0 * c.probability, c.class_id, c.label.c_str());
    } catch (const pda::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return e.kind() == pda::ErrorKind::kInput ? 2 : 1;
    }
    return 0;
}
