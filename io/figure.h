// Figures of relevance maps for papers and slides: the map drawn over the original photo at the
// photo's own resolution (the network saw a resized, centre-cropped copy: the crop's box is mapped
// back onto the photo), values under a threshold left out, and a colour bar labelled in the map's
// units. Also the small pictures a report needs: downscaled copies, labels in a pixel font.
#pragma once

#include <cstdint>
#include <string>

#include "io/heatmap.h"
#include "io/image.h"

namespace pda {

// The network's crop in the photo's pixels (fractional: the photo was resized before the crop).
struct CropBox {
    double top = 0, left = 0, height = 0, width = 0;
};

struct FigureStyle {
    float threshold = 0.15f;    // fraction of the limit under which relevance is not drawn
    float limit = 0.f;          // colour limit; ≤ 0: max |value| of the map
    std::string unit = "bits";  // the colour bar's unit
};

// The figure: `photo` at its resolution, map (height, width) (the crop's pixels) over `box` of it,
// sampled bilinearly, coloured as heatmap_colour over the lightened grey photo where |value| >
// threshold × limit (outside the box: the grey photo alone), then a colour bar from −limit (blue,
// bottom) to +limit (red, top) with its labels. Input error for an empty photo or map.
Image relevance_figure(const Image& photo, const CropBox& box, const float* map, int64_t height, int64_t width,
                       const FigureStyle& style);

// A copy of `image` whose longer side is at most `max_side` (area average); the image itself when
// it is that small already.
Image shrink_to_fit(const Image& image, int max_side);

// Draws `text` (ASCII) with its top left corner at (x, y), each font pixel a scale × scale square;
// what falls outside the image is clipped. The font is 7 pixels high (stb_easy_font), about 6 wide.
void draw_text(Image& image, int x, int y, const std::string& text, int scale, Rgb colour);
int text_width(const std::string& text, int scale);  // in pixels

// A value with 3 significant digits and an explicit sign for the colour bar ("+1.23", "-0.0452", "0").
std::string format_bar_value(double v);

}  // namespace pda
