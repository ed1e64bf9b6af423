// `pda explain` over datasets (include/pda/job.h) end to end on the tiny ONNX classifier: folders
// searched recursively with results mirroring relative paths, list files, a corrupt input recorded
// and the rest done (exit 1), resume (skipped with the same parameters, redone with others or
// --overwrite), shards that split the dataset exactly, a Slurm array task's share, a job killed with
// SIGKILL and started again ending with the outputs of an uninterrupted run, `pda status`, and bad
// job input → exit 2, one line, nothing written.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "io/image.h"
#include "pda/job.h"
#include "tests/test_util.h"
#include "tests/tiny_model.h"

namespace fs = std::filesystem;
using pda::test::read_file;
using pda::test::run_pda;

namespace {

// A dataset: photos/{a,b}/p<i>.png (the same stems in both folders), photos/b/deep/q.png, and
// photos/b/bad.png (not an image); the tiny model and its sidecar.
struct Dataset {
    pda::test::TempDir tmp{"job-" + pda::test::current_test_name()};
    fs::path dir = tmp.path();
    std::string model, photos;
    Dataset() {
        fs::create_directories(dir / "photos" / "a");
        fs::create_directories(dir / "photos" / "b" / "deep");
        pda::test::write_file(dir / "tiny.onnx", pda::test::tiny_model());
        pda::test::write_file(dir / "tiny.json", pda::test::kTinySidecar);
        for (int i = 0; i < 3; ++i) {
            pda::write_png((dir / "photos" / "a" / ("p" + std::to_string(i) + ".png")).string(),
                           pda::test::random_photo(20, 16, i));
            pda::write_png((dir / "photos" / "b" / ("p" + std::to_string(i) + ".png")).string(),
                           pda::test::random_photo(18, 16, 10 + i));
        }
        pda::write_png((dir / "photos" / "b" / "deep" / "q.png").string(), pda::test::random_photo(16, 16, 20));
        pda::test::write_file(dir / "photos" / "b" / "bad.png", "not a png at all");
        model = (dir / "tiny.onnx").string();
        photos = (dir / "photos").string();
    }
    std::string out(const std::string& name = "out") const { return (dir / name).string(); }
    std::string explain(const std::string& inputs, const std::string& out_dir, const std::string& more = "") const {
        return "explain " + model + " " + inputs +
               " --sampler occlusion --k 4 --stride 2 --classes all --quiet --out " + out_dir + " " + more;
    }
};

const std::vector<std::string> kGood = {"a/p0", "a/p1", "a/p2", "b/deep/q", "b/p0", "b/p1", "b/p2"};

std::vector<nlohmann::json> lines(const fs::path& file) {
    std::vector<nlohmann::json> out;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
}

// The result folders under out (those holding a summary.json, temporary ones left out), by name;
// out may change while it is read (a job running in it).
std::vector<std::string> results(const fs::path& out) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(out, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path dir = it->path().parent_path();
        if (it->path().filename() == "summary.json" && dir.filename().string()[0] != '.')
            names.push_back(dir.lexically_relative(out).generic_string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

// Anything under out whose name starts with '.' (temporary folders and files).
std::vector<std::string> temporaries(const fs::path& out) {
    std::vector<std::string> found;
    for (auto& e : fs::recursive_directory_iterator(out))
        if (e.path().filename().string()[0] == '.' || e.path().filename().string().find(".tmp-") != std::string::npos)
            found.push_back(e.path().string());
    return found;
}

void expect_input_error(const pda::test::CmdResult& r, const std::string& needle) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.output;
}

TEST(JobCli, FolderMirrorsPathsAndRecordsTheBadInput) {
    Dataset d;
    const pda::test::CmdResult r = run_pda(d.explain(d.photos, d.out()));
    EXPECT_EQ(r.exit_code, 1) << r.output;  // one input failed, the rest done
    EXPECT_EQ(results(d.out()), kGood);
    const std::vector<nlohmann::json> failed = lines(fs::path(d.out()) / "failures.jsonl");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0]["name"], "b/bad");
    EXPECT_NE(failed[0]["error"].get<std::string>().find("not a PNG"), std::string::npos) << failed[0];
    const std::vector<nlohmann::json> done = lines(fs::path(d.out()) / "progress.jsonl");
    ASSERT_EQ(done.size(), kGood.size());
    for (const nlohmann::json& l : done) {
        EXPECT_EQ(l["windows"], 49);  // (16 − 4) / 2 + 1 = 7 per axis
        EXPECT_EQ(l["device"], "cpu");
        EXPECT_GT(l["seconds"].get<double>(), 0.0);
    }
    const nlohmann::json job = nlohmann::json::parse(read_file(d.out() + "/job.json"));
    EXPECT_EQ(job["state"], "finished");
    EXPECT_EQ(job["counts"]["done"], 7);
    EXPECT_EQ(job["counts"]["failed"], 1);
    EXPECT_TRUE(temporaries(d.out()).empty());

