#include "aggregation.h"

#include "common/error.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace fairkv::profiler {

namespace {

// Length of the union of [start, end) intervals, in ms. Kernels of one rank may overlap: a kernel
// started by programmatic dependent launch (the attention's combine) begins while the one before
// it still runs, and its record spans that wait too.
double coveredMs(std::vector<std::pair<int64_t, int64_t>>& spans)
{
    std::sort(spans.begin(), spans.end());
    int64_t total = 0, reach = INT64_MIN;
    for (const auto& [start, end] : spans) {
        const int64_t from = std::max(start, reach);
        if (end > from)
            total += end - from;
        reach = std::max(reach, end);
    }
    return double(total) / 1e6;
}

} // namespace

RunAggregate aggregate(const TraceBuffer& trace, int ranks)
{
    RunAggregate out;
    out.ranks = ranks;
    std::map<std::pair<int, int>, LayerAggregate> cells;
    // Collectives timed on each rank (NCCL, one record per rank) run together, and each rank's
    // includes waiting for the last rank to arrive, an imbalance the layer's slowest rank already
    // accounts for. The last rank's, the shortest, is the collective itself.
    std::map<std::pair<int, int>, std::vector<double>> rankCollectives;
    auto cell = [&](int step, int layer) -> LayerAggregate& {
        auto it = cells.find({step, layer});
        if (it == cells.end()) {
            LayerAggregate a;
            a.step = step;
            a.layer = layer;
            a.attentionMs.assign(size_t(ranks), 0.0);
            a.mlpMs.assign(size_t(ranks), 0.0);
            it = cells.emplace(std::make_pair(step, layer), std::move(a)).first;
        }
        return it->second;
    };
    // A rank's time in a phase of a layer is how long any of its kernels (or ops) of that phase ran.
    std::map<std::tuple<int, int, int, Phase>, std::vector<std::pair<int64_t, int64_t>>> spans;
    for (const TraceRecord& r : trace.records) {
        if (r.kind == RecordKind::Range || r.layer < 0)
            continue;
        if (r.rank >= ranks)
            throw fairkv::Error("trace record on rank " + std::to_string(r.rank) + " but the run has " + std::to_string(ranks) + " ranks");
        spans[{r.step, r.layer, r.rank, r.phase}].emplace_back(r.startNs, r.endNs);
    }
    for (auto& [key, list] : spans) {
        const auto [step, layer, rank, phase] = key;
        const double ms = coveredMs(list);
        LayerAggregate& a = cell(step, layer);
        if (phase == Phase::Collective && rank >= 0) {
            auto& perRank = rankCollectives[{step, layer}];
            perRank.resize(size_t(ranks), 0.0);
            perRank[size_t(rank)] += ms;
        } else if (phase == Phase::Collective)
            a.collectiveMs += ms;
        else if (rank >= 0 && phase == Phase::Attention)
            a.attentionMs[size_t(rank)] += ms;
        else if (rank >= 0 && phase == Phase::Mlp)
            a.mlpMs[size_t(rank)] += ms;
    }
    for (const auto& [key, perRank] : rankCollectives)
        cells.at(key).collectiveMs += *std::min_element(perRank.begin(), perRank.end());
    out.rankBusyMs.assign(size_t(ranks), 0.0);
    out.rankIdleMs.assign(size_t(ranks), 0.0);
    double sumMax = 0.0, sumMean = 0.0;
    std::map<int, bool> steps;
    for (auto& [key, a] : cells) {
        std::vector<double> busy(static_cast<size_t>(ranks));
        for (int g = 0; g < ranks; ++g)
            busy[size_t(g)] = a.attentionMs[size_t(g)] + a.mlpMs[size_t(g)];
        a.slowestRank = int(std::max_element(busy.begin(), busy.end()) - busy.begin());
        a.slowestMs = busy[size_t(a.slowestRank)];
        double mean = 0.0;
        a.idleMs.resize(size_t(ranks));
        for (int g = 0; g < ranks; ++g) {
            a.idleMs[size_t(g)] = a.slowestMs - busy[size_t(g)];
            mean += busy[size_t(g)] / ranks;
        }
        a.imbalance = mean > 0 ? a.slowestMs / mean : 1.0;
        if (a.step >= 0) {
            steps[a.step] = true;
            for (int g = 0; g < ranks; ++g) {
                out.rankBusyMs[size_t(g)] += busy[size_t(g)];
                out.rankIdleMs[size_t(g)] += a.idleMs[size_t(g)];
                out.attentionMs += a.attentionMs[size_t(g)];
                out.mlpMs += a.mlpMs[size_t(g)];
            }
            out.collectiveMs += a.collectiveMs;
            out.criticalMs += a.slowestMs + a.collectiveMs;
            sumMax += a.slowestMs;
            sumMean += mean;
        }
        out.layers.push_back(std::move(a));
    }
    out.decodeSteps = int(steps.size());
    out.imbalance = sumMean > 0 ? sumMax / sumMean : 1.0;
    return out;
}

} // namespace fairkv::profiler
