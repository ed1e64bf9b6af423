// The pda program: subcommands, --version, and the exit-code contract: 0 ok, 2 bad usage or input
// (one clear line on stderr; a failed write to stdout counts as one), 1 internal error.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>

#include "cli/common.h"
#include "pda/pda.h"

namespace {

// Everything printed reached its destination: a full disk or a closed pipe is an error, not exit 0.
int checked_stdout(int code) {
    std::cout.flush();
    errno = 0;
    if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout) {
        std::cerr << "pda: cannot write to standard output" << (errno ? std::string(": ") + std::strerror(errno) : "")
                  << "\n";
        return code == 0 ? 2 : code;
    }
    return code;
}

int run(int argc, char** argv) {
    CLI::App app{"pda: explains image classifiers with Prediction Difference Analysis"};
    app.require_subcommand(0, 1);
    bool show_version = false;
    app.add_flag("--version", show_version, "print the version and build options");
    pda::cli::add_info(app);
    pda::cli::add_predict(app);
    pda::cli::add_fit_sampler(app);
    pda::cli::add_explain(app);
    pda::cli::add_bench(app);
    pda::cli::add_status(app);
    pda::cli::add_report(app);
    try {
        app.parse(argc, argv);
        if (show_version) {
            std::cout << pda::build_info();
            return 0;
        }
        if (app.get_subcommands().empty()) {
            std::cerr << app.help();
            return 2;
        }
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "pda: " << e.what() << " (see pda --help)\n";
        return 2;
    } catch (const pda::cli::ExitCode& e) {
        return e.code;
    } catch (const pda::Error& e) {
        std::cerr << "pda: " << e.what() << "\n";
        return e.kind() == pda::ErrorKind::kInput ? 2 : 1;
    } catch (const std::bad_alloc&) {
        std::cerr << "pda: out of memory (a request larger than the checks foresaw; try a smaller --batch)\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "pda: internal error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace

namespace {

// OpenMP threads waiting for work spin briefly, then give their core back (GOMP_SPINCOUNT=3000, a
// few microseconds), unless the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT). libgomp reads these
// when it is loaded, before main, so the program starts itself again with it set (same pid,
// arguments and environment otherwise). libgomp's default spins for far longer: once another process
// takes a core, the threads of oneDNN's many small parallel regions spin against each other and the
// descheduled one; never spinning (OMP_WAIT_POLICY=passive) halves the speed of small batches on an
// idle machine instead. Measurements: bench/RESULTS.md.
void exec_with_short_spins(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "3000", 1) != 0) return;
    execv("/proc/self/exe", argv);  // returns only on failure: then go on with the default
}

}  // namespace

int main(int argc, char** argv) {
    exec_with_short_spins(argv);
    pda::handle_interrupts();  // before any thread starts
    return checked_stdout(run(argc, argv));
}
