// Host memory: what is still available, and refusing a request that cannot fit before anything is
// allocated (a clear input error instead of std::bad_alloc or the kernel's out-of-memory killer).
#pragma once

#include <cstdint>
#include <string>

namespace pda {

// A request may take at most this share of the memory available when it is checked.
constexpr double kUsableMemoryFraction = 0.8;

// Bytes the host can still give: MemAvailable of /proc/meminfo, lowered to what a cgroup v2 memory
// limit leaves (memory.max − memory.current) where one is set. 4 GiB when neither can be read.
int64_t available_memory_bytes();

// The most resident memory this process has held so far (getrusage's ru_maxrss), bytes.
int64_t peak_resident_bytes();

// "512 B", "3.4 MB", "20.6 GB" (decimal units, three significant digits).
std::string format_bytes(double bytes);

// Input error "WHAT: SIZE needed, more than the AVAILABLE of memory available" when bytes exceeds
// kUsableMemoryFraction of available_memory_bytes() (or is negative: an overflowed product).
void check_host_memory(double bytes, const std::string& what);

}  // namespace pda
