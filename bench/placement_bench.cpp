// Placement benchmark (issue 3): planners against uniform and the lower bound over a grid of model
// shapes, ranks, budgets, batches, unit modes and skew sources, plus the planning-time target.
// Writes docs/placement-benchmark.md. Everything it prints is modelled from the cost model of
// design §2 with bf16 bytes over the lent H100's measured 3.1 TB/s streaming read.
#include "common/rng.h"
#include "kv/synthetic_attention.h"
#include "model/model_weights.h"
#include "placement/planner.h"
#include "placement/unit_layout.h"
#include "runtime/run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace fairkv;

namespace {

constexpr double kBandwidthBytesPerMs = 3.1e12 / 1e3;

std::string fmt(double v, int d = 2)
{
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", d, v);
    return b;
}

struct Cell
{
    std::string shape, mode, skew, regime;
    int budget = 0, batch = 0, ranks = 0, units = 0;
    double imbUniform = 0, imbAssign = 0, imbCopy = 0;
    double speedAssign = 0, speedCopy = 0;
    double gapAssign = 0, gapCopy = 0;
    double planAssignMs = 0, planCopyMs = 0;
    int copies = 0;
    bool assignExact = false, copyExact = false;
    bool assignTarget = false, assignPass = true, copyPass = true;
    std::string why;
    double unitShare = 0.0;
};

// Σ_l max_g load / Σ_l mean_g load of a placement under the stats' cost model.
double imbalance(const PlacementStats& s, const Placement& p)
{
    double sumMax = 0, sumMean = 0;
    for (int l = 0; l < s.layers; ++l) {
        const auto loads = rankLoads(layerInstance(s, l, p.ranks), p.layers[size_t(l)]);
        sumMax += *std::max_element(loads.begin(), loads.end());
        for (double x : loads)
            sumMean += x / double(loads.size());
    }
    return sumMean > 0 ? sumMax / sumMean : 1.0;
}

PlacementStats sliceBatch(const PlacementStats& full, int batch)
{
    PlacementStats s = full;
    s.batch = batch;
    s.kvLen.resize(size_t(batch));
    return s;
}

std::vector<std::vector<double>> headKvScores(int layers, int units, uint64_t seed)
{
    Rng rng(Rng::mix(seed, 0x4ead));
    std::vector<std::vector<double>> s(static_cast<size_t>(layers), std::vector<double>(static_cast<size_t>(units)));
    for (auto& row : s)
        for (double& x : row)
            x = std::exp(rng.normal());
    return s;
}

PlacementStats makeStats(const ModelConfig& c, UnitMode mode, const std::string& skew, int budget, int batch, uint64_t seed)
{
    const UnitLayout layout(c, mode);
    CompressionOptions o;
    o.budget = budget;
    const int promptLen = std::clamp(2 * budget, 1024, 4096);
    PlacementStats s;
    s.layers = c.numLayers;
    s.units = layout.numUnits;
    s.batch = batch;
    if (skew == "ada-snapkv") {
        o.policy = CompressionPolicy::AdaSnapKV;
        s.kvLen = syntheticKvLengths(c, mode, o, batch, promptLen, seed);
    } else {
        // HeadKV: static budgets from per-head scores, global across layers; equal prompts give
        // every request the same lengths, so one request is computed and repeated.
        o.policy = CompressionPolicy::HeadKV;
        o.headScores = headKvScores(c.numLayers, layout.numUnits, seed);
        const auto one = syntheticKvLengths(c, mode, o, 1, promptLen, seed);
        s.kvLen.assign(size_t(batch), one[0]);
    }
    s.unitWeightBytes = uint64_t(PlacementStats::defaultUnitBytes(c.hiddenSize, c.headDim, layout.queryHeads()));
    s.cUnitMs = double(s.unitWeightBytes) / kBandwidthBytesPerMs;
    s.cTokMs = PlacementStats::defaultTokenBytes(c.headDim) / kBandwidthBytesPerMs;
    s.costSource = "bf16 bytes over 3.1 TB/s";
    return s;
}

double coefficientOfVariation(const std::vector<std::vector<std::vector<double>>>& len)
{
    double cv = 0;
    int n = 0;
    for (const auto& req : len)
        for (const auto& layer : req) {
            double mean = 0, var = 0;
            for (double x : layer)
                mean += x / double(layer.size());
            for (double x : layer)
                var += (x - mean) * (x - mean) / double(layer.size());
            cv += std::sqrt(var) / mean;
            ++n;
        }
    return cv / n;
}

// Why fairkv-copy stays above 3% of the bound in a cell; `unitShare` = c_unit / per-layer bound.
std::string whyCopyMisses(const PlacementStats& s, const PlanResult& r, double* unitShare)
{
    *unitShare = s.cUnitMs / (r.lowerBoundTotalMs / s.layers);
    if (s.batch == 1)
        return "batch 1: a unit's only request cannot be split, so copies cannot share it";
    if (*unitShare >= r.gap())
        return "copy weight cost: one more replica costs c_unit, more than the gap, so the bound's perfect split is out of reach";
    return "request granularity: a unit's requests cannot be divided finer than whole requests";
}

} // namespace