    const pda::test::CmdResult st = run_pda("status " + d.out() + " --json");
    ASSERT_EQ(st.exit_code, 0) << st.output;
    const nlohmann::json s = nlohmann::json::parse(st.output);
    EXPECT_EQ(s["inputs"], 8);
    EXPECT_EQ(s["done"], 7);
    EXPECT_EQ(s["failed"], 1);
    EXPECT_EQ(s["remaining"], 0);
}

TEST(JobCli, ResumeSkipsWhatIsDoneAndRedoesOtherParameters) {
    Dataset d;
    fs::remove(fs::path(d.photos) / "b" / "bad.png");
    ASSERT_EQ(run_pda(d.explain(d.photos, d.out())).exit_code, 0);
    const std::string before = read_file(d.out() + "/a/p1/relevance.npy");
    const auto stamp = fs::last_write_time(fs::path(d.out()) / "a" / "p1" / "summary.json");

    const pda::test::CmdResult again = run_pda(d.explain(d.photos, d.out()).substr(0) + " --batch 3 --threads 1");
    ASSERT_EQ(again.exit_code, 0) << again.output;
    EXPECT_EQ(fs::last_write_time(fs::path(d.out()) / "a" / "p1" / "summary.json"), stamp) << "redone, not skipped";
    EXPECT_EQ(lines(fs::path(d.out()) / "progress.jsonl").size(), kGood.size()) << "a skipped input is not logged";

    // Other parameters: every result is redone (and logged again).
    const pda::test::CmdResult other = run_pda(d.explain(d.photos, d.out(), "--fill 0.5"));
    ASSERT_EQ(other.exit_code, 0) << other.output;
    EXPECT_NE(read_file(d.out() + "/a/p1/relevance.npy"), before);
    EXPECT_EQ(lines(fs::path(d.out()) / "progress.jsonl").size(), 2 * kGood.size());
    // --overwrite redoes them with the same parameters; the maps are the same bytes.
    ASSERT_EQ(run_pda(d.explain(d.photos, d.out(), "--overwrite")).exit_code, 0);
    EXPECT_EQ(read_file(d.out() + "/a/p1/relevance.npy"), before);
    EXPECT_EQ(lines(fs::path(d.out()) / "progress.jsonl").size(), 3 * kGood.size());
}

// A sampler file refitted at the same path makes the results made with the old one stale.
TEST(JobCli, ResumeNoticesANewSamplerFileAtTheSamePath) {
    Dataset d;
    fs::remove(fs::path(d.photos) / "b" / "bad.png");
    const std::string pdas = (d.dir / "s.pdas").string();
    auto fit = [&](const std::string& folder) {
        ASSERT_EQ(run_pda("fit-sampler " + d.model + " --images " + folder + " --k 4 --pad 1 -o " + pdas).exit_code, 0);
    };
    const std::string args = "--sampler conditional --sampler-file " + pdas + " --pad 1 --samples 2";
    auto explain = [&] {
        return run_pda("explain " + d.model + " " + d.photos + "/a --k 4 --stride 4 --quiet --out " + d.out() + " " +
                       args);
    };
    fit(d.photos + "/a");
    ASSERT_EQ(explain().exit_code, 0);
    ASSERT_EQ(explain().exit_code, 0);
    EXPECT_EQ(lines(fs::path(d.out()) / "progress.jsonl").size(), 3u) << "the same file: skipped";
    fit(d.photos + "/b");
    ASSERT_EQ(explain().exit_code, 0);
    EXPECT_EQ(lines(fs::path(d.out()) / "progress.jsonl").size(), 6u) << "another file at the same path: redone";
}

