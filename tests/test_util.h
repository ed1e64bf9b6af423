// Helpers shared by the test suites: where the shared models/photos and golden files are, running
// the pda program, temporary folders, expected input errors, and a visible skip when a resource is
// absent.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/cuda_program.h"
#include "engine/device.h"
#include "networks/graph.h"
#include "pda/error.h"

namespace pda::test {

// A graph node of op `op` reading `in`, writing `out`; attributes at their defaults.
inline Node make_node(const std::string& name, OpType op, std::vector<std::string> in, const std::string& out) {
    Node n;
    n.name = name;
    n.op = op;
    n.inputs = std::move(in);
    n.output = out;
    return n;
}

// ../shared as configured, or the folder named by the environment variable PDA_SHARED_DIR when set
// (the lent GPU machine has no ../shared; its files are carried elsewhere).
inline std::string shared_dir() {
    const char* env = std::getenv("PDA_SHARED_DIR");
    return env && *env ? std::string(env) : std::string(PDA_SHARED_DIR);
}
inline bool have_shared() { return std::filesystem::exists(shared_dir() + "/models/squeezenet1.1-caffe.onnx"); }
inline std::string golden_dir() { return PDA_GOLDEN_DIR; }
inline std::string source_dir() { return PDA_SOURCE_DIR; }

// A fresh, empty folder pda-test-<name>-<pid> under the temporary directory (the pid keeps the
// processes of a parallel ctest apart), removed with what is in it when it goes out of scope.
class TempDir {
  public:
    explicit TempDir(const std::string& name)
        : path_(std::filesystem::temp_directory_path() / ("pda-test-" + name + "-" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    // Writes `bytes` to file(name); returns its path.
    std::string write(const std::string& name, const std::string& bytes) const {
        std::ofstream f(file(name), std::ios::binary | std::ios::trunc);
        f << bytes;
        f.close();
        EXPECT_TRUE(f.good()) << "cannot write " << file(name);
        return file(name);
    }

  private:
    std::filesystem::path path_;
};

// "Suite_Name" of the running test ('/' of parameterised names replaced), for a folder per test.
inline std::string current_test_name() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name)
        if (c == '/') c = '_';
    return name;
}

// Runs f and expects a pda input error of one line; returns its message ("" and a failure when f
// throws nothing).
template <class F>
std::string input_error(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error thrown";
    return "";
}

// The bytes of a file; "" when it cannot be read.
inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct CmdResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
};

// Runs the pda program with the given arguments (a shell fragment).
inline CmdResult run_pda(const std::string& args) {
    std::string cmd = std::string(PDA_CLI) + " " + args + " 2>&1";
    CmdResult r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

}  // namespace pda::test

#define PDA_SKIP_WITHOUT_SHARED()                                                                                    \
    do {                                                                                                             \
        if (!::pda::test::have_shared())                                                                             \
            GTEST_SKIP() << "skipped: " << ::pda::test::shared_dir() << " (real models) is absent (PDA_SHARED_DIR)"; \
    } while (0)

// GPU tests skip visibly where no CUDA device is usable (and in builds without the backend).
#define PDA_SKIP_WITHOUT_CUDA()                                                                                     \
    do {                                                                                                            \
        if (::pda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << ::pda::cuda_info().runtime_note; \
    } while (0)