int main(int argc, char** argv)
{
    std::string out = "docs/placement-benchmark.md";
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--quick")
            quick = true;
        else if (a == "--out" && i + 1 < argc)
            out = argv[++i];
        else {
            std::cerr << "usage: fairkv-bench-placement [--quick] [--out FILE.md]\n";
            return 2;
        }
    }
    const int layers = quick ? 2 : 4;
    const std::vector<std::string> shapes = quick ? std::vector<std::string>{"llama-3.1-8b"}
                                                  : std::vector<std::string>{"llama-3.3-70b", "mistral-small-24b", "llama-3.1-8b"};
    const std::vector<int> budgets = quick ? std::vector<int>{256} : std::vector<int>{128, 256, 512, 1024, 2048};
    const std::vector<int> batches = {1, 16, 64}, rankList = {2, 4, 8};
    std::ostringstream md;

    // 1. The synthetic-attention generator against the real engine on `tiny`.
    std::cerr << "checking the generator against the engine on tiny...\n";
    RunConfig rc = RunConfig::demo();
    rc.ranks = 1;
    rc.decode = 0;
    const RunResult real = runInference(rc);
    std::vector<std::vector<std::vector<double>>> realLen;
    for (const auto& req : real.kvLen) {
        realLen.emplace_back();
        for (const auto& l : req)
            realLen.back().emplace_back(l.begin(), l.end());
    }
    const auto genLen = syntheticKvLengths(ModelConfig::builtin("tiny"), UnitMode::Gqa, rc.compression, 4, 512, 0);
    md << "# Placement benchmark\n\nProduced by `./build/bench/fairkv-bench-placement` (issue 3). All times are **modelled**: "
          "the cost model of design §2 with `c_unit` = bf16 weight bytes of one unit replica and `c_tok` = bf16 K+V bytes "
          "of one token, both over 3.1 TB/s (the lent H100's measured streaming read, design §6). Speedups are of the "
          "attention time Σ_layers max_rank; MLP and collectives are the same for every placement and left out.\n\n"
       << "## Where the skew comes from\n\nRunning 70B-shaped models on the CPU is out of reach, so per-unit KV lengths "
          "come from `syntheticKvLengths` (engine/kv/synthetic_attention.h): the synthetic models' own per-head sharpness, "
          "a per-position salience shared by the heads of a KV group, and the real compression code selecting from the "
          "resulting window attention. Statistics are drawn for " << layers << " layers per shape (layers are independent "
          "and identically distributed in the synthetic models); the planning-time target uses all 80 layers.\n\n"
          "Check against the engine: `tiny`, Ada-SnapKV budget 64, prompt 512, batch 4, GQA units. Mean coefficient of "
          "variation of per-unit lengths within a layer: engine **" << fmt(coefficientOfVariation(realLen), 3)
       << "**, generator **" << fmt(coefficientOfVariation(genLen), 3) << "**.\n\n"
          "HeadKV-style skew: static per-head budgets (floor 20%, the rest by log-normal head scores, global across layers).\n\n";

    // 2. The grid.
    std::vector<Cell> cells;
    for (const auto& shape : shapes) {
        const ModelConfig c = ModelConfig::builtin(shape, layers);
        for (const char* modeName : {"gqa", "per-query-head"}) {
            const UnitMode mode = unitModeFromName(modeName);
            for (const char* skew : {"ada-snapkv", "headkv"}) {
                for (int budget : budgets) {
                    std::cerr << shape << " " << modeName << " " << skew << " B=" << budget << "\n";
                    const PlacementStats full = makeStats(c, mode, skew, budget, 64, 7);
                    for (int batch : batches) {
                        const PlacementStats s = sliceBatch(full, batch);
                        double kvBytes = 0;
                        for (const auto& req : s.kvLen)
                            for (const auto& l : req)
                                for (double x : l)
                                    kvBytes += x * PlacementStats::defaultTokenBytes(c.headDim);
                        const double weightBytes = double(s.unitWeightBytes) * s.units * s.layers;
                        for (int ranks : rankList) {
                            PlanOptions o;
                            o.ranks = ranks;
                            o.planner = "uniform";
                            const PlanResult uni = planPlacement(s, o);
                            o.planner = "fairkv-assign";
                            const PlanResult as = planPlacement(s, o);
                            o.planner = "fairkv-copy";
                            const PlanResult cp = planPlacement(s, o);
                            Cell cell;
                            cell.shape = shape;
                            cell.mode = modeName;
                            cell.skew = skew;
                            cell.budget = budget;
                            cell.batch = batch;
                            cell.ranks = ranks;
                            cell.units = s.units;
                            cell.regime = kvBytes > weightBytes ? "KV" : "weights";
                            cell.imbUniform = imbalance(s, uni.placement);
                            cell.imbAssign = imbalance(s, as.placement);
                            cell.imbCopy = imbalance(s, cp.placement);
                            cell.speedAssign = uni.totalMs / as.totalMs;
                            cell.speedCopy = uni.totalMs / cp.totalMs;
                            cell.gapAssign = as.gap();
                            cell.gapCopy = cp.gap();
                            cell.planAssignMs = as.planMs;
                            cell.planCopyMs = cp.planMs;
                            cell.copies = cp.extraReplicas;
                            cell.assignExact = std::all_of(as.exact.begin(), as.exact.end(), [](bool e) { return e; });
                            cell.copyExact = std::all_of(cp.exact.begin(), cp.exact.end(), [](bool e) { return e; });
                            cell.assignTarget = ranks < c.numKvHeads;
                            // A plan proven optimal by the exact search meets its target whatever the
                            // analytic bound says: no placement under the planner's rules is faster.
                            cell.assignPass = !cell.assignTarget || cell.gapAssign <= 0.05 || cell.assignExact;
                            cell.copyPass = cell.gapCopy <= 0.03 || cell.copyExact;
                            if (!cell.copyPass)
                                cell.why = whyCopyMisses(s, cp, &cell.unitShare);
                            cells.push_back(cell);
                        }
                    }
                }
            }
        }
    }

    // 3. Planning time: 80 layers x 64 units x 8 ranks on one core.
    std::cerr << "planning-time target...\n";
    const ModelConfig big = ModelConfig::builtin("llama-3.3-70b");
    const PlacementStats timing = makeStats(big, UnitMode::PerQueryHead, "ada-snapkv", 512, 16, 11);
    std::map<std::string, double> planMs;
    for (const char* planner : {"fairkv-assign", "fairkv-copy"}) {
        std::vector<double> t;
        for (int rep = 0; rep < 3; ++rep) {
            PlanOptions o;
            o.ranks = 8;
            o.planner = planner;
            t.push_back(planPlacement(timing, o).planMs);
        }
        std::sort(t.begin(), t.end());
        planMs[planner] = t[1];
    }

    int copyPass = 0, assignPass = 0, assignCells = 0;
    for (const auto& c : cells) {
        copyPass += c.copyPass;
        assignCells += c.assignTarget;
        assignPass += c.assignTarget && c.assignPass;
    }
    md << "## Targets\n\n| target | result |\n|---|---|\n"
       << "| fairkv-copy within 3% of the lower bound | " << copyPass << " / " << cells.size() << " cells"
       << (copyPass == int(cells.size()) ? " **pass**" : " (misses listed below with the reason)") << " |\n"
       << "| fairkv-assign within 5% of its bound where ranks < KV heads | " << assignPass << " / " << assignCells
       << " cells" << (assignPass == assignCells ? " **pass**" : " **fail**") << " |\n";
    for (const auto& [name, ms] : planMs)
        md << "| " << name << " plans 80 layers x 64 units x 8 ranks (batch 16) in < 100 ms | " << fmt(ms, 1) << " ms "
           << (ms < 100 ? "**pass**" : "**fail**") << " |\n";
    // Many ranks, where a plan wants hundreds of copies (each copy count of a layer had been a
    // search of its own: 4.9 s at 256 ranks before session 17). No target: what it takes.
    {
        Rng rng(0);
        PlacementStats many;
        many.layers = 2;
        many.units = 8;
        many.batch = 256;
        many.cUnitMs = 0.001;
        many.cTokMs = 0.0001;
        many.kvLen.assign(256, std::vector<std::vector<double>>(2, std::vector<double>(8)));
        for (auto& request : many.kvLen)
            for (auto& layer : request)
                for (double& len : layer)
                    len = double(1 + rng.below(4096));
        for (const int ranks : {256, 1024}) {
            PlanOptions o;
            o.ranks = ranks;
            o.planner = "fairkv-copy";
            const PlanResult plan = planPlacement(many, o);
            md << "| fairkv-copy plans 2 layers x 8 units x " << ranks << " ranks (batch 256, " << plan.extraReplicas
               << " copies) | " << fmt(plan.planMs, 0) << " ms |\n";
        }
    }
    // A large batch: every split unit's requests are many (each layer's bisection had sorted them
    // at every try, and the local search recounted every rank's load at every move: 20 s on a
    // Pareto-distributed instance of this size before session 19, 5.2 s after). No target: what it takes.
    {
        std::cerr << "large batch...\n";
        // Drawn for 4 layers and repeated to 80 (layers are independent and alike in the synthetic
        // models; drawing 80 layers of 1024 requests takes minutes).
        PlacementStats large = makeStats(ModelConfig::builtin("llama-3.3-70b", 4), UnitMode::PerQueryHead, "ada-snapkv", 512, 1024, 12);
        for (auto& request : large.kvLen)
            for (int l = 4; l < big.numLayers; ++l)
                request.push_back(request[size_t(l % 4)]);
        large.layers = big.numLayers;
        PlanOptions o;
        o.ranks = 16;
        o.planner = "fairkv-copy";
        const PlanResult plan = planPlacement(large, o);
        md << "| fairkv-copy plans 80 layers x 64 units x 16 ranks (batch 1024, " << plan.extraReplicas << " copies) | "
           << fmt(plan.planMs, 0) << " ms |\n";
    }
    md << "\n";
    std::map<std::string, std::vector<const Cell*>> misses;
    for (const auto& c : cells)
        if (!c.copyPass)
            misses[c.why].push_back(&c);
    if (!misses.empty()) {
        md << "### fairkv-copy cells above 3%, by cause\n\n| cause | cells | c_unit as share of the bound | largest gap |\n|---|---|---|---|\n";
        for (const auto& [why, list] : misses) {
            double worst = 0, lo = 1e9, hi = 0;
            for (const Cell* c : list) {
                worst = std::max(worst, c->gapCopy);
                lo = std::min(lo, c->unitShare);
                hi = std::max(hi, c->unitShare);
            }
            md << "| " << why << " | " << list.size() << " | " << fmt(100 * lo, 1) << "–" << fmt(100 * hi, 1) << "% | "
               << fmt(100 * worst, 1) << "% |\n";
        }
        md << "\nThe bound lets every unit's work be split freely over the ranks. When one unit replica's weights "
              "(c_unit) cost more than the remaining gap, that free split cannot be realised with whole replicas, so "
              "the bound is likely out of reach (not proven: no exact search runs at these sizes). The plan shown is "
              "the best found; its gap (marked ✗ in the full table) is an upper limit on what any better placement "
              "could still gain.\n\n";
    }
    // 4. How much of fairkv-assign's exact range its node limit proves: random layers of 16-20 units
    // (log-normal KV lengths, as no built-in shape has units of that count) at 3, 4 and 6 ranks.
    std::cerr << "fairkv-assign's exact search on 16-20 units...\n";
    md << "## fairkv-assign's exact search on 16 to 20 units\n\nOn layers of up to 20 units, from an LPT start, bin "
          "completion (the makespan lowered one decision at a time, ranks filled with maximal sets of units, 4 million "
          "nodes per layer) and then, if it did not end, branch and bound (200,000 nodes). Session 17 added the bin "
          "completion: branch and bound alone had proven 4-32 of 40 layers per cell, in 0.6-1.3 s per cell. "
          "The built-in shapes have 8 (GQA) or 32 to 64 (per-query-head) units, "
          "so these are random layers: 40 per cell, batch 1, KV lengths log-normal (mu 6, sigma 0.8), c_unit 0.01 ms and "
          "c_tok 0.0001 ms. Proven: layers the search exhausted; the gaps are each layer's to its lower bound (P||Cmax "
          "bounds; a proven layer's bound is its plan, so its gap is 0): of the others, an upper limit on what a proof could still gain.\n\n"
          "| units | ranks | proven | mean gap | largest gap | plan ms |\n|---|---|---|---|---|---|\n";
    for (const int units : {16, 17, 18, 20})
        for (const int ranks : {3, 4, 6}) {
            Rng rng(uint64_t(units * 100 + ranks));
            PlacementStats st;
            st.layers = 40;
            st.units = units;
            st.batch = 1;
            st.cUnitMs = 0.01;
            st.cTokMs = 0.0001;
            st.kvLen.assign(1, std::vector<std::vector<double>>(size_t(st.layers), std::vector<double>(size_t(units))));
            for (auto& layer : st.kvLen[0])
                for (double& len : layer)
                    len = std::round(std::exp(6.0 + 0.8 * rng.normal()));
            PlanOptions o;
            o.ranks = ranks;
            o.planner = "fairkv-assign";
            const PlanResult plan = planPlacement(st, o);
            int proven = 0;
            double meanGap = 0, maxGap = 0;
            for (size_t l = 0; l < plan.layerMs.size(); ++l) {
                proven += plan.exact[l];
                const double gap = plan.layerMs[l] / plan.lowerBoundMs[l] - 1.0;
                meanGap += gap / double(plan.layerMs.size());
                maxGap = std::max(maxGap, gap);
            }
            md << "| " << units << " | " << ranks << " | " << proven << " / " << st.layers << " | " << fmt(100 * meanGap, 2)
               << "% | " << fmt(100 * maxGap, 2) << "% | " << fmt(plan.planMs, 0) << " |\n";
        }
    md << "\n";

    md << "## Summary: best modelled speedup of fairkv-copy over uniform\n\n| shape | units | ranks | median | max | "
          "regime of the max |\n|---|---|---|---|---|---|\n";
    for (const auto& shape : shapes)
        for (const char* mode : {"gqa", "per-query-head"})
            for (int ranks : rankList) {
                std::vector<const Cell*> sel;
                for (const auto& c : cells)
                    if (c.shape == shape && c.mode == mode && c.ranks == ranks)
                        sel.push_back(&c);
                std::sort(sel.begin(), sel.end(), [](const Cell* a, const Cell* b) { return a->speedCopy < b->speedCopy; });
                md << "| " << shape << " | " << mode << " | " << ranks << " | " << fmt(sel[sel.size() / 2]->speedCopy)
                   << "x | " << fmt(sel.back()->speedCopy) << "x | " << sel.back()->regime << " (" << sel.back()->skew
                   << ", B=" << sel.back()->budget << ", batch " << sel.back()->batch << ") |\n";
            }
    md << "\n## Every cell\n\nImbalance = Σ_l max_rank / Σ_l mean_rank of modelled attention time. Gaps: fairkv-assign "
          "to the bound without copies, fairkv-copy to the bound with copies; (opt): every layer's plan was proven optimal by the exact search, so the gap is the bound's, not the planner's. Regime: whether KV bytes or weight bytes "
          "dominate the attention reads.\n\n"
          "| shape | units | skew | B | batch | N | regime | imb. uniform | imb. assign | imb. copy | speedup assign | "
          "speedup copy | copies | gap assign | gap copy | plan ms assign | plan ms copy |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& c : cells)
        md << "| " << c.shape << " | " << c.mode << " | " << c.skew << " | " << c.budget << " | " << c.batch << " | "
           << c.ranks << " | " << c.regime << " | " << fmt(c.imbUniform, 3) << " | " << fmt(c.imbAssign, 3) << " | "
           << fmt(c.imbCopy, 3) << " | " << fmt(c.speedAssign, 3) << " | " << fmt(c.speedCopy, 3) << " | " << c.copies
           << " | " << fmt(100 * c.gapAssign, 1) << "%" << (c.assignExact ? " (opt)" : "") << (c.assignPass ? "" : " ✗")
           << " | " << fmt(100 * c.gapCopy, 1) << "%" << (c.copyExact ? " (opt)" : "") << (c.copyPass ? "" : " ✗") << " | " << fmt(c.planAssignMs, 2) << " | " << fmt(c.planCopyMs, 2) << " |\n";

    std::ofstream f(out);
    f << md.str();
    if (!f) {
        std::cerr << "cannot write " << out << "\n";
        return 1;
    }
    std::cout << "copy within 3%: " << copyPass << "/" << cells.size() << "; assign within 5%: " << assignPass << "/"
              << assignCells << "; plan ms assign " << fmt(planMs["fairkv-assign"], 1) << ", copy "
              << fmt(planMs["fairkv-copy"], 1) << "\nwrote " << out << "\n";
    return 0;
}
