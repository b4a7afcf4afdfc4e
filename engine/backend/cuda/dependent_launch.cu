#include "backend/cuda/dependent_launch.cuh"

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace fairkv::cuda {

namespace {
// FAIRKV_EARLY_STARTS=0 in the environment turns them off from the start: every kernel then waits
// for the one before it, to tell a suspected race from a real result.
bool allowedAtStart()
{
    const char* v = std::getenv("FAIRKV_EARLY_STARTS");
    return !(v && std::string(v) == "0");
}
std::atomic<bool> g_allowed{allowedAtStart()};
} // namespace

void allowEarlyStarts(bool allowed)
{
    g_allowed = allowed;
}

bool earlyStartsAllowed()
{
    return g_allowed;
}

bool carriesGridDependency(const void* kernel)
{
    int device = 0;
    FAIRKV_CUDA(cudaGetDevice(&device));
    static std::mutex mutex;
    static std::map<std::pair<int, const void*>, bool> known; // asked once per kernel and device
    std::lock_guard<std::mutex> lock(mutex);
    const auto at = known.find({device, kernel});
    if (at != known.end())
        return at->second;
    cudaFuncAttributes fa{};
    FAIRKV_CUDA(cudaFuncGetAttributes(&fa, kernel));
    const bool early = fa.ptxVersion >= 90 || (fa.ptxVersion == 0 && fa.binaryVersion >= 90);
    known.emplace(std::make_pair(device, kernel), early);
    return early;
}

} // namespace fairkv::cuda
