// What every libFuzzer target shares: pda's parsers take paths, so each input is written to a file in
// a folder of its own process (under $TMPDIR, /dev/shm when it exists), removed at exit; and the one
// rule of the campaign: an input error (pda::Error of kind kInput) is the expected answer to a bad
// file, anything else escaping the parser (an internal error, another exception type) is a finding,
// reported and turned into a crash so that libFuzzer saves the input.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <typeinfo>

#include "pda/error.h"

namespace pda::fuzz {

// The process's own folder, created on first use and removed (with what is in it) at exit.
inline const std::string& work_dir() {
    static const std::string dir = [] {
        const char* env = std::getenv("TMPDIR");
        std::string base = env && *env ? env : (std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp");
        std::string d = base + "/pda-fuzz-" + std::to_string(::getpid());
        std::error_code ec;
        std::filesystem::create_directories(d, ec);
        if (ec) {
            std::fprintf(stderr, "fuzz: cannot create %s: %s\n", d.c_str(), ec.message().c_str());
            std::abort();
        }
        return d;
    }();
    static const bool cleanup = [] {
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(work_dir(), ec);
        });
        return true;
    }();
    (void)cleanup;
    return dir;
}

// Writes `size` bytes to work_dir()/name and returns the path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
    const std::string path = work_dir() + "/" + name;
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    f.close();
    if (!f) {
        std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
        std::abort();
    }
    return path;
}

// Runs the parser; returns normally on success or on an input error (printed when PDA_FUZZ_VERBOSE is
// set, to see how far a corpus gets), aborts on anything else.
template <class F>
void expect_input_errors_only(F&& parse) {
    try {
        parse();
    } catch (const pda::Error& e) {
        if (e.kind() == pda::ErrorKind::kInput) {
            if (std::getenv("PDA_FUZZ_VERBOSE")) std::fprintf(stderr, "input error: %s\n", e.what());
            return;
        }
        std::fprintf(stderr, "fuzz finding: internal error on an input: %s\n", e.what());
        std::abort();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz finding: %s escaped: %s\n", typeid(e).name(), e.what());
        std::abort();
    } catch (...) {
        std::fprintf(stderr, "fuzz finding: a non-std exception escaped\n");
        std::abort();
    }
}

}  // namespace pda::fuzz
