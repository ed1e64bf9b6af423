// Helpers shared by the test suites: where the shared models/photos and golden files are, running
// the pda program, and a visible skip when a resource is absent.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/cuda_program.h"
#include "engine/device.h"
#include "networks/graph.h"

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
