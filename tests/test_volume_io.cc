// Volume input/output (io/volume.h): write/read round trips; files of every real datatype, NIfTI-1 and
// NIfTI-2, scaled and byte-swapped, made by niftilib's own writer; the MNI templates and our own files
// read by nibabel (tests/volumes/nifti_readback.py) as the independent reference; and bad input refused
// with one line naming the file, nothing on stderr, and no file left by a failed write.
#include <gtest/gtest.h>
#include <nifti2_io.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "io/npy.h"
#include "io/volume.h"
#include "pda/error.h"
#include "test_util.h"

namespace pda {
namespace {

namespace fs = std::filesystem;
using Affine = std::array<double, 16>;

constexpr Affine kIdentity = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};

// A rotation (about z, then x), 2 / 2.5 / 3 mm voxels and a translation: a qform can hold it exactly.
Affine oblique_affine() {
    const double ca = std::cos(0.3), sa = std::sin(0.3), cb = std::cos(-0.2), sb = std::sin(-0.2);
    const double r[3][3] = {{ca, -sa * cb, sa * sb}, {sa, ca * cb, -ca * sb}, {0, sb, cb}};
    const double spacing[3] = {2.0, 2.5, 3.0}, shift[3] = {-90.5, 126.25, -72.0};
    Affine a{};
    for (int i = 0; i < 3; ++i) {
        for (int k = 0; k < 3; ++k) a[i * 4 + k] = r[i][k] * spacing[k];
        a[i * 4 + 3] = shift[i];
    }
    a[15] = 1;
    return a;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1000.f, 1000.f);
    std::vector<float> x(n);
    for (float& v : x) v = u(rng);
    x[0] = -0.0f;
    return x;
}

// Runs f, expects an input error of one line naming `path` and containing `needle`, and nothing on stderr.
void expect_refused(const std::string& path, const std::string& needle, const std::function<void()>& f) {
    ::testing::internal::CaptureStderr();
    const std::string msg = test::input_error(f);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "") << "niftilib spoke for " << path;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in: " << msg;
}

// A single-file NIfTI made with niftilib: dims as nifti_make_new_nim takes them, the voxel bytes in file
// order, `edit` applied to the header fields first. NIfTI-1 is written by niftilib's own writer; for
// NIfTI-2 the header comes from nifti_convert_nim2n2hdr and the bytes are written here, because
// nifti_image_write of Debian's niftilib 3.0.1 puts a NIfTI-2 file's voxels at offset 0, over its header.
std::string niftilib_file(const std::string& path, const std::vector<int64_t>& dims, int datatype,
                          const std::vector<unsigned char>& bytes, int version,
                          const std::function<void(nifti_image*)>& edit = {}) {
    int64_t d[8] = {0, 1, 1, 1, 1, 1, 1, 1};
    for (size_t a = 0; a < dims.size(); ++a) d[a] = dims[a];
    nifti_image* nim = nifti_make_new_nim(d, datatype, 1);
    EXPECT_NE(nim, nullptr);
    if (!nim) return path;
    EXPECT_EQ(static_cast<size_t>(nim->nvox * nim->nbyper), bytes.size());
    std::memcpy(nim->data, bytes.data(), std::min(bytes.size(), static_cast<size_t>(nim->nvox * nim->nbyper)));
    EXPECT_EQ(nifti_set_filenames(nim, path.c_str(), 0, 1), 0);  // sets the type to NIfTI-1 (single file)
    if (edit) edit(nim);
    if (version == 1) {
        nifti_image_write(nim);
    } else {
        nim->nifti_type = NIFTI_FTYPE_NIFTI2_1;
        nim->iname_offset = 544;  // 540 + 4 extension bytes, rounded up to 16
        nifti_2_header hdr;
        EXPECT_EQ(nifti_convert_nim2n2hdr(nim, &hdr), 0);
        std::string file(reinterpret_cast<const char*>(&hdr), sizeof hdr);
        file.resize(544, '\0');
        file.append(bytes.begin(), bytes.end());
        znzFile f = znzopen(path.c_str(), "wb", nifti_is_gzfile(path.c_str()));
        EXPECT_EQ(znzwrite(file.data(), 1, file.size(), f), file.size());
        EXPECT_EQ(znzclose(f), 0);
    }
    nifti_image_free(nim);
    if (path.size() > 4 && path.compare(path.size() - 4, 4, ".nii") == 0) {
        int32_t sizeof_hdr = 0;
        std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(&sizeof_hdr), 4);
        EXPECT_EQ(sizeof_hdr, version == 2 ? 540 : 348) << path << " should be NIfTI-" << version;
    }
    return path;
}

