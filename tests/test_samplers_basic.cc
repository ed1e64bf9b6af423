// The occlusion and marginal samplers: occlusion fills a constant with S = 1; the marginal sampler
// never hands out the explained image's values, draws without replacement, is a pure function of
// (seed, window) whatever the block split or thread count, picks images uniformly, and refuses sets
// too small for S.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "engine/samplers.h"

namespace pda {
namespace {

// Image i of the set is constant 10 + i, so a sample's value says which image it came from.
std::vector<Tensor> constant_set(int n, const Shape& s) {
    std::vector<Tensor> set;
    for (int i = 0; i < n; ++i) {
        Tensor t(s);
        std::fill(t.data(), t.data() + t.numel(), 10.f + static_cast<float>(i));
        set.push_back(std::move(t));
    }
    return set;
}

std::vector<float> draw_all(Sampler& s, const Tensor& x, const WindowGrid& grid, uint64_t seed, int64_t S,
                            int64_t split) {
    const int64_t patch = x.shape()[1] * grid.k * grid.k;
    std::vector<float> out(static_cast<size_t>(grid.count() * S * patch));
    s.begin_image(x.view(), grid, grid.count(), seed);
    for (int64_t w0 = 0; w0 < grid.count(); w0 += split)
        s.draw(w0, std::min(grid.count(), w0 + split), S, out.data() + w0 * S * patch);
    return out;
}

void expect_input_error(const std::function<void()>& f, const std::string& needle) {
    try {
        f();
        ADD_FAILURE() << "expected an input error mentioning '" << needle << "'";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(OcclusionSampler, FillsTheConstantWithOneSample) {
    auto s = make_occlusion_sampler(0.25f);
    EXPECT_EQ(s->samples_per_window(10), 1);
    Tensor x(Shape{1, 3, 6, 7});
    WindowGrid grid(6, 7, 2, 1);
    std::vector<float> out = draw_all(*s, x, grid, 0, 1, 5);
    for (float v : out) ASSERT_EQ(v, 0.25f);
    EXPECT_EQ(s->describe().at("sampler"), "occlusion");
}

TEST(MarginalSampler, NeverTheExplainedImageAndWithoutReplacement) {
    const Shape shape{1, 2, 6, 5};
    std::vector<Tensor> set = constant_set(6, shape);
    Tensor x = set[2].clone();  // the explained image is in the set
    auto s = make_marginal_sampler(std::move(set), "test");
    WindowGrid grid(6, 5, 2, 1);
    const int64_t S = 5, patch = 2 * 2 * 2;  // all five other images, in some order
    std::vector<float> out = draw_all(*s, x, grid, 7, S, 3);
    EXPECT_EQ(s->describe().at("excluded_equal_to_image"), "1");
    for (int64_t w = 0; w < grid.count(); ++w) {
        std::set<float> used;
        for (int64_t j = 0; j < S; ++j) {
            const float* p = out.data() + (w * S + j) * patch;
            for (int64_t e = 0; e < patch; ++e) ASSERT_EQ(p[e], p[0]) << "one sample mixes images";
            ASSERT_NE(p[0], 12.f) << "window " << w << " drew the explained image";
            used.insert(p[0]);
        }
        ASSERT_EQ(static_cast<int64_t>(used.size()), S) << "window " << w << " drew an image twice";
    }
}

TEST(MarginalSampler, CopiesTheValuesAtTheWindow) {
    const Shape shape{1, 2, 5, 6};
    std::vector<Tensor> set;
    for (int i = 0; i < 2; ++i) {
        Tensor t(shape);
        for (int64_t e = 0; e < t.numel(); ++e) t.data()[e] = static_cast<float>(1000 * (i + 1) + e);
        set.push_back(std::move(t));
    }
    Tensor x(shape);  // zeros: differs from both
    auto s = make_marginal_sampler(std::move(set));
    WindowGrid grid(5, 6, 3, 2);
    std::vector<float> out = draw_all(*s, x, grid, 1, 2, 100);
    for (int64_t w = 0; w < grid.count(); ++w)
        for (int64_t j = 0; j < 2; ++j) {
            const float* p = out.data() + (w * 2 + j) * 2 * 9;
            const float base = p[0] >= 2000.f ? 2000.f : 1000.f;
            for (int64_t c = 0; c < 2; ++c)
                for (int64_t r = 0; r < 3; ++r)
                    for (int64_t q = 0; q < 3; ++q)
                        ASSERT_EQ(p[(c * 3 + r) * 3 + q],
                                  base + static_cast<float>((c * 5 + grid.row(w) + r) * 6 + grid.col(w) + q));
        }
}

TEST(MarginalSampler, DeterministicBySeedWhateverTheSplitOrThreads) {
    const Shape shape{1, 1, 8, 8};
    Tensor x(shape);
    auto s = make_marginal_sampler(constant_set(9, shape));
    WindowGrid grid(8, 8, 3, 1);
    std::vector<float> a = draw_all(*s, x, grid, 42, 4, 1000);
    std::vector<float> b = draw_all(*s, x, grid, 42, 4, 1);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    std::vector<float> c = draw_all(*s, x, grid, 42, 4, 7);
    omp_set_num_threads(2);
    std::vector<float> d = draw_all(*s, x, grid, 42, 4, 7);
    omp_set_num_threads(saved);
    std::vector<float> other = draw_all(*s, x, grid, 43, 4, 1000);
    EXPECT_EQ(a, b);
    EXPECT_EQ(a, c);
    EXPECT_EQ(a, d);
    EXPECT_NE(a, other) << "another seed must draw other images";
}

TEST(MarginalSampler, ChoiceIsUniformOverImages) {
    // 5 eligible images, 2 per window, 5000 windows: each image expected 2000 times, sd ≈ 35.
    std::vector<int64_t> hits(5, 0);
    for (int64_t w = 0; w < 5000; ++w)
        for (int64_t i : marginal_choice(3, w, 5, 2)) ++hits[static_cast<size_t>(i)];
    for (int64_t h : hits) EXPECT_NEAR(static_cast<double>(h), 2000.0, 200.0);
    // Pairs too: 10 subsets, each expected 500 times (sd ≈ 21).
    std::map<std::pair<int64_t, int64_t>, int64_t> pairs;
    for (int64_t w = 0; w < 5000; ++w) {
        std::vector<int64_t> c = marginal_choice(3, w, 5, 2);
        ++pairs[{std::min(c[0], c[1]), std::max(c[0], c[1])}];
    }
    EXPECT_EQ(pairs.size(), 10u);
    for (const auto& [k, n] : pairs) EXPECT_NEAR(static_cast<double>(n), 500.0, 120.0);
}

TEST(MarginalSampler, RefusesSetsTooSmallAndBadShapes) {
    const Shape shape{1, 1, 4, 4};
    std::vector<Tensor> set = constant_set(3, shape);
    Tensor x = set[0].clone();
    auto s = make_marginal_sampler(std::move(set));
    WindowGrid grid(4, 4, 2, 1);
    std::vector<float> out(3 * 4);
    s->begin_image(x.view(), grid, grid.count(), 0);
    EXPECT_NO_THROW(s->draw(0, 1, 2, out.data()));
    expect_input_error([&] { s->draw(0, 1, 3, out.data()); }, "equal to the explained image");

    expect_input_error([&] { make_marginal_sampler({}); }, "empty");
    std::vector<Tensor> mixed = constant_set(2, shape);
    mixed.push_back(Tensor(Shape{1, 1, 4, 5}));
    expect_input_error([&] { make_marginal_sampler(std::move(mixed)); }, "shape");
    auto m = make_marginal_sampler(constant_set(2, shape));
    Tensor big(Shape{1, 1, 5, 5});
    expect_input_error([&] { m->begin_image(big.view(), WindowGrid(5, 5, 2, 1), 1, 0); }, "explained image");
    expect_input_error([&] { make_basic_sampler("gaussian", {}); }, "unknown sampler");
    EXPECT_EQ(make_basic_sampler("occlusion", {})->name(), "occlusion");
}

}  // namespace
}  // namespace pda
