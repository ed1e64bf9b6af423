#include "engine/memory.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "pda/error.h"

namespace pda {
namespace {

// A cgroup v2 limit on this process: memory.max − memory.current of its group, or −1 when unlimited
// or unreadable.
int64_t cgroup_headroom() {
    std::ifstream self("/proc/self/cgroup");
    std::string line, group;
    while (std::getline(self, line))
        if (line.rfind("0::", 0) == 0) group = line.substr(3);
    if (group.empty()) return -1;
    const std::string dir = "/sys/fs/cgroup" + group;
    std::ifstream fmax(dir + "/memory.max"), fcur(dir + "/memory.current");
    std::string max;
    int64_t cur = 0;
    if (!(fmax >> max) || max == "max" || !(fcur >> cur)) return -1;
    try {
        return std::max<int64_t>(std::stoll(max) - cur, 0);
    } catch (const std::exception&) {
        return -1;
    }
}

}  // namespace

int64_t peak_resident_bytes() {
    struct rusage u {};
    return getrusage(RUSAGE_SELF, &u) == 0 ? static_cast<int64_t>(u.ru_maxrss) * 1024 : 0;  // KiB on Linux
}

int64_t available_memory_bytes() {
    std::ifstream f("/proc/meminfo");
    std::string key, unit;
    int64_t kb = 0, avail = -1;
    while (f >> key >> kb >> unit)
        if (key == "MemAvailable:") {
            avail = kb * 1024;
            break;
        }
    if (avail < 0) avail = int64_t{4} << 30;  // unknown: assume 4 GiB
    const int64_t cg = cgroup_headroom();
    return cg >= 0 ? std::min(avail, cg) : avail;
}

std::string format_bytes(double bytes) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    int u = 0;
    while (bytes >= 1000 && u < 6) {
        bytes /= 1000;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%.0f B", bytes);
    else
        std::snprintf(buf, sizeof buf, bytes < 10 ? "%.2f %s" : bytes < 100 ? "%.1f %s" : "%.0f %s", bytes, units[u]);
    return buf;
}

void check_host_memory(double bytes, const std::string& what) {
    const int64_t avail = available_memory_bytes();
    if (bytes < 0 || bytes > kUsableMemoryFraction * static_cast<double>(avail))
        fail_input(what + ": " + (bytes < 0 ? std::string("more than any machine has") : format_bytes(bytes)) +
                   " needed, more than the " + format_bytes(static_cast<double>(avail)) + " of memory available");
}

}  // namespace pda
