// PNG heatmaps of relevance maps (METHOD.md §6): evidence FOR a class in red, AGAINST in blue,
// symmetric colour limits ±max|value|, opacity growing with |value|, drawn over a lightened grey
// version of the displayed crop so the picture stays recognisable under the colours.
#pragma once

#include <cstdint>

#include "io/image.h"

namespace pda {

struct Rgb {
    uint8_t r = 0, g = 0, b = 0;
};

// The lightened grey a pixel of the photo becomes under the heatmap (luma, then halfway to white).
uint8_t heatmap_background(uint8_t r, uint8_t g, uint8_t b);

// Colour of one value over background grey `bg` with colour limit `limit` (> 0; values beyond it
// saturate): alpha = |value| / limit, blended towards pure red (value > 0) or pure blue (value < 0).
// A zero, non-finite value or limit ≤ 0 gives the grey itself.
Rgb heatmap_colour(float value, float limit, uint8_t bg);

// max |value| over the finite values of map[0..n); 0 when there are none.
float heatmap_limit(const float* map, int64_t n);

// The overlay of map (H, W) on `base` (H × W pixels, the displayed crop). limit ≤ 0 means
// ±max|value| of this map; an all-zero map gives the plain grey picture. Throws an internal error
// when the sizes differ.
Image heatmap_overlay(const Image& base, const float* map, int64_t height, int64_t width, float limit = 0.f);

}  // namespace pda
