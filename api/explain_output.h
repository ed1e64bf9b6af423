// Writing one explained image's results (METHOD.md §6): DIR/<stem>/ with relevance.npy (M, H, W),
// counts.npy (H, W), heatmap-<class>.png per class, node-<name>.npy per node and summary.json; a
// volume's as relevance.nii.gz, counts.nii.gz and node-<name>.nii.gz on the input's grid and affine,
// with slice-<class>-<axis><index>.png pictures.
// Written into DIR/.<stem>.tmp-<host>-<pid> and moved into place in one step, so DIR/<stem> is always
// either the previous complete result or the new complete one, never a partial directory.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/explain_setup.h"

namespace pda {

// Removes a folder on scope exit unless released (armed = false): a result or report folder being
// written under a temporary name.
struct DirGuard {
    std::filesystem::path path;
    bool armed = true;
    ~DirGuard() {
        if (!armed) return;
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

// The time now in UTC, ISO 8601 ("2026-12-07T06:19:19Z"), for summaries and manifests.
std::string utc_now();

// Writes text to a file; input error naming it when that fails.
void write_text(const std::filesystem::path& path, const std::string& text);

// File-name stem of an image path ("photos/cat.png" → "cat").
std::string image_stem(const std::string& path);

// Input error when two images share a stem (their results would land in one folder).
void check_unique_stems(const std::vector<std::string>& images);

// A name made safe for a file name: letters, digits, '-', '_' and '.' kept, anything else '_';
// never empty, never "." or "..".
std::string sanitize_file_name(const std::string& name);

// File names of the node maps, in the order of `nodes`: node-<sanitised><ext> (ext ".npy" for an
// image's maps, ".nii.gz" for a volume's), with -2, -3, ... appended when two names sanitise to the
// same file.
std::vector<std::string> node_file_names(const std::vector<std::string>& nodes, const std::string& ext = ".npy");

// Before any work, input errors (one line naming OUT or the image) when results could not be
// written: an empty OUT, an OUT that is not a folder or cannot be created or written to (probed
// by writing and removing an entry; an OUT created for the probe is removed again), an image whose
// stem cannot name a folder ("", ".", ".."), an OUT/<stem> that is a file or a symbolic link, or
// (bytes > 0) less free space under OUT than `bytes`.
void check_output_dir(const std::string& out_dir, const std::vector<std::string>& stems, double bytes = 0);

// Makes `dir` (with its missing parents), then the first entry of one's own in it with `make`, which
// returns its error. Other processes probing the same OUT at once (check_output_dir) remove the
// folders they made while these are still empty, so `dir` may vanish before the entry is in: where
// `make` finds no folder (ENOENT), the folder is made again and `make` retried. Once the entry is in,
// no probe removes `dir`. Returns the last error (empty on success).
std::error_code make_entry_in(const std::filesystem::path& dir, const std::function<std::error_code()>& make);

// The summary.json of one image: the session's description plus this image's classes (ids, labels,
// probabilities, map index), counts, timings, files, version, date.
nlohmann::json image_summary(const ExplainSession& s, const ImageExplanation& r, const std::string& stem,
                             double seconds_total);

// Writes DIR/<stem>/ atomically (see above), a volume's slice pictures as opt.slices and
// opt.slice_threshold say, replacing an existing result of the same stem in one
// rename. Creates DIR when needed. Returns the final folder. On any error nothing is left behind.
std::string write_image_result(const std::string& out_dir, const std::string& stem, const nlohmann::json& summary,
                               const ImageExplanation& r, const ExplainerOptions& opt);

}  // namespace pda
