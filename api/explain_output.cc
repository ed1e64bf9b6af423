// Output of one explained image, written into a temporary sibling folder (under the output lock of
// api/interrupts.h) and swapped into place
// with renameat2(RENAME_EXCHANGE) (plain rename where there is nothing to replace, or where the file
// system cannot exchange), so readers never see half a result.
#include "api/explain_output.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include "api/interrupts.h"
#include "engine/memory.h"
#include "io/heatmap.h"
#include "io/npy.h"
#include "io/volume.h"
#include "io/volume_slices.h"
#include "pda/pda.h"

namespace fs = std::filesystem;

namespace pda {
namespace {

// Many probes of one OUT at once can each remove the others' folders several times over, so a probe,
// or a first write into a folder a probe may remove, tries again up to kAttempts times (each is a
// few system calls).
constexpr int kAttempts = 100;

}  // namespace

std::string utc_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
    f.close();
    if (!f) fail_input(path.string() + ": cannot write");
}

std::string image_stem(const std::string& path) {
    std::string stem = fs::path(path).stem().string();
    const std::string nii = ".nii";  // "sub-01.nii.gz" → "sub-01"
    if (path.size() > 7 && path.compare(path.size() - 7, 7, ".nii.gz") == 0 && stem.size() > nii.size())
        stem.resize(stem.size() - nii.size());
    return stem;
}

namespace {

// A volume's slice pictures: the picked ones, or the centre slice across each axis.
struct VolumeSlice {
    SliceAxis axis;
    int64_t index;
};
std::vector<VolumeSlice> volume_slices(const std::vector<VolumeSlicePick>& picks, const Shape& spatial) {  // (D, H, W)
    if (picks.empty())
        return {{SliceAxis::kX, spatial[2] / 2}, {SliceAxis::kY, spatial[1] / 2}, {SliceAxis::kZ, spatial[0] / 2}};
    std::vector<VolumeSlice> out;
    for (const VolumeSlicePick& p : picks)
        out.push_back({p.axis == 'x' ? SliceAxis::kX : p.axis == 'y' ? SliceAxis::kY : SliceAxis::kZ, p.index});
    return out;
}
std::string slice_file(int64_t cls, const VolumeSlice& s) {
    return "slice-" + std::to_string(cls) + "-" + slice_axis_name(s.axis) + std::to_string(s.index) + ".png";
}

}  // namespace

void check_unique_stems(const std::vector<std::string>& images) {
    std::map<std::string, std::string> seen;
    for (const std::string& img : images) {
        auto [it, fresh] = seen.emplace(image_stem(img), img);
        if (!fresh)
            fail_input("images " + it->second + " and " + img + " share the name '" + it->first +
                       "': their results would land in one folder; explain them in separate calls or --out folders");
    }
}

