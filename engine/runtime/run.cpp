#include "runtime/run.h"

#include "common/error.h"
#include "common/json_file.h"
#include "common/quantile.h"
#include "common/host_memory.h"
#include "common/rng.h"
#include "model/model_weights.h"
#include "parallel/rank_factory.h"
#include "runtime/inference_engine.h"
#include "runtime/sampler.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fairkv {

using nlohmann::json;

RunConfig RunConfig::demo()
{
    RunConfig c;
    c.model = "tiny";
    c.ranks = 4;
    c.batch = 4;
    c.promptLen = 512;
    c.decode = 16;
    c.compression.policy = CompressionPolicy::AdaSnapKV;
    c.compression.budget = 64;
    return c;
}

void RunConfig::validate() const
{
    auto positive = [](int v, const char* option) {
        if (v < 1)
            throw Error(std::string(option) + " must be at least 1, got " + std::to_string(v));
    };
    positive(ranks, "--ranks");
    positive(batch, "--batch");
    positive(promptLen, "--prompt-len");
    if (decode < 0)
        throw Error("--decode must not be negative, got " + std::to_string(decode));
    if (layers < 0)
        throw Error("--layers must not be negative, got " + std::to_string(layers));
    if (backend != "cpu" && backend != "cuda")
        throw Error("--backend '" + backend + "' is not a backend (cpu, cuda)");
    if (!hasRankBackend(backend))
        throw Error("--backend " + backend + ": this build has no such backend (built without the CUDA toolkit)");
    if (!(temperature >= 0.0))
        throw Error("--temperature must not be negative");
    if (!(devices.allReduce.alphaUs >= 0.0))
        throw Error("--allreduce-alpha-us must not be negative");
    if (!(devices.allReduce.busGBs > 0.0))
        throw Error("--allreduce-gbs must be positive");
}

json RunConfig::toJson() const
{
    return {{"model", model},
            {"layers", layers},
            {"ranks", ranks},
            {"backend", backend},
            {"placement", placement},
            {"memory_budget", memoryBudget ? json(*memoryBudget) : json(nullptr)},
            {"same_count", sameCount},
            {"units", unitModeName(unitMode)},
            {"compress", compressionName(compression.policy)},
            {"budget", compression.budget},
            {"window", compression.window},
            {"kernel", compression.kernel},
            {"pooling", compression.pooling == Pooling::Max ? "max" : "avg"},
            {"floor_alpha", compression.floorAlpha},
            {"batch", batch},
            {"prompt_len", promptLen},
            {"decode", decode},
            {"seed", seed},
            {"temperature", temperature},
            {"emulate", devices.emulate},
            {"allreduce_alpha_us", devices.allReduce.alphaUs},
            {"allreduce_gbs", devices.allReduce.busGBs},
            {"gemm", devices.chooseGemms ? "auto" : "cublas"}};
}