// What else decides a result, changed at the same paths: the marginal sampler's photos (one more, one
// rewritten), the sidecar's preprocessing, the model file. Each makes the finished results stale.
TEST(JobCli, ResumeNoticesAChangedSampleSetSidecarOrModel) {
    Dataset d;
    const fs::path set = d.dir / "set";
    fs::create_directories(set);
    for (int i = 0; i < 3; ++i)
        pda::write_png((set / ("s" + std::to_string(i) + ".png")).string(), pda::test::random_photo(16, 16, 30 + i));
    auto explain = [&] {
        const pda::test::CmdResult r =
            run_pda("explain " + d.model + " " + d.photos + "/a --k 4 --stride 4 --quiet --out " + d.out() +
                    " --sampler marginal --samples 2 --sample-images " + set.string());
        EXPECT_EQ(r.exit_code, 0) << r.output;
        return lines(fs::path(d.out()) / "progress.jsonl").size();
    };
    ASSERT_EQ(explain(), 3u);
    ASSERT_EQ(explain(), 3u) << "nothing changed: skipped";
    pda::write_png((set / "s3.png").string(), pda::test::random_photo(16, 16, 33));
    EXPECT_EQ(explain(), 6u) << "one more photo in the sample set: redone";
    EXPECT_EQ(explain(), 6u);
    pda::write_png((set / "s0.png").string(), pda::test::random_photo(16, 16, 40));
    EXPECT_EQ(explain(), 9u) << "a sample photo rewritten: redone";
    std::string sidecar = pda::test::kTinySidecar;
    sidecar.replace(sidecar.find("\"std\": [0.25"), 12, "\"std\": [0.20");
    pda::test::write_file(d.dir / "tiny.json", sidecar);
    EXPECT_EQ(explain(), 12u) << "the sidecar's preprocessing changed: redone";
    pda::test::write_file(d.dir / "tiny.onnx", pda::test::tiny_model());
    fs::last_write_time(d.dir / "tiny.onnx", fs::last_write_time(d.dir / "tiny.onnx") + std::chrono::seconds(2));
    EXPECT_EQ(explain(), 15u) << "the model file rewritten: redone";
    EXPECT_EQ(explain(), 15u);
}

TEST(JobCli, ShardsSplitTheDatasetExactly) {
    Dataset d;
    ASSERT_EQ(run_pda(d.explain(d.photos, d.out("whole"))).exit_code, 1);
    std::multiset<std::string> seen;
    for (int i = 0; i < 3; ++i) {
        const pda::test::CmdResult r =
            run_pda(d.explain(d.photos, d.out("sharded"), "--shard " + std::to_string(i) + "/3"));
        EXPECT_EQ(r.exit_code, i == 0 ? 1 : 0) << r.output;  // b/bad is the 4th of 8 by name: shard 0
        const nlohmann::json m =
            nlohmann::json::parse(read_file(d.out("sharded") + "/job-" + std::to_string(i) + "-of-3.json"));
        for (const nlohmann::json& e : m["inputs"]) seen.insert(e["name"].get<std::string>());
        EXPECT_EQ(m["dataset_inputs"], 8);
    }
    EXPECT_EQ(seen.size(), 8u);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 8u) << "an input in two shards";
    EXPECT_EQ(results(d.out("sharded")), kGood);
    for (const std::string& n : kGood)  // the same maps as one process
        EXPECT_EQ(read_file(d.out("sharded") + "/" + n + "/relevance.npy"),
                  read_file(d.out("whole") + "/" + n + "/relevance.npy"))
            << n;
    const nlohmann::json s = nlohmann::json::parse(run_pda("status " + d.out("sharded") + " --json").output);
    EXPECT_EQ(s["done"], 7);
    EXPECT_EQ(s["failed"], 1);

    // A Slurm array task takes its share from the environment (an array 1-3: task 2 is shard 1/3).
    const std::string env = "SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3 ";
    const std::string cmd = env + PDA_CLI + std::string(" ") + d.explain(d.photos, d.out("slurm")) + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    const nlohmann::json m = nlohmann::json::parse(read_file(d.out("slurm") + "/job-1-of-3.json"));
    std::set<std::string> names;
    for (const nlohmann::json& e : m["inputs"]) names.insert(e["name"].get<std::string>());
    const nlohmann::json m1 = nlohmann::json::parse(read_file(d.out("sharded") + "/job-1-of-3.json"));
    std::set<std::string> names1;
    for (const nlohmann::json& e : m1["inputs"]) names1.insert(e["name"].get<std::string>());
    EXPECT_EQ(names, names1);
}