std::string sanitize_file_name(const std::string& name) {
    std::string s;
    for (unsigned char ch : name) s += (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.') ? ch : '_';
    if (s.empty() || s == "." || s == "..") s = "_" + s;
    return s;
}

std::vector<std::string> node_file_names(const std::vector<std::string>& nodes, const std::string& ext) {
    std::vector<std::string> out;
    std::map<std::string, int> used;
    for (const std::string& n : nodes) {
        std::string base = "node-" + sanitize_file_name(n);
        std::string f = base;
        for (int i = 2; used.count(f); ++i) f = base + "-" + std::to_string(i);
        used[f] = 1;
        out.push_back(f + ext);
    }
    return out;
}

void check_output_dir(const std::string& out_dir, const std::vector<std::string>& stems, double bytes) {
    if (out_dir.empty()) fail_input("--out needs a folder name");
    const fs::path out(out_dir);
    std::error_code ec;
    // One look per path (fs::status), never exists() then is_directory(): another probe of the same
    // OUT may remove a folder it made in between.
    const fs::file_status out_st = fs::status(out, ec);
    if (fs::exists(out_st) && !fs::is_directory(out_st))
        fail_input("--out " + out_dir + ": exists and is not a folder");
    for (const std::string& stem : stems) {
        if (stem.empty() || stem == "." || stem == "..")
            fail_input("an image named '" + stem + "' gives no usable result folder name under " + out_dir);
        const fs::file_status st = fs::symlink_status(out / stem, ec);
        if (fs::is_symlink(st))
            fail_input(out_dir + "/" + stem + ": is a symbolic link, not a result folder; move it away");
        if (fs::exists(st) && !fs::is_directory(st))
            fail_input(out_dir + "/" + stem + ": exists and is not a result folder; move it away");
    }
    // Probe: create OUT's missing folders, write and remove an entry, remove what was created. Other
    // processes may probe the same OUT at once (the shards of one job): a folder one of them made
    // first is used, not removed, and a probe whose folder another removed meanwhile is tried again.
    int fd = -1, err = 0;
    struct statvfs vfs {};
    bool have_vfs = false;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        const bool last = attempt + 1 == kAttempts;
        fs::path existing = out;
        std::vector<fs::path> missing, created;
        while (!existing.empty() && !fs::exists(existing, ec)) {
            missing.push_back(existing);
            existing = existing.parent_path();
        }
        if (existing.empty()) existing = ".";
        const fs::file_status existing_st = fs::status(existing, ec);
        if (!fs::exists(existing_st) && !last) continue;  // made by another probe, removed again since
        if (!fs::is_directory(existing_st))
            fail_input("--out " + out_dir + ": " + existing.string() + " is not a folder");
        auto cleanup = [&] {
            for (const fs::path& p : created) fs::remove(p, ec);  // deepest first
        };
        bool vanished = false;  // a parent another process made, and removed again meanwhile
        for (auto it = missing.rbegin(); it != missing.rend() && !vanished; ++it) {
            if (::mkdir(it->c_str(), 0777) == 0) {
                created.insert(created.begin(), *it);
                continue;
            }
            const int e = errno;
            // EEXIST: a folder another probe made is used (not removed); one that it removed again
            // since, like a parent that vanished (ENOENT), means another attempt.
            const fs::file_status st = e == EEXIST ? fs::status(*it, ec) : fs::file_status{};
            if (e == EEXIST && fs::is_directory(st)) continue;
            if ((e == ENOENT || (e == EEXIST && !fs::exists(st))) && !last) {
                vanished = true;
            } else {
                cleanup();
                fail_input("--out " + out_dir + ": cannot create the folder: " + std::strerror(e));
            }
        }
        if (vanished) {
            cleanup();
            continue;
        }
        // Distinct for every probe of this process (the workers of a job probe at once); swept if a kill
        // leaves it.
        static std::atomic<int64_t> probes{0};
        const fs::path probe = out / temp_result_name("pda-probe-" + std::to_string(probes++), "tmp");
        fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
        err = errno;
        if (fd >= 0) {
            ::close(fd);
            ::unlink(probe.c_str());
        }
        have_vfs = ::statvfs(out.c_str(), &vfs) == 0;
        cleanup();
        if (fd >= 0 || err != ENOENT) break;
    }
    if (fd < 0) fail_input("--out " + out_dir + ": cannot write there: " + std::strerror(err));
    const double free_bytes = have_vfs ? static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize) : -1;
    if (bytes > 0 && free_bytes >= 0 && free_bytes < bytes)
        fail_input("--out " + out_dir + ": " + format_bytes(free_bytes) + " free, the results need about " +
                   format_bytes(bytes));
}

std::error_code make_entry_in(const fs::path& dir, const std::function<std::error_code()>& make) {
    std::error_code ec;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        if (dir.empty())
            ec.clear();  // the current folder
        else
            fs::create_directories(dir, ec);
        // ENOENT: a parent made by another was removed again; EEXIST: a folder that another made was
        // removed again between the failed mkdir and the look at what is there. A file in the way
        // gives EEXIST every time, and so its error after the last attempt.
        if (ec == std::errc::no_such_file_or_directory || ec == std::errc::file_exists) continue;
        if (ec) return ec;
        ec = make();
        if (ec != std::errc::no_such_file_or_directory) return ec;
    }
    return ec;
}

