#pragma once
#include "placement/layer_planner.h"
#include "placement/placement_stats.h"

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fairkv {

struct PlanOptions
{
    std::string planner = "fairkv-copy"; // uniform, fairkv-assign, fairkv-copy
    int ranks = 1;
    std::optional<uint64_t> memoryBudget; // bytes for extra weight copies over all layers
    bool sameCount = false;               // fairkv-assign: same number of units per rank
    int64_t nodeLimit = 200000;           // per layer, for fairkv-assign's exact search
    // fairkv-copy's exact searches share this many nodes over the plan's layers (each at least
    // 20000, at most 4 million): one small layer may search for long enough to prove its optimum
    // (a 6-unit layer of batch 3 on 4 ranks needed about 2 million), and 10000 layers do not take
    // minutes.
    int64_t copyNodes = 50000000;
    // Called after each layer of each pass (phase, layers done, layers): large instances plan for
    // minutes (the CLI shows it on a terminal).
    std::function<void(const std::string& phase, int done, int total)> progress;
};

struct PlanResult
{
    std::string planner;
    Placement placement;
    std::vector<double> layerMs;      // modelled slowest rank per layer (+ MLP share + collectives)
    std::vector<double> lowerBoundMs; // per layer, the best bound known for the planner's rules
    std::vector<double> uniformMs;    // per layer, the uniform split for comparison
    std::vector<bool> exact;          // per layer: proven optimal
    double totalMs = 0.0, lowerBoundTotalMs = 0.0, uniformTotalMs = 0.0;
    double fixedLayerMs = 0.0; // in every layer's time above: the stats' MLP share and collectives, no placement changes it
    double planMs = 0.0; // wall time of planning
    int extraReplicas = 0;
    uint64_t extraWeightBytes = 0;
    std::string costSource;
    std::vector<std::string> warnings; // what the totals leave out or may misstate (never silent)

    double gap() const { return gapAbove(totalMs, lowerBoundTotalMs); }
    // Modelled uniform time over this plan's: 1 where both cost nothing.
    double speedupOverUniform() const { return totalMs > 0 ? uniformTotalMs / totalMs : 1.0; }
    nlohmann::json toJson() const;
};

std::vector<std::string> plannerNames();
bool isPlanner(const std::string& name);
// The planners as a message lists them: "uniform, fairkv-assign, fairkv-copy".
std::string plannerList();
// The planners that plan from the run's statistics (all but uniform).
bool plansFromStats(const std::string& name);

// Plans every layer; throws fairkv::Error for an unknown planner or inconsistent options.
PlanResult planPlacement(const PlacementStats& stats, const PlanOptions& options);

// One layer's instance from the stats.
LayerInstance layerInstance(const PlacementStats& stats, int layer, int ranks);

} // namespace fairkv
