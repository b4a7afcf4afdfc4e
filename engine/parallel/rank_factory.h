#pragma once
#include "kv/compression.h"
#include "model/model_config.h"
#include "parallel/rank.h"

#include <functional>
#include <memory>
#include <string>

namespace fairkv {

// Backends beyond the CPU register here (the CUDA backend lives in its own library, which the
// executables link and register), so the engine chooses a backend in one place and never depends
// on CUDA itself.
using RankFactory = std::function<std::unique_ptr<Rank>(int index, const ModelConfig& config, UnitMode mode)>;
void registerRankBackend(const std::string& name, RankFactory factory);
bool hasRankBackend(const std::string& name);
std::unique_ptr<Rank> makeRank(const std::string& backend, int index, const ModelConfig& config, UnitMode mode);

} // namespace fairkv
