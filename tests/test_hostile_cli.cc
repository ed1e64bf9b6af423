// Absurd requests and hostile surroundings, end to end through the pda program on tiny ONNX
// classifiers (16×16, 64×64 and 128×128 inputs): sizes refused before any work (Gaussian
// dimension, samples, batch, threads, integer flags), the output folder checked first (empty
// name, files and links in the way, unusable stems, unwritable places, free space), interrupts
// that leave nothing behind, stale temporary folders swept, a failed write to stdout, and
// non-finite values refused (fill, sampler files) or reported (a model that outputs NaN). Every
// refusal: exit 2, one line, within seconds, nothing written.
#include <onnx/onnx_pb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "api/explain_output.h"
#include "engine/gaussian.h"
#include "io/image.h"
#include "io/sampler_file.h"
#include "pda/error.h"
#include "tests/test_util.h"
#include "tests/tiny_model.h"

namespace fs = std::filesystem;
using pda::test::random_photo;
using pda::test::run_pda;
using pda::test::tiny_model;
using pda::test::write_file;

namespace {

std::string sidecar(int size) {
    return R"({"output_kind": "probabilities", "input_size": [)" + std::to_string(size) + ", " + std::to_string(size) +
           R"(], "resize_shorter": )" + std::to_string(size) +
           R"(, "crop": "center", "channel_order": "RGB", "scale": 1, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]})";
}

// tiny-<size>.onnx with sidecars for 16, 64 and 128 px, two photos per size in photos-<size>/.
struct Fixture {
    pda::test::TempDir tmp;
    fs::path dir;
    explicit Fixture(const std::string& name) : tmp("hostile-" + name), dir(tmp.path()) {
        for (int size : {16, 64, 128}) {
            const std::string s = std::to_string(size);
            write_file(dir / ("tiny-" + s + ".onnx"), tiny_model("Relu", size));
            write_file(dir / ("tiny-" + s + ".json"), sidecar(size));
            fs::create_directories(dir / ("photos-" + s));
            for (int i = 0; i < 2; ++i)
                pda::write_png((dir / ("photos-" + s) / ("p" + std::to_string(i) + ".png")).string(),
                               random_photo(size, size, i));
        }
    }
    ~Fixture() {  // some tests take the owner's permissions away; TempDir then removes the folder
        std::error_code ec;
        fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
    }
    std::string model(int size) const { return (dir / ("tiny-" + std::to_string(size) + ".onnx")).string(); }
    std::string photos(int size) const { return (dir / ("photos-" + std::to_string(size))).string(); }
    std::string photo(int size) const { return photos(size) + "/p0.png"; }
    std::string out() const { return (dir / "out").string(); }
};

// Exit 2, one line "pda: ..." holding must_contain, within `seconds`.
void expect_refused(const std::string& args, const std::string& must_contain, double seconds = 10) {
    const auto t0 = std::chrono::steady_clock::now();
    const pda::test::CmdResult r = run_pda(args);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("pda: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(must_contain), std::string::npos) << "expected '" << must_contain << "' in: " << r.output;
    EXPECT_LT(took, seconds) << args;
}

int entries(const fs::path& dir) {
    int n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
    return n;
}

std::string host_name() {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    std::string s;
    for (const char* c = buf; *c; ++c) s += (std::isalnum(static_cast<unsigned char>(*c)) || *c == '-') ? *c : '_';
    return s.empty() ? "host" : s;
}

// A pid that runs no process: a child that has exited and been reaped.
pid_t dead_pid() {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, nullptr, 0);
    return pid;
}

}  // namespace