template <class T>
std::vector<unsigned char> as_bytes(const std::vector<T>& v) {
    std::vector<unsigned char> b(v.size() * sizeof(T));
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

// Voxel n of the datatype tests: small integers, negative ones where the type has them.
template <class T>
std::vector<unsigned char> ramp(int64_t n) {
    std::vector<T> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(std::is_signed<T>::value ? i % 50 - 20 : i % 50);
    return as_bytes(v);
}
double ramp_value(int64_t i, bool is_signed) { return static_cast<double>(is_signed ? i % 50 - 20 : i % 50); }

std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

struct Readback {
    int exit_code = -1;
    std::string output;
    nlohmann::json files;
};

// nibabel's view of `files` (tests/volumes/nifti_readback.py); exit code 3: nibabel is missing.
Readback nibabel_readback(const std::string& args) {
    Readback r;
    const std::string cmd =
        std::string(PDA_PYTHON) + " " + test::source_dir() + "/tests/volumes/nifti_readback.py " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const size_t last = r.output.find_last_of('\n', r.output.size() >= 2 ? r.output.size() - 2 : 0);
    if (r.exit_code == 0) r.files = nlohmann::json::parse(r.output.substr(last == std::string::npos ? 0 : last + 1));
    return r;
}

// Skips visibly where nibabel is missing; fails where the script failed otherwise.
#define SKIP_WITHOUT_NIBABEL(r)                                                                                \
    do {                                                                                                       \
        if ((r).exit_code == 3) GTEST_SKIP() << "skipped: " << PDA_PYTHON << " lacks nibabel: " << (r).output; \
        ASSERT_EQ((r).exit_code, 0) << (r).output;                                                             \
    } while (0)

void expect_affine_near(const nlohmann::json& m, const Affine& a, double tol) {
    for (int i = 0; i < 16; ++i) EXPECT_NEAR(m[i / 4][i % 4].get<double>(), a[i], tol) << "affine entry " << i;
}

// ---------------------------------------------------------------------------------------------------

TEST(VolumeIo, WriteThenReadIsBitExact) {
    test::TempDir dir("volume-roundtrip");
    const Affine affine = oblique_affine();
    const int64_t d = 5, h = 6, w = 7;
    for (int64_t maps : {1, 3}) {
        for (const std::string ext : {".nii", ".nii.gz"}) {
            const std::vector<float> x = random_floats(static_cast<size_t>(maps * d * h * w), 7u + maps);
            const std::string path = dir.file("v" + std::to_string(maps) + ext);
            write_nifti(path, x.data(), maps, d, h, w, affine);
            EXPECT_EQ(read_bytes(path).compare(0, 2, "\x1f\x8b") == 0, ext == ".nii.gz") << "gzip by extension";
            const Volume v = read_volume(path);
            ASSERT_EQ(v.data.shape(), (Shape{maps, d, h, w}));
            EXPECT_EQ(std::memcmp(v.data.data(), x.data(), sizeof(float) * x.size()), 0) << path;
            for (int i = 0; i < 16; ++i) EXPECT_NEAR(v.affine[i], affine[i], 1e-6) << path << " affine " << i;
            EXPECT_NEAR(v.spacing[0], 2.0, 1e-6);
            EXPECT_NEAR(v.spacing[1], 2.5, 1e-6);
            EXPECT_NEAR(v.spacing[2], 3.0, 1e-6);
            EXPECT_EQ(v.datatype, "float32");
        }
    }
    for (const auto& e : fs::directory_iterator(dir.path()))
        EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos) << "stray " << e.path();
}

