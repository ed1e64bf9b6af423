// Dataset jobs (include/pda/job.h): collecting a dataset, shards, resume, failure isolation and the
// job's logs (OUT/progress.jsonl, OUT/failures.jsonl, OUT/job[-i-of-n].json), and `pda status`.
// The logs are appended one whole line per write(2) with O_APPEND, so the shards of one job can share
// OUT on one file system.
#include "pda/job.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "api/explain_output.h"
#include "api/interrupts.h"
#include "pda/error.h"

namespace fs = std::filesystem;

namespace pda {
namespace {

bool has_extension(const std::string& file, bool volumes) {
    static const std::vector<std::string> images = {".png", ".jpg", ".jpeg", ".bmp"};
    static const std::vector<std::string> vols = {".nii", ".nii.gz", ".npy"};
    std::string n = file;
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const std::string& ext : volumes ? vols : images)
        if (n.size() > ext.size() && n.compare(n.size() - ext.size(), ext.size(), ext) == 0) return true;
    return false;
}

std::string host_pid() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "host");
    return std::string(host) + ":" + std::to_string(::getpid());
}

// One line appended in one write(2): whole lines, also when several processes share the file.
void append_line(const fs::path& file, const nlohmann::json& j) {
    const std::string line = j.dump() + "\n";
    const std::unique_lock<std::mutex> lock = output_lock();  // an interrupt waits for the whole line
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {  // OUT removed by another process's probe of it meanwhile
        std::error_code ec;
        fs::create_directories(file.parent_path(), ec);
        fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    if (fd < 0) fail_input(file.string() + ": cannot append: " + std::strerror(errno));
    const ssize_t n = ::write(fd, line.data(), line.size());
    const int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(line.size())) fail_input(file.string() + ": cannot append: " + std::strerror(err));
}

std::vector<nlohmann::json> read_lines(const fs::path& file) {
    std::vector<nlohmann::json> out;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        try {
            out.push_back(nlohmann::json::parse(line));
        } catch (const nlohmann::json::exception&) {  // a line cut by a crash: ignored
        }
    }
    return out;
}

// Written to a temporary file and renamed over the old one.
void write_json_file(const fs::path& file, const nlohmann::json& j) {
    const fs::path tmp = file.parent_path() / temp_result_name(file.filename().string(), "tmp");  // swept if killed
    const std::unique_lock<std::mutex> lock = output_lock();  // an interrupt waits for the rename
    std::ofstream f;
    std::error_code ec = make_entry_in(file.parent_path(), [&] {
        f.open(tmp, std::ios::trunc);
        return f ? std::error_code{} : std::error_code(errno, std::generic_category());
    });
    if (ec) fail_input(tmp.string() + ": cannot write: " + ec.message());
    f << j.dump(2) << "\n";
    f.close();
    if (!f) fail_input(tmp.string() + ": cannot write");
    fs::rename(tmp, file, ec);
    if (ec) fail_input(file.string() + ": cannot write: " + ec.message());
}

std::string manifest_name(const Shard& s) {
    return s.count == 1 ? "job.json" : "job-" + std::to_string(s.index) + "-of-" + std::to_string(s.count) + ".json";
}

// What decides whether a finished result can stand: the model and the method's parameters, not how
// they were computed (batch, threads, device, execution give the same maps).
nlohmann::json result_key(const nlohmann::json& summary) {
    nlohmann::json key;
    std::string spec = summary.at("model").at("spec").get<std::string>();
    std::error_code ec;
    if (fs::is_regular_file(spec, ec)) spec = fs::weakly_canonical(spec, ec).string();
    key["model"] = spec;
    key["model_file"] = summary.at("model").value("file_stamp", "");          // a model rewritten at the same path
    key["preprocessing"] = summary.value("preprocessing", nlohmann::json());  // a sidecar changed
    nlohmann::json p = summary.at("parameters");
    for (const char* volatile_key : {"batch", "threads"}) p.erase(volatile_key);
    key["parameters"] = p;
    key["precision"] = summary.value("precision", "");
    return key;
}

