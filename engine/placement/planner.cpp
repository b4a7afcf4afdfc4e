#include "placement/planner.h"

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>

namespace fairkv {

std::vector<std::string> plannerNames()
{
    return {"uniform", "fairkv-assign", "fairkv-copy"};
}

bool isPlanner(const std::string& name)
{
    const auto names = plannerNames();
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string plannerList()
{
    std::string out;
    for (const std::string& n : plannerNames())
        out += (out.empty() ? "" : ", ") + n;
    return out;
}

bool plansFromStats(const std::string& name)
{
    return isPlanner(name) && name != "uniform";
}

LayerInstance layerInstance(const PlacementStats& stats, int layer, int ranks)
{
    LayerInstance inst;
    inst.ranks = ranks;
    inst.cUnit = stats.cUnitMs;
    inst.work.assign(size_t(stats.units), std::vector<double>(size_t(stats.batch), 0.0));
    for (int r = 0; r < stats.batch; ++r)
        for (int u = 0; u < stats.units; ++u)
            inst.work[size_t(u)][size_t(r)] = stats.cTokMs * stats.kvLen[size_t(r)][size_t(layer)][size_t(u)];
    return inst;
}

namespace {

// Spends a global budget of extra replicas where they lower the modelled time most. `curves[l][k]`
// is layer l's best plan with at most k extra replicas. A layer may gain nothing from one copy and
// much from two, so no greedy choice is safe (best gain per copy gave a 2-layer instance 283 ms
// where 263 ms was possible): a knapsack over the layers (state: copies spent) finds the best
// split exactly. Where that table would be too large (thousands of layers with a budget of
// thousands of copies), the greedy choice of the best gain per copy over any jump is used, and
// `exact` comes back false.
std::vector<int> allocateCopies(const std::vector<std::vector<LayerPlan>>& curves, int budget, bool* exact)
{
    const size_t L = curves.size(), B = size_t(std::max(budget, 0));
    size_t work = 0;
    for (const auto& c : curves)
        work += c.size() * (B + 1);
    *exact = L * (B + 1) <= (size_t(1) << 23) && work <= (size_t(1) << 26);
    if (*exact) {
        constexpr double kInf = std::numeric_limits<double>::infinity();
        std::vector<double> best(B + 1, 0.0), next(B + 1);
        std::vector<std::vector<int>> pick(L, std::vector<int>(B + 1, 0)); // copies of layer l at spend b
        for (size_t l = 0; l < L; ++l) {
            std::fill(next.begin(), next.end(), kInf);
            for (size_t b = 0; b <= B; ++b)
                for (size_t k = 0; k < curves[l].size() && k <= b; ++k) {
                    const double t = best[b - k] + curves[l][k].makespan;
                    if (t < next[b] * (1 - 1e-12)) { // ties keep fewer copies
                        next[b] = t;
                        pick[l][b] = int(k);
                    }
                }
            best.swap(next);
        }
        size_t b = size_t(std::min_element(best.begin(), best.end()) - best.begin());
        std::vector<int> k(L, 0);
        for (size_t l = L; l-- > 0;) {
            k[l] = pick[l][b];
            b -= size_t(k[l]);
        }
        return k;
    }
    std::vector<int> k(curves.size(), 0);
    while (budget > 0) {
        double bestRate = 0.0;
        int bestLayer = -1, bestTo = 0;
        for (size_t l = 0; l < curves.size(); ++l)
            for (int to = k[l] + 1; to < int(curves[l].size()) && to - k[l] <= budget; ++to) {
                const double rate = (curves[l][size_t(k[l])].makespan - curves[l][size_t(to)].makespan) / (to - k[l]);
                if (rate > bestRate * (1 + 1e-12)) {
                    bestRate = rate;
                    bestLayer = int(l);
                    bestTo = to;
                }
            }
        if (bestLayer < 0)
            break;
        budget -= bestTo - k[size_t(bestLayer)];
        k[size_t(bestLayer)] = bestTo;
    }
    return k;
}

} // namespace

PlanResult planPlacement(const PlacementStats& stats, const PlanOptions& o)
{
    if (!isPlanner(o.planner))
        throw Error("--planner '" + o.planner + "' is not a planner (" + plannerList() + ")");
    if (o.ranks < 1)
        throw Error("--ranks must be at least 1");
    int copyBudget = -1; // unlimited
    if (o.memoryBudget) {
        if (stats.unitWeightBytes == 0)
            throw Error("--memory-budget needs the unit replica size: the stats have no 'unit_weight_bytes'");
        copyBudget = int(std::min<uint64_t>(*o.memoryBudget / stats.unitWeightBytes, 1u << 30));
    }
    const auto t0 = std::chrono::steady_clock::now();
    PlanResult res;
    res.warnings = stats.warnings;
    res.planner = o.planner;
    res.costSource = stats.costSource;
    std::vector<LayerInstance> insts;
    std::vector<LayerPlan> plans;
    constexpr int64_t kMinCopyNodes = 20000, kMaxCopyNodes = 4000000; // per layer
    constexpr int kEveryPoint = 16;  // copy counts planned one by one (see pointsOf)
    const int64_t copyNodes = std::clamp<int64_t>(o.copyNodes / std::max(stats.layers, 1), kMinCopyNodes, kMaxCopyNodes);
    for (int l = 0; l < stats.layers; ++l)
        insts.push_back(layerInstance(stats, l, o.ranks));
    std::vector<LayerPlan> assigned; // fairkv-copy: each layer's assignment, the start of all its searches
    const auto report = [&](const char* phase, size_t done) {
        if (o.progress)
            o.progress(phase, int(done), int(insts.size()));
    };
    for (const auto& inst : insts) {
        report("planning", plans.size());
        if (o.planner == "uniform") {
            plans.push_back(planUniformLayer(inst));
        } else if (o.planner == "fairkv-assign") {
            plans.push_back(planAssignLayer(inst, AssignOptions{o.sameCount, o.nodeLimit}));
        } else if (copyBudget == 0) { // no memory for a copy: the assignment problem, searched as fairkv-copy would
            plans.push_back(planAssignLayer(inst, AssignOptions{false, std::max(copyNodes, o.nodeLimit)}));
        } else {
            assigned.push_back(planAssignLayer(inst, AssignOptions{false, std::min(copyNodes, AssignOptions{}.nodeLimit)}));
            plans.push_back(planCopyLayer(inst, -1, copyNodes, &assigned.back()));
        }
    }
    report("planning", plans.size());
    // A layer's plans with at most 0, 1, ... copies up to its unlimited plan's: what a memory budget
    // chooses from. The searches are heuristic beyond their node limits, so one allowed fewer copies
    // can find a better plan than one allowed more: an unproven layer takes the best plan of its
    // curve, so more memory never plans worse.
    // The points share the layer's node budget. Every count of copies up to kEveryPoint is planned,
    // beyond it every half again as many: planning each of 500 counts (each a search of its own) had
    // taken minutes at 256-1024 ranks, where a plan wants that many copies.
    const auto pointsOf = [](int extra) {
        std::vector<int> ks;
        for (int k = 0; k < extra; k = k < kEveryPoint ? k + 1 : k + k / 2)
            ks.push_back(k);
        return ks;
    };
    const auto point = [&](size_t l, int k, int points) {
        return planCopyLayer(insts[l], k, std::max<int64_t>(copyNodes / points, kMinCopyNodes), &assigned[l]);
    };
    // Without a budget only the best point matters, and no curve is kept.
    const auto takeBestPoint = [&](size_t l) {
        const double tol = loadTolerance(insts[l]);
        const std::vector<int> ks = pointsOf(plans[l].extraReplicas);
        for (int k : ks)
            if (LayerPlan p = point(l, k, int(ks.size()) + 1); p.makespan < plans[l].makespan - tol
                || (p.makespan <= plans[l].makespan + tol && p.extraReplicas < plans[l].extraReplicas)) { // ties: fewer copies
                p.exact = false; // proven, if at all, for fewer copies only
                plans[l] = std::move(p);
            }
    };
    // With one, the whole curve: each point the best of those up to it (a plan that fits k copies
    // fits more).
    std::vector<std::vector<LayerPlan>> curves(o.planner == "fairkv-copy" && copyBudget >= 0 ? insts.size() : 0);
    const auto makeCurve = [&](size_t l) {
        std::vector<LayerPlan>& c = curves[l];
        if (!c.empty())
            return;
        const std::vector<int> ks = pointsOf(plans[l].extraReplicas);
        const double bound = lowerBoundWithCopies(insts[l]), tol = loadTolerance(insts[l]);
        for (size_t i = 0; i < ks.size(); ++i) // a count not planned takes the plan of the one below (it fits)
            for (int k = ks[i], next = i + 1 < ks.size() ? ks[i + 1] : plans[l].extraReplicas; k < next; ++k) {
                c.push_back(k == ks[i] ? point(l, k, int(ks.size()) + 1) : c.back());
                if (k != ks[i]) // a proof for fewer copies says nothing about more, unless it meets the bound
                    c.back().exact = reachesBound(c.back().makespan, bound, tol);
            }
        c.push_back(plans[l]);
        for (size_t k = 1; k < c.size(); ++k)
            if (c[k - 1].makespan <= c[k].makespan + loadTolerance(insts[l])) {
                const bool proven = c[k].exact; // a proof with fewer copies allowed says nothing about more
                c[k] = c[k - 1];
                c[k].exact = proven;
            }
        plans[l] = c.back();
    };
    if (o.planner == "fairkv-copy") {
        for (size_t l = 0; l < insts.size(); ++l) {
            report("copy counts", l);
            if (!plans[l].exact && plans[l].extraReplicas > 0)
                copyBudget >= 0 ? makeCurve(l) : takeBestPoint(l);
        }
        report("copy counts", insts.size());
    }
    if (o.planner == "fairkv-copy" && copyBudget >= 0) {
        int wanted = 0;
        for (const auto& p : plans)
            wanted += p.extraReplicas;
        if (wanted > copyBudget) {
            for (size_t l = 0; l < insts.size(); ++l)
                makeCurve(l);
            bool splitExact = true;
            const auto k = allocateCopies(curves, copyBudget, &splitExact);
            for (size_t l = 0; l < insts.size(); ++l) {
                plans[l] = std::move(curves[l][size_t(k[l])]);
                plans[l].exact = plans[l].exact && splitExact; // each layer is optimal only if the split is
            }
        }
        curves = {};
    }
    res.placement.name = o.planner;
    res.placement.ranks = o.ranks;
    res.placement.batch = stats.batch;
    // The MLP share and the collectives were measured on the stats' ranks; on other ranks they are
    // something else (a 1-rank MLP is 8 ranks' share 8 times over), so they are left out.
    double fixed = stats.mlpMs + stats.collectiveMs;
    if (fixed > 0 && stats.ranks > 0 && stats.ranks != o.ranks) {
        char ms[32];
        std::snprintf(ms, sizeof ms, "%.4g", fixed);
        res.warnings.push_back(std::string("the stats' MLP and collective time (") + ms + " ms per layer) was measured on "
                               + std::to_string(stats.ranks) + (stats.ranks == 1 ? " rank" : " ranks") + ", not "
                               + std::to_string(o.ranks) + ": left out, so the times are attention only");
        fixed = 0;
    }
    res.fixedLayerMs = fixed;
    // A fit on a short run can price a token at 0 (its KV too small to time): the plan then
    // balances weights alone, which no longer reads as balancing KV.
    if (stats.cTokMs == 0 && o.planner != "uniform")
        res.warnings.push_back("the stats price a retained token at 0 ms (c_tok_ms): the plan balances the units' weights "
                               "alone and ignores how much KV each unit keeps");
    for (size_t l = 0; l < insts.size(); ++l) {
        const LayerPlan uniform = planUniformLayer(insts[l]);
        // Never worse than the standard split, and no units moved (nor KV, in a live run) for no
        // modelled gain: on a tie the layer keeps the standard split, which is then as proven
        // optimal as the plan it replaces.
        if (uniform.makespan <= plans[l].makespan + loadTolerance(insts[l])) {
            const bool proven = plans[l].exact;
            plans[l] = uniform;
            plans[l].exact = plans[l].exact || proven;
        }
        // A memory budget that holds no copy leaves fair-copying the assignment problem, and its bound.
        const bool copies = o.planner == "fairkv-copy" && copyBudget != 0;
        const double bound = copies ? lowerBoundWithCopies(insts[l]) : lowerBoundNoCopies(insts[l]);
        res.layerMs.push_back(plans[l].makespan + fixed);
        // A proven optimum is the best bound there is: its layer has no gap.
        res.lowerBoundMs.push_back((plans[l].exact ? plans[l].makespan : std::min(bound, plans[l].makespan)) + fixed);
        res.uniformMs.push_back(uniform.makespan + fixed);
        res.exact.push_back(plans[l].exact);
        res.extraReplicas += plans[l].extraReplicas;
        res.totalMs += res.layerMs.back();
        res.lowerBoundTotalMs += res.lowerBoundMs.back();
        res.uniformTotalMs += res.uniformMs.back();
        res.placement.layers.push_back(std::move(plans[l].units));
    }
    res.extraWeightBytes = uint64_t(res.extraReplicas) * stats.unitWeightBytes;
    res.planMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

nlohmann::json PlanResult::toJson() const
{
    return {{"planner", planner},
            {"placement", placement.toJson()},
            {"layer_ms", layerMs},
            {"lower_bound_ms", lowerBoundMs},
            {"uniform_layer_ms", uniformMs},
            {"exact_layers", exact},
            {"total_ms", totalMs},
            {"lower_bound_total_ms", lowerBoundTotalMs},
            {"uniform_total_ms", uniformTotalMs},
            {"fixed_layer_ms", fixedLayerMs},
            {"speedup_over_uniform", speedupOverUniform()},
            {"gap_to_lower_bound", gap()},
            {"extra_replicas", extraReplicas},
            {"extra_weight_bytes", extraWeightBytes},
            {"plan_ms", planMs},
            {"timing", "modelled"},
            {"cost_source", costSource},
            {"warnings", warnings}};
}

} // namespace fairkv
