#include "parallel/rank_factory.h"

#include "backend/cpu/cpu_rank.h"
#include "common/error.h"

#include <map>
#include <mutex>

namespace fairkv {

namespace {
struct Backend
{
    RankFactory rank;
    StepExecutorFactory executor;
};
std::mutex g_mutex;
std::map<std::string, Backend>& registry()
{
    static std::map<std::string, Backend> r = {
        {"cpu", {[](int index, int, const ModelConfig& c, UnitMode m, const BackendOptions&) {
                     return std::unique_ptr<Rank>(new CpuRank(index, c, m));
                 },
                 {}}}};
    return r;
}

Backend lookup(const std::string& backend)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = registry().find(backend);
    if (it == registry().end())
        throw Error("--backend " + backend + ": this build has no such backend"
                    + std::string(backend == "cuda" ? " (built without the CUDA toolkit)" : ""));
    return it->second;
}
} // namespace

void registerRankBackend(const std::string& name, RankFactory factory, StepExecutorFactory executor)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    registry()[name] = {std::move(factory), std::move(executor)};
}

bool hasRankBackend(const std::string& name)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    return registry().count(name) > 0;
}

int bytesPerWeight(const std::string& backend)
{
    return backend == "cuda" ? 2 : int(sizeof(float));
}

std::unique_ptr<Rank> makeRank(const std::string& backend, int index, int ranks, const ModelConfig& config, UnitMode mode,
                               const BackendOptions& options)
{
    return lookup(backend).rank(index, ranks, config, mode, options);
}

std::unique_ptr<StepExecutor> makeStepExecutor(const std::string& backend, const ModelWeights& weights,
                                               const std::vector<Rank*>& ranks, const BackendOptions& options)
{
    const Backend b = lookup(backend);
    return b.executor ? b.executor(weights, ranks, options) : nullptr;
}

} // namespace fairkv