// The result of `name` under out: complete (its summary.json parses) and its key.
bool complete_result(const fs::path& out, const std::string& name, nlohmann::json* key) {
    const fs::path summary = out / name / "summary.json";
    std::ifstream in(summary);
    if (!in) return false;
    try {
        const nlohmann::json j = nlohmann::json::parse(in);
        if (key) *key = result_key(j);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

void sweep_tree(const fs::path& out) {
    std::error_code ec;
    sweep_stale_results(out.string());
    for (auto it = fs::recursive_directory_iterator(out, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_directory(ec)) continue;
        const std::string leaf = it->path().filename().string();
        if (!leaf.empty() && leaf[0] == '.') {  // a temporary folder: swept by its parent, never entered
            it.disable_recursion_pending();
            continue;
        }
        if (fs::exists(it->path() / "summary.json", ec)) {  // a result: nothing below it to sweep
            it.disable_recursion_pending();
            continue;
        }
        sweep_stale_results(it->path().string());
    }
}

}  // namespace

std::vector<DatasetEntry> collect_dataset(const std::vector<std::string>& inputs, const std::string& list_file,
                                          bool volumes) {
    std::vector<std::string> paths;
    const char* what = volumes ? "volumes (.nii, .nii.gz, .npy)" : "images (.png, .jpg, .jpeg, .bmp)";
    for (const std::string& in : inputs) {
        std::error_code ec;
        const fs::file_status st = fs::status(in, ec);
        if (!fs::exists(st)) fail_input(in + ": no such file or folder");
        if (!fs::is_directory(st)) {
            paths.push_back(in);
            continue;
        }
        size_t found = 0;
        for (auto it = fs::recursive_directory_iterator(in, fs::directory_options::follow_directory_symlink, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            const std::string leaf = it->path().filename().string();
            if (!leaf.empty() && leaf[0] == '.') {  // hidden files and folders (a job's temporaries)
                if (it->is_directory()) it.disable_recursion_pending();
                continue;
            }
            if (it->is_regular_file() && has_extension(leaf, volumes)) {
                paths.push_back(it->path().string());
                ++found;
            }
        }
        if (ec) fail_input(in + ": cannot read the folder: " + ec.message());
        if (found == 0) fail_input(in + ": no " + std::string(what) + " in this folder or below it");
    }
    if (!list_file.empty()) {
        std::ifstream file;
        std::istream* in = &std::cin;
        if (list_file != "-") {
            std::error_code ec;
            if (fs::is_directory(list_file, ec)) fail_input("--list " + list_file + ": a folder, not a list file");
            file.open(list_file);
            if (!file) fail_input("--list " + list_file + ": cannot read the file");
            in = &file;
        }
        std::string line;
        size_t listed = 0;
        while (std::getline(*in, line)) {
            const size_t a = line.find_first_not_of(" \t\r"), b = line.find_last_not_of(" \t\r");
            if (a == std::string::npos || line[a] == '#') continue;
            paths.push_back(line.substr(a, b - a + 1));
            ++listed;
        }
        if (in->bad()) fail_input("--list " + list_file + ": read error");
        if (listed == 0) fail_input("--list " + list_file + ": lists no path");
    }
    if (paths.empty()) fail_input("no inputs: give images, folders or --list FILE");

    // Absolute, normal paths (each once), and the deepest folder holding them all.
    std::vector<std::pair<fs::path, std::string>> abs;  // (absolute, as given)
    std::set<std::string> seen;
    for (const std::string& p : paths) {
        const fs::path a = fs::absolute(p).lexically_normal();
        if (seen.insert(a.string()).second) abs.emplace_back(a, p);
    }
    fs::path base = abs.front().first.parent_path();
    for (const auto& [a, p] : abs) {
        const fs::path dir = a.parent_path();
        while (!base.empty() && dir.lexically_relative(base).string().rfind("..", 0) == 0) base = base.parent_path();
    }
    std::vector<DatasetEntry> out;
    std::map<std::string, std::string> names;
    for (const auto& [a, p] : abs) {
        const fs::path rel_dir = a.parent_path().lexically_relative(base);
        std::string name = (rel_dir.empty() || rel_dir == "." ? fs::path() : rel_dir).string();
        name += (name.empty() ? "" : "/") + image_stem(p);  // the folder the Explainer writes
        auto [it, fresh] = names.emplace(name, p);
        if (!fresh)
            fail_input("inputs " + it->second + " and " + p + " would share the result folder '" + name +
                       "' (same name without the extension)");
        out.push_back({p, name});
    }
    std::sort(out.begin(), out.end(), [](const DatasetEntry& x, const DatasetEntry& y) { return x.name < y.name; });
    return out;
}

void check_job_outputs(const std::string& out, const std::vector<DatasetEntry>& entries, double bytes) {
    std::vector<std::string> names;
    for (const DatasetEntry& e : entries) {
        const std::string leaf = fs::path(e.name).filename().string();
        if (leaf.empty() || leaf == "." || leaf == "..")
            fail_input("an image named '" + leaf + "' gives no usable result folder name under " + out);
        names.push_back(e.name);
    }
    check_output_dir(out, names, bytes);
}

Shard parse_shard(const std::string& s) {
    const size_t slash = s.find('/');
    auto number = [&](const std::string& t) {
        if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos)
            fail_input("--shard '" + s + "': expected i/n with 0 ≤ i < n (e.g. 0/4)");
        return std::stoll(t);
    };
    if (slash == std::string::npos) number("");
    const int64_t i = number(s.substr(0, slash)), n = number(s.substr(slash + 1));
    if (n < 1 || i >= n) fail_input("--shard '" + s + "': expected i/n with 0 ≤ i < n (e.g. 0/4)");
    return {i, n};
}

Shard shard_from_environment() {
    const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
    const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
    if (!id || !count) return {};
    const char* min = std::getenv("SLURM_ARRAY_TASK_MIN");
    auto number = [](const char* name, const char* v) {
        const std::string t = v;
        if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos)
            fail_input(std::string(name) + "='" + t + "' is not a task number");
        return std::stoll(t);
    };
    const int64_t i = number("SLURM_ARRAY_TASK_ID", id) - (min ? number("SLURM_ARRAY_TASK_MIN", min) : 0);
    const int64_t n = number("SLURM_ARRAY_TASK_COUNT", count);
    if (n < 1 || i < 0 || i >= n)
        fail_input("Slurm array task " + std::string(id) + " of " + count +
                   " tasks: the array must be a contiguous range (e.g. --array=0-3) or give --shard i/n");
    return {i, n};
}

