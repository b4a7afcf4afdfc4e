#include "common/host_memory.h"

#include "common/error.h"

#include <cstdint>
#include <cstdio>
#include <fstream>

namespace fairkv {

namespace {

// Bytes of memory this machine can still give (MemAvailable), or 0 when unknown.
uint64_t availableHostMemoryBytes()
{
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    uint64_t kib = 0;
    while (in >> key >> kib >> unit)
        if (key == "MemAvailable:")
            return kib * 1024;
    return 0;
}

} // namespace

void requireHostMemory(double needBytes, const std::string& what, const std::string& why, const std::string& advice)
{
    const uint64_t have = availableHostMemoryBytes();
    if (have == 0 || needBytes <= 0.9 * double(have))
        return;
    char buf[128];
    std::snprintf(buf, sizeof buf, " needs about %.1f GiB of host memory (", needBytes / double(1ull << 30));
    std::string msg = what + buf + why;
    std::snprintf(buf, sizeof buf, "); this machine has %.1f GiB available, of which a run may take 90%%: ",
                  double(have) / double(1ull << 30));
    throw Error(msg + buf + advice);
}

} // namespace fairkv
