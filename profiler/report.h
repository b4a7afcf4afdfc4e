#pragma once
#include "session_store.h"

#include <optional>
#include <string>
#include <vector>

namespace fairkv::profiler {

// A comparison report of stored runs (issue 7), without Qt: self-contained HTML (tables and SVG
// charts inline, XHTML-well-formed), CSV and JSON tables. Every number says whether it was
// measured, emulated, modelled or computed; the model, settings, placements and environment of
// each run are included. PDF is made from the same HTML by the Qt side (views/report_pdf.h).
struct Report
{
    std::vector<StoredRun> runs;
    size_t baseline = 0; // index into runs: speedups are over this run
    // Runs side by side in one table; more runs continue in another table below (a PDF page has
    // room for about this many columns).
    static constexpr size_t kRunsPerTable = 6;

    struct Chart
    {
        std::string id, title, svg;
    };
    // Tokens/s per run, and attention ms per rank (summed over layers) per run.
    std::vector<Chart> charts() const;
    // `inlineCharts`: the SVG inside the page; else <img src="ID.png"/> for a renderer that
    // supplies the images (QTextDocument cannot draw SVG).
    std::string html(bool inlineCharts = true) const;
    // One row per run. Columns: run, label, parent, model, placement, compress, budget, batch,
    // ranks, backend, timing, tokens_per_s, speedup, step_ms, imbalance, attention_ms,
    // lower_bound_ms, differs_from_baseline, gpu, driver, cuda, nccl.
    std::string csv() const;
    // Where a run's work differs from the baseline's ("nothing: the same workload" where it does
    // not; its speedup compares unlike work where it does): the HTML's row, the CSV's column.
    std::string differsFromBaseline(const StoredRun& run) const;
    nlohmann::json json() const;
    // html(), csv() or json() as text, by format name ("html", "csv", "json").
    std::string text(const std::string& format) const;
    static std::vector<std::string> csvColumns();
};

// The colour of series `index` (a run, a rank) as "#rrggbb": the reports' charts and the studio's
// plots draw runs and ranks in the same colours.
const char* seriesColour(size_t index);

// Tables of a stored run's result (RunResult::toJson), shared by the report and the GUI views.
// Each rank's time summed over layers (`key`: "rank_attention_ms" or "rank_mlp_ms").
// A figure with `decimals` places and a decimal point whatever the process's C locale (a GUI runs
// under the user's), "n/a" where it is NaN (not timed): the CLI's and the reports' one format.
std::string fmt(double v, int decimals = 3);

// Whether the run timed any decode step; without one, the figures below are NaN (shown as n/a).
bool timedSteps(const nlohmann::json& result);
std::vector<double> rankTotals(const nlohmann::json& result, const char* key);
// The slowest rank's time in each layer.
std::vector<double> layerMaxima(const nlohmann::json& result, const char* key);
// Attention time of a step: the sum over layers of the slowest rank (stored as "attention_ms").
double attentionCriticalMs(const nlohmann::json& result);

// What the attention's imbalance costs a step: the sum over layers of how long the mean rank waits
// for the layer's slowest (max minus mean of "rank_attention_ms"); 0 without per-rank times.
double attentionWaitMs(const nlohmann::json& result);
// Replicas beyond one per unit over every layer of the run's placement (fair-copying's copies).
int extraReplicas(const nlohmann::json& result);

// Throughput of a run over a baseline's; none where either run timed no decode step.
std::optional<double> speedupOver(double tokensPerS, double baselineTokensPerS);

// How much a run's decode steps vary: half their interquartile range over their median (0.03 for
// "±3%"); none with fewer than four steps.
std::optional<double> stepSpread(const nlohmann::json& result);

// A speedup within what the two runs' steps vary by (their stepSpread()s) could be noise.
bool withinSpread(double speedup, double spread, double baselineSpread);

// What two runs did differently beyond their placement and ranks: the settings that make their
// tokens/s a comparison of unlike work. Keys in this order: "model", "batch", "layers", "units",
// "compression", "budget", "prompt length", "decode steps".
std::vector<std::string> unlikeWork(const RunSummary& a, const nlohmann::json& resultA, const RunSummary& b,
                                    const nlohmann::json& resultB);

// The format a report file's name asks for ("html", "pdf", "csv", "json"; any case), or "" when
// it ends in none of them.
std::string reportFormat(const std::string& path);

// Loads `ids` from the session (in that order); throws naming a run that is not there.
Report makeReport(const SessionStore& store, const std::vector<int64_t>& ids, int64_t baselineId);

} // namespace fairkv::profiler