std::vector<DatasetEntry> take_shard(const std::vector<DatasetEntry>& all, const Shard& shard) {
    std::vector<DatasetEntry> out;
    for (size_t j = 0; j < all.size(); ++j)
        if (static_cast<int64_t>(j) % shard.count == shard.index) out.push_back(all[j]);
    return out;
}

JobReport run_job(Explainer& explainer, const std::vector<DatasetEntry>& entries, const JobOptions& opt,
                  const std::function<void(const JobEvent&)>& on_event,
                  const std::function<void(int64_t, int64_t)>& progress) {
    return run_job(std::vector<Explainer*>{&explainer}, entries, opt, on_event, progress);
}

JobReport run_job(const std::vector<Explainer*>& workers, const std::vector<DatasetEntry>& entries,
                  const JobOptions& opt, const std::function<void(const JobEvent&)>& on_event,
                  const std::function<void(int64_t, int64_t)>& progress) {
    if (workers.empty()) fail_internal("a job needs at least one worker");
    Explainer& explainer = *workers.front();  // the parameters every worker shares
    const auto t0 = std::chrono::steady_clock::now();
    const fs::path out(opt.out);
    const std::string worker = opt.worker.empty() ? host_pid() : opt.worker;

    const nlohmann::json key = result_key(nlohmann::json::parse(explainer.describe_json()));
    nlohmann::json manifest = {{"shard", opt.shard.str()},
                               {"worker", worker},
                               {"started", utc_now()},
                               {"state", "running"},
                               {"dataset_inputs", opt.total > 0 ? opt.total : static_cast<int64_t>(entries.size())},
                               {"key", key}};
    nlohmann::json names = nlohmann::json::array();
    for (const DatasetEntry& e : entries) names.push_back({{"path", e.path}, {"name", e.name}});
    manifest["inputs"] = names;
    // The manifest is the job's first entry in OUT: written, it keeps OUT from the probes of other
    // shards starting at the same time (which remove an OUT they made while it is empty).
    const fs::path manifest_file = out / manifest_name(opt.shard);
    write_json_file(manifest_file, manifest);
    sweep_tree(out);  // temporary folders of killed runs of this host

    // What is done already: complete results with the same key (a result finished just before a kill
    // may lack its progress line; it gets one, marked recovered).
    std::set<std::string> logged;
    for (const nlohmann::json& l : read_lines(out / "progress.jsonl")) logged.insert(l.value("name", ""));
    JobReport rep;
    rep.inputs = static_cast<int64_t>(entries.size());
    std::vector<const DatasetEntry*> todo;
    std::vector<std::string> skip_why(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
        const DatasetEntry& e = entries[i];
        nlohmann::json have;
        if (!complete_result(out, e.name, &have)) {
            todo.push_back(&e);
            continue;
        }
        if (opt.overwrite) {
            skip_why[i] = "redone (--overwrite)";
        } else if (have != key) {
            skip_why[i] = "redone: its result was made with other parameters";
        } else {
            if (!logged.count(e.name))
                append_line(out / "progress.jsonl", {{"path", e.path}, {"name", e.name}, {"recovered", true}});
            ++rep.skipped;
            if (on_event)
                on_event({JobEvent::Kind::kSkipped, static_cast<int64_t>(i), rep.inputs, &e,
                          "done before with the same parameters", nullptr});
            continue;
        }
        todo.push_back(&e);
    }

    // The workers take the next input from one queue; each one's explainer runs on its own thread
    // (its own model, device and threads). Events, progress and counts are serialised by one mutex.
    const int64_t W = workers.front()->windows(), total_windows = W * static_cast<int64_t>(todo.size());
    std::map<const DatasetEntry*, size_t> index;
    for (size_t i = 0; i < entries.size(); ++i) index[&entries[i]] = i;
    std::mutex mu;
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::vector<int64_t> in_flight(workers.size(), 0);
    int64_t finished_windows = 0;
    std::exception_ptr first_error;
    auto work = [&](size_t wi) {
        Explainer& explainer = *workers[wi];
        const std::string who = workers.size() > 1 ? worker + "/" + std::to_string(wi) : worker;
        for (size_t q; !stop && (q = next++) < todo.size();) {
            const DatasetEntry* e = todo[q];
            const size_t i = index.at(e);
            {
                const std::lock_guard<std::mutex> lock(mu);
                if (on_event)
                    on_event({JobEvent::Kind::kStart, static_cast<int64_t>(i), rep.inputs, e, skip_why[i], nullptr});
            }
            const fs::path dir = (out / e->name).parent_path();
            const auto ti = std::chrono::steady_clock::now();
            try {
                ExplainResult r = explainer.explain(e->path, dir.string(), [&](int64_t done, int64_t) {
                    const std::lock_guard<std::mutex> lock(mu);
                    in_flight[wi] = done;
                    int64_t sum = finished_windows;
                    for (int64_t f : in_flight) sum += f;
                    if (progress) progress(sum, total_windows);
                });
                const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - ti).count();
                const double loop = r.seconds.sampling + r.seconds.network + r.seconds.reduce;
                append_line(out / "progress.jsonl", {{"path", e->path},
                                                     {"name", e->name},
                                                     {"seconds", secs},
                                                     {"loop_s", loop},
                                                     {"compile_s", r.seconds.compile},
                                                     {"windows", r.windows},
                                                     {"device", explainer.device().str()},
                                                     {"worker", who},
                                                     {"shard", opt.shard.str()},
                                                     {"date", utc_now()}});
                const std::lock_guard<std::mutex> lock(mu);
                rep.explain_seconds += loop;
                ++rep.done;
                if (on_event) on_event({JobEvent::Kind::kDone, static_cast<int64_t>(i), rep.inputs, e, r.folder, &r});
            } catch (const Error& err) {
                if (interrupt_requested() || err.kind() != ErrorKind::kInput) {
                    // Interrupted, or a fault of pda or the device (not of this input): stop the job.
                    const std::lock_guard<std::mutex> lock(mu);
                    if (!first_error) first_error = std::current_exception();
                    stop = true;
                    return;
                }
                append_line(out / "failures.jsonl", {{"path", e->path},
                                                     {"name", e->name},
                                                     {"error", err.what()},
                                                     {"worker", who},
                                                     {"shard", opt.shard.str()},
                                                     {"date", utc_now()}});
                const std::lock_guard<std::mutex> lock(mu);
                ++rep.failed;
                if (on_event)
                    on_event({JobEvent::Kind::kFailed, static_cast<int64_t>(i), rep.inputs, e, err.what(), nullptr});
            } catch (...) {
                const std::lock_guard<std::mutex> lock(mu);
                if (!first_error) first_error = std::current_exception();
                stop = true;
                return;
            }
            const std::lock_guard<std::mutex> lock(mu);
            in_flight[wi] = 0;
            finished_windows += W;
        }
    };
    if (workers.size() == 1) {
        work(0);
    } else {
        std::vector<std::thread> threads;
        for (size_t wi = 0; wi < workers.size(); ++wi) threads.emplace_back(work, wi);
        for (std::thread& t : threads) t.join();
    }
    if (first_error) std::rethrow_exception(first_error);
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    manifest["state"] = "finished";
    manifest["finished"] = utc_now();
    manifest["counts"] = {{"inputs", rep.inputs}, {"done", rep.done}, {"skipped", rep.skipped}, {"failed", rep.failed}};
    manifest["seconds"] = rep.seconds;
    manifest["explain_seconds"] = rep.explain_seconds;
    manifest["images_per_second"] = rep.images_per_second();
    write_json_file(manifest_file, manifest);
    return rep;
}

