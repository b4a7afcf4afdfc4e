#pragma once
#include "placement/placement.h"

#include <cstdint>
#include <vector>

namespace fairkv {

// One layer's planning problem (design §2): every unit costs cUnit per replica plus the work of the
// requests each replica serves (cTok x retained length, already multiplied out).
struct LayerInstance
{
    int ranks = 1;
    double cUnit = 0.0;
    std::vector<std::vector<double>> work; // [unit][request]

    int units() const { return int(work.size()); }
    int batch() const { return work.empty() ? 0 : int(work[0].size()); }
    double unitWork(int u) const;
    double unitCost(int u) const { return cUnit + unitWork(u); } // one replica serving everything
};

struct LayerPlan
{
    std::vector<UnitPlacement> units; // index == unit
    double makespan = 0.0;            // modelled slowest rank
    bool exact = false;               // proven optimal for its planner's rules
    int extraReplicas = 0;            // replicas beyond one per unit
};

// How far two loads of `inst` may differ and still count as equal: rounding, relative to the
// instance's total cost (an absolute tolerance reads every load as equal when the cost constants
// are tiny, and then prunes the optimum away).
double loadTolerance(const LayerInstance& inst);
// Whether a makespan reaches a lower bound, up to that tolerance: nothing can beat it.
inline bool reachesBound(double makespan, double bound, double tolerance)
{
    return makespan <= bound * (1 + 1e-12) + tolerance;
}

// How far `value` (a modelled time) lies above the lower `bound` of its instance: 0.05 is 5%
// above. Equal to its bound, a placement's time can come out a few ulps under it (sums in another
// order), which reads 0 here, not -0.0%; a real shortfall stays negative, so a wrong bound shows.
inline double gapAbove(double value, double bound)
{
    if (bound <= 0)
        return 0.0;
    const double gap = value / bound - 1.0;
    return gap < 0 && gap > -1e-9 ? 0.0 : gap;
}

// Loads of every rank under `units`.
std::vector<double> rankLoads(const LayerInstance& inst, const std::vector<UnitPlacement>& units);
LayerPlan makePlan(const LayerInstance& inst, std::vector<UnitPlacement> units, bool exact);

// Bounds no placement can beat: without copies (P||Cmax bounds) and with copies (design §2, including
// the binary search on the replicas that heavy units are forced to have).
double lowerBoundNoCopies(const LayerInstance& inst);
double lowerBoundWithCopies(const LayerInstance& inst);

struct AssignOptions
{
    bool sameCount = false;     // every rank holds floor(U/N) or ceil(U/N) units
    int64_t nodeLimit = 200000; // exact search budget; beyond it the best plan found is kept
};

LayerPlan planUniformLayer(const LayerInstance& inst);
// Best-effort assignment without replication: exact branch and bound when it finishes within the
// node limit, else LPT with move/swap local search.
LayerPlan planAssignLayer(const LayerInstance& inst, const AssignOptions& options = {});
// Fair-Copying with at most `maxExtra` extra replicas (-1: unlimited): exact search on small
// instances (up to nodeLimit nodes), else a split-fit heuristic under a binary-searched makespan
// with local improvement.
// `assigned`, when given, is planAssignLayer's plan of `inst` with min(nodeLimit, its default
// node limit): the start of every search, computed once for a layer planned with several maxExtra.
LayerPlan planCopyLayer(const LayerInstance& inst, int maxExtra, int64_t nodeLimit = 2000000, const LayerPlan* assigned = nullptr);

} // namespace fairkv