TEST(VolumeIo, EveryRealDatatypeScaledOrNotInNifti1And2) {
    test::TempDir dir("volume-datatypes");
    struct Case {
        int code;
        const char* name;
        bool is_signed;
        std::vector<unsigned char> (*bytes)(int64_t);
    };
    const Case cases[] = {
        {NIFTI_TYPE_UINT8, "uint8", false, ramp<uint8_t>},  {NIFTI_TYPE_INT8, "int8", true, ramp<int8_t>},
        {NIFTI_TYPE_INT16, "int16", true, ramp<int16_t>},   {NIFTI_TYPE_UINT16, "uint16", false, ramp<uint16_t>},
        {NIFTI_TYPE_INT32, "int32", true, ramp<int32_t>},   {NIFTI_TYPE_UINT32, "uint32", false, ramp<uint32_t>},
        {NIFTI_TYPE_INT64, "int64", true, ramp<int64_t>},   {NIFTI_TYPE_UINT64, "uint64", false, ramp<uint64_t>},
        {NIFTI_TYPE_FLOAT32, "float32", true, ramp<float>}, {NIFTI_TYPE_FLOAT64, "float64", true, ramp<double>},
    };
    const int64_t nx = 3, ny = 4, nz = 5, n = nx * ny * nz;
    for (const Case& c : cases) {
        for (int version : {1, 2}) {
            for (bool scaled : {false, true}) {
                const double slope = scaled ? 0.5 : 0.0, inter = scaled ? -3.0 : 0.0;
                const std::string path = dir.file(std::string(c.name) + "_v" + std::to_string(version) +
                                                  (scaled ? "_scaled" : "") + (version == 2 ? ".nii" : ".nii.gz"));
                niftilib_file(path, {3, nx, ny, nz}, c.code, c.bytes(n), version, [&](nifti_image* nim) {
                    nim->scl_slope = slope;
                    nim->scl_inter = inter;
                });
                const Volume v = read_volume(path);
                ASSERT_EQ(v.data.shape(), (Shape{1, nz, ny, nx})) << path;
                EXPECT_EQ(v.datatype, c.name);
                for (int64_t i = 0; i < n; ++i) {
                    const double x = ramp_value(i, c.is_signed);
                    ASSERT_EQ(v.data.data()[i], static_cast<float>(scaled ? slope * x + inter : x))
                        << path << " voxel " << i;
                }
            }
        }
    }
}

TEST(VolumeIo, BigEndianFileIsSwapped) {
    test::TempDir dir("volume-swap");
    const std::string path = niftilib_file(dir.file("be.nii"), {3, 3, 4, 5}, NIFTI_TYPE_INT16, ramp<int16_t>(60), 1);
    std::string bytes = read_bytes(path);
    nifti_1_header h;
    std::memcpy(&h, bytes.data(), sizeof h);
    const int64_t offset = static_cast<int64_t>(h.vox_offset);
    swap_nifti_header(&h, 1);
    std::memcpy(bytes.data(), &h, sizeof h);
    nifti_swap_Nbytes(60, 2, bytes.data() + offset);
    write_bytes(path, bytes);
    const Volume v = read_volume(path);
    ASSERT_EQ(v.data.shape(), (Shape{1, 5, 4, 3}));
    for (int64_t i = 0; i < 60; ++i) ASSERT_EQ(v.data.data()[i], static_cast<float>(ramp_value(i, true))) << i;
}

// NIfTI: scl_slope == 0 means unscaled, whatever scl_inter says; nibabel also ignores a NaN slope
// and refuses a NaN intercept beside a valid slope. niftilib writes neither case, so the bytes are patched.
TEST(VolumeIo, ScalingFollowsTheNiftiRules) {
    test::TempDir dir("volume-scaling");
    struct Case {
        float slope, inter;
        bool refused;
    };
    for (const Case& c : {Case{0.f, 7.f, false}, Case{NAN, 7.f, false}, Case{2.f, NAN, true}}) {
        const std::string path = niftilib_file(dir.file("s.nii"), {3, 3, 4, 5}, NIFTI_TYPE_INT16, ramp<int16_t>(60), 1);
        std::string b = read_bytes(path);
        std::memcpy(b.data() + offsetof(nifti_1_header, scl_slope), &c.slope, sizeof(float));
        std::memcpy(b.data() + offsetof(nifti_1_header, scl_inter), &c.inter, sizeof(float));
        write_bytes(path, b);
        if (c.refused) {
            expect_refused(path, "non-finite scl_inter", [&] { read_volume(path); });
            continue;
        }
        const Volume v = read_volume(path);
        for (int64_t i = 0; i < 60; ++i) ASSERT_EQ(v.data.data()[i], static_cast<float>(ramp_value(i, true))) << i;
    }
}

