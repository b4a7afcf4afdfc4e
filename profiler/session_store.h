#pragma once
#include "aggregation.h"
#include "trace_record.h"
#include "runtime/run.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct sqlite3;

namespace fairkv {
struct RunResult;
}

namespace fairkv::profiler {

// Where a run was made: shown next to every number in comparisons and reports.
struct Environment
{
    std::string host, os, cpu;
    std::string gpu = "none", driver = "none", cuda = "none", nccl = "none";
    static constexpr const char* kUnknown = "unknown"; // a stored field that cannot be read
    static Environment detect(); // this machine; GPU fields stay "none" without a CUDA build or a GPU
    nlohmann::json toJson() const;
    static Environment fromJson(const nlohmann::json& j);
};

struct RunSummary
{
    int64_t id = 0;
    std::optional<int64_t> parent;
    std::string createdAt, label, model, backend, timing, placement, compress;
    int ranks = 0, batch = 0, budget = 0, decode = 0, promptLen = 0;
    // NaN where the run timed no decode step (RunResult::kNotTimed) or the session lacks the metric.
    double tokensPerS = RunResult::kNotTimed, stepMs = RunResult::kNotTimed, imbalance = RunResult::kNotTimed,
           lowerBoundMs = RunResult::kNotTimed;
    int64_t records = 0;
    // What of the stored run cannot be read (edited or corrupted by hand): loading it fails with a
    // message that names it; a listing says so instead of showing blanks and zeros as settings.
    bool settingsDamaged = false, resultDamaged = false;
    std::string damage; // the first fault found, one line naming the run and the field
};

struct StoredRun
{
    RunSummary summary;
    nlohmann::json config; // RunConfig::toJson
    nlohmann::json result; // RunResult::toJson: kv_len, attention_mass, rank times, placement, ...
    Environment environment;
};

// One .fkv file: an SQLite database with model, runs (with their parent for re-runs), placements,
// per-unit stats, trace records (kernel names interned), per-layer rank times, metrics,
// environment and notes. Schema version in PRAGMA user_version with migrations; WAL; every run is
// written in one transaction, so a run interrupted at any point leaves the earlier runs intact.
class SessionStore
{
public:
    static constexpr int kSchemaVersion = 2;
    static constexpr int32_t kApplicationId = 0x464b5653; // "FKVS"

    // The DDL of schema 1, kept verbatim: migrations start from it (tests build old files with it).
    static const char* firstSchemaSql();

    enum class Mode { ReadOnly, ReadWrite };
    // ReadWrite creates a missing file and migrates an older schema (in one transaction). ReadOnly
    // never writes: an older schema is migrated in a private in-memory copy. A file that is not a
    // session, is truncated, or has a newer schema is refused with a message and left untouched.
    static std::unique_ptr<SessionStore> open(const std::string& path, Mode mode);
    // Why SQLite could not keep a session at `path` (opened in `mode`) for the length of its name or
    // path, with room for the files it keeps beside it; "" when it can. open() refuses such a path;
    // a caller about to work for minutes before its first open asks first.
    static std::string whyPathTooLong(const std::string& path, Mode mode);
    ~SessionStore();
    SessionStore(const SessionStore&) = delete;
    SessionStore& operator=(const SessionStore&) = delete;

    const std::string& path() const { return m_path; }
    int schemaVersion() const;
    bool readOnly() const { return m_readOnly; }
    // How long a write waits for another writer's lock before it fails (5 s after open).
    void setBusyTimeout(int ms);

    // A run's label is a short note (at most kMaxLabelBytes of UTF-8): a longer one is refused.
    static constexpr size_t kMaxLabelBytes = 256;
    int64_t appendRun(const fairkv::RunResult& run, const TraceBuffer& trace, const Environment& env,
                      std::optional<int64_t> parent = std::nullopt, const std::string& label = {});
    std::vector<RunSummary> listRuns() const;
    StoredRun loadRun(int64_t id) const;
    TraceBuffer loadTrace(int64_t id) const;
    // Per (step, layer, rank) attention, MLP and collective times, stored when the run was written.
    std::vector<LayerAggregate> loadLayerTimes(int64_t id) const;
    // Per-unit statistics as stored: [request][layer][unit].
    struct UnitStats
    {
        std::vector<std::vector<std::vector<int>>> kvLen;
        std::vector<std::vector<std::vector<double>>> attentionMass;
    };
    UnitStats loadUnitStats(int64_t id) const;
    // Writes a consistent copy of the whole session to `path` (SQLite online backup).
    void saveCopy(const std::string& path) const;
    void addNote(std::optional<int64_t> run, const std::string& text);
    std::vector<std::pair<std::optional<int64_t>, std::string>> notes() const;

private:
    SessionStore() = default;
    void exec(const char* sql) const;
    void migrate(int from);
    void requireRun(int64_t id) const;
    std::vector<RunSummary> summaries(std::optional<int64_t> only) const; // every run, or one
    [[noreturn]] void fail(const std::string& what) const;
    int runRanks(int64_t id) const; // the run's rank count, checked (storedRanks)
    int storedRanks(int64_t run, int64_t ranks) const; // a run's rank count, refused when no command writes it
    void checkStillAtPath() const; // refuses a write when the path no longer names the file opened

    std::string m_path;
    std::string m_file; // m_path, or the file a link there names
    sqlite3* m_db = nullptr;
    std::pair<uint64_t, uint64_t> m_identity; // device and inode of the file opened for writing
    bool m_readOnly = false;
    // A reader of a WAL session creates its -wal and -shm files and, read-only, cannot remove them;
    // set when this store found none, so that closing leaves the folder as it was.
    bool m_tidyCompanions = false;
};

} // namespace fairkv::profiler