TEST(HostileCli, SizesAreRefusedBeforeAnyWork) {
    Fixture f("sizes");
    const std::string base = "explain " + f.model(64) + " " + f.photo(64) + " --out " + f.out() + " ";
    // l = 13 + 2·20 = 53: d = 53²·3 = 8427 > 8192, for explain and fit-sampler alike.
    expect_refused(base + "--k 13 --pad 20 --sample-images " + f.photos(64), "above the limit of 8192");
    const std::string sampler = (f.dir / "s.pdas").string();
    expect_refused(
        "fit-sampler " + f.model(64) + " --images " + f.photos(64) + " --out " + sampler + " --k 13 --pad 20",
        "above the limit of 8192");
    expect_refused("fit-sampler " + f.model(64) + " --images " + f.photos(64) + " --out " + sampler + " --k 60 --pad 0",
                   "dimension 10800 above the limit");
    EXPECT_FALSE(fs::exists(sampler));
    // Just under the limit the fit runs and explain reads what it wrote.
    ASSERT_EQ(run_pda("fit-sampler " + f.model(64) + " --images " + f.photos(64) + " --out " + sampler +
                      " --k 12 --pad 20 --max-patches 50")
                  .exit_code,
              0);
    expect_refused(base + "--samples 2000000 --sampler occlusion", "--samples 2000000 is above the limit of 1000000");
    expect_refused(base + "--batch 2000000 --sampler occlusion", "--batch 2000000 is above the limit of 1000000");
    // 999 999 resampled 128×128×3 images: 197 GB.
    expect_refused("explain " + f.model(128) + " " + f.photo(128) + " --out " + f.out() +
                       " --sampler marginal --sample-images " + f.photos(128) + " --samples 999999",
                   "--samples 999999 (the resampled images of one window): 197 GB needed");
    expect_refused(base + "--threads -1", "--threads: must be an integer ≥ 0, got -1");
    expect_refused(base + "--threads 1e400", "must be an integer ≥ 0, got 1e400");
    expect_refused(base + "--threads 99999999999999999999", "must be an integer ≥ 0");
    expect_refused(base + "--sampler occlusion --fill nan", "--fill must be a finite value");
    EXPECT_FALSE(fs::exists(f.out()));

    // More threads than processors: a warning, and the run goes on with the processors there are.
    const pda::test::CmdResult r = run_pda("info " + f.model(16) + " --threads 100000");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("warning: --threads 100000 is more than the"), std::string::npos) << r.output;
}

TEST(HostileCli, OutputProblemsAreFoundFirst) {
    Fixture f("out");
    const std::string run = "explain " + f.model(16) + " --sampler occlusion ";
    const std::string photo = f.photo(16);
    expect_refused(run + photo + " --out ''", "--out needs a folder name");
    write_file(f.dir / "a-file", "x");
    expect_refused(run + photo + " --out " + (f.dir / "a-file").string(), "exists and is not a folder");
    expect_refused(run + photo + " --out " + (f.dir / "a-file" / "sub").string(), "is not a folder");
    expect_refused(run + photo + " --out /proc/pda-no-such-place", "cannot create the folder");
    fs::create_directories(f.out());
    write_file(fs::path(f.out()) / "p0", "not a folder");
    expect_refused(run + photo + " --out " + f.out(), "p0: exists and is not a result folder");
    fs::remove(fs::path(f.out()) / "p0");
    fs::create_directory_symlink(f.dir, fs::path(f.out()) / "p0");
    expect_refused(run + photo + " --out " + f.out(), "p0: is a symbolic link");
    fs::remove(fs::path(f.out()) / "p0");
    fs::copy_file(photo, f.dir / "..png");
    expect_refused(run + (f.dir / "..png").string() + " --out " + f.out(), "no usable result folder name");
    EXPECT_EQ(entries(f.out()), 0);
    // A folder the probe had to create is gone again after a refusal.
    const fs::path fresh = f.dir / "new" / "deeper";
    expect_refused(run + photo + " --out " + fresh.string() + " --classes 99", "unknown class id 99");
    EXPECT_FALSE(fs::exists(f.dir / "new"));
    // Free space: more than any disk has is refused, naming both sizes.
    try {
        pda::check_output_dir(f.out(), {"p0"}, 1e18);
        ADD_FAILURE() << "1 EB of results was not refused";
    } catch (const pda::Error& e) {
        EXPECT_EQ(e.kind(), pda::ErrorKind::kInput);
        EXPECT_NE(std::string(e.what()).find("free, the results need about 1.00 EB"), std::string::npos) << e.what();
    }
    EXPECT_EQ(entries(f.out()), 0);
}

