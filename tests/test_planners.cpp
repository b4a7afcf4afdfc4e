// FairKV planners: exact on small instances (checked by brute force), valid, within memory budget,
// never worse than uniform; lower bounds never above an optimum; planned placements keep outputs.
#include "common/rng.h"
#include "model/model_weights.h"
#include "placement/cost_model.h"
#include "placement/planner.h"
#include "runtime/inference_engine.h"
#include "runtime/run.h"
#include "test_util.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>

using namespace fairkv;

namespace {

LayerInstance randomInstance(Rng& rng, int units, int ranks, int batch)
{
    LayerInstance inst;
    inst.ranks = ranks;
    inst.cUnit = rng.uniform() < 0.2 ? 0.0 : 2.0 * rng.uniform();
    inst.work.assign(size_t(units), std::vector<double>(size_t(batch)));
    for (auto& unit : inst.work) {
        const double scale = std::exp(1.5 * rng.normal());
        for (double& w : unit)
            w = rng.uniform() < 0.15 ? std::floor(4 * rng.uniform()) : scale * std::exp(0.5 * rng.normal());
    }
    return inst;
}

double bruteAssign(const LayerInstance& inst, bool sameCount)
{
    const int u = inst.units(), n = inst.ranks;
    int64_t combos = 1;
    for (int i = 0; i < u; ++i)
        combos *= n;
    const int hi = (u + n - 1) / n, lo = u / n;
    double best = std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < combos; ++c) {
        std::vector<double> loads(size_t(n), 0.0);
        std::vector<int> counts(size_t(n), 0);
        int64_t x = c;
        for (int i = 0; i < u; ++i, x /= n) {
            loads[size_t(x % n)] += inst.unitCost(i);
            ++counts[size_t(x % n)];
        }
        if (sameCount && std::any_of(counts.begin(), counts.end(), [&](int k) { return k < lo || k > hi; }))
            continue;
        best = std::min(best, *std::max_element(loads.begin(), loads.end()));
    }
    return best;
}

// The optimum without a count rule by dynamic programming over sets of units (3^units steps),
// for instances too large for bruteAssign(): f_k[set] is the best makespan of `set` on k ranks.
double optimalAssign(const LayerInstance& inst)
{
    const uint32_t full = (1u << inst.units()) - 1;
    std::vector<double> sum(size_t(full) + 1, 0.0);
    for (uint32_t m = 1; m <= full; ++m)
        sum[m] = sum[m & (m - 1)] + inst.unitCost(__builtin_ctz(m));
    std::vector<double> f = sum, g(f.size(), 0.0);
    for (int k = 2; k <= inst.ranks; ++k) {
        for (uint32_t m = 1; m <= full; ++m) {
            const uint32_t low = m & (~m + 1), rest = m ^ low; // the rank of the lowest unit takes it and a subset of the rest
            double best = f[m];
            for (uint32_t s = rest;; s = (s - 1) & rest) {
                best = std::min(best, std::max(sum[s | low], f[m ^ (s | low)]));
                if (s == 0)
                    break;
            }
            g[m] = best;
        }
        std::swap(f, g);
    }
    return f[full];
}

// Every (unit, request) to every rank; a unit pays cUnit once per rank it appears on.
double bruteCopy(const LayerInstance& inst, int maxExtra)
{
    const int u = inst.units(), b = inst.batch(), n = inst.ranks, items = u * b;
    int64_t combos = 1;
    for (int i = 0; i < items; ++i)
        combos *= n;
    double best = std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < combos; ++c) {
        std::vector<double> loads(size_t(n), 0.0);
        std::vector<std::vector<char>> on(size_t(u), std::vector<char>(size_t(n), 0));
        int64_t x = c;
        int extra = 0;
        for (int i = 0; i < items; ++i, x /= n) {
            const int g = int(x % n), unit = i / b, req = i % b;
            loads[size_t(g)] += inst.work[size_t(unit)][size_t(req)];
            on[size_t(unit)][size_t(g)] = 1;
        }
        for (int unit = 0; unit < u; ++unit) {
            int reps = 0;
            for (int g = 0; g < n; ++g)
                if (on[size_t(unit)][size_t(g)]) {
                    loads[size_t(g)] += inst.cUnit;
                    ++reps;
                }
            extra += reps - 1;
        }
        if (maxExtra >= 0 && extra > maxExtra)
            continue;
        best = std::min(best, *std::max_element(loads.begin(), loads.end()));
    }
    return best;
}

void checkValid(const LayerInstance& inst, const LayerPlan& plan)
{
    Placement p;
    p.ranks = inst.ranks;
    p.batch = inst.batch();
    p.layers = {plan.units};
    p.validate(1, inst.units(), inst.ranks, inst.batch());
    const auto loads = rankLoads(inst, plan.units);
    QVERIFY(std::abs(*std::max_element(loads.begin(), loads.end()) - plan.makespan) < 1e-9);
}

