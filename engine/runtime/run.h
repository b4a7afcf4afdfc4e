#pragma once
#include "kv/compression.h"
#include "placement/cost_model.h"
#include "placement/placement.h"
#include "placement/placement_stats.h"
#include "placement/planner.h"
#include "runtime/trace_sink.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include "parallel/rank_factory.h"

#include <memory>
#include <string>
#include <vector>

namespace fairkv {

// Everything `fairkv run` (and the GUI's run panel) can set.
struct RunConfig
{
    std::string model = "tiny"; // built-in shape or HF checkpoint folder
    int layers = 0;             // truncate to the first N layers (0: all)
    int ranks = 1;
    std::string backend = "cpu";
    std::string placement = "uniform"; // planner name or placement JSON file
    std::optional<uint64_t> memoryBudget; // fairkv-copy: bytes for extra weight copies
    bool sameCount = false;               // fairkv-assign: same number of units per rank
    UnitMode unitMode = UnitMode::Gqa;
    CompressionOptions compression;
    int batch = 1;
    int promptLen = 128;
    int decode = 16; // decode steps
    uint64_t seed = 0;
    double temperature = 0.0; // 0: greedy
    BackendOptions devices;   // GPU backends: emulate ranks on one device; the all-reduce model

    // The demo every entry point offers: tiny model, 4 ranks, Ada-SnapKV budget 64, batch 4,
    // prompt 512, 16 decode steps, on the CPU.
    static RunConfig demo();

    void validate() const; // throws naming the option
    nlohmann::json toJson() const;
    // The settings a stored run was made with (toJson's keys; missing ones take the defaults).
    static RunConfig fromJson(const nlohmann::json& j);
};

struct RunResult
{
    nlohmann::json model;
    RunConfig config;
    int ranks = 1;
    std::string backend;
    std::string timing; // "measured" or "emulated"
    std::string collective; // how collective_ms was obtained
    std::string gemm;       // which routines ran the decode GEMMs (GPU backends; "" otherwise)
    std::string compressionOn = "host"; // where prefill's compression selection ran ("host", "GPU 0")
    bool kernelTracing = false;         // decode kernels were traced (CUPTI): step times include that cost
    Placement placement;
    std::vector<std::vector<std::vector<int>>> kvLen;             // [request][layer][unit]
    std::vector<std::vector<std::vector<double>>> attentionMass;   // [request][layer][unit]
    std::vector<std::vector<double>> rankAttentionMs;              // [layer][rank], mean over decode steps
    std::vector<std::vector<double>> rankMlpMs;                    // [layer][rank], mean over decode steps
    std::vector<double> collectiveMs;                              // [layer], mean over decode steps
    std::vector<double> stepMs;                                    // composed time of each decode step
    // What only timed decode steps give is NaN until there is one (--decode 0, or a partial result
    // before the first step): null in JSON and sessions, "n/a" where it is shown, never a 0 or a
    // perfect 1.0 that would read as a measurement.
    static constexpr double kNotTimed = std::numeric_limits<double>::quiet_NaN();
    double stepMeanMs() const;   // NaN without steps
    double stepMedianMs() const; // quantileOfSorted(0.5), NaN without steps; one slow step moves the mean, not this
    double prefillMs = 0.0;     // composed like a step: per-layer slowest rank, collectives, replicated work
    double prefillWallMs = 0.0; // measured on the host clock around the prefill pass (transfers included)
    double tokensPerS = kNotTimed;
    double imbalance = kNotTimed;    // sum_l max_g / sum_l mean_g of rank attention time
    double attentionMs = kNotTimed;  // sum_l max_g rank attention time (per step)
    double lowerBoundMs = kNotTimed; // modelled from the steps' fitted costs: best possible sum_l max_g attention time
    CostModel cost;
    std::vector<size_t> rankWeightBytes, rankKvBytes;
    int calibrationSteps = 0;        // planner runs: steps decoded under uniform to fit the cost model
    std::optional<PlanResult> plan; // planner runs: the plan applied after calibration (modelled)
    size_t kvMovedBytes = 0;        // KV that changed rank when the plan was applied
    PlacementStats stats;           // export for `fairkv plan` (final lengths, fitted constants)
    std::vector<std::vector<int>> prompts;
    std::vector<std::vector<int>> tokens; // [request][generated ids]: the prefill's token, then one per step
    std::vector<std::string> warnings;    // what the numbers above include that they should not (never silent)