// Probes of one OUT at once (the workers of a job, the shards of an array): each creates the missing
// folders and removes them again, so a folder another probe made can vanish between two looks at it;
// a probe then tries again instead of calling it "not a folder".
TEST(HostileCli, ConcurrentProbesOfOneMissingFolderAllPass) {
    pda::test::TempDir tmp("hostile-probes");
    for (int round = 0; round < 20; ++round) {
        const std::string out = (tmp.path() / ("r" + std::to_string(round)) / "job" / "b").string();
        std::vector<std::thread> probes;
        std::vector<std::string> errors(8);
        for (size_t t = 0; t < errors.size(); ++t)
            probes.emplace_back([&, t] {
                for (int i = 0; i < 25; ++i) {
                    try {
                        pda::check_output_dir(out, {"p0"});
                    } catch (const pda::Error& e) {
                        errors[t] = e.what();
                        return;
                    }
                }
            });
        for (std::thread& p : probes) p.join();
        for (const std::string& e : errors) ASSERT_EQ(e, "") << "round " << round;
    }
}

// Processes that write into OUT (a job's manifest, an image's result) while others probe it: the
// probes remove the folders they made while these are empty, so a writer's first entry may find no
// folder; it makes the folder again and tries again, and once its entry is in, no one removes OUT.
// (The writers here remove their entry and the empty folders again, for more of these races.)
TEST(HostileCli, FirstEntriesSurviveConcurrentProbes) {
    pda::test::TempDir tmp("hostile-entries");
    for (int round = 0; round < 10; ++round) {
        const fs::path out = tmp.path() / ("r" + std::to_string(round)) / "job" / "a" / "b";
        std::vector<std::thread> threads;
        std::vector<std::string> errors(8);
        for (size_t t = 0; t < errors.size(); ++t)
            threads.emplace_back([&, t] {
                for (int i = 0; i < 100 && errors[t].empty(); ++i) {
                    if (t % 2 == 0) {
                        try {
                            pda::check_output_dir(out.string(), {"p0"});
                        } catch (const pda::Error& e) {
                            errors[t] = e.what();
                        }
                        continue;
                    }
                    const fs::path entry = out / ("entry-" + std::to_string(t) + "-" + std::to_string(i));
                    const std::error_code ec = pda::make_entry_in(out, [&] {
                        std::ofstream f(entry);
                        return f ? std::error_code{} : std::error_code(errno, std::generic_category());
                    });
                    if (ec)
                        errors[t] = "make_entry_in: " + ec.message();
                    else if (!fs::exists(entry))
                        errors[t] = entry.string() + " vanished";
                    std::error_code ignored;
                    fs::remove(entry, ignored);  // OUT empty again: removed like a probe removes it
                    for (fs::path p = out; p != tmp.path(); p = p.parent_path()) fs::remove(p, ignored);
                }
            });
        for (std::thread& t : threads) t.join();
        for (const std::string& e : errors) ASSERT_EQ(e, "") << "round " << round;
    }
}

TEST(HostileCli, StaleTemporaryFoldersOfDeadProcessesAreSwept) {
    Fixture f("stale");
    fs::create_directories(f.out());
    const fs::path dead = fs::path(f.out()) / (".p0.tmp-" + host_name() + "-" + std::to_string(dead_pid()));
    const fs::path alive = fs::path(f.out()) / (".p0.tmp-" + host_name() + "-" + std::to_string(::getpid()));
    const fs::path other = fs::path(f.out()) / (".p0.tmp-some-other-host-" + std::to_string(dead_pid()));
    for (const fs::path& p : {dead, alive, other}) {
        fs::create_directories(p);
        write_file(p / "relevance.npy", "partial");
    }
    const pda::test::CmdResult r =
        run_pda("explain " + f.model(16) + " " + f.photo(16) + " --sampler occlusion --quiet --out " + f.out());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_FALSE(fs::exists(dead));
    EXPECT_TRUE(fs::exists(alive));  // a running process's folder
    EXPECT_TRUE(fs::exists(other));  // another host's (a shared file system)
    EXPECT_TRUE(fs::exists(fs::path(f.out()) / "p0" / "summary.json"));
}

