// Slice pictures of a volume's relevance map, drawn like the paper's figure 9: one slice of the
// volume in grey, the relevance over it in red (evidence for) and blue (against) only where
// |value| exceeds a fraction of the largest |value| (15 % by default), and a colour bar on the right
// from −limit (blue) through grey to +limit (red). Superior is up in sagittal and coronal slices,
// anterior up in axial ones; each slice is enlarged to at least 256 pixels on its shorter side,
// each voxel drawn in its own proportions (anisotropic scans are not squashed).
#pragma once

#include <array>
#include <cstdint>

#include "io/image.h"

namespace pda {

// The axis a slice is cut across, in NIfTI voxel axes: x (i: sagittal slices), y (j: coronal) or
// z (k: axial). Volumes are (D, H, W) = (nz, ny, nx).
enum class SliceAxis { kX, kY, kZ };
const char* slice_axis_name(SliceAxis a);  // "x", "y", "z"

struct SliceStyle {
    float threshold = 0.15f;                 // fraction of `limit` below which relevance is not drawn
    float limit = 0.f;                       // colour limit; ≤ 0: max |value| of the whole map
    std::array<double, 3> spacing{1, 1, 1};  // voxel sizes along x, y, z (affine_spacing)
};

// The voxel sizes along x, y, z of a voxel-to-world affine (row-major 4x4): its first three columns'
// lengths; 1 for a column that is zero or not finite.
std::array<double, 3> affine_spacing(const std::array<double, 16>& affine);

// The picture of slice `index` across `axis` of grey (D, H, W) (any range: scaled to its own min–max
// over the whole volume) under map (D, H, W). Throws an input error for an index outside the axis.
Image volume_slice_figure(const float* grey, const float* map, int64_t d, int64_t h, int64_t w, SliceAxis axis,
                          int64_t index, const SliceStyle& style);

}  // namespace pda
