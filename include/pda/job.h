// Dataset jobs: many images (or volumes) explained by one Explainer into one output folder, the way
// batch jobs on GPU servers and clusters need it. Inputs are files, folders (searched recursively by
// extension) and list files; result folders mirror the inputs' relative paths under OUT; a job can be
// split into deterministic shards (by sorted relative path, so every node sees the same split; a
// Slurm array task takes its shard from SLURM_ARRAY_TASK_*), resumes where it stopped (a result whose
// summary.json records the same parameters is skipped), records a bad input in OUT/failures.jsonl and
// goes on, and logs one line per finished input in OUT/progress.jsonl and the whole in OUT/job*.json.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pda/explainer.h"

namespace pda {

// One input of a dataset: its path and its result's name under OUT, the path relative to the
// deepest folder holding every input, without the extension ("a/cat" for .../a/cat.png), '/'-separated.
struct DatasetEntry {
    std::string path;
    std::string name;
};

// The dataset of `inputs` (files; folders, searched recursively for images, or for volumes when
// `volumes`) and of `list_file` (one path per line, relative to the current folder; "-" reads the
// standard input; blank lines and lines starting with '#' skipped), sorted by name, each path once.
// Input error for a missing input, a folder without any, an unreadable list, or two inputs whose
// names collide (cat.png and cat.jpg in one folder).
PDA_API std::vector<DatasetEntry> collect_dataset(const std::vector<std::string>& inputs, const std::string& list_file,
                                                  bool volumes);

// Before any work: OUT is a folder or can be made and can be written to, and no entry's result
// folder is a file or a symbolic link or has an unusable name, and (bytes > 0) OUT's file system has
// that much free space. Input error (one line) otherwise.
PDA_API void check_job_outputs(const std::string& out, const std::vector<DatasetEntry>& entries, double bytes = 0);

// A deterministic share of a dataset: entries j (in name order) with j % count == index.
struct Shard {
    int64_t index = 0;
    int64_t count = 1;
    std::string str() const { return std::to_string(index) + "/" + std::to_string(count); }
};
PDA_API Shard parse_shard(const std::string& s);  // "i/n", 0 ≤ i < n; input error otherwise
// Inside a Slurm array task: index = SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN, count =
// SLURM_ARRAY_TASK_COUNT; {0, 1} outside one. Input error for malformed variables.
PDA_API Shard shard_from_environment();
PDA_API std::vector<DatasetEntry> take_shard(const std::vector<DatasetEntry>& all, const Shard& shard);

struct JobOptions {
    std::string out;         // OUT
    bool overwrite = false;  // redo inputs whose results are complete
    Shard shard;             // recorded in the logs (the entries given are already this shard's)
    int64_t total = 0;       // inputs of the whole dataset, all shards (0: the entries given)
    std::string worker;      // recorded in the logs; default: host:pid
};

// What happened to one input.
struct JobEvent {
    enum class Kind { kStart, kDone, kSkipped, kFailed };
    Kind kind = Kind::kStart;
    int64_t index = 0, count = 0;  // this input's position in the job's entries
    const DatasetEntry* entry = nullptr;
    std::string message;                    // kSkipped: why; kFailed: the error; kDone: the result folder
    const ExplainResult* result = nullptr;  // kDone
};

struct JobReport {
    int64_t inputs = 0, done = 0, skipped = 0, failed = 0;
    double seconds = 0;          // wall time of the whole job
    double explain_seconds = 0;  // the explain loops alone (sampling, network, reduce), summed over the inputs
    double images_per_second() const { return seconds > 0 ? static_cast<double>(done) / seconds : 0; }
};

// Explains `entries` into opt.out with `explainer`: skips complete results with the same parameters
// (unless opt.overwrite), isolates failures, writes the logs. progress(done, total) counts windows
// over the inputs to be explained; on_event sees each input's start and end. Returns the counts; a
// job with failures returns normally (the caller decides the exit code).
PDA_API JobReport run_job(Explainer& explainer, const std::vector<DatasetEntry>& entries, const JobOptions& opt,
                          const std::function<void(const JobEvent&)>& on_event = {},
                          const std::function<void(int64_t, int64_t)>& progress = {});
// The same with several workers over one queue, each explainer on its own thread (one per GPU, or
// several on the CPU, each with its own model and threads); they must share the parameters. Events
// and progress come one at a time. A fault that is not the input's (pda's, the device's) or an
// interrupt stops every worker and is thrown once they have stopped.
PDA_API JobReport run_job(const std::vector<Explainer*>& workers, const std::vector<DatasetEntry>& entries,
                          const JobOptions& opt, const std::function<void(const JobEvent&)>& on_event = {},
                          const std::function<void(int64_t, int64_t)>& progress = {});

// The state of OUT across every shard that has started there: inputs (from the job*.json manifests),
// done (a complete result), failed (in failures.jsonl and not done since), remaining (the rest).
struct JobStatus {
    int64_t inputs = 0, done = 0, failed = 0, remaining = 0;
    std::vector<std::string> shards;  // "0/4 finished", "1/4 running or stopped", ...
    std::vector<std::string> failed_paths;
};
PDA_API JobStatus job_status(const std::string& out);

}  // namespace pda