JobStatus job_status(const std::string& out_dir) {
    const fs::path out(out_dir);
    std::error_code ec;
    if (!fs::is_directory(out, ec)) fail_input(out_dir + ": not a folder");
    JobStatus st;
    std::map<std::string, nlohmann::json> inputs;  // name → key the shard wanted
    std::vector<fs::path> manifests;
    for (const auto& entry : fs::directory_iterator(out, ec)) {
        const std::string f = entry.path().filename().string();
        if (entry.is_regular_file() && f.rfind("job", 0) == 0 && entry.path().extension() == ".json")
            manifests.push_back(entry.path());
    }
    std::sort(manifests.begin(), manifests.end());
    if (manifests.empty()) fail_input(out_dir + ": no job here (no job.json or job-<i>-of-<n>.json)");
    for (const fs::path& m : manifests) {
        nlohmann::json j;
        try {
            std::ifstream in(m);
            j = nlohmann::json::parse(in);
        } catch (const std::exception&) {
            fail_input(m.string() + ": not a job manifest (corrupt JSON)");
        }
        for (const nlohmann::json& e : j.value("inputs", nlohmann::json::array()))
            inputs[e.value("name", "")] = j.value("key", nlohmann::json());
        st.shards.push_back(j.value("shard", "?") + " " + j.value("state", "?") +
                            (j.value("state", "") == "running" ? " (or stopped)" : ""));
    }
    std::map<std::string, std::string> failed;
    for (const nlohmann::json& l : read_lines(out / "failures.jsonl"))
        failed[l.value("name", "")] = l.value("path", "");
    for (const auto& [name, key] : inputs) {
        nlohmann::json have;
        if (complete_result(out, name, &have) && have == key) {
            ++st.done;
        } else if (failed.count(name)) {
            ++st.failed;
            st.failed_paths.push_back(failed[name]);
        } else {
            ++st.remaining;
        }
    }
    st.inputs = static_cast<int64_t>(inputs.size());
    return st;
}

}  // namespace pda