    nlohmann::json toJson() const;
};

using ProgressFn = std::function<void(const std::string& phase, int done, int total)>;
// Receives the result so far: after prefill (KV lengths, placement) and after every measured
// decode step (rank times averaged over the steps done). Called on the running thread.
using PartialFn = std::function<void(const RunResult& soFar)>;

// Loads the model, prefills random prompts (seeded), compresses, decodes and measures.
// `cancel`, when set, is checked between steps; a cancelled run throws fairkv::Error("cancelled").
// `trace`, when given, receives every timed event of the run (the profiler's tracers).
RunResult runInference(const RunConfig& config, const ProgressFn& progress = {}, const std::atomic<bool>* cancel = nullptr,
                       TraceSink* trace = nullptr, const PartialFn& partial = {});

// A run whose engine stays alive after decoding (the GUI's live re-run): `rerun` restores the KV
// as prefill left it, installs another placement (shards and KV move between ranks, no new
// prefill) and decodes the same steps again. Keeps a copy of the post-prefill KV.
class LiveRun
{
public:
    // Loads, prefills, decodes: what runInference does.
    LiveRun(const RunConfig& config, const ProgressFn& progress = {}, const std::atomic<bool>* cancel = nullptr,
            TraceSink* trace = nullptr, const PartialFn& partial = {});
    ~LiveRun();
    LiveRun(const LiveRun&) = delete;
    LiveRun& operator=(const LiveRun&) = delete;

    const RunResult& result() const;
    // `name` becomes the result's placement name (e.g. "edited"). Throws naming the problem when
    // the placement does not fit the run's layers, units, ranks or batch; the engine is unchanged then.
    // `decodeSteps` < 0: as many as the run decoded.
    RunResult rerun(const Placement& placement, const std::string& name, const ProgressFn& progress = {},
                    const std::atomic<bool>* cancel = nullptr, TraceSink* trace = nullptr, const PartialFn& partial = {},
                    int decodeSteps = -1);

private:
    struct State;
    std::unique_ptr<State> m;
};

// The CPU backend keeps fp32 weights and a copy of every rank's shard, plus the prompts' KV and
// activations: refused up front (an Error with the bytes needed and available) rather than killed
// by the kernel half way through a run of `cfg` on a model of `shape`. `advice` ends the message
// (default: the run's options that need less).
void requireRunMemory(const RunConfig& cfg, const ModelConfig& shape, const std::string& advice = {});

// Seeded random prompts, `batch` x `length` token ids.
std::vector<std::vector<int>> makePrompts(int batch, int length, int vocab, uint64_t seed);

// Whether `j` is a run's result (RunResult::toJson: what `run --json` writes and a session stores).
bool isRunResult(const nlohmann::json& j);
// The stats export (design §5) of a run's result, as `run --stats` would have written it: the
// final KV lengths, the fitted cost constants, the MLP share and collectives per layer, the unit
// replica's bytes on the run's backend. An Error naming `source` for a result without a timed step.
PlacementStats statsOfResult(const nlohmann::json& result, const std::string& source);

// HeadKV scores [layer][unit] for `config`'s model and units from a score file (either format of
// CompressionOptions::loadHeadScores(); the model's shape is read only for {"layer-head": ...} files).
std::vector<std::vector<double>> headScoresFor(const RunConfig& config, const std::string& path);

} // namespace fairkv
