// Heatmap colouring (io/heatmap.h): evidence for in red, against in blue, zero as the lightened grey
// photo, symmetric limits ±max|value|, and an all-zero or non-finite map never divides by zero.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io/heatmap.h"
#include "pda/error.h"

namespace pda {
namespace {

Image flat(int h, int w, uint8_t r, uint8_t g, uint8_t b) {
    Image img;
    img.height = h;
    img.width = w;
    img.rgb.resize(static_cast<size_t>(h) * w * 3);
    for (size_t i = 0; i < img.rgb.size(); i += 3) {
        img.rgb[i] = r;
        img.rgb[i + 1] = g;
        img.rgb[i + 2] = b;
    }
    return img;
}

TEST(Heatmap, BackgroundIsLightenedGrey) {
    EXPECT_EQ(heatmap_background(0, 0, 0), 128);
    EXPECT_EQ(heatmap_background(255, 255, 255), 255);
    uint8_t g = heatmap_background(200, 10, 10);
    EXPECT_GT(g, 128);
    EXPECT_LT(g, 255);
}

TEST(Heatmap, SignGivesColour) {
    Rgb pos = heatmap_colour(1.f, 1.f, 200), neg = heatmap_colour(-1.f, 1.f, 200), zero = heatmap_colour(0.f, 1.f, 200);
    EXPECT_EQ(pos.r, 255);
    EXPECT_EQ(pos.g, 0);
    EXPECT_EQ(pos.b, 0);
    EXPECT_EQ(neg.r, 0);
    EXPECT_EQ(neg.g, 0);
    EXPECT_EQ(neg.b, 255);
    EXPECT_EQ(zero.r, 200);
    EXPECT_EQ(zero.g, 200);
    EXPECT_EQ(zero.b, 200);
    // Half the limit: half way from the grey to the colour; beyond the limit: saturated.
    Rgb half = heatmap_colour(0.5f, 1.f, 200);
    EXPECT_NEAR(half.r, 228, 1);
    EXPECT_NEAR(half.g, 100, 1);
    EXPECT_EQ(heatmap_colour(5.f, 1.f, 200).r, 255);
}

TEST(Heatmap, LimitsAreSymmetric) {
    // +1 and −1 (limit max|v| = 1) are equally strong, one red, one blue.
    float map[4] = {1.f, -1.f, 0.5f, -0.25f};
    EXPECT_FLOAT_EQ(heatmap_limit(map, 4), 1.f);
    Image out = heatmap_overlay(flat(2, 2, 100, 100, 100), map, 2, 2);
    const uint8_t* p = out.rgb.data();
    EXPECT_EQ(p[0], p[5]);  // red of +1 == blue of −1
    EXPECT_EQ(p[1], p[4]);  // green of both
    EXPECT_EQ(p[2], p[3]);  // blue of +1 == red of −1
    EXPECT_GT(p[0], p[2]);
    // Only negative values: the most negative is fully blue (limit from |min|).
    float neg[2] = {-2.f, -1.f};
    Image o2 = heatmap_overlay(flat(1, 2, 100, 100, 100), neg, 1, 2);
    EXPECT_EQ(o2.rgb[2], 255);
    EXPECT_EQ(o2.rgb[0], 0);
}

TEST(Heatmap, AllZeroMapIsThePlainGreyPicture) {
    float map[6] = {0, 0, 0, 0, 0, 0};
    Image base = flat(2, 3, 30, 60, 90);
    Image out = heatmap_overlay(base, map, 2, 3);
    uint8_t g = heatmap_background(30, 60, 90);
    for (uint8_t v : out.rgb) EXPECT_EQ(v, g);
    EXPECT_FLOAT_EQ(heatmap_limit(map, 6), 0.f);
}

TEST(Heatmap, NonFiniteValuesAreIgnored) {
    float map[3] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), 2.f};
    EXPECT_FLOAT_EQ(heatmap_limit(map, 3), 2.f);
    Image out = heatmap_overlay(flat(1, 3, 0, 0, 0), map, 1, 3);
    EXPECT_EQ(out.rgb[0], 128);  // NaN → grey
    EXPECT_EQ(out.rgb[3], 128);  // inf → grey
    EXPECT_EQ(out.rgb[6], 255);  // the max → red
}

TEST(Heatmap, SizeMismatchThrows) {
    float map[4] = {};
    EXPECT_THROW(heatmap_overlay(flat(2, 3, 0, 0, 0), map, 2, 2), Error);
}

}  // namespace
}  // namespace pda