RunConfig RunConfig::fromJson(const json& j)
{
    if (!j.is_object())
        throw Error("a run's settings must be a JSON object");
    RunConfig c;
    try {
        // Exact types: a value of another type, or beyond an int, is refused rather than
        // converted (validate() then checks the ranges a run needs).
        const std::string src = "a run's settings";
        constexpr int64_t kIntLeast = std::numeric_limits<int>::min(), kIntMost = std::numeric_limits<int>::max();
        c.model = jsonStringOr(j, "model", c.model, src);
        c.layers = jsonIntOr(j, "layers", c.layers, src, kIntLeast, kIntMost);
        c.ranks = jsonIntOr(j, "ranks", c.ranks, src, kIntLeast, kIntMost);
        c.backend = jsonStringOr(j, "backend", c.backend, src);
        c.placement = jsonStringOr(j, "placement", c.placement, src);
        if (j.contains("memory_budget") && !j.at("memory_budget").is_null())
            c.memoryBudget = j.at("memory_budget").get<uint64_t>();
        c.sameCount = jsonBoolOr(j, "same_count", c.sameCount, src);
        c.unitMode = unitModeFromName(jsonStringOr(j, "units", unitModeName(c.unitMode), src));
        c.compression.policy = compressionFromName(jsonStringOr(j, "compress", compressionName(c.compression.policy), src));
        // A headkv run's scores are not kept with it: whoever runs these settings again gives them
        // (validate() refuses the run until then).
        c.compression.budget = jsonIntOr(j, "budget", c.compression.budget, src, kIntLeast, kIntMost);
        c.compression.window = jsonIntOr(j, "window", c.compression.window, src, kIntLeast, kIntMost);
        c.compression.kernel = jsonIntOr(j, "kernel", c.compression.kernel, src, kIntLeast, kIntMost);
        const std::string pooling = jsonStringOr(j, "pooling", "max", src);
        if (pooling != "max" && pooling != "avg")
            throw Error("pooling '" + pooling + "' is not max or avg");
        c.compression.pooling = pooling == "max" ? Pooling::Max : Pooling::Avg;
        c.compression.floorAlpha = jsonNumberOr(j, "floor_alpha", c.compression.floorAlpha, src);
        c.batch = jsonIntOr(j, "batch", c.batch, src, kIntLeast, kIntMost);
        c.promptLen = jsonIntOr(j, "prompt_len", c.promptLen, src, kIntLeast, kIntMost);
        c.decode = jsonIntOr(j, "decode", c.decode, src, kIntLeast, kIntMost);
        c.seed = j.value("seed", c.seed);
        c.temperature = jsonNumberOr(j, "temperature", c.temperature, src);
        c.devices.emulate = jsonBoolOr(j, "emulate", c.devices.emulate, src);
        c.devices.allReduce.alphaUs = jsonNumberOr(j, "allreduce_alpha_us", c.devices.allReduce.alphaUs, src);
        c.devices.allReduce.busGBs = jsonNumberOr(j, "allreduce_gbs", c.devices.allReduce.busGBs, src);
        // Runs stored before the choice existed ran cublasGemmEx: a re-run does the same.
        const std::string gemm = jsonStringOr(j, "gemm", "cublas", src);
        if (gemm != "auto" && gemm != "cublas")
            throw Error("gemm '" + gemm + "' is not auto or cublas");
        c.devices.chooseGemms = gemm == "auto";
    } catch (const json::exception& e) {
        throw Error(std::string("a run's settings do not read: ") + e.what());
    }
    return c;
}

std::vector<std::vector<int>> makePrompts(int batch, int length, int vocab, uint64_t seed)
{
    std::vector<std::vector<int>> prompts(static_cast<size_t>(batch), std::vector<int>(static_cast<size_t>(length)));
    for (int r = 0; r < batch; ++r) {
        Rng rng(Rng::mix(seed, 0x9e37, uint64_t(r)));
        for (int& t : prompts[size_t(r)])
            t = int(rng.below(uint64_t(vocab)));
    }
    return prompts;
}