TEST(VolumeIo, AffineIsSformElseQformElsePixdim) {
    test::TempDir dir("volume-affine");
    const Affine a = oblique_affine();
    nifti_dmat44 m;
    for (int i = 0; i < 16; ++i) m.m[i / 4][i % 4] = a[i];
    const std::vector<unsigned char> bytes = ramp<float>(3 * 4 * 5);
    auto read = [&](const std::string& name, int version, const std::function<void(nifti_image*)>& edit) {
        return read_volume(niftilib_file(dir.file(name), {3, 3, 4, 5}, NIFTI_TYPE_FLOAT32, bytes, version, edit));
    };
    // NIfTI-2 keeps the sform in float64; the qform of a decoy rotation must lose against it.
    Volume v = read("sform.nii", 2, [&](nifti_image* nim) {
        nim->sform_code = NIFTI_XFORM_MNI_152;
        nim->sto_xyz = m;
        nim->qform_code = NIFTI_XFORM_SCANNER_ANAT;
        nim->quatern_b = 0.5;
    });
    for (int i = 0; i < 16; ++i) EXPECT_NEAR(v.affine[i], a[i], 1e-12) << "sform " << i;
    v = read("qform.nii", 1, [&](nifti_image* nim) {
        nim->qform_code = NIFTI_XFORM_SCANNER_ANAT;
        nifti_dmat44_to_quatern(m, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d, &nim->qoffset_x, &nim->qoffset_y,
                                &nim->qoffset_z, &nim->dx, &nim->dy, &nim->dz, &nim->qfac);
        nim->pixdim[1] = nim->dx;
        nim->pixdim[2] = nim->dy;
        nim->pixdim[3] = nim->dz;
    });
    for (int i = 0; i < 16; ++i) EXPECT_NEAR(v.affine[i], a[i], 1e-5) << "qform " << i;
    EXPECT_NEAR(v.spacing[1], 2.5, 1e-6);
    v = read("pixdim.nii", 1, [&](nifti_image* nim) {
        nim->dx = nim->pixdim[1] = 2;
        nim->dy = nim->pixdim[2] = 3;
        nim->dz = nim->pixdim[3] = 4;
    });
    const Affine diag = {2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4, 0, 0, 0, 0, 1};
    EXPECT_EQ(v.affine, diag);
    EXPECT_EQ(v.spacing, (std::array<double, 3>{2, 3, 4}));
}

TEST(VolumeIo, NpyVolumes) {
    test::TempDir dir("volume-npy");
    const std::vector<float> x = random_floats(2 * 3 * 4 * 5, 3);
    write_npy(dir.file("a3.npy"), ConstTensorView(x.data(), Shape{3, 4, 5}));
    write_npy(dir.file("a4.npy"), ConstTensorView(x.data(), Shape{2, 3, 4, 5}));
    Volume v = read_volume(dir.file("a3.npy"));
    EXPECT_EQ(v.data.shape(), (Shape{1, 3, 4, 5}));
    EXPECT_EQ(v.affine, kIdentity);
    EXPECT_EQ(v.datatype, "float32");
    v = read_volume(dir.file("a4.npy"));
    EXPECT_EQ(v.data.shape(), (Shape{2, 3, 4, 5}));
    EXPECT_EQ(std::memcmp(v.data.data(), x.data(), sizeof(float) * x.size()), 0);
    write_npy(dir.file("a2.npy"), ConstTensorView(x.data(), Shape{4, 5}));
    expect_refused(dir.file("a2.npy"), "(D, H, W) or (C, D, H, W)", [&] { read_volume(dir.file("a2.npy")); });
    std::vector<float> y = x;
    y[7] = NAN;
    write_npy(dir.file("nan.npy"), ConstTensorView(y.data(), Shape{3, 4, 10}));
    expect_refused(dir.file("nan.npy"),
                   "1 non-finite voxel value (NaN or Inf), the first at voxel (i, j, k) = (7, 0, 0)",
                   [&] { read_volume(dir.file("nan.npy")); });
}

