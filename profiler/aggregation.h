#pragma once
#include "trace_record.h"

#include <vector>

namespace fairkv::profiler {

// One layer of one step (decode step, or -1 for prefill).
struct LayerAggregate
{
    int step = -1;
    int layer = 0;
    std::vector<double> attentionMs; // [rank]
    std::vector<double> mlpMs;       // [rank]
    double collectiveMs = 0.0;
    int slowestRank = 0;
    double slowestMs = 0.0;          // busy time (attention + MLP) of the slowest rank
    std::vector<double> idleMs;      // [rank] how long each rank waits for the slowest
    double imbalance = 1.0;          // max / mean busy time
};

struct RunAggregate
{
    int ranks = 0;
    std::vector<LayerAggregate> layers; // ordered by (step, layer)
    std::vector<double> rankBusyMs;     // [rank] over decode steps
    std::vector<double> rankIdleMs;     // [rank] over decode steps
    double attentionMs = 0.0, mlpMs = 0.0, collectiveMs = 0.0; // decode totals, summed over ranks
    double criticalMs = 0.0; // decode: sum over (step, layer) of slowest rank + collectives
    int decodeSteps = 0;
    double imbalance = 1.0; // over decode steps: sum of max / sum of mean
};

// Kernel and Op records per (step, layer, rank) and phase: the time covered by any of them
// (overlapping records count once), the same numbers whether the records came from CUPTI or the
// CPU tracer. Records with rank >= `ranks` are an error.
RunAggregate aggregate(const TraceBuffer& trace, int ranks);

} // namespace fairkv::profiler
