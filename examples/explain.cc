// A program that uses pda as a library through find_package(pda): explains one image with the
// occlusion sampler (no fitted model needed) at a coarse stride so it runs in seconds, prints the
// explained classes and where the evidence for the top class is strongest, and writes the result
// folder (relevance.npy, heatmaps, summary.json) exactly as `pda explain` would.
#include <pda/explainer.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    if (argc < 3 || argc > 5) {
        std::fprintf(stderr, "usage: %s MODEL IMAGE [OUT_DIR] [STRIDE]\n", argv[0]);
        return 2;
    }
    try {
        pda::ExplainerOptions opt;
        opt.sampler = pda::SamplerKind::kOcclusion;  // constant fill 0 = the mean in mean-subtracted input space
        opt.k = 16;
        opt.stride = argc > 4 ? std::atoi(argv[4]) : 16;
        pda::Explainer explainer(argv[1], opt);
        std::printf("%s: %lld windows of %d px, stride %d\n", argv[2], static_cast<long long>(explainer.windows()),
                    opt.k, opt.stride);
        pda::ExplainResult r = explainer.explain(argv[2], argc > 3 ? argv[3] : "");
        for (const pda::Prediction& c : r.classes)
            std::printf("  class %4d  p = %.4f  %s\n", c.class_id, c.probability, c.label.c_str());
        // Strongest evidence for the top class (first map of relevance, (M, H, W)).
        const int64_t h = r.relevance.shape[1], w = r.relevance.shape[2];
        int64_t best = 0;
        for (int64_t i = 1; i < h * w; ++i)
            if (r.relevance.values[i] > r.relevance.values[best]) best = i;
        std::printf("strongest evidence for class %d at (y %lld, x %lld): %.3f bits\n", r.classes[0].class_id,
                    static_cast<long long>(best / w), static_cast<long long>(best % w), r.relevance.values[best]);
        if (!r.folder.empty()) std::printf("written to %s\n", r.folder.c_str());
    } catch (const pda::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return e.kind() == pda::ErrorKind::kInput ? 2 : 1;
    }
    return 0;
}