TEST(VolumeIo, MniTemplatesMatchNibabel) {
    const std::string dir = test::shared_dir() + "/volumes";
    const std::vector<std::string> files = {dir + "/mni_icbm152_wm_2009a_1mm.nii.gz",
                                            dir + "/mni_icbm152_t1_2009a_1mm.nii.gz"};
    for (const auto& f : files)
        if (!fs::exists(f)) GTEST_SKIP() << "skipped: " << f << " is absent (the MNI templates, see ../shared/volumes)";
    const std::vector<std::array<int, 3>> voxels = {{98, 116, 94}, {0, 0, 0},      {196, 232, 188},
                                                    {60, 150, 80}, {130, 90, 110}, {98, 60, 40}};
    std::string args;
    for (const auto& ijk : voxels)
        args += " --voxel " + std::to_string(ijk[0]) + "," + std::to_string(ijk[1]) + "," + std::to_string(ijk[2]);
    const Readback r = nibabel_readback(args + " " + files[0] + " " + files[1]);
    SKIP_WITHOUT_NIBABEL(r);
    for (size_t f = 0; f < files.size(); ++f) {
        const nlohmann::json& ref = r.files[f];
        const Volume v = read_volume(files[f]);
        ASSERT_EQ(v.data.shape(), (Shape{1, 189, 233, 197})) << files[f];
        EXPECT_EQ(ref["shape"], nlohmann::json({197, 233, 189}));
        EXPECT_EQ(v.datatype, ref["dtype"].get<std::string>());
        EXPECT_EQ(v.datatype, "uint8");
        expect_affine_near(ref["affine"], v.affine, 1e-6);
        int nonzero = 0;
        for (size_t i = 0; i < voxels.size(); ++i) {
            const auto [x, y, z] = voxels[i];
            const double ours = v.data.data()[(static_cast<int64_t>(z) * 233 + y) * 197 + x];
            const double theirs = ref["voxels"][i].get<double>();
            EXPECT_NEAR(ours, theirs, 1e-6 * std::max(1.0, std::fabs(theirs))) << files[f] << " voxel " << i;
            nonzero += theirs != 0;
        }
        EXPECT_GE(nonzero, 3) << "the probe voxels should mostly lie in the brain";
        double sum = 0;
        for (int64_t i = 0; i < v.data.numel(); ++i) sum += v.data.data()[i];
        EXPECT_NEAR(sum, ref["sum"].get<double>(), 1e-6 * std::fabs(ref["sum"].get<double>())) << files[f];
    }
}

// nibabel reads our NIfTI-1 output as written, and reads a 4-D, scaled NIfTI-2 file (float64 sform) as
// we do: the check that niftilib's NIfTI-2 header is right and that we read it right.
TEST(VolumeIo, NibabelAgreesOnWhatWeWriteAndOnNifti2) {
    test::TempDir dir("volume-nibabel");
    const Affine affine = oblique_affine();
    const int64_t d = 5, h = 6, w = 7;
    const std::vector<float> x3 = random_floats(d * h * w, 11), x4 = random_floats(3 * d * h * w, 12);
    write_nifti(dir.file("m3.nii.gz"), x3.data(), 1, d, h, w, affine);
    write_nifti(dir.file("m4.nii"), x4.data(), 3, d, h, w, affine);
    const std::string v2 = niftilib_file(dir.file("v2.nii.gz"), {4, 3, 4, 5, 2}, NIFTI_TYPE_INT16, ramp<int16_t>(120),
                                         2, [&](nifti_image* nim) {
                                             nim->scl_slope = 0.5;
                                             nim->scl_inter = -3;
                                             nim->sform_code = NIFTI_XFORM_MNI_152;
                                             for (int i = 0; i < 16; ++i) nim->sto_xyz.m[i / 4][i % 4] = affine[i];
                                         });
    const Readback r = nibabel_readback("--data " + dir.file("m3.nii.gz") + " " + dir.file("m4.nii") + " " + v2);
    SKIP_WITHOUT_NIBABEL(r);
    const std::vector<float>* data[] = {&x3, &x4};
    const nlohmann::json shapes[] = {{7, 6, 5}, {7, 6, 5, 3}};
    for (int f = 0; f < 2; ++f) {
        const nlohmann::json& ref = r.files[f];
        EXPECT_EQ(ref["format"].get<std::string>(), "Nifti1Image");
        EXPECT_EQ(ref["shape"], shapes[f]);
        EXPECT_EQ(ref["dtype"].get<std::string>(), "float32");
        EXPECT_EQ(ref["sform_code"].get<int>(), NIFTI_XFORM_SCANNER_ANAT);
        EXPECT_EQ(ref["qform_code"].get<int>(), NIFTI_XFORM_SCANNER_ANAT);
        expect_affine_near(ref["affine"], affine, 1e-6);
        expect_affine_near(ref["qform"], affine, 1e-5);
        const auto& values = ref["data"];
        ASSERT_EQ(values.size(), data[f]->size());
        for (size_t i = 0; i < values.size(); ++i)
            ASSERT_EQ(static_cast<float>(values[i].get<double>()), (*data[f])[i]) << "file " << f << " value " << i;
    }
    const nlohmann::json& ref = r.files[2];
    const Volume v = read_volume(v2);
    EXPECT_EQ(ref["format"].get<std::string>(), "Nifti2Image");
    EXPECT_EQ(ref["shape"], nlohmann::json({3, 4, 5, 2}));
    ASSERT_EQ(v.data.shape(), (Shape{2, 5, 4, 3}));
    EXPECT_EQ(ref["dtype"].get<std::string>(), "int16");
    EXPECT_EQ(v.datatype, "int16");
    expect_affine_near(ref["affine"], v.affine, 1e-12);
    expect_affine_near(ref["affine"], affine, 1e-12);
    const auto& values = ref["data"];
    ASSERT_EQ(values.size(), 120u);
    for (size_t i = 0; i < values.size(); ++i) {
        ASSERT_EQ(v.data.data()[i], static_cast<float>(values[i].get<double>())) << "value " << i;
        ASSERT_EQ(v.data.data()[i], static_cast<float>(0.5 * ramp_value(static_cast<int64_t>(i), true) - 3)) << i;
    }
}