namespace {

// A name as it reads: ASCII letters and digits lowercased, fullwidth forms as ASCII, and spaces,
// dashes, punctuation and invisible marks (ASCII or Unicode) left out; other scripts' letters stay,
// so no name in them reads as a planner's.
std::string nameKey(const std::string& name)
{
    std::string k;
    for (size_t i = 0; i < name.size();) {
        char32_t cp = 0;
        const size_t len = std::max<size_t>(1, utf8At(name, i, cp));
        if (cp >= 0xFF01 && cp <= 0xFF5E) // fullwidth forms of ASCII
            cp -= 0xFEE0;
        const bool punctuation = cp == 0xA0 || cp == 0xAD || (cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF;
        if (cp < 0x80 && std::isalnum(int(cp)))
            k += char(std::tolower(int(cp)));
        else if (cp >= 0x80 && !punctuation)
            k.append(name, i, len);
        i += len;
    }
    return k;
}

Placement resolvePlacement(const RunConfig& cfg, int layers, int units)
{
    if (cfg.placement == "uniform")
        return Placement::uniform(layers, units, cfg.ranks, cfg.batch);
    std::error_code ec;
    if (!std::filesystem::exists(cfg.placement, ec))
        throw Error("--placement '" + cfg.placement + "' is neither a planner (" + plannerList() + ") nor an existing file");
    Placement p = Placement::fromFileFor(cfg.placement, layers, units, cfg.ranks, cfg.batch);
    // A planner's name is what the planner made: a file that claims one (a planned run's JSON fed
    // back, then edited) or has no name is listed by its file, so no hand-made placement passes
    // for a planner's in the run list, the comparison or a report.
    // The name is shown on terminals and in tables: control characters become spaces, and what
    // would read as a planner's once case and everything but letters and digits are set aside
    // ("fairkv-copy ", "Uniform", "FairKV copy", "FAIRKV_ASSIGN") or is an earlier run's file label
    // ("file R.json", now stale) counts as such a claim.
    std::string own = withoutControls(p.name, ' ');
    const size_t first = own.find_first_not_of(' '), last = own.find_last_not_of(' ');
    own = first == std::string::npos ? std::string() : own.substr(first, last - first + 1);
    const std::string ownKey = nameKey(own);
    const auto names = plannerNames();
    const bool claimsPlanner = std::any_of(names.begin(), names.end(), [&](const std::string& n) { return nameKey(n) == ownKey; });
    std::string lower = own;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (own.empty() || claimsPlanner || lower.rfind("file ", 0) == 0 || own == cfg.placement)
        own = "file " + withoutControls(std::filesystem::path(cfg.placement).filename().string(), ' ');
    p.name = cutUtf8(own, 256); // a placement's name is at most 256 bytes (Placement::fromJson)
    return p;
}

} // namespace

void requireRunMemory(const RunConfig& cfg, const ModelConfig& shape, const std::string& advice)
{
    // fp32 weights, plus the CPU ranks' fp32 copies of the layers' shards (CUDA ranks keep theirs
    // on the GPU; the embedding and lm_head are not sharded: counting them twice had refused a
    // 70B layer that fits). A replica copies its unit's attention weights: per-query-head units
    // copy their KV head's k and v once per query head, and fairkv-copy may put a unit on every
    // rank (at most its memory budget, counted at the bytes per weight the planner priced).
    const bool cpu = cfg.backend != "cuda";
    const double h = shape.hiddenSize, layers = shape.numLayers;
    const double kvPerQueryHead = cfg.unitMode == UnitMode::PerQueryHead ? layers * 2.0 * h * double(shape.qDim() - shape.kvDim()) : 0.0;
    double shards = double(shape.layerParameterCount()) + kvPerQueryHead;
    if (cfg.placement == "fairkv-copy") {
        const double attention = layers * h * double(2 * shape.qDim() + 2 * shape.kvDim()) + kvPerQueryHead; // q, o, k, v of every unit
        const double everywhere = attention * double(std::max(0, cfg.ranks - 1));
        shards += cfg.memoryBudget ? std::min(everywhere, double(*cfg.memoryBudget) / bytesPerWeight(cfg.backend)) : everywhere;
    }
    const double weights = double(shape.parameterCount()) * 4.0 + (cpu ? shards * 4.0 : 0.0);
    const double kv = double(cfg.batch) * cfg.promptLen * shape.numLayers * shape.kvDim() * 2.0 * 4.0
                      * (cfg.unitMode == UnitMode::PerQueryHead ? shape.groupSize() : 1);
    // Prefill's fp32 activations per token: the replicated residual stream and MLP input, each
    // rank's hidden-sized partial sum for the all-reduce, and the ranks' shards of q/k/v and of the
    // MLP, which add up to one full copy (charging full activations per rank had refused runs of
    // 0.9 GB as needing 20 GiB at 128 ranks).
    const double perToken = shape.hiddenSize * 4.0 + shape.intermediateSize * 2.0 + double(cfg.ranks) * shape.hiddenSize
                            + shape.intermediateSize * 2.0 + shape.qDim() + 2.0 * shape.kvDim();
    const double activations = double(cfg.batch) * cfg.promptLen * perToken * 4.0;
    requireHostMemory(weights + kv + activations, shape.name + " with " + layerCount(shape.numLayers),
                      std::string(cpu ? "fp32 weights and the ranks' copies of the layers'" : "fp32 weights") + ", KV, activations",
                      !advice.empty() ? advice
                                      : std::string("use --layers, a smaller batch or prompt") + (cpu ? ", or the CUDA backend" : ""));
}

namespace {

KvLengths meanDecodeLengths(const std::vector<std::vector<std::vector<int>>>& finalLen, int steps)
{
    // During step s (0-based) the attention reads the prompt's retained tokens plus s + 1 new ones.
    KvLengths out(finalLen.size());
    for (size_t r = 0; r < finalLen.size(); ++r)
        for (const auto& layer : finalLen[r]) {
            std::vector<double> row;
            for (int len : layer)
                row.push_back(double(len) - steps + (steps + 1) / 2.0);
            out[r].push_back(std::move(row));
        }
    return out;
}

// The stats export (design §5): final KV lengths, the cost constants, per layer the slowest rank's
// MLP and the collectives (averaged over layers), the ranks those were measured on, and one unit
// replica's bytes. One assembly for a live run and for a run's stored result.
PlacementStats assembleStats(std::vector<std::vector<std::vector<double>>> kvLen, const CostModel& cost,
                             const std::vector<std::vector<double>>& mlpMs, const std::vector<double>& collectiveMs, int ranks,
                             uint64_t unitWeightBytes, int headDim, int hidden, int headsPerUnit)
{
    PlacementStats s;
    s.headDim = headDim;
    s.hidden = hidden;
    s.headsPerUnit = headsPerUnit;
    s.batch = int(kvLen.size());
    s.layers = kvLen.empty() ? 0 : int(kvLen[0].size());
    s.units = s.layers == 0 ? 0 : int(kvLen[0][0].size());
    s.kvLen = std::move(kvLen);
    s.cUnitMs = cost.cUnitMs;
    s.cTokMs = cost.cTokMs;
    s.costSource = cost.source;
    s.ranks = ranks;
    s.unitWeightBytes = unitWeightBytes;
    for (const auto& row : mlpMs)
        s.mlpMs += (row.empty() ? 0.0 : *std::max_element(row.begin(), row.end())) / double(mlpMs.size());
    for (double c : collectiveMs)
        s.collectiveMs += c / double(collectiveMs.size());
    return s;
}

// A unit replica's weight bytes over one retained token's K and V bytes: how the model's shape
// splits attention time between units and tokens where a run's times cannot (CostModel::fit).
double unitToTokenBytes(const InferenceEngine& engine)
{
    const ModelConfig& mc = engine.config();
    return PlacementStats::defaultUnitBytes(mc.hiddenSize, mc.headDim, engine.units().queryHeads(), engine.bytesPerWeight())
           / PlacementStats::defaultTokenBytes(mc.headDim, engine.bytesPerWeight());
}

PlacementStats runStats(const InferenceEngine& engine, const CostModel& cost, const std::vector<std::vector<double>>& mlpMs,
                        const std::vector<double>& collectiveMs)
{
    const ModelConfig& mc = engine.config();
    std::vector<std::vector<std::vector<double>>> kvLen;
    for (const auto& req : engine.kvLengths()) {
        std::vector<std::vector<double>> layers;
        for (const auto& layer : req)
            layers.emplace_back(layer.begin(), layer.end());
        kvLen.push_back(std::move(layers));
    }
    return assembleStats(std::move(kvLen), cost, mlpMs, collectiveMs, engine.numRanks(),
                         uint64_t(PlacementStats::defaultUnitBytes(mc.hiddenSize, mc.headDim, engine.units().queryHeads(),
                                                                   engine.bytesPerWeight())),
                         mc.headDim, mc.hiddenSize, engine.units().queryHeads());
}

} // namespace

std::vector<std::vector<double>> headScoresFor(const RunConfig& config, const std::string& path)
{
    return CompressionOptions::loadHeadScores(path, [&] {
        const std::optional<ModelConfig> shape = modelShape(config.model, config.layers);
        if (!shape)
            throw Error("the model '" + config.model + "' is neither a built-in shape nor a checkpoint folder");
        return std::make_pair(shape->numHeads, config.unitMode == UnitMode::Gqa ? shape->groupSize() : 1);
    });
}

bool isRunResult(const json& j)
{
    return j.is_object() && j.contains("kv_len") && j.contains("placement") && j.contains("model") && !j.contains("layers");
}

PlacementStats statsOfResult(const json& r, const std::string& source)
{
    // Every part a stats export takes, checked by name: a hand-edited or foreign result gets one
    // line that says which key is wrong (the JSON library's own words named none).
    const auto fail = [&](const std::string& what) { return Error(source + ": the run's result " + what); };
    const auto object = [&](const char* key) -> const json& {
        if (!r.contains(key) || !r.at(key).is_object())
            throw fail(std::string("has no '") + key + "' object");
        return r.at(key);
    };
    const json& lb = object("lower_bound");
    if (!lb.contains("c_unit_ms") || !lb.at("c_unit_ms").is_number() || !lb.contains("c_tok_ms") || !lb.at("c_tok_ms").is_number()
        || !r.contains("tokens_per_s") || !r.at("tokens_per_s").is_number())
        throw Error(source + ": the run has no timed decode step, so no cost constants to plan with");
    const json& m = object("model");
    const std::string modelSource = source + ": the run's 'model'";
    const int heads = jsonInt(m, "heads", modelSource), kvHeads = jsonInt(m, "kv_heads", modelSource);
    const int hidden = jsonInt(m, "hidden", modelSource), headDim = jsonInt(m, "head_dim", modelSource);
    const json config = r.contains("config") ? r.at("config") : json::object();
    if (!config.is_object())
        throw fail("has a 'config' that is not an object");
    const std::string units = jsonStringOr(config, "units", "gqa", source + ": the run's 'config'");
    if (units != unitModeName(UnitMode::Gqa) && units != unitModeName(UnitMode::PerQueryHead))
        throw fail("has units '" + printable(units.substr(0, 64)) + "' in its 'config', not gqa or per-query-head");
    const UnitMode mode = unitModeFromName(units);
    const int perUnit = mode == UnitMode::Gqa ? heads / kvHeads : 1;
    const auto table = [&](const char* key, size_t depth) {
        const json* v = r.contains(key) ? &r.at(key) : nullptr;
        for (size_t d = 0; v && d < depth; ++d) {
            if (!v->is_array())
                throw fail(std::string("has a '") + key + "' that is not " + std::to_string(depth) + " levels of lists");
            if (v->empty())
                break;
            v = &v->front();
        }
        if (!v)
            throw fail(std::string("has no '") + key + "'");
        return r.at(key);
    };
    const json& kv = table("kv_len", 3);
    if (kv.empty() || kv.front().empty() || kv.front().front().empty())
        throw fail("has an empty 'kv_len' (no request, layer or unit)");
    if (const int batch = jsonIntOr(config, "batch", int(kv.size()), source + ": the run's 'config'"); batch != int(kv.size()))
        throw fail("has 'kv_len' for " + std::to_string(kv.size()) + " requests, its 'config' says batch " + std::to_string(batch));
    if (const size_t units = kv.front().front().size(); mode == UnitMode::Gqa ? int(units) != kvHeads : int(units) != heads)
        throw fail("has " + std::to_string(units) + " units per layer in 'kv_len', the model's " + unitModeName(mode) + " units are "
                   + std::to_string(mode == UnitMode::Gqa ? kvHeads : heads));
    // Lengths as they are (a stats file's checks below name a ragged or negative one); whole ones,
    // as the engine keeps them.
    static const json none = json::array(); // what a row that is not a list reads as (not a copy of the row)
    const auto rows = [&](const json& v) -> const json& { return v.is_array() ? v : none; };
    std::vector<std::vector<std::vector<double>>> lengths;
    for (const json& request : kv) {
        lengths.emplace_back();
        for (const json& layer : rows(request)) {
            lengths.back().emplace_back();
            for (const json& v : rows(layer)) {
                if (!v.is_number() || (jsonIsNumberIn(v, 0, double(1 << 30)) && v.get<double>() != std::floor(v.get<double>())))
                    throw fail("holds " + jsonBrief(v) + " in 'kv_len', not a whole token count");
                lengths.back().back().push_back(v.get<double>());
            }
        }
    }
    const json& mlp = table("rank_mlp_ms", 2);
    const json& collective = table("collective_ms", 1);
    std::vector<std::vector<double>> mlpMs;
    for (const json& layer : mlp) {
        mlpMs.emplace_back();
        for (const json& v : rows(layer)) {
            if (!jsonIsNumberIn(v, 0, 1e9))
                throw fail("holds " + jsonBrief(v) + " in 'rank_mlp_ms', not a time in ms");
            mlpMs.back().push_back(v.get<double>());
        }
    }
    std::vector<double> collectiveMs;
    for (const json& v : collective) {
        if (!jsonIsNumberIn(v, 0, 1e9))
            throw fail("holds " + jsonBrief(v) + " in 'collective_ms', not a time in ms");
        collectiveMs.push_back(v.get<double>());
    }
    const PlacementStats s = assembleStats(
        std::move(lengths), CostModel{lb.at("c_unit_ms").get<double>(), lb.at("c_tok_ms").get<double>(), jsonStringOr(lb, "source", "the run's result", source)},
        mlpMs, collectiveMs, jsonInt(r, "ranks", source + ": the run's result", 1, 1 << 24),
        uint64_t(PlacementStats::defaultUnitBytes(hidden, headDim, perUnit, bytesPerWeight(jsonStringOr(r, "backend", "cpu", source)))),
        headDim, hidden, perUnit);
    return PlacementStats::fromJson(s.toJson(), source); // the stats file's checks: ragged lengths, cost bounds
}

namespace {

KvLengths currentLengths(const InferenceEngine& engine)
{
    KvLengths out;
    for (const auto& req : engine.kvLengths()) {
        out.emplace_back();
        for (const auto& layer : req)
            out.back().emplace_back(layer.begin(), layer.end());
    }
    return out;
}

} // namespace

struct LiveRun::State
{
    RunConfig cfg;
    std::shared_ptr<ModelWeights> weights;
    std::unique_ptr<InferenceEngine> engine;
    InferenceEngine::DecodeState afterPrefill;
    std::vector<Rng> samplersAfterPrefill; // one per request
    RunResult prefilled; // model, prompts, prefill time and token: what every decode starts from
    RunResult result;
};

namespace {

// Decodes cfg.decode steps from the engine's current state and fills `res` (which holds the
// prefill's fields). `planned`: the first step runs under the current placement and calibrates
// the cost model, then the planner's placement is installed live.
void decodeAndMeasure(InferenceEngine& engine, const RunConfig& cfg, bool planned, std::vector<Rng>& samplers, RunResult& res,
                      const std::function<void(const std::string&, int, int)>& report, const PartialFn& partial)
{
    const ModelConfig& mc = engine.config();
    std::vector<int> next(size_t(cfg.batch));
    for (int r = 0; r < cfg.batch; ++r)
        next[size_t(r)] = res.tokens[size_t(r)].back();
    auto take = [&](const std::vector<std::vector<float>>& logits) {
        for (int r = 0; r < cfg.batch; ++r) {
            auto& generated = res.tokens[size_t(r)]; // the last one was this step's input
            next[size_t(r)] = sampleToken(logits[size_t(r)], cfg.temperature, samplers[size_t(r)],
                                          {r, cfg.promptLen + int(generated.size()) - 1, generated.back()});
            res.tokens[size_t(r)].push_back(next[size_t(r)]);
        }
    };
    if (planned) {
        report("calibrating", 0, 1);
        StepTiming t;
        take(engine.decodeStep(next, &t));
        const KvLengths lengths = currentLengths(engine);
        const CostModel cost = CostModel::fit(engine.placement(), lengths, t.attentionMs, unitToTokenBytes(engine));
        // A fit that prices a retained token at nothing plans on unit counts alone, blind to the KV
        // it is meant to balance: say so (one calibration step too short or noisy to tell).
        if (!(cost.cTokMs > 0))
            res.warnings.push_back("the calibration step's fit prices a retained token at 0 ms: " + cfg.placement
                                   + " planned on unit counts alone (a step too short or noisy to tell tokens apart; more "
                                     "layers, a larger batch or a longer prompt help)");
        PlanOptions po;
        po.planner = cfg.placement;
        po.ranks = cfg.ranks;
        po.memoryBudget = cfg.memoryBudget;
        po.sameCount = cfg.sameCount;
        PlacementStats stats = runStats(engine, cost, t.mlpMs, t.collectiveMs);
        res.plan = planPlacement(stats, po);
        res.kvMovedBytes = engine.setPlacement(res.plan->placement);
        res.calibrationSteps = 1;
    }

    const int measured = cfg.decode - res.calibrationSteps;
    // Sums over the measured steps; fill() turns them into the result, also for partial snapshots.
    std::vector<std::vector<double>> attnSum(size_t(mc.numLayers), std::vector<double>(size_t(cfg.ranks), 0.0));
    std::vector<std::vector<double>> mlpSum = attnSum;
    std::vector<double> collectiveSum(size_t(mc.numLayers), 0.0);
    auto fill = [&](int steps) {
        const double n = std::max(steps, 1);
        res.rankAttentionMs = attnSum;
        res.rankMlpMs = mlpSum;
        res.collectiveMs = collectiveSum;
        for (auto* table : {&res.rankAttentionMs, &res.rankMlpMs})
            for (auto& layer : *table)
                for (double& v : layer)
                    v /= n;
        for (double& v : res.collectiveMs)
            v /= n;
        res.placement = engine.placement();
        res.kvLen = engine.kvLengths();
        res.attentionMass = engine.attentionMass();
        res.rankWeightBytes = engine.rankWeightBytes();
        res.rankKvBytes = engine.rankKvBytes();
        if (steps == 0)
            return; // nothing timed yet: the step figures stay kNotTimed
        double total = 0.0;
        for (double ms : res.stepMs)
            total += ms;
        res.tokensPerS = total > 0 ? cfg.batch * steps / (total / 1000.0) : 0.0;
        double sumMax = 0.0, sumMean = 0.0;
        for (const auto& layer : res.rankAttentionMs) {
            sumMax += *std::max_element(layer.begin(), layer.end());
            for (double v : layer)
                sumMean += v / cfg.ranks;
        }
        res.attentionMs = sumMax;
        res.imbalance = sumMean > 0 ? sumMax / sumMean : 1.0;
    };
    if (partial) {
        fill(0);
        partial(res);
    }
    for (int step = 0; step < measured; ++step) {
        report("decode", step, measured);
        StepTiming t;
        auto logits = engine.decodeStep(next, &t);
        res.stepMs.push_back(t.stepMs());
        if (!t.note.empty())
            res.warnings.push_back("decode step " + std::to_string(step + 1) + ": " + t.note);
        for (int l = 0; l < mc.numLayers; ++l) {
            for (int g = 0; g < cfg.ranks; ++g) {
                attnSum[size_t(l)][size_t(g)] += t.attentionMs[size_t(l)][size_t(g)];
                mlpSum[size_t(l)][size_t(g)] += t.mlpMs[size_t(l)][size_t(g)];
            }
            collectiveSum[size_t(l)] += t.collectiveMs[size_t(l)];
        }
        take(logits);
        if (partial) {
            fill(step + 1);
            partial(res);
        }
    }
    report("decode", measured, measured);
    fill(measured);
    if (measured > 0) {
        const KvLengths lengths = meanDecodeLengths(res.kvLen, measured);
        res.cost = CostModel::fit(res.placement, lengths, res.rankAttentionMs, unitToTokenBytes(engine));
        res.lowerBoundMs = 0.0;
        for (double bound : res.cost.layerLowerBoundsMs(lengths, cfg.ranks))
            res.lowerBoundMs += bound;
        res.stats = runStats(engine, res.cost, res.rankMlpMs, res.collectiveMs);
    }
    res.gemm = engine.gemmRoutines();
}

std::function<void(const std::string&, int, int)> reporter(const ProgressFn& progress, const std::atomic<bool>* cancel)
{
    return [progress, cancel](const std::string& phase, int done, int total) {
        if (progress)
            progress(phase, done, total);
        if (cancel && cancel->load())
            throw Error("cancelled");
    };
}

} // namespace

LiveRun::LiveRun(const RunConfig& cfg, const ProgressFn& progress, const std::atomic<bool>* cancel, TraceSink* trace,
                 const PartialFn& partial)
    : m(std::make_unique<State>())
{
    cfg.validate();
    const auto report = reporter(progress, cancel);
    const bool planned = plansFromStats(cfg.placement);
    if (planned && cfg.decode < 2)
        throw Error("--placement " + cfg.placement + " needs --decode 2 or more: the first step, under the uniform "
                    "split, calibrates the cost model the planner uses");
    report("loading model", 0, 1);
    // Before the weights: what the shape refuses is refused at once.
    if (const std::optional<ModelConfig> shape = modelShape(cfg.model, cfg.layers)) {
        shape->requirePositions(int64_t(cfg.promptLen) + cfg.decode,
                                "--prompt-len " + std::to_string(cfg.promptLen) + " plus --decode " + std::to_string(cfg.decode));
        requireRunMemory(cfg, *shape);
    }
    m->cfg = cfg;
    m->weights = std::make_shared<ModelWeights>(loadModel(cfg.model, cfg.layers, cfg.seed));
    const ModelConfig& mc = m->weights->config;
    m->engine = std::make_unique<InferenceEngine>(m->weights, cfg.ranks, cfg.unitMode, cfg.backend, cfg.devices);
    InferenceEngine& engine = *m->engine;
    engine.setTraceSink(trace);
    const int units = engine.units().numUnits;
    const Placement placement = planned ? Placement::uniform(mc.numLayers, units, cfg.ranks, cfg.batch)
                                        : resolvePlacement(cfg, mc.numLayers, units);

    RunResult& res = m->prefilled;
    res.config = cfg;
    res.model = mc.shapeJson();
    res.ranks = cfg.ranks;
    res.backend = cfg.backend;
    res.timing = engine.timingKind();
    res.collective = engine.collectiveSource();
    res.compressionOn = engine.compressionWhere();
    res.kernelTracing = trace && trace->tracesKernels();
    res.prompts = makePrompts(cfg.batch, cfg.promptLen, mc.vocabSize, cfg.seed);
    if (const std::string unused = m->weights->unusedTensorsWarning(); !unused.empty())
        res.warnings.push_back(unused);
    // A prompt within the budget is kept whole (design §3): a run meant to measure compression
    // would otherwise measure none without a word.
    if (cfg.compression.policy != CompressionPolicy::None) {
        int whole = 0;
        for (int l = 0; l < mc.numLayers; ++l)
            whole += !compresses(cfg.compression, l, mc.numLayers, cfg.promptLen);
        if (whole == mc.numLayers)
            res.warnings.push_back("the prompt (" + std::to_string(cfg.promptLen) + " tokens) is not longer than the budget ("
                                   + std::to_string(cfg.compression.budget) + "): nothing was compressed, every unit keeps the whole prompt");
        else if (whole > 0)
            res.warnings.push_back(std::to_string(whole) + " of " + layerCount(mc.numLayers) + (whole == 1 ? " keeps" : " keep")
                                   + " the whole prompt ("
                                   + std::to_string(cfg.promptLen) + " tokens): their share of the budget is not below it");
    }

    report("prefill", 0, 1);
    auto pre = engine.prefill(res.prompts, cfg.compression, placement);
    res.prefillWallMs = pre.wallMs;
    res.prefillMs = pre.timing.composedMs();
    // Each request samples from its own stream (as its prompt is drawn from its own): what request
    // r generates does not depend on how many requests share the batch.
    std::vector<Rng> samplers;
    res.tokens.assign(size_t(cfg.batch), {});
    for (int r = 0; r < cfg.batch; ++r) {
        samplers.emplace_back(Rng::mix(cfg.seed, 0x5a3b1e, uint64_t(r)));
        res.tokens[size_t(r)].push_back(sampleToken(pre.lastLogits[size_t(r)], cfg.temperature, samplers.back(),
                                                    {r, cfg.promptLen - 1, res.prompts[size_t(r)].back()}));
    }
    m->afterPrefill = engine.saveState();
    m->samplersAfterPrefill = samplers;

    m->result = res;
    decodeAndMeasure(engine, cfg, planned, samplers, m->result, report, partial);
    engine.setTraceSink(nullptr);
}

LiveRun::~LiveRun() = default;

const RunResult& LiveRun::result() const
{
    return m->result;
}

RunResult LiveRun::rerun(const Placement& placement, const std::string& name, const ProgressFn& progress,
                         const std::atomic<bool>* cancel, TraceSink* trace, const PartialFn& partial, int decodeSteps)
{
    InferenceEngine& engine = *m->engine;
    const auto report = reporter(progress, cancel);
    Placement p = placement;
    p.name = name;
    p.validate(engine.config().numLayers, engine.units().numUnits, engine.numRanks(), engine.batch());
    report("moving shards and KV", 0, 1);
    engine.restoreState(m->afterPrefill); // the KV as prefill left it, no new prefill
    engine.setPlacement(m->result.placement); // so that the bytes moved count from the parent's placement
    RunResult res = m->prefilled;
    res.config.placement = name;
    if (decodeSteps >= 0)
        res.config.decode = decodeSteps;
    res.kvMovedBytes = engine.setPlacement(p);
    res.kernelTracing = trace && trace->tracesKernels();
    std::vector<Rng> samplers = m->samplersAfterPrefill;
    engine.setTraceSink(trace);
    try {
        decodeAndMeasure(engine, res.config, false, samplers, res, report, partial);
    } catch (...) {
        engine.setTraceSink(nullptr);
        throw;
    }
    engine.setTraceSink(nullptr);
    return res;
}

RunResult runInference(const RunConfig& cfg, const ProgressFn& progress, const std::atomic<bool>* cancel, TraceSink* trace,
                       const PartialFn& partial)
{
    return LiveRun(cfg, progress, cancel, trace, partial).result();
}

double RunResult::stepMeanMs() const
{
    double sum = 0.0;
    for (double s : stepMs)
        sum += s;
    return stepMs.empty() ? kNotTimed : sum / double(stepMs.size());
}

double RunResult::stepMedianMs() const
{
    std::vector<double> sorted = stepMs;
    std::sort(sorted.begin(), sorted.end());
    return sorted.empty() ? kNotTimed : quantileOfSorted(sorted, 0.5);
}

json RunResult::toJson() const
{
    return {
        {"model", model},
        {"config", config.toJson()},
        {"ranks", ranks},
        {"backend", backend},
        {"timing", timing},
        {"collective", collective},
        {"gemm", gemm},
        {"compression_on", compressionOn},
        {"kernel_tracing", kernelTracing},
        {"placement", placement.toJson()},
        {"kv_len", kvLen},
        {"attention_mass", attentionMass},
        {"rank_attention_ms", rankAttentionMs},
        {"rank_mlp_ms", rankMlpMs},
        {"collective_ms", collectiveMs},
        {"step_ms", stepMs},
        {"prefill_ms", prefillMs},
        {"prefill_wall_ms", prefillWallMs},
        {"tokens_per_s", tokensPerS},
        {"imbalance", imbalance},
        {"attention_ms", attentionMs},
        {"lower_bound_ms", lowerBoundMs},
        {"lower_bound", {{"kind", "modelled"}, {"c_unit_ms", cost.cUnitMs}, {"c_tok_ms", cost.cTokMs}, {"source", cost.source}}},
        {"rank_weight_bytes", rankWeightBytes},
        {"rank_kv_bytes", rankKvBytes},
        {"tokens", tokens},
        {"calibration_steps", calibrationSteps},
        {"plan", plan ? plan->toJson() : json(nullptr)},
        {"kv_moved_bytes", kvMovedBytes},
        {"warnings", warnings},
    };
}

} // namespace fairkv
