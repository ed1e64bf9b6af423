// Volumes in and out for 3-D PDA (MRI): NIfTI-1/-2 (.nii, .nii.gz) read and written through niftilib
// (nifti2_io), and .npy arrays through io/npy. The rest of pda sees only `Volume`: float32 voxels in
// the network's (C, D, H, W) order, plus the voxel-to-world affine that explanation maps are written
// back with, so a heat map lies on the scan it explains in any viewer.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "kernels/tensor.h"

namespace pda {

// A volume in the network's memory order: data (C, D, H, W) float32 with C = 1 for a 3-D file and
// C = dim[4] for a 4-D file. NIfTI voxel (i, j, k) (i fastest in the file) of volume c is
// data[c][k][j][i]: D = nz, H = ny, W = nx, so the memory order is the file's; nibabel's array a
// (nx, ny, nz[, C]) equals the tensor's transpose (a.T).
struct Volume {
    Tensor data;                             // (C, D, H, W) float32, scl_slope/scl_inter applied
    std::array<double, 16> affine{};         // voxel (i, j, k, 1) -> world (mm), row-major 4x4: the sform
                                             // when sform_code > 0, else the qform when qform_code > 0,
                                             // else diag(spacing, 1) (NIfTI's method 1; nibabel instead
                                             // flips x and centres the grid there)
    std::array<double, 3> spacing{1, 1, 1};  // |pixdim| of i, j, k (1 where the file says 0)
    std::string datatype;                    // as stored: "uint8", "int16", "float32", ... (.npy:
                                             // "float32" or "float64")
};

// At most 2^31 voxels (8 GiB of float32), checked on the header before any voxel memory is taken.
constexpr int64_t kMaxVolumeVoxels = int64_t{1} << 31;

// Reads a volume; the format is chosen by the name: .nii and .nii.gz (NIfTI-1 or NIfTI-2, single
// file, any byte order; stored as uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32
// or float64; scl_slope == 0 or non-finite means no scaling, as in the NIfTI rules and nibabel) or .npy
// (float32/float64, (D, H, W) or (C, D, H, W), identity affine). 1-D and 2-D files get size-1 axes;
// trailing axes of size 1 beyond the 4th are dropped. Throws an input error "<path>: <reason>" for a
// missing or non-regular file, another extension, a file that is not NIfTI-1/-2 (ANALYZE 7.5 and
// two-file pairs included), an axis of size 0, more than 4 axes, complex/RGB/other datatypes, more
// than kMaxVolumeVoxels, truncated or corrupt data (a short read, a gzip stream that fails its CRC) and
// non-finite voxels (NaN/Inf, counted, the first one named by its voxel index).
Volume read_volume(const std::string& path);

// Writes float32 data (maps, d, h, w) as a NIfTI-1 file: 3-D (nx, ny, nz) = (w, h, d) when maps == 1,
// else 4-D (w, h, d, maps); gzip-compressed when `path` ends in .nii.gz, plain for .nii (anything else
// is refused). `affine` (row-major 4x4, voxel -> mm) becomes the sform and, as nearly as a rotation,
// a scaling and a flip allow, the qform, both with code NIFTI_XFORM_SCANNER_ANAT (1); pixdim holds its
// column norms. NIfTI-1 stores the affine as float32 (about 1e-7 relative) and each axis as at most
// 32767 voxels. The bytes go to "<path>.tmp-<pid>" and are renamed onto `path` once every write has
// succeeded; on any failure the temporary file is removed and an input error "<path>: <reason>" thrown.
void write_nifti(const std::string& path, const float* data, int64_t maps, int64_t d, int64_t h, int64_t w,
                 const std::array<double, 16>& affine);

}  // namespace pda