TEST(VolumeIo, BadFilesAreRefusedWithOneLine) {
    test::TempDir dir("volume-bad");
    const std::vector<unsigned char> ramp60 = ramp<float>(60);
    // Not NIfTI: random bytes, a PNG's signature, too short, an ANALYZE 7.5 header, other names.
    std::mt19937 rng(5);
    std::string noise(1000, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    write_bytes(dir.file("noise.nii"), noise);
    expect_refused(dir.file("noise.nii"), "not a NIfTI-1/-2 file", [&] { read_volume(dir.file("noise.nii")); });
    write_bytes(dir.file("photo.nii.gz"), "\x89PNG\r\n\x1a\n" + noise);
    expect_refused(dir.file("photo.nii.gz"), "not a NIfTI-1/-2 file", [&] { read_volume(dir.file("photo.nii.gz")); });
    write_bytes(dir.file("short.nii"), "0123456789");
    expect_refused(dir.file("short.nii"), "not a NIfTI-1/-2 file", [&] { read_volume(dir.file("short.nii")); });
    std::string analyze =
        read_bytes(niftilib_file(dir.file("analyze.nii"), {3, 3, 4, 5}, NIFTI_TYPE_FLOAT32, ramp60, 1));
    std::memset(analyze.data() + offsetof(nifti_1_header, magic), 0, 4);
    write_bytes(dir.file("analyze.nii"), analyze);
    expect_refused(dir.file("analyze.nii"), "ANALYZE 7.5", [&] { read_volume(dir.file("analyze.nii")); });
    write_bytes(dir.file("scan.png"), noise);
    expect_refused(dir.file("scan.png"), "(.nii, .nii.gz or .npy)", [&] { read_volume(dir.file("scan.png")); });
    expect_refused(dir.file("absent.nii"), "no such file", [&] { read_volume(dir.file("absent.nii")); });

    // Truncated in the middle of the voxels (gzip and plain), and a gzip stream whose CRC is wrong.
    const std::vector<float> big = random_floats(4 * 16 * 16 * 16, 9);
    for (const std::string name : {"cut.nii.gz", "cut.nii"}) {
        write_nifti(dir.file(name), big.data(), 4, 16, 16, 16, kIdentity);
        fs::resize_file(dir.file(name), fs::file_size(dir.file(name)) / 2);
        expect_refused(dir.file(name), "truncated", [&] { read_volume(dir.file(name)); });
    }
    write_nifti(dir.file("crc.nii.gz"), big.data(), 4, 16, 16, 16, kIdentity);
    std::string gz = read_bytes(dir.file("crc.nii.gz"));
    gz[gz.size() - 8] ^= 0x5a;  // the CRC32 of the gzip trailer
    write_bytes(dir.file("crc.nii.gz"), gz);
    expect_refused(dir.file("crc.nii.gz"), "corrupt gzip data", [&] { read_volume(dir.file("crc.nii.gz")); });

    // Axes: five of them, an empty 4th (and an empty 2nd) one.
    const std::string five = niftilib_file(dir.file("five.nii"), {5, 3, 2, 5, 1, 2}, NIFTI_TYPE_FLOAT32, ramp60, 1);
    expect_refused(five, "more than 4 axes", [&] { read_volume(five); });
    for (int axis : {4, 2}) {
        const std::string path = dir.file("empty" + std::to_string(axis) + ".nii");
        std::string b = read_bytes(niftilib_file(path, {4, 3, 4, 5, 1}, NIFTI_TYPE_FLOAT32, ramp60, 1));
        const int16_t zero = 0;
        std::memcpy(b.data() + offsetof(nifti_1_header, dim) + axis * sizeof(int16_t), &zero, sizeof zero);
        write_bytes(path, b);
        expect_refused(path, "axis " + std::to_string(axis) + " of (", [&] { read_volume(path); });
    }

    // A header of 32767^3 voxels: refused before any voxel memory is taken.
    const std::string huge = dir.file("huge.nii");
    std::string hb = read_bytes(niftilib_file(huge, {3, 3, 4, 5}, NIFTI_TYPE_FLOAT32, ramp60, 1));
    const int16_t side = 32767;
    for (int axis = 1; axis <= 3; ++axis)
        std::memcpy(hb.data() + offsetof(nifti_1_header, dim) + axis * sizeof(int16_t), &side, sizeof side);
    write_bytes(huge, hb);
    expect_refused(huge, "(32767, 32767, 32767) is more than 2147483648 voxels", [&] { read_volume(huge); });

    // Voxels: NaN and Inf (counted, the first located), complex and RGB datatypes.
    std::vector<float> nan(60, 1.f);
    nan[1 + 3 * (2 + 4 * 3)] = NAN;  // voxel (1, 2, 3)
    nan[50] = INFINITY;
    nan[59] = NAN;
    const std::string nan_path =
        niftilib_file(dir.file("nan.nii.gz"), {3, 3, 4, 5}, NIFTI_TYPE_FLOAT32, as_bytes(nan), 2);
    expect_refused(nan_path, "3 non-finite voxel values (NaN or Inf), the first at voxel (i, j, k) = (1, 2, 3)",
                   [&] { read_volume(nan_path); });
    const std::string complex_path =
        niftilib_file(dir.file("complex.nii"), {3, 3, 4, 5}, NIFTI_TYPE_COMPLEX64, std::vector<unsigned char>(480), 1);
    expect_refused(complex_path, "datatype COMPLEX64", [&] { read_volume(complex_path); });
    const std::string rgb_path =
        niftilib_file(dir.file("rgb.nii"), {3, 3, 4, 5}, NIFTI_TYPE_RGB24, std::vector<unsigned char>(180), 1);
    expect_refused(rgb_path, "datatype RGB24", [&] { read_volume(rgb_path); });
}

TEST(VolumeIo, FailedWriteLeavesNothing) {
    test::TempDir dir("volume-write-fail");
    const std::vector<float> x(2 * 3 * 4, 1.f);
    const std::string missing = dir.file("no/such/folder/out.nii.gz");
    expect_refused(missing, "cannot write", [&] { write_nifti(missing, x.data(), 1, 2, 3, 4, kIdentity); });
    const std::string png = dir.file("out.png");
    expect_refused(png, ".nii or .nii.gz", [&] { write_nifti(png, x.data(), 1, 2, 3, 4, kIdentity); });
    Affine singular = kIdentity;
    singular[5] = 0;
    const std::string out = dir.file("out.nii");
    expect_refused(out, "not an invertible", [&] { write_nifti(out, x.data(), 1, 2, 3, 4, singular); });
    expect_refused(out, "does not fit NIfTI-1", [&] { write_nifti(out, x.data(), 1, 2, 3, 0, kIdentity); });
    EXPECT_TRUE(fs::is_empty(dir.path()));
    // The rename fails (a folder is in the way): the temporary file is removed.
    fs::create_directory(dir.file("busy.nii"));
    expect_refused(dir.file("busy.nii"), "cannot rename into place",
                   [&] { write_nifti(dir.file("busy.nii"), x.data(), 1, 2, 3, 4, kIdentity); });
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 1)
        << "only the folder busy.nii is left";
}

}  // namespace
}  // namespace pda