nlohmann::json image_summary(const ExplainSession& s, const ImageExplanation& r, const std::string& stem,
                             double seconds_total) {
    const Explanation& e = r.e;
    const LoadedModel& m = s.model();
    nlohmann::json j = s.describe();
    const bool volume = r.input.volume;
    if (volume) {
        const Shape& x = r.input.x.shape();  // (1, C, D, H, W)
        j["volume"] = {{"path", r.input.path},
                       {"stem", stem},
                       {"shape_xyz", {x[4], x[3], x[2]}},
                       {"channels", x[1]},
                       {"affine", r.input.affine}};
    } else {
        j["image"] = {
            {"path", r.input.path}, {"stem", stem}, {"height", r.input.crop.height}, {"width", r.input.crop.width}};
    }
    j["sampler"] = r.sampler;
    nlohmann::json classes = nlohmann::json::array();
    for (size_t i = 0; i < e.classes.size(); ++i) {
        int64_t c = e.classes[i];
        nlohmann::json entry = {{"map", i},
                                {"id", c},
                                {"label", c < static_cast<int64_t>(m.desc.labels.size()) ? m.desc.labels[c] : ""},
                                {"probability", e.probabilities.at(c)}};
        if (volume) {
            const Tensor& rel = e.relevance;  // (M, D, H, W)
            const int64_t plane = rel.numel() / rel.shape()[0];
            entry["limit"] = heatmap_limit(rel.data() + static_cast<int64_t>(i) * plane, plane);
            entry["slices"] = nlohmann::json::array();
            for (const VolumeSlice& sl : volume_slices(s.options().slices, e.counts.shape()))
                entry["slices"].push_back(slice_file(c, sl));
        } else {
            entry["heatmap"] = "heatmap-" + std::to_string(c) + ".png";
        }
        classes.push_back(entry);
    }
    j["classes"] = classes;
    nlohmann::json top = nlohmann::json::array();
    for (int64_t c : top_classes(e.probabilities.data(), static_cast<int64_t>(e.probabilities.size()), 5))
        top.push_back({{"id", c},
                       {"label", c < static_cast<int64_t>(m.desc.labels.size()) ? m.desc.labels[c] : ""},
                       {"probability", e.probabilities[c]}});
    j["predicted"] = top;
    nlohmann::json nodes = nlohmann::json::array();
    std::vector<std::string> names;
    for (const auto& [name, t] : e.node_maps) names.push_back(name);
    std::vector<std::string> files = node_file_names(names, volume ? ".nii.gz" : ".npy");
    for (size_t i = 0; i < names.size(); ++i)
        nodes.push_back({{"name", names[i]}, {"file", files[i]}, {"shape", e.node_maps.at(names[i]).shape().vec()}});
    j["nodes"] = nodes;
    j["relevance"] = {{"file", volume ? "relevance.nii.gz" : "relevance.npy"},
                      {"shape", e.relevance.shape().vec()},
                      {"measure", "weight of evidence (log2 odds difference, Laplace-corrected)"}};
    j["counts"] = {{"file", volume ? "counts.nii.gz" : "counts.npy"}, {"shape", e.counts.shape().vec()}};
    if (volume)
        j["slices"] = {{"threshold", s.options().slice_threshold},
                       {"drawn",
                        "relevance where |value| > threshold × the class's limit (max |value|), over the "
                        "volume in grey; colour bar: −limit (blue) to +limit (red)"}};
    j[volume ? "uncovered_voxels" : "uncovered_pixels"] = e.uncovered;
    j["windows"] = e.windows;
    j["samples_per_window"] = e.samples_per_window;
    j["forward_passes"] = e.forward_passes;
    j["batch"] = e.batch;
    j["timings"] = {{"sampler_setup_s", r.seconds_setup},
                    {"compile_s", e.seconds_compile},
                    {"program", r.program_reused ? "reused" : "compiled"},
                    {"sampling_s", e.seconds_sampling},
                    {"network_s", e.seconds_network},
                    {"reduce_s", e.seconds_reduce},
                    {"explain_s", e.seconds_total},
                    {"total_s", seconds_total}};
    j["memory"] = {{"peak_resident_bytes", peak_resident_bytes()}};  // the process's, so far
    j["version"] = version();
    j["date"] = utc_now();
    return j;
}

