#pragma once
#include "session_store.h"
#include "runtime/run.h"
#include "trace_record.h"

#include <QMetaType>
#include <QString>

#include <vector>

#include <memory>
#include <optional>

namespace fairkv::views {

// A run as the views show it: its summary, the full result JSON (kv_len, attention_mass, rank
// times, placement, ...) and its trace. Plain value, shared trace, cheap to pass through queued
// signals.
struct StudioRun
{
    profiler::RunSummary summary;
    nlohmann::json result = nlohmann::json::object(); // an object always: no run shown is an empty one
    std::shared_ptr<const profiler::TraceBuffer> trace;
    profiler::Environment environment;

    bool valid() const { return summary.id > 0; }
    int layers() const;
    int units() const;
    int ranks() const { return summary.ranks; }
    int batch() const;
    QString title() const; // "run 3 · fairkv-copy"
    QString timingLabel() const; // measured / emulated, as recorded
};

// "measured", "emulated" or "modelled" in the user's language (other values unchanged).
QString timingName(const std::string& timing);
// A setting profiler::unlikeWork() names ("batch", "prompt length", ...), as the views show it.
QString settingName(const std::string& key);
// The settings in which `run` did other work than `base` (profiler::unlikeWork), as the views list
// them ("batch, budget"); empty for like work.
QString unlikeSettings(const StudioRun& base, const StudioRun& run);

// A run's figure in the user's locale, or "n/a" where it is NaN (no decode step timed:
// RunResult::kNotTimed, a NULL metric), so that nothing untimed reads as 0 or 1.
QString runFigure(double value, int decimals);

// Request indices in ascending order as "0-3, 8, 10-15": short for large batches, and what the
// placement editor's request fields read back.
QString requestRanges(const std::vector<int>& sorted);

// A run that is not (yet) in a session: the views show it as "running".
StudioRun studioRunFromResult(const fairkv::RunResult& result);

// Reads a stored run, with its trace records when `withTrace` (the timeline needs them, the
// comparison views do not).
StudioRun loadStudioRun(const profiler::SessionStore& store, int64_t id, bool withTrace = true);

} // namespace fairkv::views

Q_DECLARE_METATYPE(fairkv::views::StudioRun)