PlacementStats randomStats(uint64_t seed, int layers, int units, int batch)
{
    Rng rng(seed);
    PlacementStats s;
    s.layers = layers;
    s.units = units;
    s.batch = batch;
    s.cUnitMs = 0.01;
    s.cTokMs = 1e-4;
    s.unitWeightBytes = 1000;
    s.costSource = "test";
    std::vector<double> headScale(size_t(layers * units));
    for (double& h : headScale)
        h = std::exp(1.2 * rng.normal());
    s.kvLen.assign(size_t(batch), {});
    for (int r = 0; r < batch; ++r)
        for (int l = 0; l < layers; ++l) {
            s.kvLen[size_t(r)].emplace_back();
            for (int u = 0; u < units; ++u)
                s.kvLen[size_t(r)].back().push_back(std::round(200 * headScale[size_t(l * units + u)] * (0.5 + rng.uniform())));
        }
    return s;
}

} // namespace

class TestPlanners : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    // The cost constants fitted to per-rank times: exact where the run's loads separate the two
    // terms; where they cannot (one rank: every layer's unit count in step with its tokens), the
    // model's bytes split them and the times give the scale (c_unit had been fitted to 0, and a plan
    // for more ranks then took extra copies for free).
    void costFitSeparatesUnitsAndTokens()
    {
        const double cUnit = 0.05, cTok = 0.001;
        const auto timesOf = [&](const Placement& p, const KvLengths& len) {
            std::vector<std::vector<double>> ms(p.layers.size());
            for (size_t l = 0; l < p.layers.size(); ++l) {
                ms[l].assign(size_t(p.ranks), 0.0);
                for (const UnitPlacement& up : p.layers[l])
                    for (const Replica& r : up.replicas) {
                        ms[l][size_t(r.rank)] += cUnit;
                        for (int q : r.requests)
                            ms[l][size_t(r.rank)] += cTok * len[size_t(q)][l][size_t(up.unit)];
                    }
            }
            return ms;
        };
        // Two layers, four units, two requests; Ada-SnapKV-like: every layer keeps the same total.
        const KvLengths len = {{{10, 200, 30, 160}, {100, 100, 150, 50}}, {{90, 40, 250, 20}, {60, 140, 80, 120}}};
        Placement assign = Placement::uniform(2, 4, 2, 2);
        assign.layers[0][1].replicas[0].rank = 0; // three units on rank 0 in layer 0: loads now separate the terms
        const CostModel sep = CostModel::fit(assign, len, timesOf(assign, len));
        QVERIFY(std::abs(sep.cUnitMs - cUnit) < 1e-9 && std::abs(sep.cTokMs - cTok) < 1e-12);
        QVERIFY(sep.source.find("fitted") == 0);

        const Placement one = Placement::uniform(2, 4, 1, 2);
        const CostModel blind = CostModel::fit(one, len, timesOf(one, len));
        QCOMPARE(blind.cUnitMs, 0.0); // without the shape: the token term alone
        const CostModel shaped = CostModel::fit(one, len, timesOf(one, len), cUnit / cTok);
        QVERIFY2(std::abs(shaped.cUnitMs - cUnit) < 1e-9 && std::abs(shaped.cTokMs - cTok) < 1e-12, shaped.source.c_str());
        QVERIFY(shaped.source.find("split between units and tokens by the model's bytes") != std::string::npos);
        // A ratio off by 2x: the split follows the bytes, the scale the times (every layer's total
        // is reproduced).
        const CostModel off = CostModel::fit(one, len, timesOf(one, len), 2 * cUnit / cTok);
        QVERIFY(std::abs(off.cUnitMs / off.cTokMs - 2 * cUnit / cTok) < 1e-6);
        QVERIFY(std::abs((4 * off.cUnitMs + 800 * off.cTokMs) - (4 * cUnit + 800 * cTok)) < 1e-9);
    }

    // The gap to a lower bound, as the plan's JSON, the CLI and the placement editor show it: a time
    // equal to its bound but for rounding reads 0 (not -0.0%), a real shortfall stays visible.
    void gapAboveBound_data()
    {
        QTest::addColumn<double>("value");
        QTest::addColumn<double>("bound");
        QTest::addColumn<double>("gap");
        QTest::newRow("equal") << 0.75 << 0.75 << 0.0;
        QTest::newRow("a few ulps under") << 0.1 + 0.2 << 0.30000000000000004 * (1 + 4e-16) << 0.0;
        QTest::newRow("above") << 1.05 << 1.0 << 0.05;
        QTest::newRow("really under") << 0.9 << 1.0 << -0.1;
        QTest::newRow("no bound") << 2.0 << 0.0 << 0.0;
    }
    void gapAboveBound()
    {
        QFETCH(double, value);
        QFETCH(double, bound);
        QFETCH(double, gap);
        QVERIFY2(std::abs(fairkv::gapAbove(value, bound) - gap) < 1e-12, qPrintable(QString::number(fairkv::gapAbove(value, bound), 'g', 17)));
        QVERIFY(!std::signbit(fairkv::gapAbove(value, bound)) || gap < 0);
    }

    void assignIsExactOnSmallInstances()
    {
        Rng rng(1);
        for (int trial = 0; trial < 150; ++trial) {
            const int n = 2 + int(rng.below(3)), u = 2 + int(rng.below(6));
            const LayerInstance inst = randomInstance(rng, u, n, 1 + int(rng.below(3)));
            for (bool same : {false, true}) {
                const LayerPlan plan = planAssignLayer(inst, AssignOptions{same, 1000000});
                checkValid(inst, plan);
                QVERIFY(plan.exact);
                const double brute = bruteAssign(inst, same);
                QVERIFY2(std::abs(plan.makespan - brute) <= 1e-9 * std::max(1.0, brute),
                         qPrintable(QStringLiteral("trial %1: planner %2, brute force %3").arg(trial).arg(plan.makespan).arg(brute)));
                QVERIFY(lowerBoundNoCopies(inst) <= brute * (1 + 1e-12));
            }
        }
    }

    // Up to 20 units the assignment is proven optimal with the planner's default budget (a
    // depth-first search alone had run out of nodes on half of the 16-20-unit layers tried).
    void assignIsExactUpToTwentyUnits()
    {
        Rng rng(5);
        for (int trial = 0; trial < 6; ++trial) {
            const int n = 3 + trial % 4;
            const LayerInstance inst = randomInstance(rng, 16, n, 1 + int(rng.below(2)));
            const LayerPlan plan = planAssignLayer(inst);
            checkValid(inst, plan);
            const double best = optimalAssign(inst);
            QVERIFY2(plan.exact, qPrintable(QStringLiteral("trial %1 (%2 ranks) not proven").arg(trial).arg(n)));
            QVERIFY2(std::abs(plan.makespan - best) <= 1e-9 * std::max(1.0, best),
                     qPrintable(QStringLiteral("trial %1: planner %2, optimum %3").arg(trial).arg(plan.makespan).arg(best)));
        }
    }

    void copyIsExactOnSmallInstances()
    {
        Rng rng(2);
        for (int trial = 0; trial < 120; ++trial) {
            const int n = 2 + int(rng.below(2));
            const int maxItems = n == 2 ? 12 : 8;
            const int b = 1 + int(rng.below(3));
            const int u = std::max(1, std::min(2 + int(rng.below(4)), maxItems / b));
            const LayerInstance inst = randomInstance(rng, u, n, b);
            for (int maxExtra : {-1, 0, 1}) {
                const LayerPlan plan = planCopyLayer(inst, maxExtra, 1000000);
                checkValid(inst, plan);
                QVERIFY(plan.exact);
                if (maxExtra >= 0)
                    QVERIFY(plan.extraReplicas <= maxExtra);
                const double brute = bruteCopy(inst, maxExtra);
                QVERIFY2(std::abs(plan.makespan - brute) <= 1e-9 * std::max(1.0, brute),
                         qPrintable(QStringLiteral("trial %1 (U=%2 b=%3 N=%4 extra %5): planner %6, brute force %7")
                                        .arg(trial).arg(u).arg(b).arg(n).arg(maxExtra).arg(plan.makespan).arg(brute)));
                if (maxExtra < 0)
                    QVERIFY2(lowerBoundWithCopies(inst) <= brute * (1 + 1e-9),
                             qPrintable(QStringLiteral("bound %1 above optimum %2").arg(lowerBoundWithCopies(inst)).arg(brute)));
            }
        }
    }

    // Beyond the brute force's reach: 6 units x batch 3 on 3 ranks, where every rank can carry
    // exactly 92 (a placement found by hand). The heuristics alone stopped at 96; the copy search
    // that now runs up to 64 (unit, request) pairs finds the optimum and proves it at the bound.
    // Also with cost constants of 1e-14 ms a token: an absolute tolerance lost the optimum there.
    void copyFindsTheOptimumOfAMidSizedLayer()
    {
        const std::vector<std::vector<double>> kv = {{10, 45, 43}, {7, 11, 14}, {15, 15, 9}, {8, 15, 13}, {1, 15, 20}, {14, 18, 3}};
        for (const double scale : {1.0, 1e-14}) {
            LayerInstance inst;
            inst.ranks = 3;
            for (const auto& unit : kv) {
                inst.work.emplace_back();
                for (double tokens : unit)
                    inst.work.back().push_back(tokens * scale);
            }
            const LayerPlan plan = planCopyLayer(inst, -1);
            checkValid(inst, plan);
            QVERIFY2(std::abs(plan.makespan - 92 * scale) <= 1e-9 * 92 * scale, qPrintable(QString::number(plan.makespan / scale)));
            QVERIFY(plan.exact);
        }
    }

    void heuristicsAreValidAndBounded()
    {
        Rng rng(3);
        for (int trial = 0; trial < 30; ++trial) {
            const int n = 2 + int(rng.below(7)), u = 8 + int(rng.below(57)), b = 1 + int(rng.below(32));
            const LayerInstance inst = randomInstance(rng, u, n, b);
            const LayerPlan uniform = planUniformLayer(inst);
            const LayerPlan assign = planAssignLayer(inst, AssignOptions{false, 20000});
            const LayerPlan copy = planCopyLayer(inst, -1, 20000);
            checkValid(inst, assign);
            checkValid(inst, copy);
            QVERIFY(lowerBoundNoCopies(inst) <= assign.makespan * (1 + 1e-12));
            QVERIFY(lowerBoundWithCopies(inst) <= copy.makespan * (1 + 1e-12));
            QVERIFY(lowerBoundWithCopies(inst) <= lowerBoundNoCopies(inst) * (1 + 1e-12));
            QVERIFY(copy.makespan <= assign.makespan * (1 + 1e-12));
            QVERIFY(assign.makespan <= uniform.makespan * (1 + 1e-12) || !assign.exact);
        }
    }

    // Progress per layer and pass, ending at every pass's total: `fairkv plan` shows it on a
    // terminal (a large instance had planned silently for minutes).
    void planReportsProgressPerLayer()
    {
        const PlacementStats stats = randomStats(3, 5, 8, 16);
        for (const char* planner : {"fairkv-assign", "fairkv-copy"}) {
            PlanOptions o;
            o.planner = planner;
            o.ranks = 4;
            std::vector<std::tuple<std::string, int, int>> calls;
            o.progress = [&](const std::string& phase, int done, int total) { calls.emplace_back(phase, done, total); };
            planPlacement(stats, o);
            QVERIFY(!calls.empty());
            QCOMPARE(calls.front(), std::make_tuple(std::string("planning"), 0, 5));
            QCOMPARE(calls.back(), std::make_tuple(std::string(o.planner == "fairkv-copy" ? "copy counts" : "planning"), 5, 5));
            for (size_t i = 1; i < calls.size(); ++i) // each pass counts up
                QVERIFY(std::get<0>(calls[i]) != std::get<0>(calls[i - 1]) || std::get<1>(calls[i]) == std::get<1>(calls[i - 1]) + 1);
        }
    }

    void planNeverWorseThanUniformAndRespectsMemory()
    {
        for (uint64_t seed = 0; seed < 6; ++seed) {
            const PlacementStats stats = randomStats(seed, 6, 8, 16);
            for (int ranks : {2, 4, 8}) {
                PlanOptions o;
                o.ranks = ranks;
                for (const auto& name : plannerNames()) {
                    o.planner = name;
                    const PlanResult r = planPlacement(stats, o);
                    r.placement.validate(6, 8, ranks, 16);
                    QVERIFY(r.totalMs <= r.uniformTotalMs * (1 + 1e-12));
                    QVERIFY(r.lowerBoundTotalMs <= r.totalMs * (1 + 1e-12));
                }
                o.planner = "fairkv-copy";
                const PlanResult unlimited = planPlacement(stats, o);
                o.memoryBudget = 2 * stats.unitWeightBytes + 10;
                const PlanResult limited = planPlacement(stats, o);
                QVERIFY(limited.extraReplicas <= 2);
                QVERIFY(limited.extraWeightBytes <= *o.memoryBudget);
                QVERIFY(limited.totalMs >= unlimited.totalMs * (1 - 1e-12));
                o.memoryBudget = 0;
                const PlanResult none = planPlacement(stats, o);
                QCOMPARE(none.extraReplicas, 0);
                // No copy fits: the bound is the assignment's, not one that copies could reach.
                o.planner = "fairkv-assign";
                o.memoryBudget.reset();
                QCOMPARE(none.lowerBoundTotalMs, planPlacement(stats, o).lowerBoundTotalMs);
            }
        }
    }

    // The copy search is heuristic beyond its node limit, and one allowed fewer copies sometimes
    // finds a better layer plan than the unlimited one: a memory budget had beaten no budget (in 12
    // of 12 random 6-layer instances below the unlimited plan's copy count, by up to 0.5%).
    void moreMemoryNeverPlansWorse()
    {
        for (uint64_t seed = 20; seed < 23; ++seed) {
            const PlacementStats stats = randomStats(seed, 6, 6, 8);
            PlanOptions o;
            o.ranks = 4;
            o.copyNodes = 2000000;
            const PlanResult unlimited = planPlacement(stats, o);
            QVERIFY(unlimited.extraReplicas > 3);
            double before = INFINITY;
            for (int copies : {0, 1, unlimited.extraReplicas - 3, unlimited.extraReplicas - 1, unlimited.extraReplicas,
                               unlimited.extraReplicas + 4}) {
                o.memoryBudget = uint64_t(copies) * stats.unitWeightBytes;
                const PlanResult limited = planPlacement(stats, o);
                QVERIFY(limited.extraReplicas <= copies);
                const std::string what = "seed " + std::to_string(seed) + ", " + std::to_string(copies) + " copies: "
                                         + std::to_string(limited.totalMs) + " ms, unlimited " + std::to_string(unlimited.totalMs);
                QVERIFY2(limited.totalMs >= unlimited.totalMs * (1 - 1e-12), what.c_str());
                QVERIFY2(limited.totalMs <= before * (1 + 1e-12), what.c_str());
                before = limited.totalMs;
            }
            QCOMPARE(before, unlimited.totalMs); // a budget that holds every copy plans as none does
        }
    }

    // An equal split is one placement among all, so the free planners never plan worse than it
    // (above 20 units the free search is a heuristic, and had lost to the rule's).
    void freePlannersBeatTheEqualSplit()
    {
        // A probe's instance (2 layers of 24 units): free 14.499, equal split 14.483 ms before.
        const PlacementStats probe = PlacementStats::fromJson(nlohmann::json::parse(R"({"layers":2,"units":24,"batch":4,"kv_len":[[[119,154,343,132,809,24,205,35,139,105,104,12,164,315,1113,404,9,34,460,42,189,25,380,607],[205,205,185,68,292,141,170,266,1078,1343,110,287,233,837,21,54,368,306,13,16,909,217,301,192]],[[56,27,49,29,102,150,57,2833,438,42,129,134,198,81,375,168,314,40,97,307,307,90,95,234],[889,111,303,211,128,33,140,146,104,200,79,92,607,1689,118,64,31,239,429,345,826,451,1486,84]],[[35,29,293,192,73,171,140,156,110,122,735,80,304,32,225,257,28,159,140,281,16,119,109,40],[481,60,85,81,693,527,147,230,198,15,804,1521,98,18,1042,780,238,1986,425,178,542,395,491,888]],[[151,549,55,51,29,131,584,93,116,138,200,173,51,125,227,224,13,487,1643,560,306,422,392,283],[111,179,300,94,104,122,1238,26,220,244,37,34,413,23,30,369,44,669,137,209,181,371,17,71]]],"c_unit_ms":0.02,"c_tok_ms":0.001,"unit_weight_bytes":196608})"), "probe.json");
        int strictlyBetter = 0;
        for (uint64_t seed = 30; seed < 42; ++seed) {
            const PlacementStats stats = seed == 30 ? probe : randomStats(seed, 1, 24, 4);
            PlanOptions o;
            o.ranks = 4;
            o.planner = "fairkv-assign";
            o.sameCount = true;
            const double equal = planPlacement(stats, o).totalMs;
            o.sameCount = false;
            const double free = planPlacement(stats, o).totalMs;
            o.planner = "fairkv-copy";
            o.copyNodes = 200000;
            const double copy = planPlacement(stats, o).totalMs;
            const std::string what = "seed " + std::to_string(seed) + ": equal " + std::to_string(equal) + ", free "
                                     + std::to_string(free) + ", copy " + std::to_string(copy);
            QVERIFY2(free <= equal * (1 + 1e-12) && copy <= free * (1 + 1e-12), what.c_str());
            strictlyBetter += free < equal * (1 - 1e-9);
        }
        QVERIFY(strictlyBetter > 0); // the rule does bind somewhere
    }

    // Layer 0 gains 1 ms from a copy; layer 1 gains nothing from one copy and 59 ms from two.
    // Best gain per copy spent the budget of two on layer 0 and one on layer 1 (283 ms): the split
    // over the layers is exact (263 ms, both copies on layer 1).
    void copyBudgetGoesWhereTwoCopiesPay()
    {
        const PlacementStats s = PlacementStats::fromJson(nlohmann::json::parse(R"({"layers":2,"units":2,"batch":2,
            "kv_len":[[[40,0],[120,60]],[[40,0],[120,60]]],"c_unit_ms":1,"c_tok_ms":1,"unit_weight_bytes":100})"), "stats.json");
        PlanOptions o;
        o.ranks = 2;
        o.planner = "fairkv-copy";
        o.memoryBudget = 200;
        const PlanResult r = planPlacement(s, o);
        QCOMPARE(r.totalMs, 263.0);
        QCOMPARE(r.extraReplicas, 2);
        QCOMPARE(r.placement.layers[0][0].replicas.size(), size_t(1));
    }

    // 18 (unit, request) pairs on 4 ranks: the exact search needs about 2 million nodes to prove
    // 20.63 ms (a brute force over every placement agrees); with 200000 it stopped at 20.676 ms.
    void smallCopyLayerIsSolvedExactly()
    {
        const PlacementStats s = PlacementStats::fromJson(nlohmann::json::parse(R"({"layers":1,"units":6,"batch":3,
            "kv_len":[[[0,0,3,1,0,2]],[[8,8.26,0,8.258,7.165,7.082]],[[1.954,8.03,3.224,3.666,1.723,8.676]]],
            "c_unit_ms":1,"c_tok_ms":1,"unit_weight_bytes":7})"), "stats.json");
        PlanOptions o;
        o.ranks = 4;
        o.planner = "fairkv-copy";
        const PlanResult r = planPlacement(s, o);
        QVERIFY2(std::abs(r.totalMs - 20.63) < 1e-9, std::to_string(r.totalMs).c_str());
        QVERIFY(r.exact[0]);
        // A proven optimum is the best bound: no gap (the closed-form bounds had left one).
        QCOMPARE(r.lowerBoundMs[0], r.layerMs[0]);
        QCOMPARE(r.gap(), 0.0);
    }

    void copiesHelpWhenOneUnitDominates()
    {
        // 8 KV heads on 8 ranks: reassignment cannot help, only copying can (design §1).
        PlacementStats s = randomStats(9, 1, 8, 16);
        for (auto& req : s.kvLen)
            req[0][3] *= 6;
        PlanOptions o;
        o.ranks = 8;
        o.planner = "fairkv-assign";
        const PlanResult assign = planPlacement(s, o);
        o.planner = "fairkv-copy";
        const PlanResult copy = planPlacement(s, o);
        QVERIFY(std::abs(assign.totalMs - assign.uniformTotalMs) < 1e-12);
        QVERIFY(copy.totalMs < 0.8 * copy.uniformTotalMs);
        QVERIFY(copy.extraReplicas > 0);
    }

    void plannedPlacementKeepsOutputs()
    {
        ModelConfig c = ModelConfig::builtin("tiny", 2);
        c.vocabSize = 512;
        auto w = std::make_shared<ModelWeights>(ModelWeights::synthetic(c, 8));
        CompressionOptions comp;
        comp.policy = CompressionPolicy::AdaSnapKV;
        comp.budget = 48;
        comp.window = 8;
        const auto prompts = makePrompts(4, 96, 512, 3);
        int copies = 0;
        auto run = [&](int ranks, const std::string& planner) -> std::vector<std::vector<float>> {
            InferenceEngine e(w, ranks, UnitMode::Gqa);
            auto logits = e.prefill(prompts, comp, Placement::uniform(2, 8, ranks, 4)).lastLogits;
            if (!planner.empty()) {
                PlacementStats s;
                s.layers = 2;
                s.units = 8;
                s.batch = 4;
                for (const auto& req : e.kvLengths()) {
                    s.kvLen.emplace_back();
                    for (const auto& layer : req)
                        s.kvLen.back().emplace_back(layer.begin(), layer.end());
                }
                s.cUnitMs = 1e-4; // KV-dominated constants, so copies pay
                s.cTokMs = 1e-3;
                PlanOptions o;
                o.planner = planner;
                o.ranks = ranks;
                const PlanResult plan = planPlacement(s, o);
                copies = plan.extraReplicas;
                e.setPlacement(plan.placement);
            }
            std::vector<std::vector<float>> out;
            for (int step = 0; step < 3; ++step) {
                std::vector<int> next;
                for (const auto& l : logits)
                    next.push_back(int(std::max_element(l.begin(), l.end()) - l.begin()));
                logits = e.decodeStep(next);
                out.insert(out.end(), logits.begin(), logits.end());
            }
            return out;
        };
        const auto ref = run(1, "");
        for (const char* planner : {"fairkv-assign", "fairkv-copy"}) {
            const auto got = run(4, planner);
            if (std::string(planner) == "fairkv-copy")
                QVERIFY2(copies > 0, "the copy planner should replicate under KV-dominated constants");
            for (size_t i = 0; i < ref.size(); ++i)
                QVERIFY(fairkv::test::relativeError(got[i], ref[i]) < 1e-5);
        }
    }

    void statsFileErrors_data()
    {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("needle");
        QTest::newRow("no kv_len") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"c_unit_ms":1,"c_tok_ms":1})") << QStringLiteral("'kv_len'");
        QTest::newRow("batch mismatch") << QStringLiteral(R"({"layers":1,"units":2,"batch":2,"kv_len":[[[1,2]]],"c_unit_ms":1,"c_tok_ms":1})") << QStringLiteral("has 1 requests, 'batch' says 2");
        QTest::newRow("unit mismatch") << QStringLiteral(R"({"layers":1,"units":3,"batch":1,"kv_len":[[[1,2]]],"c_unit_ms":1,"c_tok_ms":1})") << QStringLiteral("must hold 3 units");
        QTest::newRow("negative length") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,-2]]],"c_unit_ms":1,"c_tok_ms":1})") << QStringLiteral("kv_len[0][0][1] is -2, not a token count");
        // Values that made every modelled time infinite, or were misread (robustness sweep).
        QTest::newRow("huge constant") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,2]]],"c_unit_ms":1e308,"c_tok_ms":1})") << QStringLiteral("'c_unit_ms' must be a number from 0 to 1000000, got 1e+308");
        QTest::newRow("huge length") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,1e300]]],"c_unit_ms":1,"c_tok_ms":1})") << QStringLiteral("kv_len[0][0][1] is 1e+300");
        QTest::newRow("fractional bytes") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,2]]],"c_unit_ms":1,"c_tok_ms":1,"unit_weight_bytes":0.5})") << QStringLiteral("whole number of bytes");
        QTest::newRow("huge bytes") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,2]]],"c_unit_ms":1,"c_tok_ms":1,"unit_weight_bytes":1e30})") << QStringLiteral("'unit_weight_bytes' must be a number");
        QTest::newRow("tiny bandwidth") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,2]]],"bandwidth_gbps":1e-300,"head_dim":128,"hidden":4096})") << QStringLiteral("come out as 4.194e+300 and 5.12e+296 ms, beyond 1e6 ms"); // not 300 digits
        QTest::newRow("numeric cost source") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,2]]],"c_unit_ms":1,"c_tok_ms":1,"cost_source":5})") << QStringLiteral("'cost_source' must be a string");
        QTest::newRow("no constants") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,2]]]})") << QStringLiteral("c_unit_ms");
        QTest::newRow("zero layers") << QStringLiteral(R"({"layers":0,"units":2,"batch":1,"kv_len":[],"c_unit_ms":1,"c_tok_ms":1})") << QStringLiteral("stats.json: 'layers' = 0 is out of range (1 to 16777216)");
        QTest::newRow("layers beyond int64") << QStringLiteral(R"({"layers":18446744073709551615,"units":2,"batch":1,"kv_len":[],"c_unit_ms":1,"c_tok_ms":1})") << QStringLiteral("'layers' = 18446744073709551615 is out of range");
        QTest::newRow("layers as text") << QStringLiteral(R"({"layers":"1","units":2,"batch":1,"kv_len":[[[1,2]]],"c_unit_ms":1,"c_tok_ms":1})") << QStringLiteral("'layers' must be an integer, got \"1\"");
        QTest::newRow("null head_dim") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,2]]],"bandwidth_gbps":3000,"head_dim":null,"hidden":4096})") << QStringLiteral("'head_dim' must be an integer, got null");
        QTest::newRow("one constant") << QStringLiteral(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,2]]],"c_unit_ms":5,"bandwidth_gbps":3000,"head_dim":128,"hidden":4096})") << QStringLiteral("gives 'c_unit_ms' without 'c_tok_ms'");
        QTest::newRow("no units") << QStringLiteral(R"({"layers":1,"batch":1,"kv_len":[[[1,2]]],"c_unit_ms":1,"c_tok_ms":1})") << QStringLiteral("missing key 'units'");
    }
    void statsFileErrors()
    {
        QFETCH(QString, json);
        QFETCH(QString, needle);
        FAIRKV_EXPECT_ERROR(PlacementStats::fromJson(nlohmann::json::parse(json.toStdString()), "stats.json"), needle.toStdString());
    }

    // MLP and collective time measured on some number of ranks count only for plans on that many ranks
    // (a 1-rank MLP on an 8-rank plan had cut its speedup from about 1.44x to 1.08x).
    void fixedTimeOnlyForItsRanks()
    {
        const PlacementStats s = PlacementStats::fromJson(nlohmann::json::parse(R"({"layers":1,"units":4,"batch":1,
            "kv_len":[[[100,900,50,400]]],"c_unit_ms":0.01,"c_tok_ms":0.001,"mlp_ms":0.7,"collective_ms":0.05,"ranks":1})"), "s.json");
        PlanOptions o;
        o.planner = "fairkv-assign";
        o.ranks = 1;
        const PlanResult same = planPlacement(s, o);
        QCOMPARE(same.fixedLayerMs, 0.75);
        QVERIFY(same.warnings.empty());
        o.ranks = 4;
        const PlanResult other = planPlacement(s, o);
        QCOMPARE(other.fixedLayerMs, 0.0);
        QCOMPARE(other.warnings.size(), size_t(1));
        QVERIFY2(other.warnings[0].find("measured on 1 rank, not 4") != std::string::npos, other.warnings[0].c_str());
        QCOMPARE(other.toJson().at("warnings").size(), size_t(1));
        FAIRKV_EXPECT_ERROR(PlacementStats::fromJson(nlohmann::json::parse(R"({"kv_len":[[[1]]],"placement":{}})"), "r.json"),
                            "r.json: is a run's result, not a stats file");
    }

    // Stats that price a token at 0 (a fit on a short run) plan weights alone: the plan says so.
    void tokenPricedAtZeroIsNamed()
    {
        const PlacementStats s = PlacementStats::fromJson(nlohmann::json::parse(R"({"layers":1,"units":4,"batch":1,
            "kv_len":[[[100,900,50,400]]],"c_unit_ms":0.01,"c_tok_ms":0})"), "s.json");
        PlanOptions o;
        o.planner = "fairkv-copy";
        o.ranks = 2;
        const PlanResult plan = planPlacement(s, o);
        QCOMPARE(plan.warnings.size(), size_t(1));
        QVERIFY2(plan.warnings[0].find("price a retained token at 0 ms") != std::string::npos, plan.warnings[0].c_str());
        o.planner = "uniform";
        QVERIFY(planPlacement(s, o).warnings.empty());
    }

    // Every optional key has a default: a misspelt one must not change the plan unseen.
    void statsNameKeysTheyIgnore()
    {
        const PlacementStats s = PlacementStats::fromJson(nlohmann::json::parse(R"({"layers":1,"units":4,"batch":1,
            "kv_len":[[[100,900,50,400]]],"c_unit_ms":0.01,"c_tok_ms":0.001,"mlp_msec":0.7,"ranks":4})"), "s.json");
        QCOMPARE(s.warnings.size(), size_t(1));
        QCOMPARE(s.warnings[0], std::string("s.json: ignored the key 'mlp_msec', which a stats file does not have"));
        QCOMPARE(s.mlpMs, 0.0);
        PlanOptions o;
        o.planner = "fairkv-assign";
        o.ranks = 4;
        const PlanResult plan = planPlacement(s, o);
        QCOMPARE(plan.warnings, s.warnings);
        // What fairkv writes reads back without a note.
        QVERIFY(PlacementStats::fromJson(s.toJson(), "again.json").warnings.empty());
    }

    void statsDefaultsFromBandwidth()
    {
        const auto j = nlohmann::json::parse(R"({"layers":1,"units":2,"batch":1,"kv_len":[[[100,200]]],
            "bandwidth_gbps": 3100, "head_dim": 128, "hidden": 8192, "heads_per_unit": 8})");
        const PlacementStats s = PlacementStats::fromJson(j, "stats.json");
        QCOMPARE(s.unitWeightBytes, uint64_t(2ull * 8192 * 128 * 18));
        QVERIFY(std::abs(s.cTokMs - 512.0 / 3.1e12 * 1e3) < 1e-15);
        QCOMPARE(s.costSource, std::string("defaults: bf16 bytes over 3100 GB/s"));
        PlanOptions greedy;
        greedy.planner = "greedy";
        greedy.ranks = 2;
        FAIRKV_EXPECT_ERROR(planPlacement(s, greedy), "--planner 'greedy'");
        // Without 'bandwidth_gbps' the defaults assume the H100's streaming read, and say so; the
        // shape travels with the file, so an export whose constants are removed plans again.
        auto noBandwidth = j;
        noBandwidth.erase("bandwidth_gbps");
        const PlacementStats d = PlacementStats::fromJson(noBandwidth, "stats.json");
        QCOMPARE(d.cTokMs, s.cTokMs);
        QCOMPARE(d.costSource, std::string("defaults: bf16 bytes over 3100 GB/s (the file gives no 'bandwidth_gbps': the H100's streaming read)"));
        auto exported = PlacementStats::fromJson(d.toJson(), "again.json").toJson();
        exported.erase("c_unit_ms");
        exported.erase("c_tok_ms");
        exported["unit_weight_bytes"] = 2 * d.unitWeightBytes; // fp32 weights of a CPU run: the costs stay bf16's
        const PlacementStats again = PlacementStats::fromJson(exported, "again.json");
        QCOMPARE(again.cUnitMs, d.cUnitMs);
        QCOMPARE(again.cTokMs, d.cTokMs);
        QVERIFY(again.warnings.empty());
        // Without heads_per_unit the shape does not say a unit's query heads: unit_weight_bytes does.
        auto noHeads = exported;
        noHeads.erase("heads_per_unit");
        QCOMPARE(PlacementStats::fromJson(noHeads, "again.json").cUnitMs, double(2 * d.unitWeightBytes) / (3100.0 * 1e6));
        // Measured fixed time beside modelled attention costs is said.
        noHeads["mlp_ms"] = 0.2;
        const auto mixed = PlacementStats::fromJson(noHeads, "again.json").warnings;
        QCOMPARE(mixed.size(), size_t(1));
        QVERIFY(mixed[0].find("'mlp_ms' and 'collective_ms' are measured times") != std::string::npos);
        noHeads["bandwidth_gbps"] = 0;
        FAIRKV_EXPECT_ERROR(PlacementStats::fromJson(noHeads, "again.json"), "'bandwidth_gbps' is 0");
        exported.erase("head_dim");
        FAIRKV_EXPECT_ERROR(PlacementStats::fromJson(exported, "again.json"),
                            "needs 'c_unit_ms' and 'c_tok_ms', or the shape to derive them from: 'head_dim' (for c_tok_ms) and 'hidden' or "
                            "'unit_weight_bytes' (for c_unit_ms), over 'bandwidth_gbps' (default 3100); it gives no 'head_dim'");
        // A key said twice is refused in our own files (which one is meant?), where a config.json
        // keeps the last as transformers' json.load does.
        QTemporaryDir dir;
        const std::string twice = dir.filePath(QStringLiteral("twice.json")).toStdString();
        std::ofstream(twice) << R"({"layers":1,"units":2,"batch":1,"kv_len":[[[1,2]]],"c_unit_ms":1,"c_tok_ms":1,"c_tok_ms":5})";
        FAIRKV_EXPECT_ERROR(PlacementStats::fromFile(twice), twice + ": stats file names \"c_tok_ms\" twice");
        // Also inside an object: one placement replica naming two ranks.
        const std::string inner = dir.filePath(QStringLiteral("inner.json")).toStdString();
        std::ofstream(inner) << R"({"ranks":2,"batch":1,"layers":[[{"unit":0,"replicas":[{"rank":0,"rank":1,"requests":[0]}]}]]})";
        FAIRKV_EXPECT_ERROR(Placement::fromFile(inner, 1), inner + ": placement file says \"layers[0][0].replicas[0].rank\" twice in one object");
        // A device has no size to check before reading: the limit holds while reading.
        FAIRKV_EXPECT_ERROR(PlacementStats::fromFile("/dev/zero"), "/dev/zero: gave more than");
    }
};

QTEST_GUILESS_MAIN(TestPlanners)
#include "test_planners.moc"
