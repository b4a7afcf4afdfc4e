#pragma once
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace fairkv {

// One copy of a unit on a rank, serving a subset of the batch.
struct Replica
{
    int rank = 0;
    std::vector<int> requests; // sorted request indices
};

struct UnitPlacement
{
    int unit = 0;
    std::vector<Replica> replicas;
};

// Design §2: per layer, every unit has one or more replicas whose request sets partition the batch.
struct Placement
{
    std::string name;
    int ranks = 1;
    int batch = 1;
    std::vector<std::vector<UnitPlacement>> layers; // [layer][unit], unit == index

    // Throws fairkv::Error naming the layer, unit and what is wrong.
    void validate(int numLayers, int numUnits, int numRanks, int batchSize) const;

    // Contiguous split of units over ranks, as Megatron/vLLM tensor parallelism does.
    static Placement uniform(int numLayers, int numUnits, int numRanks, int batchSize);

    nlohmann::json toJson() const;
    // `source` names the file in errors. Missing "requests" on a unit's only replica means the whole batch.
    // Without a "ranks" key the placement is for `runRanks` (given), else for its highest rank + 1.
    // A "batch" key must match batchSize.
    static Placement fromJson(const nlohmann::json& j, int batchSize, const std::string& source, int runRanks = 0);
    static Placement fromFile(const std::string& path, int batchSize, int runRanks = 0);
    // fromFile() for a run of that shape, validated; every error names the file.
    static Placement fromFileFor(const std::string& path, int numLayers, int numUnits, int numRanks, int batchSize);
    void saveFile(const std::string& path) const;

    // Number of replicas of `layer` held by `rank`.
    int replicasOn(int layer, int rank) const;
};

} // namespace fairkv