TEST(HostileCli, StdoutWriteFailureIsAnError) {
    Fixture f("stdout");
    if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
    const fs::path err = f.dir / "stderr.txt";
    const std::string cmd = std::string(PDA_CLI) + " info " + f.model(16) + " --json >/dev/full 2>" + err.string();
    const int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
    std::ifstream in(err);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.rfind("pda: cannot write to standard output", 0), 0u) << text;
}

// A model whose first weight is NaN (and no ReLU, which would turn NaN into 0): every output is NaN. Reported, never
// written silently.
TEST(HostileCli, NonFiniteOutputIsReported) {
    Fixture f("nan");
    onnx::ModelProto m;
    ASSERT_TRUE(m.ParseFromString(tiny_model("Identity", 16)));
    m.mutable_graph()->mutable_initializer(0)->set_float_data(0, std::numeric_limits<float>::quiet_NaN());
    std::string bytes;
    m.SerializeToString(&bytes);
    write_file(f.dir / "nan.onnx", bytes);
    write_file(f.dir / "nan.json", sidecar(16));
    const pda::test::CmdResult r = run_pda("explain " + (f.dir / "nan.onnx").string() + " " + f.photo(16) +
                                           " --sampler occlusion --quiet --stride 4 --out " + f.out());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("warning: " + f.photo(16) + ": non-finite values"), std::string::npos) << r.output;
    std::ifstream in(fs::path(f.out()) / "p0" / "summary.json");
    const nlohmann::json s = nlohmann::json::parse(in);
    EXPECT_EQ(s["non_finite"]["probabilities"].get<int64_t>(), 4);
    EXPECT_GT(s["non_finite"]["relevance"].get<int64_t>(), 0);
    // A healthy model's summary says zero.
    ASSERT_EQ(run_pda("explain " + f.model(16) + " " + f.photo(16) + " --sampler occlusion --quiet --out " + f.out())
                  .exit_code,
              0);
    std::ifstream in2(fs::path(f.out()) / "p0" / "summary.json");
    const nlohmann::json s2 = nlohmann::json::parse(in2);
    EXPECT_EQ(s2["non_finite"]["probabilities"].get<int64_t>(), 0);
    EXPECT_EQ(s2["non_finite"]["relevance"].get<int64_t>(), 0);
}

