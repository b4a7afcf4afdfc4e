#include "placement/cost_model.h"

#include "placement/layer_planner.h"

#include <algorithm>
#include <cmath>

namespace fairkv {

namespace {
// (replica count, KV tokens served) of one rank in one layer.
std::pair<double, double> rankLoad(const Placement& p, const KvLengths& len, int layer, int rank)
{
    double replicas = 0.0, tokens = 0.0;
    for (const UnitPlacement& up : p.layers[size_t(layer)])
        for (const Replica& r : up.replicas)
            if (r.rank == rank) {
                replicas += 1.0;
                for (int req : r.requests)
                    tokens += len[size_t(req)][size_t(layer)][size_t(up.unit)];
            }
    return {replicas, tokens};
}
} // namespace

std::vector<double> CostModel::layerLowerBoundsMs(const KvLengths& len, int numRanks) const
{
    std::vector<double> out;
    const size_t layers = len.empty() ? 0 : len[0].size();
    for (size_t l = 0; l < layers; ++l) {
        LayerInstance inst;
        inst.ranks = numRanks;
        inst.cUnit = cUnitMs;
        const size_t units = len[0][l].size();
        inst.work.assign(units, std::vector<double>(len.size()));
        for (size_t r = 0; r < len.size(); ++r)
            for (size_t u = 0; u < units; ++u)
                inst.work[u][r] = cTokMs * len[r][l][u];
        out.push_back(lowerBoundWithCopies(inst));
    }
    return out;
}

CostModel CostModel::fit(const Placement& p, const KvLengths& len, const std::vector<std::vector<double>>& rankMs,
                         double unitToTokenBytes)
{
    std::vector<std::pair<double, double>> loads; // (replicas, tokens) of each (layer, rank)
    std::vector<double> times;
    for (size_t l = 0; l < rankMs.size(); ++l)
        for (int g = 0; g < int(rankMs[l].size()); ++g) {
            loads.push_back(rankLoad(p, len, int(l), g));
            times.push_back(rankMs[l][size_t(g)]);
        }
    double sxx = 0, sxy = 0, syy = 0, sxt = 0, syt = 0;
    for (size_t i = 0; i < loads.size(); ++i) {
        const auto [x, y] = loads[i];
        sxx += x * x;
        sxy += x * y;
        syy += y * y;
        sxt += x * times[i];
        syt += y * times[i];
    }
    CostModel m;
    m.source = "fitted to this run's measured per-rank attention times";
    // Collinear loads (1 - cos² of the two columns near 0) leave the split to rounding.
    const double det = sxx * syy - sxy * sxy;
    const bool separable = sxx > 0 && syy > 0 && det > 1e-6 * sxx * syy;
    if (separable) {
        m.cUnitMs = (sxt * syy - syt * sxy) / det;
        m.cTokMs = (syt * sxx - sxt * sxy) / det;
    }
    if (!separable || m.cUnitMs < 0 || m.cTokMs < 0) {
        if (unitToTokenBytes > 0) {
            // t ≈ s · (ratio · replicas + tokens): the shape's split, the run's scale.
            double szz = 0, szt = 0;
            for (size_t i = 0; i < loads.size(); ++i) {
                const double z = unitToTokenBytes * loads[i].first + loads[i].second;
                szz += z * z;
                szt += z * times[i];
            }
            const double scale = szz > 0 ? std::max(0.0, szt / szz) : 0.0;
            m.cTokMs = scale;
            m.cUnitMs = scale * unitToTokenBytes;
            m.source = std::string("scaled to this run's measured per-rank attention times, split between units and tokens by "
                                   "the model's bytes (this run's ")
                       + (separable ? "times gave a negative constant" : "loads cannot tell the two apart") + ")";
            return m;
        }
        // Without the shape: fit the term the times can carry alone.
        if (!separable || m.cUnitMs < 0) {
            m.cUnitMs = 0;
            m.cTokMs = syy > 0 ? syt / syy : 0;
        }
        if (m.cTokMs < 0) {
            m.cTokMs = 0;
            m.cUnitMs = sxx > 0 ? sxt / sxx : 0;
        }
    }
    return m;
}

} // namespace fairkv
