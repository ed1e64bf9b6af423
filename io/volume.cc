// read_volume and write_nifti (see volume.h). niftilib parses and builds the headers and computes the
// affines; the voxel bytes go through its znzlib here, not through nifti_image_load / nifti_image_write,
// because the former silently replaces NaN/Inf floats by 0 and the latter ignores failed writes. The raw
// header is checked before niftilib converts it, since the conversion turns a size of 0 into 1 and
// prints its own complaints to stderr whatever the debug level.
#include "io/volume.h"

#include <nifti2_io.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "io/npy.h"
#include "pda/error.h"

namespace pda {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string dims_text(const int64_t* dim) {
    std::string s = "(";
    for (int64_t a = 1; a <= dim[0]; ++a) s += (a > 1 ? ", " : "") + std::to_string(dim[a]);
    return s + ")";
}

struct NimFree {
    void operator()(nifti_image* p) const { nifti_image_free(p); }
};
using NimPtr = std::unique_ptr<nifti_image, NimFree>;

// A znz file closed on every path; close() says whether the last buffered bytes made it to disk.
struct Znz {
    znzFile f = nullptr;
    ~Znz() { close(); }
    bool close() { return f == nullptr || Xznzclose(&f) == 0; }
};

// One stored type that maps to a real number: niftilib's code, our name, its conversion to float32.
struct StoredType {
    int code;
    const char* name;
    void (*convert)(const unsigned char* src, float* dst, int64_t n, bool scaled, double slope, double inter);
};

template <class T>
void to_float(const unsigned char* src, float* dst, int64_t n, bool scaled, double slope, double inter) {
    for (int64_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, src + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
        dst[i] = scaled ? static_cast<float>(slope * static_cast<double>(v) + inter) : static_cast<float>(v);
    }
}

constexpr StoredType kStoredTypes[] = {
    {NIFTI_TYPE_UINT8, "uint8", to_float<uint8_t>},   {NIFTI_TYPE_INT8, "int8", to_float<int8_t>},
    {NIFTI_TYPE_INT16, "int16", to_float<int16_t>},   {NIFTI_TYPE_UINT16, "uint16", to_float<uint16_t>},
    {NIFTI_TYPE_INT32, "int32", to_float<int32_t>},   {NIFTI_TYPE_UINT32, "uint32", to_float<uint32_t>},
    {NIFTI_TYPE_INT64, "int64", to_float<int64_t>},   {NIFTI_TYPE_UINT64, "uint64", to_float<uint64_t>},
    {NIFTI_TYPE_FLOAT32, "float32", to_float<float>}, {NIFTI_TYPE_FLOAT64, "float64", to_float<double>},
};

const StoredType* stored_type(int code) {
    for (const StoredType& t : kStoredTypes)
        if (t.code == code) return &t;
    return nullptr;
}

// dim[0..7], the datatype and the scaling as the file stores them (niftilib's conversion replaces a size
// of 0 by 1 and a non-finite scl_inter by 0), in this CPU's byte order; refuses what is not NIfTI-1/-2,
// and the sizes and types read_volume does not take, before niftilib sees the header.
struct RawHeader {
    int64_t dim[8] = {};
    int datatype = 0;
    double slope = 0, inter = 0;
};

RawHeader read_raw_header(const std::string& path) {
    int version = -1;
    std::unique_ptr<void, void (*)(void*)> raw(nifti_read_header(path.c_str(), &version, 0), std::free);
    if (!raw || (version != 1 && version != 2))
        fail_input(path + ": not a NIfTI-1/-2 file" + (raw && version == 0 ? " (an ANALYZE 7.5 header)" : ""));
    RawHeader r;
    auto take = [&r](auto h, size_t header_size, int v) {
        if (static_cast<size_t>(h.sizeof_hdr) != header_size) swap_nifti_header(&h, v);
        for (int a = 0; a < 8; ++a) r.dim[a] = h.dim[a];
        r.datatype = h.datatype;
        r.slope = h.scl_slope;
        r.inter = h.scl_inter;
    };
    if (version == 1) {
        nifti_1_header h;
        std::memcpy(&h, raw.get(), sizeof h);
        take(h, sizeof h, 1);
    } else {
        nifti_2_header h;
        std::memcpy(&h, raw.get(), sizeof h);
        take(h, sizeof h, 2);
    }
    if (r.dim[0] < 1 || r.dim[0] > 7)
        fail_input(path + ": bad NIfTI header (dim[0] = " + std::to_string(r.dim[0]) + ")");
    for (int a = 1; a <= r.dim[0]; ++a)
        if (r.dim[a] < 1) fail_input(path + ": axis " + std::to_string(a) + " of " + dims_text(r.dim) + " is empty");
    for (int a = 5; a <= r.dim[0]; ++a)
        if (r.dim[a] > 1)
            fail_input(path + ": " + dims_text(r.dim) + " has more than 4 axes; 3-D and 4-D volumes are read");
    if (!stored_type(r.datatype))
        fail_input(path + ": datatype " + nifti_datatype_string(r.datatype) + " (" + std::to_string(r.datatype) +
                   ") is not read; voxels must be real numbers (uint8 ... uint64, float32, float64)");
    int64_t voxels = 1;
    for (int a = 1; a <= std::min<int64_t>(r.dim[0], 4); ++a) {
        if (r.dim[a] > kMaxVolumeVoxels / voxels)
            fail_input(path + ": " + dims_text(r.dim) + " is more than " + std::to_string(kMaxVolumeVoxels) +
                       " voxels");
        voxels *= r.dim[a];
    }
    return r;
}

// The nbytes voxel bytes at `offset`, read in pieces so that a forged size fails at the end of the file,
// not in the allocator; then one read past them, which makes zlib check a gzip stream's CRC.
std::vector<unsigned char> read_voxel_bytes(const std::string& path, int64_t offset, int64_t nbytes) {
    Znz z{znzopen(path.c_str(), "rb", nifti_is_gzfile(path.c_str()))};
    if (!z.f) fail_input(path + ": cannot open (" + std::strerror(errno) + ")");
    if (znzseek(z.f, offset, SEEK_SET) < 0) fail_input(path + ": truncated before its voxel data");
    constexpr size_t kError = static_cast<size_t>(-1);  // znzread's answer to a zlib error
    std::vector<unsigned char> bytes;
    for (int64_t done = 0; done < nbytes;) {
        const int64_t n = std::min<int64_t>(nbytes - done, int64_t{64} << 20);
        bytes.resize(static_cast<size_t>(done + n));
        const size_t got = znzread(bytes.data() + done, 1, static_cast<size_t>(n), z.f);
        if (got == kError) fail_input(path + ": corrupt gzip data");
        if (got != static_cast<size_t>(n))
            fail_input(path + ": truncated: " + std::to_string(done + static_cast<int64_t>(got)) + " of " +
                       std::to_string(nbytes) + " voxel data bytes");
        done += n;
    }
    unsigned char past;
    if (znzread(&past, 1, 1, z.f) == kError) fail_input(path + ": corrupt gzip data (CRC or stream error)");
    return bytes;
}

void check_finite(const std::string& path, const Tensor& t) {
    int64_t bad = 0, first = 0;
    for (int64_t i = 0; i < t.numel(); ++i)
        if (!std::isfinite(t.data()[i]) && bad++ == 0) first = i;
    if (bad == 0) return;
    const Shape& s = t.shape();  // (C, D, H, W)
    std::string at = "(i, j, k) = (" + std::to_string(first % s[3]) + ", " + std::to_string(first / s[3] % s[2]) +
                     ", " + std::to_string(first / (s[3] * s[2]) % s[1]) + ")";
    if (s[0] > 1) at += " of volume " + std::to_string(first / (s[3] * s[2] * s[1]));
    fail_input(path + ": " + std::to_string(bad) + " non-finite voxel value" + (bad > 1 ? "s" : "") +
               " (NaN or Inf), the first at voxel " + at);
}

Volume read_nifti(const std::string& path) {
    const RawHeader raw = read_raw_header(path);
    NimPtr nim(nifti_image_read(path.c_str(), 0));
    if (!nim) fail_input(path + ": not a NIfTI-1/-2 file");
    if (nim->nifti_type != NIFTI_FTYPE_NIFTI1_1 && nim->nifti_type != NIFTI_FTYPE_NIFTI2_1)
        fail_input(path + ": not a single-file NIfTI-1/-2 file (a .hdr/.img pair or ASCII NIfTI)");
    const int64_t* dim = raw.dim;
    const int64_t w = dim[1], h = dim[0] >= 2 ? dim[2] : 1, d = dim[0] >= 3 ? dim[3] : 1, c = dim[0] >= 4 ? dim[4] : 1;
    const StoredType* type = stored_type(raw.datatype);
    const int64_t voxels = c * d * h * w;
    std::vector<unsigned char> bytes = read_voxel_bytes(path, nim->iname_offset, voxels * nim->nbyper);
    if (nim->swapsize > 1 && nim->byteorder != nifti_short_order())
        nifti_swap_Nbytes(voxels, nim->swapsize, bytes.data());

    // NIfTI: scl_slope == 0 means unscaled; nibabel also ignores a non-finite slope and refuses a
    // non-finite intercept beside a valid slope.
    const bool scaled = raw.slope != 0 && std::isfinite(raw.slope);
    if (scaled && !std::isfinite(raw.inter))
        fail_input(path + ": scl_slope " + std::to_string(raw.slope) + " with a non-finite scl_inter");
    Volume v;
    v.data = Tensor(Shape{c, d, h, w});
    type->convert(bytes.data(), v.data.data(), voxels, scaled, raw.slope, raw.inter);
    check_finite(path, v.data);
    v.datatype = type->name;

    const double pixdim[3] = {nim->dx, nim->dy, nim->dz};
    for (int a = 0; a < 3; ++a) v.spacing[a] = std::isfinite(pixdim[a]) && pixdim[a] != 0 ? std::fabs(pixdim[a]) : 1.0;
    const nifti_dmat44& m = nim->sform_code > 0 ? nim->sto_xyz : nim->qto_xyz;
    if (nim->sform_code > 0 || nim->qform_code > 0) {
        for (int r = 0; r < 4; ++r)
            for (int k = 0; k < 4; ++k) v.affine[r * 4 + k] = m.m[r][k];
    } else {
        v.affine = {v.spacing[0], 0, 0, 0, 0, v.spacing[1], 0, 0, 0, 0, v.spacing[2], 0, 0, 0, 0, 1};
    }
    for (double a : v.affine)
        if (!std::isfinite(a)) fail_input(path + ": the voxel-to-world affine has non-finite entries");
    return v;
}

Volume read_npy_volume(const std::string& path) {
    Volume v;
    v.data = read_npy(path);
    const Shape s = v.data.shape();
    if (s.rank == 3) v.data.reshape(Shape{1, s[0], s[1], s[2]});
    if (s.rank != 3 && s.rank != 4)
        fail_input(path + ": array of shape " + s.str() + "; a volume is (D, H, W) or (C, D, H, W)");
    if (s.numel() == 0) fail_input(path + ": array of shape " + s.str() + " is empty");
    check_finite(path, v.data);
    v.affine = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    std::ifstream f(path, std::ios::binary);  // read_npy took float64 too; say which it was
    std::string head(128, '\0');
    f.read(head.data(), static_cast<std::streamsize>(head.size()));
    v.datatype = head.find("'<f8'") != std::string::npos ? "float64" : "float32";
    return v;
}

}  // namespace

