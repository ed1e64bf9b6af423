// The output lock: held while a result folder is written and moved into place, and taken by the
// interrupt handler (pda::handle_interrupts) before the process ends, so that a SIGINT or SIGTERM
// never ends the process with a half-written temporary folder under OUT.
#pragma once

#include <mutex>
#include <string>

namespace pda {

std::unique_lock<std::mutex> output_lock();

// True once a handled signal arrived: a writer holding the output lock stops (input error
// "interrupted"), its guard removes the temporary folder, and the handler ends the process.
bool interrupt_requested();

// The temporary and aside names of a result folder: OUT/.<stem>.tmp-<host>-<pid> and
// OUT/.<stem>.old-<host>-<pid>.
std::string temp_result_name(const std::string& stem, const char* kind);

// Removes temporary result folders under out_dir left by processes of this host that no longer run
// (a kill -9, a power cut); folders of running processes and of other hosts are left alone.
// Returns how many were removed.
int sweep_stale_results(const std::string& out_dir);

}  // namespace pda
