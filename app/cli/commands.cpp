#include "commands.h"

#include "cli_args.h"
#include "common/dtype.h"
#include "common/error.h"
#include "common/host_memory.h"
#include "common/output_path.h"
#include "model/model_weights.h"
#include "placement/planner.h"
#include "chrome_trace.h"
#include "engine_tracer.h"
#include "report.h"
#include "session_store.h"
#include "runtime/inference_engine.h"
#include "common/json_file.h"
#include "runtime/run.h"
#include "runtime/sampler.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <sys/stat.h>
#include <unistd.h>

namespace fairkv::cli {

using nlohmann::json;

namespace {

using profiler::fmt;

bool progressLineOpen = false; // a progress line is on the terminal without its newline

ProgressFn terminalProgress()
{
    if (!isatty(STDERR_FILENO))
        return {};
    return [](const std::string& phase, int done, int total) {
        std::fprintf(stderr, "\r%-14s %d/%d   ", phase.c_str(), done, total);
        progressLineOpen = done != total;
        if (!progressLineOpen)
            std::fprintf(stderr, "\n");
        std::fflush(stderr);
    };
}

// A command's progress through named phases, on a terminal only (design §5): for the commands
// that work for seconds without a finer count (loading a model, a forward pass, synthesis).
class Phases
{
public:
    explicit Phases(int total) : m_total(total), m_show(terminalProgress()) {}
    void enter(const char* phase)
    {
        if (m_show)
            m_show(phase, m_done, m_total);
        m_phase = phase;
        ++m_done;
    }
    void finish() const
    {
        if (m_show)
            m_show(m_phase, m_total, m_total);
    }

private:
    int m_total, m_done = 0;
    const char* m_phase = "";
    ProgressFn m_show;
};

// Warnings and notes on stderr, one line each: they quote names from the user's files.
void printNotes(const std::vector<std::string>& lines, const char* prefix)
{
    if (!lines.empty())
        endProgressLine();
    for (const std::string& line : lines)
        std::cerr << prefix << withoutControls(line, '?') << "\n";
}

void printRunSummary(const RunResult& r)
{
    const auto& c = r.config;
    std::cout << "model " << r.model["name"].get<std::string>() << ": " << layerCount(r.model["layers"].get<int64_t>()) << ", "
              << r.model["heads"] << " heads / " << r.model["kv_heads"] << " KV heads, " << r.ranks << (r.ranks == 1 ? " rank (" : " ranks (")
              << r.backend << ", " << r.timing << "), units " << unitModeName(c.unitMode) << ", placement "
              << r.placement.name << "\n";
    std::cout << "compression " << compressionName(c.compression.policy)
              << (c.compression.policy == CompressionPolicy::None ? std::string(" (every token kept)")
                                                                   : " budget " + std::to_string(c.compression.budget))
              << ", batch " << c.batch << ", prompt " << c.promptLen << ", " << c.decode << (c.decode == 1 ? " decode step\n" : " decode steps\n");
    std::cout << "prefill " << fmt(r.prefillMs, 1) << " ms (" << r.timing << "; " << fmt(r.prefillWallMs, 1) << " ms wall), ";
    if (r.stepMs.empty()) { // --decode 0: no step was timed, and 0 ms would read as a measurement
        std::cout << "no decode step timed: step time, tokens/s and imbalance n/a\n";
    } else {
        std::cout << "decode step " << fmt(r.stepMeanMs()) << " ms mean, " << fmt(r.stepMedianMs()) << " ms median ("
                  << r.timing << "), " << fmt(r.tokensPerS, 1) << " tokens/s\n";
        std::cout << "attention per step: slowest ranks " << fmt(r.attentionMs) << " ms (" << r.timing
                  << "), lower bound " << fmt(r.lowerBoundMs) << " ms (modelled), imbalance max/mean "
                  << fmt(r.imbalance, 2) << "\n";
    }
    if (!r.gemm.empty())
        std::cout << "decode GEMMs: " << r.gemm << "\n";
    if (r.plan)
        std::cout << "plan " << r.plan->planner << " (after " << r.calibrationSteps << " calibration step under uniform): modelled "
                  << fmt(r.plan->speedupOverUniform(), 3) << "x over uniform, "
                  << r.plan->extraReplicas << " extra replicas, " << fmt(double(r.kvMovedBytes) / (1 << 20), 2)
                  << " MiB of KV moved\n";
    std::cout << "rank  attention ms/step  KV MiB\n";
    for (int g = 0; g < r.ranks; ++g) {
        double t = 0.0;
        for (const auto& layer : r.rankAttentionMs)
            t += layer[size_t(g)];
        std::printf("%4d  %17s  %6s\n", g, r.stepMs.empty() ? "n/a" : fmt(t).c_str(),
                    fmt(double(r.rankKvBytes[size_t(g)]) / (1 << 20), 2).c_str());
    }
    std::cout << std::flush;
    printNotes(r.warnings, "warning: ");
}

} // namespace

int runCommand(const std::vector<std::string>& argv)
{
    Args args("run",
              {{"model", "NAME|DIR", "built-in shape (tiny, llama-3.1-8b, llama-3.3-70b, mistral-small-24b) or HF checkpoint folder", "tiny"},
               {"layers", "N", "use only the first N layers (0: all)", "0"},
               {"ranks", "N", "tensor-parallel ranks", "1"},
               {"backend", "cpu|cuda", "compute backend", "cpu"},
               {"placement", "NAME|FILE", "uniform, fairkv-assign, fairkv-copy or a placement JSON file", "uniform"},
               {"units", "gqa|per-query-head", "what a placement unit is", "gqa"},
               {"compress", "POLICY", "none, snapkv, ada-snapkv, pyramidkv, headkv", "ada-snapkv"},
               {"budget", "B", "KV tokens kept per unit, window included", "128"},
               {"window", "W", "observation window (last prompt queries)", "32"},
               {"kernel", "K", "pooling kernel (odd)", "7"},
               {"pooling", "max|avg", "pooling of window scores", "max"},
               {"floor-alpha", "A", "Ada-SnapKV floor: share of the budget every unit keeps", "0.2"},
               {"head-scores", "FILE", "per-head importance scores for headkv ({\"scores\": [[layer's unit scores], ...]}, or HeadKV's {\"layer-head\": [...]})", ""},
               {"batch", "b", "requests decoded together", "1"},
               {"prompt-len", "L", "prompt tokens per request (seeded random ids); a prompt within the budget is kept whole", "512"},
               {"decode", "T", "decode steps", "16"},
               {"seed", "S", "seed of weights, prompts and sampling", "0"},
               {"temperature", "T", "sampling temperature (0: greedy; each request samples from its own seeded stream)", "0"},
               {"emulate", "", "cuda: run every rank on the first GPU and compose the step (also with enough GPUs)", ""},
               {"allreduce-alpha-us", "US", "emulated ranks: all-reduce latency of the alpha-beta model", "10"},
               {"allreduce-gbs", "GB/s", "emulated ranks: all-reduce bus bandwidth of the alpha-beta model", "370"},
               {"gemm", "auto|cublas", "cuda: auto times cublasGemmEx and cuBLASLt configurations per decode product shape and keeps the fastest; cublas: cublasGemmEx", "auto"},
               {"memory-budget", "BYTES", "fairkv-copy: bytes for extra weight copies over all layers (default: unlimited)", ""},
               {"same-count", "", "fairkv-assign: keep the same number of units on every rank", ""},
               {"stats", "FILE", "write the run's per-unit statistics for 'fairkv plan'", ""},
               {"session", "FILE.fkv", "append the run, its trace and stats to a session database", ""},
               {"label", "TEXT", "label of the run in the session", ""},
               {"session-wait", "SECONDS", "how long saving waits while another program writes the session", "120"},
               {"no-trace", "", "save the run to --session without its trace records", ""},
               {"cupti", "on|off", "cuda with --session: trace every decode kernel with CUPTI, tagged by rank and layer", "on"},
               {"json", "FILE", "write the JSON result (design §5)", ""}});
    args.parse(argv);
    if (args.helpRequested()) {
        std::cout << args.help("Prefill seeded random prompts, compress the KV cache per unit, decode and measure "
                               "per-rank attention time.");
        return 0;
    }
    RunConfig cfg;
    cfg.model = args.str("model");
    cfg.layers = args.integer("layers", 0, 1 << 20);
    cfg.ranks = args.integer("ranks", 1, 1024);
    cfg.backend = args.str("backend");
    if (cfg.backend != "cpu" && cfg.backend != "cuda")
        throw UsageError("--backend must be cpu or cuda, got '" + cfg.backend + "'");
    cfg.placement = args.str("placement");
    // A value the option does not take is a usage error (exit 2), like any other bad option.
    const auto optionValue = [](auto&& parse) {
        try {
            return parse();
        } catch (const Error& e) {
            throw UsageError(e.what());
        }
    };
    cfg.unitMode = optionValue([&] { return unitModeFromName(args.str("units")); });
    cfg.compression.policy = optionValue([&] { return compressionFromName(args.str("compress")); });
    cfg.compression.budget = args.integer("budget", 1, 1 << 24);
    cfg.compression.window = args.integer("window", 1, 1 << 20);
    cfg.compression.kernel = args.integer("kernel", 1, 1023);
    const std::string pooling = args.str("pooling");
    if (pooling != "max" && pooling != "avg")
        throw UsageError("--pooling expects max or avg, got '" + pooling + "'");
    cfg.compression.pooling = pooling == "max" ? Pooling::Max : Pooling::Avg;
    cfg.compression.floorAlpha = args.number("floor-alpha", 0.0, 1.0);
    if (args.has("head-scores") && cfg.compression.policy != CompressionPolicy::HeadKV)
        throw UsageError("--head-scores applies to --compress headkv only");
    // An option the policy does not read would change nothing while the run's header repeats it.
    for (const char* option : {"budget", "window", "kernel", "pooling", "floor-alpha"})
        if (args.has(option) && cfg.compression.policy == CompressionPolicy::None)
            throw UsageError(std::string("--") + option + " applies to a --compress policy that compresses (none keeps every token)");
    if (args.has("floor-alpha") && cfg.compression.policy != CompressionPolicy::AdaSnapKV
        && cfg.compression.policy != CompressionPolicy::HeadKV)
        throw UsageError("--floor-alpha applies to --compress ada-snapkv and headkv only");
    optionValue([&] { // an even --kernel is refused as --kernel 0 is, before the model loads (or a score file meets it)
        cfg.compression.validateOptions();
        return 0;
    });
    if (cfg.compression.policy == CompressionPolicy::HeadKV && !args.has("head-scores"))
        throw UsageError("--compress headkv needs --head-scores FILE (per-head importance scores)");
    if (args.has("head-scores"))
        cfg.compression.headScores = headScoresFor(cfg, args.str("head-scores"));
    cfg.batch = args.integer("batch", 1, 1 << 16);
    cfg.promptLen = args.integer("prompt-len", 1, 1 << 24);
    cfg.decode = args.integer("decode", 0, 1 << 20);
    cfg.seed = args.unsignedInt("seed");
    cfg.temperature = args.number("temperature", 0.0, 1e6);
    for (const char* option : {"emulate", "allreduce-alpha-us", "allreduce-gbs", "gemm"})
        if (args.has(option) && cfg.backend != "cuda") // the CPU backend sums in process and measures it
            throw UsageError(std::string("--") + option + " applies to --backend cuda only");
    cfg.devices.emulate = args.has("emulate");
    cfg.devices.allReduce.alphaUs = args.number("allreduce-alpha-us", 0.0, 1e6);
    cfg.devices.allReduce.busGBs = args.number("allreduce-gbs", 1e-3, 1e6);
    const std::string gemm = args.str("gemm");
    if (gemm != "auto" && gemm != "cublas")
        throw UsageError("--gemm must be auto or cublas, got '" + gemm + "'");
    cfg.devices.chooseGemms = gemm == "auto";
    if (args.has("memory-budget") && cfg.placement != "fairkv-copy") // only copies take memory
        throw UsageError("--memory-budget applies to --placement fairkv-copy only");
    if (args.has("memory-budget"))
        cfg.memoryBudget = args.unsignedInt("memory-budget");
    cfg.sameCount = args.has("same-count");
    if (cfg.sameCount && cfg.placement != "fairkv-assign")
        throw UsageError("--same-count applies to --placement fairkv-assign only");
    // Outputs and the session are checked before the run: a bad path fails now, not after
    // minutes of decoding, and not after the run was saved.
    const std::string jsonOut = args.outputPath("json");
    const std::string statsOut = args.outputPath("stats");
    const bool planned = plansFromStats(cfg.placement);
    if (!statsOut.empty() && cfg.decode < (planned ? 2 : 1))
        throw UsageError(std::string("--stats needs a measured decode step to fit its cost constants: --decode ")
                         + (planned ? "2 or more (the first step of a planned placement calibrates)" : "1 or more"));
    const std::string cupti = args.str("cupti");
    if (cupti != "on" && cupti != "off")
        throw UsageError("--cupti must be on or off, got '" + cupti + "'");
    const int waitS = args.integer("session-wait", 0, 24 * 3600);
    for (const char* option : {"label", "no-trace", "session-wait", "cupti"})
        if (args.has(option) && !args.has("session"))
            throw UsageError(std::string("--") + option + " applies to --session only");
    // An existing session is opened (and so checked) before the run; a new one is only checked
    // as an output now and created when the run is saved, so a run that fails leaves no file, and
    // nothing is ever removed that another program may have written meanwhile.
    std::unique_ptr<profiler::SessionStore> session;
    const std::string sessionPath = args.has("session") ? args.str("session") : std::string();
    if (args.has("session") && sessionPath.empty())
        throw UsageError("--session needs a file name");
    if (args.str("label").size() > profiler::SessionStore::kMaxLabelBytes)
        throw UsageError("--label is at most " + std::to_string(profiler::SessionStore::kMaxLabelBytes) + " bytes, got "
                         + std::to_string(args.str("label").size()));
    if (!sessionPath.empty()) {
        struct stat st;
        if (::lstat(sessionPath.c_str(), &st) == 0 || errno != ENOENT)
            session = profiler::SessionStore::open(sessionPath, profiler::SessionStore::Mode::ReadWrite);
        else {
            args.outputPath("session"); // checked as an output: its folder takes the new file,
            // and SQLite can keep it there (refused now, not after the run)
            const auto mode = profiler::SessionStore::Mode::ReadWrite;
            if (const std::string why = profiler::SessionStore::whyPathTooLong(sessionPath, mode); !why.empty())
                throw UsageError("--session " + sessionPath + ": " + why);
        }
    }
    const bool kernels = !sessionPath.empty() && !args.has("no-trace") && cfg.backend == "cuda" && cupti == "on";
    profiler::EngineTracer tracer(kernels);
    if (args.has("no-trace"))
        tracer.setEnabled(false);
    const RunResult result = runInference(cfg, terminalProgress(), nullptr, sessionPath.empty() ? nullptr : &tracer);

    // Every output is tried, whatever happens to the others: a locked session or a full disk must
    // not take the finished run's result with it. The failures make one line at the end.
    std::vector<std::string> failures, kept;
    const auto write = [&](const std::string& path, const nlohmann::json& j) {
        try {
            writeJsonFile(path, j);
            kept.push_back(path);
        } catch (const Error& e) {
            failures.push_back(std::string("was not written to ") + path + ": " + e.what());
        }
    };
    if (!jsonOut.empty())
        write(jsonOut, result.toJson());
    if (!statsOut.empty())
        write(statsOut, result.stats.toJson());
    if (!sessionPath.empty()) {
        try {
            if (!session)
                session = profiler::SessionStore::open(sessionPath, profiler::SessionStore::Mode::ReadWrite);
            session->setBusyTimeout(waitS * 1000);
            const int64_t id = session->appendRun(result, tracer.buffer(), profiler::Environment::detect(), std::nullopt,
                                                  args.str("label"));
            kept.push_back("run " + std::to_string(id) + " of " + sessionPath);
            std::cout << "saved as run " << id << " in " << sessionPath << " (" << tracer.buffer().records.size()
                      << " trace records)\n";
        } catch (const Error& e) {
            failures.push_back(std::string("was not saved: ") + e.what());
        }
    }
    printRunSummary(result);
    if (!failures.empty()) {
        std::string what = "the run finished but ";
        for (size_t i = 0; i < failures.size(); ++i)
            what += (i ? ", and " : "") + failures[i];
        if (kept.empty() && jsonOut.empty())
            what += " (pass --json FILE to keep a run's result when saving may fail)";
        for (size_t i = 0; i < kept.size(); ++i)
            what += (i ? ", " : "; its result is in ") + kept[i];
        throw Error(what);
    }
    return 0;
}

int logitsCommand(const std::vector<std::string>& argv)
{
    Args args("logits",
              {{"model", "NAME|DIR", "HF checkpoint folder or built-in shape (synthetic weights)", ""},
               {"tokens", "IDS", "comma-separated token ids", ""},
               {"layers", "N", "use only the first N layers (0: all)", "0"},
               {"seed", "S", "seed of synthetic weights", "0"},
               {"json", "FILE", "write {\"tokens\": [...], \"logits\": [position][vocab]}", ""}});
    args.parse(argv);
    if (args.helpRequested()) {
        std::cout << args.help("Reference fp32 forward without compression; prints the top tokens of every position.");
        return 0;
    }
    if (!args.has("model"))
        throw UsageError("missing --model");
    if (!args.has("tokens"))
        throw UsageError("missing --tokens (comma-separated ids)");
    std::vector<int> tokens;
    const std::string list = args.str("tokens");
    if (!list.empty() && list.back() == ',')
        throw UsageError("--tokens expects comma-separated non-negative integers, got a trailing comma in '" + list + "'");
    for (const std::string& item : splitCommas(list)) {
        long v = 0;
        const size_t sign = item.size() > 1 && item[0] == '+' ? 1 : 0; // a leading '+', as the number options take
        const auto [end, ec] = std::from_chars(item.data() + sign, item.data() + item.size(), v);
        if (item.empty() || end != item.data() + item.size() || (ec != std::errc() && ec != std::errc::result_out_of_range) || v < 0)
            throw UsageError("--tokens expects comma-separated non-negative integers, got '" + item + "'");
        if (ec == std::errc::result_out_of_range || v > (1L << 30))
            throw UsageError("--tokens: id " + item + " is out of range (ids are below the vocabulary size)");
        tokens.push_back(int(v));
    }
    if (tokens.empty())
        throw UsageError("--tokens is empty");
    const std::string jsonOut = args.outputPath("json");
    RunConfig forward; // what the forward below holds: one CPU rank's shard copy beside the weights
    forward.model = args.str("model");
    forward.layers = args.integer("layers", 0, 1 << 20);
    forward.promptLen = int(tokens.size());
    if (args.has("seed") && !ModelConfig::isBuiltin(forward.model)) // a checkpoint's weights are its own
        throw UsageError("--seed applies to a built-in shape's synthetic weights only, not to the checkpoint " + forward.model);
    if (const auto shape = modelShape(forward.model, forward.layers)) {
        // Before the weights load; the engine's message would speak of "prompt 0".
        for (size_t i = 0; i < tokens.size(); ++i)
            if (tokens[i] >= shape->vocabSize)
                throw UsageError("--tokens: id " + std::to_string(tokens[i]) + " (position " + std::to_string(i)
                                 + ") is outside the model's vocabulary (0.." + std::to_string(shape->vocabSize - 1) + ")");
        requireRunMemory(forward, *shape, "use --layers or fewer --tokens");
    }
    Phases progress(2);
    progress.enter("loading model");
    auto weights = std::make_shared<ModelWeights>(loadModel(forward.model, forward.layers, args.unsignedInt("seed")));
    if (const std::string unused = weights->unusedTensorsWarning(); !unused.empty())
        printNotes({unused}, "warning: ");
    progress.enter("forward");
    InferenceEngine engine(weights, 1, UnitMode::Gqa);
    const int units = engine.units().numUnits;
    auto out = engine.prefill({tokens}, CompressionOptions{}, Placement::uniform(weights->config.numLayers, units, 1, 1), true);
    progress.finish();
    const auto& logits = out.allLogits[0];
    for (size_t i = 0; i < logits.size(); ++i)
        checkFiniteLogits(logits[i], "position " + std::to_string(i) + " (input token " + std::to_string(tokens[i]) + "): the logits");
    if (!jsonOut.empty())
        writeJsonFile(jsonOut, json{{"tokens", tokens}, {"logits", logits}});
    for (size_t i = 0; i < logits.size(); ++i) {
        const auto best = std::max_element(logits[i].begin(), logits[i].end());
        std::cout << "position " << i << " token " << tokens[i] << ": argmax " << (best - logits[i].begin()) << " ("
                  << fmt(*best, 4) << ")\n";
    }
    return 0;
}

int planCommand(const std::vector<std::string>& argv)
{
    Args args("plan",
              {{"stats", "FILE", "per-unit statistics (design §5 stats format; 'fairkv run --stats' writes one), or a run's --json result", ""},
               {"ranks", "N", "ranks to place onto", ""},
               {"planner", "NAME", "uniform, fairkv-assign or fairkv-copy", "fairkv-copy"},
               {"memory-budget", "BYTES", "fairkv-copy: bytes for extra weight copies over all layers", ""},
               {"same-count", "", "fairkv-assign: the same number of units on every rank", ""},
               {"json", "FILE", "write the plan (placement, per-layer times, bounds)", ""}});
    args.parse(argv);
    if (args.helpRequested()) {
        std::cout << args.help("Plan a placement from per-unit KV statistics with the cost model of design §2, and "
                               "report its modelled time per layer against uniform and the lower bound.");
        return 0;
    }
    if (!args.has("stats"))
        throw UsageError("missing --stats FILE");
    if (args.str("stats").empty())
        throw UsageError("--stats needs a file name");
    if (!args.has("ranks"))
        throw UsageError("missing --ranks N");
    const std::string planner = args.str("planner");
    if (!isPlanner(planner)) // before reading the stats
        throw UsageError("--planner '" + planner + "' is not a planner (" + plannerList() + ")");
    const std::string jsonOut = args.outputPath("json");
    // Every option is checked before the stats are read (a large file takes a while).
    PlanOptions o;
    o.planner = planner;
    o.ranks = args.integer("ranks", 1, 1024); // as run takes: a plan for more ranks could not be run
    if (args.has("memory-budget") && o.planner != "fairkv-copy")
        throw UsageError("--memory-budget applies to --planner fairkv-copy only");
    if (args.has("memory-budget"))
        o.memoryBudget = args.unsignedInt("memory-budget");
    o.sameCount = args.has("same-count");
    if (o.sameCount && o.planner != "fairkv-assign")
        throw UsageError("--same-count applies to --planner fairkv-assign only");
    // A run's --json result is an export of its stats too (design §5).
    const std::string statsPath = args.str("stats");
    const nlohmann::json statsJson = readJsonFile(statsPath, "stats file");
    const PlacementStats stats = isRunResult(statsJson) ? statsOfResult(statsJson, statsPath)
                                                        : PlacementStats::fromJson(statsJson, statsPath);
    o.progress = terminalProgress();
    const PlanResult plan = planPlacement(stats, o);
    if (!jsonOut.empty())
        writeJsonFile(jsonOut, plan.toJson());
    int exact = 0;
    for (bool e : plan.exact)
        exact += e;
    std::cout << o.planner << " on " << o.ranks << (o.ranks == 1 ? " rank, " : " ranks, ") << stats.layers << " layers x " << stats.units
              << " units, batch " << stats.batch << " (modelled; costs " << printable(stats.costSource) << ")\n";
    // Four decimals, or three significant digits for times below 0.01 ms (a stats file's own
    // constants can be that small: they had printed as 0.0000 ms).
    const auto ms = [](double v) {
        if (v <= 0 || v >= 0.01)
            return fmt(v, 4);
        char text[32];
        std::snprintf(text, sizeof text, "%.3g", v);
        return std::string(text);
    };
    std::cout << "total " << ms(plan.totalMs) << " ms, uniform " << ms(plan.uniformTotalMs) << " ms ("
              << fmt(plan.speedupOverUniform(), 3) << "x), lower bound "
              << ms(plan.lowerBoundTotalMs) << " ms (gap " << fmt(100 * plan.gap(), 2) << "%)\n";
    if (plan.fixedLayerMs > 0) {
        const double fixedTotal = plan.fixedLayerMs * stats.layers;
        std::cout << "each layer includes " << ms(plan.fixedLayerMs) << " ms of MLP and collectives (from the stats), "
                  << "which no placement changes; attention alone: " << ms(plan.totalMs - fixedTotal) << " ms, uniform "
                  << ms(plan.uniformTotalMs - fixedTotal) << " ms, lower bound " << ms(plan.lowerBoundTotalMs - fixedTotal)
                  << " ms\n";
    }
    // Without 'unit_weight_bytes' (or the shape) a copy's size is unknown, not zero.
    const std::string copyBytes = plan.extraReplicas > 0 && stats.unitWeightBytes == 0
                                      ? std::string("weight size unknown: the stats give no 'unit_weight_bytes' or shape")
                                      : fmt(double(plan.extraWeightBytes) / (1 << 20), 2) + " MiB";
    std::cout << plan.extraReplicas << " extra replicas (" << copyBytes << "), " << exact << "/" << stats.layers
              << " layers proven optimal, planned in " << fmt(plan.planMs, 2) << " ms\n";
    printNotes(plan.warnings, "fairkv plan: note: ");
    return 0;
}

void endProgressLine()
{
    if (progressLineOpen)
        std::fputs("\n", stderr);
    progressLineOpen = false;
}

int64_t runId(const std::string& text, const char* what)
{
    const auto v = wholeInteger(text);
    if (!v || *v < 1)
        throw UsageError(std::string(what) + " expects a run number, got '" + text + "'");
    return *v;
}

namespace {

// A label edited into a session may be megabytes: the list shows its start.
constexpr size_t kListedLabelBytes = 200;

// The cells of one run's line, in the header's order (the label, with any damage, last).
std::vector<std::string> runCells(const profiler::RunSummary& r)
{
    // Damaged settings print "?"; settings without a batch (edited by hand) "-", not a batch of 0.
    const auto setting = [&](const std::string& v) { return r.settingsDamaged ? std::string("?") : v; };
    const std::string damage = r.settingsDamaged && r.resultDamaged ? "[settings and result damaged] "
                               : r.settingsDamaged                  ? "[settings damaged] "
                               : r.resultDamaged                    ? "[result damaged] "
                                                                    : "";
    std::vector<std::string> cells{std::to_string(r.id), r.parent ? std::to_string(*r.parent) : "-", r.model, r.backend,
                                   r.ranks > 0 ? std::to_string(r.ranks) : "?", r.placement, setting(r.compress),
                                   setting(std::to_string(r.budget)), setting(r.batch > 0 ? std::to_string(r.batch) : "-"),
                                   setting(std::to_string(r.decode)), fmt(r.tokensPerS, 1), fmt(r.stepMs), fmt(r.imbalance),
                                   r.timing, damage + cutUtf8(r.label, kListedLabelBytes, "…")};
    for (std::string& c : cells)
        c = withoutControls(c, '?'); // one run stays one line and cannot restyle the terminal
    return cells;
}

// Terminal columns: one per code point, two for East Asian wide ones, none for combining marks
// (names from HF folders need not be ASCII); a malformed sequence (withoutControls() leaves none) counts one column a byte.
size_t displayWidth(const std::string& s)
{
    size_t width = 0;
    for (size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        const size_t len = utf8At(s, i, cp);
        if (len == 0) {
            ++width;
            ++i;
            continue;
        }
        const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3)
                          || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60)
                          || (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1FAFF) || (cp >= 0x20000 && cp <= 0x3FFFD);
        // Combining marks, zero-width characters and variation selectors take no column of their own.
        const bool zero = (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x20D0 && cp <= 0x20FF)
                          || (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0x2060 || cp == 0xFEFF;
        width += zero ? 0 : wide ? 2 : 1;
        i += len;
    }
    return width;
}

// Rows as columns as wide as their widest cell (a model folder's name is as long as it is), numbers
// right-aligned; the last column unpadded.
void printTable(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& rightAligned)
{
    std::vector<size_t> width(rightAligned.size(), 0);
    for (const auto& row : rows)
        for (size_t c = 0; c < row.size(); ++c)
            width[c] = std::max(width[c], displayWidth(row[c]));
    for (const auto& row : rows) {
        std::string line;
        for (size_t c = 0; c < row.size(); ++c) {
            const std::string pad(width[c] - displayWidth(row[c]), ' ');
            if (c > 0)
                line += "  ";
            line += c + 1 == row.size() ? row[c] : rightAligned[c] ? pad + row[c] : row[c] + pad;
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        std::cout << line << "\n";
    }
}

} // namespace

int sessionsCommand(const std::vector<std::string>& argv)
{
    Args args("sessions", {{"json", "FILE", "write the run list as JSON", ""}}, {"FILE.fkv"});
    args.parse(argv);
    if (args.helpRequested()) {
        std::cout << args.help("List the runs of a session file.");
        return 0;
    }
    const std::string jsonOut = args.outputPath("json");
    const auto store = profiler::SessionStore::open(args.positional()[0], profiler::SessionStore::Mode::ReadOnly);
    const auto runs = store->listRuns();
    std::vector<std::vector<std::string>> table{{"run", "parent", "model", "backend", "N", "placement", "compress", "budget",
                                                 "batch", "steps", "tokens/s", "step ms", "imb.", "timing", "label"}};
    json list = json::array();
    for (const auto& r : runs) {
        table.push_back(runCells(r));
        list.push_back({{"id", r.id}, {"parent", r.parent ? json(*r.parent) : json(nullptr)}, {"model", r.model},
                        {"backend", r.backend}, {"ranks", r.ranks}, {"placement", r.placement}, {"compress", r.compress},
                        {"budget", r.budget}, {"batch", r.batch}, {"decode", r.decode}, {"tokens_per_s", r.tokensPerS},
                        {"step_ms", r.stepMs}, {"imbalance", r.imbalance}, {"timing", r.timing}, {"records", r.records},
                        {"created_at", r.createdAt}, {"label", r.label}, {"settings_damaged", r.settingsDamaged},
                        {"result_damaged", r.resultDamaged}, {"damage", r.damage.empty() ? json(nullptr) : json(r.damage)}});
    }
    printTable(table, {true, true, false, false, true, false, false, true, true, true, true, true, true, false, false});
    if (runs.empty())
        std::cout << "(no runs)\n";
    for (const auto& r : runs)
        if (!r.damage.empty())
            printNotes({r.damage}, "warning: ");
    if (!jsonOut.empty())
        writeJsonFile(jsonOut, list, 1);
    return 0;
}

int compareCommand(const std::vector<std::string>& argv)
{
    Args args("compare", {{"json", "FILE", "write the comparison as JSON", ""}}, {"FILE.fkv", "RUN_A", "RUN_B"});
    args.parse(argv);
    if (args.helpRequested()) {
        std::cout << args.help("Side-by-side comparison of two runs: throughput, step time, imbalance, per-rank "
                               "attention time and the speedup of B over A.");
        return 0;
    }
    const std::string jsonOut = args.outputPath("json");
    const auto store = profiler::SessionStore::open(args.positional()[0], profiler::SessionStore::Mode::ReadOnly);
    const auto a = store->loadRun(runId(args.positional()[1], "RUN_A"));
    const auto b = store->loadRun(runId(args.positional()[2], "RUN_B"));
    // Per-rank attention summed over layers (loadRun() has checked the record's shape).
    const auto ta = profiler::rankTotals(a.result, "rank_attention_ms"), tb = profiler::rankTotals(b.result, "rank_attention_ms");
    // NaN for a run without timed decode steps: fmt() prints n/a.
    const auto rankCell = [](const std::vector<double>& t, size_t g) { return g >= t.size() ? std::string("-") : fmt(t[g]); };
    const auto speedup = profiler::speedupOver(b.summary.tokensPerS, a.summary.tokensPerS);
    std::printf("%-28s %16s %16s\n", "", ("run " + std::to_string(a.summary.id)).c_str(), ("run " + std::to_string(b.summary.id)).c_str());
    auto row = [](const char* name, const std::string& x, const std::string& y) { std::printf("%-28s %16s %16s\n", name, x.c_str(), y.c_str()); };
    row("model", a.summary.model, b.summary.model);
    row("placement", a.summary.placement, b.summary.placement);
    row("ranks / backend", std::to_string(a.summary.ranks) + " " + a.summary.backend, std::to_string(b.summary.ranks) + " " + b.summary.backend);
    row("compression / budget", a.summary.compress + " " + std::to_string(a.summary.budget), b.summary.compress + " " + std::to_string(b.summary.budget));
    row("batch", std::to_string(a.summary.batch), std::to_string(b.summary.batch));
    // Each run's own kind: one measured on a device per rank beside one emulated is not like for like.
    const bool sameTiming = a.summary.timing == b.summary.timing;
    const std::string timing = sameTiming ? a.summary.timing : a.summary.timing + " vs " + b.summary.timing;
    row("timing", a.summary.timing, b.summary.timing);
    row(("tokens/s (" + timing + ")").c_str(), fmt(a.summary.tokensPerS, 1), fmt(b.summary.tokensPerS, 1));
    row("decode step ms", fmt(a.summary.stepMs), fmt(b.summary.stepMs));
    row("attention imbalance", fmt(a.summary.imbalance), fmt(b.summary.imbalance));
    row("lower bound ms (modelled)", fmt(a.summary.lowerBoundMs), fmt(b.summary.lowerBoundMs));
    for (size_t g = 0; g < std::max(ta.size(), tb.size()); ++g)
        row(("rank " + std::to_string(g) + " attention ms").c_str(), rankCell(ta, g), rankCell(tb, g));
    if (speedup) {
        std::printf("speedup of run %lld over run %lld: %.3fx (%s)\n", static_cast<long long>(b.summary.id),
                    static_cast<long long>(a.summary.id), *speedup, timing.c_str());
        const auto sa = profiler::stepSpread(a.result), sb = profiler::stepSpread(b.result);
        if (sa && sb)
            std::printf("decode steps vary by +-%.1f%% (run %lld) and +-%.1f%% (run %lld)%s\n", 100 * *sa,
                        static_cast<long long>(a.summary.id), 100 * *sb, static_cast<long long>(b.summary.id),
                        profiler::withinSpread(*speedup, *sb, *sa) ? ": the speedup is within that, it may be noise" : "");
    }
    else
        std::printf("speedup of run %lld over run %lld: n/a (a run without a timed decode step)\n",
                    static_cast<long long>(b.summary.id), static_cast<long long>(a.summary.id));
    if (!sameTiming)
        std::printf("note: run %lld is %s and run %lld %s; their times are not taken the same way\n",
                    static_cast<long long>(a.summary.id), a.summary.timing.c_str(), static_cast<long long>(b.summary.id),
                    b.summary.timing.c_str());
    const auto differ = profiler::unlikeWork(a.summary, a.result, b.summary, b.result);
    if (!differ.empty()) {
        std::string list;
        for (const std::string& d : differ)
            list += (list.empty() ? "" : ", ") + d;
        std::printf("note: the runs differ in %s; the speedup compares unlike work\n", list.c_str());
    }
    // The notes travel with the numbers: a script reading the speedup learns what the terminal said.
    if (!jsonOut.empty())
        writeJsonFile(jsonOut, json{{"a", a.result},
                                    {"b", b.result},
                                    {"speedup", speedup ? json(*speedup) : json(nullptr)},
                                    {"speedup_kind", "computed: tokens_per_s of b over a, each " + timing},
                                    {"differs_in", differ},
                                    {"same_timing", sameTiming}});
    return 0;
}

int exportTraceCommand(const std::vector<std::string>& argv)
{
    Args args("export-trace",
              {{"format", "chrome", "trace format (chrome: Chrome/Perfetto trace-event JSON)", "chrome"},
               {"out", "FILE", "output file (default: run-N.trace.json)", ""}},
              {"FILE.fkv", "RUN"});
    args.parse(argv);
    if (args.helpRequested()) {
        std::cout << args.help("Write a run's trace records as a Chrome/Perfetto trace, one track per rank.");
        return 0;
    }
    if (args.str("format") != "chrome")
        throw UsageError("--format '" + args.str("format") + "' is not supported (chrome)");
    const int64_t id = runId(args.positional()[1], "RUN");
    const std::string out = args.outputPath("out", "run-" + std::to_string(id) + ".trace.json"); // before any read
    const auto store = profiler::SessionStore::open(args.positional()[0], profiler::SessionStore::Mode::ReadOnly);
    const auto run = store->loadRun(id);
    const auto trace = store->loadTrace(id);
    writeTextFile(out, profiler::chromeTraceJson(trace, run.summary.ranks,
                                                 "FairKV run " + std::to_string(id) + " (" + run.summary.model + ", "
                                                     + run.summary.placement + ")"));
    std::cout << "wrote " << out << " (" << trace.records.size() << " records, " << run.summary.ranks << " rank tracks)\n";
    printNotes(trace.warnings, "warning: ");
    if (trace.records.empty() && trace.warnings.empty())
        std::cerr << "warning: run " << run.summary.id << " has no trace records (saved with --no-trace?): the trace is empty\n";
    if (trace.dropped)
        std::cerr << "warning: the tracer dropped " << trace.dropped << " records in this run\n";
    return 0;
}

int checkModelCommand(const std::vector<std::string>& argv)
{
    Args args("check-model", {{"json", "FILE", "write the summary as JSON", ""}}, {"PATH"});
    args.parse(argv);
    if (args.helpRequested()) {
        std::cout << args.help("Validate an HF LLaMA/Mistral checkpoint folder (config.json, safetensors headers, every "
                               "tensor's name, dtype and shape) without loading it, and print its shape.");
        return 0;
    }
    const std::string jsonOut = args.outputPath("json");
    const CheckpointSummary s = inspectHf(args.positional()[0]);
    const ModelConfig& c = s.config;
    json j = c.shapeJson();
    j["files"] = s.files;
    j["tensors"] = s.tensors;
    j["dtypes"] = s.dtypes;
    j["bytes"] = s.bytes;
    j["unused_tensors"] = s.extra;
    const char* rope = c.rope.type == RopeConfig::Type::Llama3   ? "llama3"
                       : c.rope.type == RopeConfig::Type::Linear ? "linear"
                       : c.rope.dynamicUpTo > 0                  ? "dynamic"
                                                                 : "default";
    j["rope"] = {{"type", rope}, {"theta", c.rope.theta}, {"factor", c.rope.factor}};
    if (c.rope.dynamicUpTo > 0)
        j["rope"]["original_max_position_embeddings"] = c.rope.dynamicUpTo;
    // What a run may reach, and what sets it: runs beyond are refused (the engine has no sliding
    // window, and dynamic NTK scaling changes the frequencies only beyond its original context).
    const int64_t limit = c.positionLimit();
    j["max_position_embeddings"] = c.maxPositions;
    j["sliding_window"] = c.slidingWindow ? json(*c.slidingWindow) : json(nullptr);
    j["position_limit"] = limit;
    if (!jsonOut.empty())
        writeJsonFile(jsonOut, j, 2);
    std::cout << "ok: " << c.modelType << ", " << layerCount(c.numLayers) << ", hidden " << c.hiddenSize << ", intermediate "
              << c.intermediateSize << ", " << c.numHeads << " heads / " << c.numKvHeads << " KV heads, head_dim "
              << c.headDim << ", vocab " << c.vocabSize << ", rope " << rope << " theta " << c.rope.theta
              << (c.tieWordEmbeddings ? ", tied embeddings" : "") << "\n";
    std::cout << "runs up to " << limit << " positions (prompt plus decode; set by " << c.positionLimitSetBy() << ")\n";
    std::cout << s.tensors << " tensors";
    for (const auto& [d, n] : s.dtypes)
        std::cout << ", " << n << " " << d;
    std::cout << ", " << fmt(double(s.bytes) / (1 << 20), 1) << " MiB in " << s.files.size() << " file(s), "
              << c.parameterCount() << " parameters\n";
    if (!s.extra.empty())
        std::cout << s.extra.size() << " tensor(s) not used by the model, e.g. " << withoutControls(s.extra.front(), '?') << "\n";
    return 0;
}

int makeModelCommand(const std::vector<std::string>& argv)
{
    Args args("make-model",
              {{"shape", "NAME", "built-in shape", "tiny"},
               {"layers", "N", "truncate to N layers (0: all)", "0"},
               {"seed", "S", "seed of the synthetic weights", "0"},
               {"dtype", "F32|BF16|F16", "tensor dtype", "F32"},
               {"out", "DIR", "output folder (config.json + model.safetensors)", ""}});
    args.parse(argv);
    if (args.helpRequested()) {
        std::cout << args.help("Write a built-in shape with seeded synthetic weights as an HF checkpoint folder.");
        return 0;
    }
    if (!args.has("out"))
        throw UsageError("missing --out DIR");
    if (args.str("out").empty())
        throw UsageError("--out needs a folder name");
    // Everything that can be refused is refused before seconds to minutes of weight synthesis.
    const DType dtype = hfSaveDtype(args.str("dtype"));
    const ModelConfig shape = ModelConfig::builtin(args.str("shape"), args.integer("layers", 0, 1 << 20));
    const uint64_t seed = args.unsignedInt("seed");
    requireHostMemory(double(shape.parameterCount()) * 4.0, shape.name + " with " + layerCount(shape.numLayers),
                      "fp32 synthetic weights", "use --layers");
    // The disk, too, before the synthesis: a full disk had shown only after minutes of it.
    {
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::path where = fs::absolute(args.str("out"), ec);
        while (!where.empty() && !fs::exists(where, ec) && where != where.parent_path())
            where = where.parent_path();
        const fs::space_info room = fs::space(where, ec);
        const double need = double(shape.parameterCount()) * double(dtypeSize(dtype));
        if (!ec && double(room.available) < need)
            throw Error("--out " + args.str("out") + ": the weights take " + fmt(need / double(1ull << 30), 2) + " GiB and "
                        + where.string() + " has " + fmt(double(room.available) / double(1ull << 30), 2)
                        + " GiB free (use --layers or a smaller --dtype)");
    }
    Phases progress(2);
    progress.enter("synthesizing");
    const ModelWeights w = ModelWeights::synthetic(shape, seed);
    progress.enter("writing");
    w.saveHf(args.str("out"), args.str("dtype"));
    progress.finish();
    std::cout << "wrote " << args.str("out") << " (" << w.config.parameterCount() << " parameters)\n";
    return 0;
}

} // namespace fairkv::cli