// The shards of a job start at once into an OUT that does not exist yet: each one's checks of OUT
// (made for a probe, written to, removed) must not trip over the others'.
TEST(JobCli, ConcurrentShardsIntoAMissingOut) {
    Dataset d;
    fs::remove(fs::path(d.photos) / "b" / "bad.png");
    for (int round = 0; round < 3; ++round) {
        const std::string out = d.out("c" + std::to_string(round));
        std::string cmd;
        for (int i = 0; i < 4; ++i) {
            const std::string n = std::to_string(i), at = (d.dir / "").string();
            cmd += "( " + std::string(PDA_CLI) + " " + d.explain(d.photos, out, "--shard " + n + "/4") + " >" + at +
                   "log" + n + " 2>&1; echo $? >" + at + "rc" + n + " ) & ";
        }
        cmd += "wait";
        ASSERT_EQ(std::system(cmd.c_str()), 0);
        for (int i = 0; i < 4; ++i)
            EXPECT_EQ(read_file((d.dir / ("rc" + std::to_string(i))).string()), "0\n")
                << read_file((d.dir / ("log" + std::to_string(i))).string());
        EXPECT_EQ(results(out), kGood);
        EXPECT_TRUE(temporaries(out).empty());
    }
}

// --workers 2: two explainers over one queue in one process give the maps of one, every input once.
TEST(JobCli, TwoWorkersOneQueue) {
    Dataset d;
    fs::remove(fs::path(d.photos) / "b" / "bad.png");
    ASSERT_EQ(run_pda(d.explain(d.photos, d.out("one"))).exit_code, 0);
    const pda::test::CmdResult r = run_pda(d.explain(d.photos, d.out("two"), "--workers 2"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(results(d.out("two")), kGood);
    for (const std::string& n : kGood)
        EXPECT_EQ(read_file(d.out("two") + "/" + n + "/relevance.npy"),
                  read_file(d.out("one") + "/" + n + "/relevance.npy"))
            << n;
    std::map<std::string, int> per_input;
    std::set<std::string> who;
    for (const nlohmann::json& l : lines(fs::path(d.out("two")) / "progress.jsonl")) {
        ++per_input[l["name"].get<std::string>()];
        who.insert(l["worker"].get<std::string>());
    }
    EXPECT_EQ(per_input.size(), kGood.size());
    for (const auto& [name, n] : per_input) EXPECT_EQ(n, 1) << name;
    EXPECT_EQ(who.size(), 2u) << "one worker did everything";
    expect_input_error(run_pda(d.explain(d.photos, d.out("x"), "--device cuda:0,0")), "cuda:0 is listed twice");
    expect_input_error(run_pda(d.explain(d.photos, d.out("x"), "--device cuda:0,cpu")), "GPUs only");
    expect_input_error(run_pda(d.explain(d.photos, d.out("x"), "--workers 0")), "--workers");
    EXPECT_FALSE(fs::exists(d.out("x")));
}

TEST(JobCli, ListFilesAndStandardInput) {
    Dataset d;
    const std::string a = d.photos + "/a/p0.png", b = d.photos + "/b/p0.png";
    pda::test::write_file(d.dir / "list.txt", "# two photos\n" + a + "\n\n  " + b + "  \r\n");
    const pda::test::CmdResult r = run_pda(d.explain("--list " + (d.dir / "list.txt").string(), d.out("l")));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(results(d.out("l")), (std::vector<std::string>{"a/p0", "b/p0"}));
    const std::string cmd = "printf '%s\\n' " + a + " | " + PDA_CLI + " " + d.explain("--list -", d.out("s"));
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_EQ(results(d.out("s")), std::vector<std::string>{"p0"});  // one input: named by its file name
    EXPECT_EQ(read_file(d.out("s") + "/p0/relevance.npy"), read_file(d.out("l") + "/a/p0/relevance.npy"));
}

TEST(JobCli, KilledAndStartedAgainEndsAsAnUninterruptedRun) {
    Dataset d;
    fs::remove(fs::path(d.photos) / "b" / "bad.png");
    ASSERT_EQ(run_pda(d.explain(d.photos, d.out("ref"))).exit_code, 0);
    int killed_midway = 0;
    for (int attempt = 0; attempt < 6; ++attempt) {
        const pda::test::TempDir scratch("job-kill-" + std::to_string(attempt));
        const std::string out = (scratch.path() / "out").string();
        const pid_t pid = fork();
        if (pid == 0) {
            const std::string cmd =
                "exec " + std::string(PDA_CLI) + " " + d.explain(d.photos, out) + " >/dev/null 2>&1";
            execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        // Kill it once a few results exist (at a different moment each attempt).
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < give_up && waitpid(pid, nullptr, WNOHANG) == 0) {
            std::error_code ec;
            if (fs::exists(out, ec) && static_cast<int>(results(out).size()) > attempt % 4) break;
            std::this_thread::sleep_for(std::chrono::microseconds(300 + 700 * attempt));
        }
        ::kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        if (!fs::exists(out)) continue;
        const size_t had = results(out).size();
        killed_midway += had < kGood.size();
        const pda::test::CmdResult again = run_pda(d.explain(d.photos, out));
        ASSERT_EQ(again.exit_code, 0) << again.output;
        EXPECT_EQ(results(out), kGood);
        EXPECT_TRUE(temporaries(out).empty()) << temporaries(out).front();
        for (const std::string& n : kGood)
            EXPECT_EQ(read_file(out + "/" + n + "/relevance.npy"), read_file(d.out("ref") + "/" + n + "/relevance.npy"))
                << n;
        // Every finished input has exactly one progress line (a result finished just before the kill
        // gets a recovered one).
        std::map<std::string, int> logged;
        for (const nlohmann::json& l : lines(fs::path(out) / "progress.jsonl")) ++logged[l["name"].get<std::string>()];
        for (const std::string& n : kGood) EXPECT_EQ(logged[n], 1) << n;
    }
    EXPECT_GT(killed_midway, 0) << "no kill landed in the middle of the job; the test did not test it";
}

TEST(JobCli, BadJobInputExits2WithNothingWritten) {
    Dataset d;
    const std::string out = d.out();
    expect_input_error(run_pda(d.explain("--list " + d.out("nolist.txt"), out)), "nolist.txt: cannot read");
    expect_input_error(run_pda(d.explain((d.dir / "nothere").string(), out)), "nothere: no such file or folder");
    fs::create_directories(d.dir / "empty");
    expect_input_error(run_pda(d.explain((d.dir / "empty").string(), out)), "no images");
    expect_input_error(run_pda(d.explain(d.photos, out, "--shard 3/2")), "--shard '3/2'");
    expect_input_error(run_pda(d.explain(d.photos, out, "--shard a/b")), "--shard 'a/b'");
    expect_input_error(run_pda(d.explain(d.photos, out, "--shard 1")), "--shard '1'");
    pda::test::write_file(d.dir / "list.txt", "# nothing\n\n");
    expect_input_error(run_pda(d.explain("--list " + (d.dir / "list.txt").string(), out)), "lists no path");
    EXPECT_FALSE(fs::exists(out));
    pda::test::write_file(d.dir / "afile", "x");
    expect_input_error(run_pda(d.explain(d.photos, (d.dir / "afile").string())), "not a folder");
    // cat.png and cat.bmp in one folder would share a result folder.
    pda::write_png((fs::path(d.photos) / "a" / "p0.bmp").string(), pda::test::random_photo(16, 16, 5));
    expect_input_error(run_pda(d.explain(d.photos, out)), "would share the result folder 'a/p0'");
    EXPECT_FALSE(fs::exists(out));
    const std::string env = "SLURM_ARRAY_TASK_ID=x SLURM_ARRAY_TASK_COUNT=3 ";
    EXPECT_NE(std::system((env + PDA_CLI + " " + d.explain(d.photos, out) + " >/dev/null 2>&1").c_str()), 0);
    EXPECT_FALSE(fs::exists(out));
}

TEST(JobApi, CollectDatasetAndShards) {
    Dataset d;
    const std::vector<pda::DatasetEntry> all = pda::collect_dataset({d.photos}, "", false);
    std::vector<std::string> names;
    for (const pda::DatasetEntry& e : all) names.push_back(e.name);
    EXPECT_EQ(names, (std::vector<std::string>{"a/p0", "a/p1", "a/p2", "b/bad", "b/deep/q", "b/p0", "b/p1", "b/p2"}));
    // One folder's files name their results by file name; the same file twice counts once.
    const std::vector<pda::DatasetEntry> two =
        pda::collect_dataset({d.photos + "/a/p1.png", d.photos + "/a/../a/p1.png", d.photos + "/a/p0.png"}, "", false);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(two[0].name, "p0");
    EXPECT_EQ(two[1].name, "p1");
    size_t total = 0;
    for (int i = 0; i < 3; ++i) total += pda::take_shard(all, pda::parse_shard(std::to_string(i) + "/3")).size();
    EXPECT_EQ(total, all.size());
    EXPECT_EQ(pda::take_shard(all, {1, 3}).front().name, "a/p1");
    EXPECT_EQ(pda::parse_shard("0/1").count, 1);
}

}  // namespace

namespace {

// The program compiled for one image runs the next (BatchProgram::rebind): every map equals a fresh
// explainer's bit for bit, for full and incremental execution, and the summary says it was reused.
TEST(JobApi, ReusedProgramsGiveTheSameBits) {
    Dataset d;
    for (const pda::Execution exec : {pda::Execution::kFull, pda::Execution::kIncremental}) {
        pda::ExplainerOptions opt;
        opt.sampler = pda::SamplerKind::kOcclusion;
        opt.k = 4;
        opt.stride = 3;
        opt.exec = exec;
        opt.nodes = {"conv"};
        opt.classes = pda::ClassSelection::all();
        const pda::Model model = pda::Model::load(d.model, {});
        pda::Explainer one(model, opt);
        const pda::ExplainResult first = one.explain(d.photos + "/a/p0.png");
        EXPECT_NE(first.summary_json.find("\"program\": \"compiled\""), std::string::npos);
        const pda::ExplainResult second = one.explain(d.photos + "/b/p1.png");
        EXPECT_NE(second.summary_json.find("\"program\": \"reused\""), std::string::npos) << pda::execution_name(exec);
        pda::Explainer fresh(model, opt);
        const pda::ExplainResult alone = fresh.explain(d.photos + "/b/p1.png");
        EXPECT_EQ(second.relevance.values, alone.relevance.values) << pda::execution_name(exec);
        ASSERT_EQ(second.nodes.size(), 1u);
        EXPECT_EQ(second.nodes[0].values, alone.nodes[0].values) << pda::execution_name(exec);
        EXPECT_NE(second.relevance.values, first.relevance.values) << "two images, one map: the test tests nothing";
    }
}

}  // namespace