Volume read_volume(const std::string& path) {
    nifti_set_debug_level(0);  // our one-line errors instead of niftilib's stderr chatter
    std::error_code ec;
    const auto st = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(st)) fail_input(path + ": no such file");
    if (std::filesystem::is_directory(st)) fail_input(path + ": is a directory, not a volume file");
    if (!std::filesystem::is_regular_file(st)) fail_input(path + ": not a regular file");
    if (ends_with(path, ".npy")) return read_npy_volume(path);
    if (ends_with(path, ".nii") || ends_with(path, ".nii.gz")) return read_nifti(path);
    fail_input(path + ": not a volume file name (.nii, .nii.gz or .npy)");
}

void write_nifti(const std::string& path, const float* data, int64_t maps, int64_t d, int64_t h, int64_t w,
                 const std::array<double, 16>& affine) {
    nifti_set_debug_level(0);
    const bool gz = ends_with(path, ".nii.gz");
    if (!gz && !ends_with(path, ".nii")) fail_input(path + ": a NIfTI file name ends in .nii or .nii.gz");
    if (data == nullptr) fail_internal("write_nifti(" + path + "): no data");
    for (int64_t n : {maps, d, h, w})
        if (n < 1 || n > 32767)
            fail_input(path + ": (maps, d, h, w) = (" + std::to_string(maps) + ", " + std::to_string(d) + ", " +
                       std::to_string(h) + ", " + std::to_string(w) + ") does not fit NIfTI-1 (each 1 to 32767)");
    nifti_dmat44 m;
    for (int r = 0; r < 4; ++r)
        for (int k = 0; k < 4; ++k) m.m[r][k] = affine[r * 4 + k];
    const nifti_dmat33 rot = {
        {{m.m[0][0], m.m[0][1], m.m[0][2]}, {m.m[1][0], m.m[1][1], m.m[1][2]}, {m.m[2][0], m.m[2][1], m.m[2][2]}}};
    const bool finite = std::all_of(affine.begin(), affine.end(), [](double a) { return std::isfinite(a); });
    if (!finite || m.m[3][0] != 0 || m.m[3][1] != 0 || m.m[3][2] != 0 || m.m[3][3] != 1 ||
        nifti_dmat33_determ(rot) == 0)
        fail_input(path + ": the affine is not an invertible voxel-to-world map (finite, last row 0 0 0 1)");

    const int64_t dims[8] = {maps > 1 ? 4 : 3, w, h, d, maps, 1, 1, 1};
    NimPtr nim(nifti_make_new_nim(dims, NIFTI_TYPE_FLOAT32, 0));
    if (!nim) fail_internal("nifti_make_new_nim failed for " + path);
    nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
    nim->xyz_units = NIFTI_UNITS_MM;
    nim->sform_code = nim->qform_code = NIFTI_XFORM_SCANNER_ANAT;
    nim->sto_xyz = m;
    nifti_dmat44_to_quatern(m, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d, &nim->qoffset_x, &nim->qoffset_y,
                            &nim->qoffset_z, &nim->dx, &nim->dy, &nim->dz, &nim->qfac);
    nim->pixdim[1] = nim->dx;
    nim->pixdim[2] = nim->dy;
    nim->pixdim[3] = nim->dz;
    nifti_set_iname_offset(nim.get(), 1);
    nifti_1_header hdr;
    if (nifti_convert_nim2n1hdr(nim.get(), &hdr) != 0 || static_cast<size_t>(hdr.vox_offset) != sizeof hdr + 4)
        fail_internal("niftilib could not build a NIfTI-1 header for " + path);

    // The file: header, 4 zero bytes (no extensions), the voxels at vox_offset 352.
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    Znz z{znzopen(tmp.c_str(), "wb", gz)};
    if (!z.f) fail_input(path + ": cannot write (" + std::strerror(errno) + ")");
    const char no_extensions[4] = {0, 0, 0, 0};
    const size_t nbytes = sizeof(float) * static_cast<size_t>(maps * d * h * w);
    bool ok = znzwrite(&hdr, 1, sizeof hdr, z.f) == sizeof hdr && znzwrite(no_extensions, 1, 4, z.f) == 4 &&
              znzwrite(data, 1, nbytes, z.f) == nbytes;
    ok = z.close() && ok;
    std::error_code ec;
    if (ok) std::filesystem::rename(tmp, path, ec);
    if (!ok || ec) {
        std::remove(tmp.c_str());
        fail_input(path + (ok ? ": cannot rename into place: " + ec.message() : ": write failed (disk full?)"));
    }
}

}  // namespace pda