std::string write_image_result(const std::string& out_dir, const std::string& stem, const nlohmann::json& summary,
                               const ImageExplanation& r, const ExplainerOptions& opt) {
    const Explanation& e = r.e;
    std::error_code ec;
    const fs::path final_dir = fs::path(out_dir) / stem;
    const std::unique_lock<std::mutex> lock = output_lock();  // an interrupt waits for this folder
    sweep_stale_results(out_dir);
    const fs::path tmp = fs::path(out_dir) / temp_result_name(stem, "tmp");
    fs::remove_all(tmp, ec);
    ec = make_entry_in(out_dir, [&] {
        std::error_code e;
        if (!fs::create_directory(tmp, e) && !e) e = std::make_error_code(std::errc::file_exists);
        return e;
    });
    if (ec) fail_input(tmp.string() + ": cannot create the folder: " + ec.message());
    DirGuard guard{tmp};
    auto stop_if_interrupted = [] {
        if (interrupt_requested()) fail_input("interrupted");
    };

    if (r.input.volume) {
        const Shape& v = e.counts.shape();  // (D, H, W)
        const int64_t M = e.relevance.shape()[0], plane = v.numel();
        write_nifti((tmp / "relevance.nii.gz").string(), e.relevance.data(), M, v[0], v[1], v[2], r.input.affine);
        write_nifti((tmp / "counts.nii.gz").string(), e.counts.data(), 1, v[0], v[1], v[2], r.input.affine);
        const float* grey = r.input.x.data();  // the first channel, normalised (the figure rescales it)
        for (int64_t i = 0; i < M; ++i, stop_if_interrupted())
            for (const VolumeSlice& sl : volume_slices(opt.slices, v))
                write_png((tmp / slice_file(e.classes[i], sl)).string(),
                          volume_slice_figure(grey, e.relevance.data() + i * plane, v[0], v[1], v[2], sl.axis, sl.index,
                                              SliceStyle{opt.slice_threshold, 0.f, affine_spacing(r.input.affine)}));
    } else {
        write_npy((tmp / "relevance.npy").string(), e.relevance.view());
        write_npy((tmp / "counts.npy").string(), e.counts.view());
        const int64_t h = e.relevance.shape()[1], w = e.relevance.shape()[2];
        for (size_t i = 0; i < e.classes.size(); ++i, stop_if_interrupted())
            write_png((tmp / ("heatmap-" + std::to_string(e.classes[i]) + ".png")).string(),
                      heatmap_overlay(r.input.crop, e.relevance.data() + i * h * w, h, w));
    }
    std::vector<std::string> names;
    for (const auto& [name, t] : e.node_maps) names.push_back(name);
    std::vector<std::string> files = node_file_names(names, r.input.volume ? ".nii.gz" : ".npy");
    for (size_t i = 0; i < names.size(); ++i, stop_if_interrupted()) {
        const Tensor& t = e.node_maps.at(names[i]);  // (units, H, W) or (units, D, H, W): in input space
        if (r.input.volume)
            write_nifti((tmp / files[i]).string(), t.data(), t.shape()[0], t.shape()[1], t.shape()[2], t.shape()[3],
                        r.input.affine);
        else
            write_npy((tmp / files[i]).string(), t.view());
    }
    write_text(tmp / "summary.json", summary.dump(2) + "\n");
    stop_if_interrupted();

    if (fs::exists(fs::symlink_status(final_dir))) {
        if (!fs::is_directory(fs::symlink_status(final_dir)))
            fail_input(final_dir.string() + ": exists and is not a folder; not replacing it");
        // Swap old and new in one step; the old result ends up at tmp and is removed by the guard.
        if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) != 0) {
            if (errno != EINVAL && errno != ENOSYS)
                fail_input(final_dir.string() + ": cannot replace: " + std::strerror(errno));
            // No exchange on this file system: move the old one aside, then the new one in.
            fs::path old = fs::path(out_dir) / temp_result_name(stem, "old");
            fs::remove_all(old, ec);
            fs::rename(final_dir, old);
            fs::rename(tmp, final_dir);
            guard.armed = false;
            fs::remove_all(old, ec);
            return final_dir.string();
        }
        return final_dir.string();  // guard removes the old result, now at tmp
    }
    fs::rename(tmp, final_dir, ec);
    if (ec) fail_input(final_dir.string() + ": cannot move the result into place: " + ec.message());
    guard.armed = false;
    return final_dir.string();
}

}  // namespace pda