TEST(HostileCli, SamplerFilesThatCannotBeACovarianceAreRefused) {
    Fixture f("cov");
    std::vector<pda::Tensor> imgs;
    for (int i = 0; i < 2; ++i) {
        pda::Tensor t(pda::Shape{1, 3, 16, 16});
        std::mt19937_64 rng(i);
        for (int64_t j = 0; j < t.numel(); ++j) t.data()[j] = static_cast<float>((rng() & 0xffff) / 65536.0 - 0.5);
        imgs.push_back(std::move(t));
    }
    const pda::GaussianPatchModel good = pda::fit_gaussian(imgs, 4, 1, 0, 0);
    pda::SamplerFileMeta meta;
    meta.pre.height = meta.pre.width = 16;
    meta.pre.resize_shorter = 16;
    meta.pre.mean = {0.5f, 0.5f, 0.5f};
    meta.pre.std = {0.25f, 0.25f, 0.25f};
    meta.model = "tiny-16.onnx";
    const int64_t d = good.dim();
    struct Case {
        std::string name, message;
        std::function<void(pda::GaussianPatchModel&)> spoil;
    };
    const Case cases[] = {
        {"zero", "variance 0 is 0", [](pda::GaussianPatchModel& g) { std::fill(g.cov.begin(), g.cov.end(), 0.0); }},
        {"nan", "non-finite value at (1, 0)", [d](pda::GaussianPatchModel& g) { g.cov[1 * d + 0] = NAN; }},
        {"mean", "the mean holds a non-finite value at 5", [](pda::GaussianPatchModel& g) { g.mean[5] = INFINITY; }},
        {"asym", "not symmetric at (2, 1)", [d](pda::GaussianPatchModel& g) { g.cov[2 * d + 1] += 1.0; }},
        {"psd", "not positive semi-definite",
         [d](pda::GaussianPatchModel& g) {
             const double big = 2 * std::sqrt(g.cov[0] * g.cov[d + 1]);
             g.cov[d] = g.cov[1] = big;
         }},
    };
    const std::string base = "explain " + f.model(16) + " " + f.photo(16) + " --out " + f.out() + " --k 4 --pad 1 ";
    for (const Case& c : cases) {
        pda::GaussianPatchModel g = good;
        c.spoil(g);
        const std::string path = (f.dir / (c.name + ".pdas")).string();
        pda::write_sampler_file(path, g, meta);
        expect_refused(base + "--sampler-file " + path, c.message);
    }
    EXPECT_FALSE(fs::exists(f.out()));
    pda::write_sampler_file((f.dir / "good.pdas").string(), good, meta);
    const pda::test::CmdResult r = run_pda(base + "--quiet --sampler-file " + (f.dir / "good.pdas").string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

// SIGTERM and SIGINT at any moment of a run: afterwards OUT holds either nothing or complete results,
// never a temporary folder, and the exit status is the signal's. SqueezeNet with --classes all writes
// 1 000 heatmaps. One signal lands before the results are written; the others while they are being
// written, at moments found by watching OUT for the hidden temporary folder rather than guessed from
// the clock, so a slow or busy machine tests the same moments as a fast one.
TEST(HostileCli, InterruptsLeaveNoDebris) {
    PDA_SKIP_WITHOUT_SHARED();
    Fixture f("signal");
    const std::string args = std::string(PDA_CLI) + " explain " + pda::test::shared_dir() +
                             "/models/squeezenet1.1-caffe.onnx " + pda::test::shared_dir() +
                             "/images/cat.png --sampler occlusion --stride 56 --classes all --quiet --out " + f.out();
    const auto temp_folder_exists = [&] {
        std::error_code ec;
        for (fs::directory_iterator it(f.out(), ec), end; !ec && it != end; it.increment(ec)) {
            if (it->path().filename().string().rfind(".cat.tmp-", 0) == 0) return true;
        }
        return false;
    };
    int interrupted_in_write = 0;
    // delay < 0: signal 0.3 s after the start (setup or windows); otherwise `delay` seconds after
    // the temporary folder appeared.
    for (double delay : {-1.0, 0.0, 0.05, 0.3}) {
        for (int sig : {SIGTERM, SIGINT}) {
            fs::remove_all(f.out());
            const pid_t pid = fork();
            if (pid == 0) {
                execl("/bin/sh", "sh", "-c", ("exec " + args + " >/dev/null 2>&1").c_str(),
                      static_cast<char*>(nullptr));
                _exit(127);
            }
            bool writing = false;
            if (delay < 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(300));
            } else {
                const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
                while (!(writing = temp_folder_exists()) && std::chrono::steady_clock::now() < give_up &&
                       waitpid(pid, nullptr, WNOHANG) == 0) {
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
                }
                std::this_thread::sleep_for(std::chrono::duration<double>(delay));
            }
            ::kill(pid, sig);
            int status = 0;
            waitpid(pid, &status, 0);
            if (WIFSIGNALED(status)) {
                EXPECT_EQ(WTERMSIG(status), sig) << "delay " << delay;
            } else {
                EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "delay " << delay << " status " << status;
            }
            interrupted_in_write += writing && WIFSIGNALED(status);
            if (!fs::exists(f.out())) continue;
            for (const auto& e : fs::directory_iterator(f.out())) {
                const std::string name = e.path().filename().string();
                if (name == "job.json" || name == "progress.jsonl") {  // the job's logs, whole
                    std::ifstream in(e.path());
                    std::string line;
                    if (name == "job.json")
                        EXPECT_FALSE(nlohmann::json::parse(in, nullptr, false).is_discarded()) << "job.json cut";
                    else
                        while (std::getline(in, line))
                            EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
                    continue;
                }
                EXPECT_EQ(name, "cat") << "left behind, delay " << delay << " s";
                EXPECT_TRUE(fs::exists(e.path() / "summary.json")) << "an incomplete result, delay " << delay << " s";
            }
        }
    }
    EXPECT_GT(interrupted_in_write, 0) << "no signal landed in the write phase; the test did not test it";
}
