#include "parallel/rank_factory.h"

#include "backend/cpu/cpu_rank.h"
#include "common/error.h"

#include <map>
#include <mutex>

namespace fairkv {

namespace {
std::mutex g_mutex;
std::map<std::string, RankFactory>& registry()
{
    static std::map<std::string, RankFactory> r = {
        {"cpu", [](int index, const ModelConfig& c, UnitMode m) { return std::unique_ptr<Rank>(new CpuRank(index, c, m)); }}};
    return r;
}
} // namespace

void registerRankBackend(const std::string& name, RankFactory factory)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    registry()[name] = std::move(factory);
}

bool hasRankBackend(const std::string& name)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    return registry().count(name) > 0;
}

std::unique_ptr<Rank> makeRank(const std::string& backend, int index, const ModelConfig& config, UnitMode mode)
{
    RankFactory factory;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        auto it = registry().find(backend);
        if (it == registry().end())
            throw Error("--backend " + backend + ": this build has no such backend"
                        + std::string(backend == "cuda" ? " (built without the CUDA toolkit)" : ""));
        factory = it->second;
    }
    return factory(index, config, mode);
}

} // namespace fairkv
