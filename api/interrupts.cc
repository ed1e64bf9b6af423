// pda::handle_interrupts and the output lock (api/interrupts.h). SIGINT, SIGTERM and SIGHUP are
// blocked in every thread and taken by one thread with sigwait, so their handling is ordinary
// code: a result folder being written stops at its next file and is removed, then the process
// ends with the signal's own status.
#include "api/interrupts.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <regex>
#include <thread>

#include "pda/pda.h"

namespace fs = std::filesystem;

namespace pda {
namespace {

std::atomic<bool> g_interrupted{false};

std::mutex& output_mutex() {
    static std::mutex m;
    return m;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "host";
    std::string s;
    for (const char* c = buf; *c; ++c) s += (std::isalnum(static_cast<unsigned char>(*c)) || *c == '-') ? *c : '_';
    return s;
}

}  // namespace

std::unique_lock<std::mutex> output_lock() { return std::unique_lock<std::mutex>(output_mutex()); }

bool interrupt_requested() { return g_interrupted.load(); }

std::string temp_result_name(const std::string& stem, const char* kind) {
    return "." + stem + "." + kind + "-" + host_name() + "-" + std::to_string(::getpid());
}

int sweep_stale_results(const std::string& out_dir) {
    std::error_code ec;
    if (!fs::is_directory(out_dir, ec)) return 0;
    const std::regex name("^\\..*\\.(tmp|old)-(.+)-([0-9]{1,10})$");
    const std::string host = host_name();
    int removed = 0;
    for (const auto& entry : fs::directory_iterator(out_dir, ec)) {
        const std::string f = entry.path().filename().string();
        std::smatch m;
        if (!std::regex_match(f, m, name) || m[2] != host) continue;
        const long pid = std::stol(m[3]);
        if (pid <= 0 || pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
        std::error_code rm;
        fs::remove_all(entry.path(), rm);
        if (!rm) ++removed;
    }
    return removed;
}

void handle_interrupts() {
    static std::once_flag once;
    std::call_once(once, [] {
        sigset_t set;
        sigemptyset(&set);
        for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread started from now on
        std::thread([set] {
            int sig = 0;
            if (sigwait(&set, &sig) != 0) return;
            g_interrupted = true;
            std::unique_lock<std::mutex> lock = output_lock();  // a folder being written is removed first
            signal(sig, SIG_DFL);
            pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
            raise(sig);  // the shell sees the signal's status
            _exit(128 + sig);
        }).detach();
    });
}

}  // namespace pda
