#include "session_store.h"

#ifdef FAIRKV_HAVE_CUPTI
#include <cuda_runtime.h>
#endif
#ifdef FAIRKV_HAVE_NCCL
#include <nccl.h>
#endif

#include "common/error.h"
#include "common/json_file.h"
#include "model/model_config.h"
#include "common/output_path.h"
#include "placement/placement.h"
#include "runtime/run.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace fairkv::profiler {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The tables of schema SessionStore::kSchemaVersion.
constexpr const char* kCurrentTables[] = {"meta",          "environments", "models",       "runs",        "placements", "unit_stats",
                                          "trace_records", "metrics",      "kernel_names", "layer_times", "notes"};

// The first schema, kept verbatim: migrations start from it and the tests build files with it.
const char* const kSchemaV1 = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE environments(id INTEGER PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT NOT NULL, shape_json TEXT NOT NULL, UNIQUE(name, shape_json));
CREATE TABLE runs(id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES models(id),
  environment_id INTEGER REFERENCES environments(id), created_at TEXT NOT NULL, backend TEXT, timing TEXT,
  ranks INTEGER, config_json TEXT NOT NULL, result_json TEXT NOT NULL);
CREATE TABLE placements(run_id INTEGER PRIMARY KEY REFERENCES runs(id), name TEXT, json TEXT NOT NULL);
CREATE TABLE unit_stats(run_id INTEGER NOT NULL, request INTEGER NOT NULL, layer INTEGER NOT NULL, unit INTEGER NOT NULL,
  kv_len INTEGER, attention_mass REAL, PRIMARY KEY(run_id, request, layer, unit)) WITHOUT ROWID;
CREATE TABLE trace_records(run_id INTEGER NOT NULL, rank INTEGER, device INTEGER, stream INTEGER, name TEXT,
  start_ns INTEGER, end_ns INTEGER, step INTEGER, layer INTEGER, unit INTEGER, phase INTEGER, kind INTEGER);
CREATE INDEX trace_by_run ON trace_records(run_id, start_ns);
CREATE TABLE metrics(run_id INTEGER NOT NULL, name TEXT NOT NULL, value REAL, unit TEXT, kind TEXT NOT NULL,
  PRIMARY KEY(run_id, name)) WITHOUT ROWID;
)sql";

// v1 -> v2: re-runs (parent), labels, interned kernel names, stored per-layer rank times, notes.
const char* const kMigrateV1ToV2 = R"sql(
ALTER TABLE runs ADD COLUMN parent_id INTEGER REFERENCES runs(id);
ALTER TABLE runs ADD COLUMN label TEXT NOT NULL DEFAULT '';
CREATE TABLE kernel_names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
INSERT OR IGNORE INTO kernel_names(name) SELECT DISTINCT name FROM trace_records WHERE name IS NOT NULL;
CREATE TABLE trace_records_v2(run_id INTEGER NOT NULL, rank INTEGER, device INTEGER, stream INTEGER, name_id INTEGER,
  start_ns INTEGER, end_ns INTEGER, step INTEGER, layer INTEGER, unit INTEGER, phase INTEGER, kind INTEGER);
INSERT INTO trace_records_v2 SELECT t.run_id, t.rank, t.device, t.stream, k.id, t.start_ns, t.end_ns, t.step, t.layer,
  t.unit, t.phase, t.kind FROM trace_records t LEFT JOIN kernel_names k ON k.name = t.name;
DROP TABLE trace_records;
ALTER TABLE trace_records_v2 RENAME TO trace_records;
CREATE INDEX trace_by_run ON trace_records(run_id, start_ns);
CREATE TABLE layer_times(run_id INTEGER NOT NULL, step INTEGER NOT NULL, layer INTEGER NOT NULL, rank INTEGER NOT NULL,
  attention_ms REAL, mlp_ms REAL, collective_ms REAL, PRIMARY KEY(run_id, step, layer, rank)) WITHOUT ROWID;
CREATE TABLE notes(id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs(id), created_at TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX runs_by_parent ON runs(parent_id);
)sql";

// What an SQLite failure means for the user, in one phrase.
std::string describeSqlite(sqlite3* db, int rc)
{
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
        return std::string("the session file is damaged (") + sqlite3_errmsg(db) + ")";
    if (rc == SQLITE_READONLY)
        return "the session file is read-only";
    if (rc == SQLITE_BUSY)
        return "the session file is locked by another program writing to it (gave up waiting for its lock)";
    if (rc == SQLITE_FULL)
        return "the disk is full";
    return sqlite3_errmsg(db);
}

class Statement
{
public:
    Statement(sqlite3* db, const char* sql, const std::string& path)
        : m_db(db)
        , m_path(path)
    {
        if (sqlite3_prepare_v2(db, sql, -1, &m_stmt, nullptr) != SQLITE_OK)
            throw Error(path + ": " + sqlite3_errmsg(db));
    }
    ~Statement() { sqlite3_finalize(m_stmt); }
    Statement& bind(int i, int64_t v)
    {
        sqlite3_bind_int64(m_stmt, i, v);
        return *this;
    }
    Statement& bind(int i, double v)
    {
        sqlite3_bind_double(m_stmt, i, v);
        return *this;
    }
    Statement& bind(int i, const std::string& v)
    {
        sqlite3_bind_text(m_stmt, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Statement& bindNull(int i)
    {
        sqlite3_bind_null(m_stmt, i);
        return *this;
    }
    // true while rows come; throws on errors (a damaged file surfaces here).
    bool step()
    {
        const int rc = sqlite3_step(m_stmt);
        if (rc == SQLITE_ROW)
            return true;
        if (rc == SQLITE_DONE)
            return false;
        throw Error(m_path + ": " + describe(rc));
    }
    void run()
    {
        step();
        sqlite3_reset(m_stmt);
    }
    void reset() { sqlite3_reset(m_stmt); }
    int64_t i64(int c) const { return sqlite3_column_int64(m_stmt, c); }
    double f64(int c) const { return sqlite3_column_double(m_stmt, c); }
    bool isNull(int c) const { return sqlite3_column_type(m_stmt, c) == SQLITE_NULL; }
    bool isInteger(int c) const { return sqlite3_column_type(m_stmt, c) == SQLITE_INTEGER; }
    // A stored whole number; anything else (SQLite reads text and NULL as 0, 2.9 as 2) is damage.
    int64_t integer(int c, const std::string& what) const
    {
        if (isInteger(c))
            return i64(c);
        const int type = sqlite3_column_type(m_stmt, c);
        const std::string value = type == SQLITE_NULL ? std::string("NULL")
                                  : type == SQLITE_FLOAT ? json(f64(c)).dump()
                                                         : "'" + printable(text(c).substr(0, 64)) + "'";
        throw Error(m_path + ": " + what + " is " + value + ", not a whole number: the session is damaged");
    }
    // A stored number; NULL (absent, or a NaN: a run without timed steps) reads as NaN. Text or a
    // blob, which sqlite3_column_double would read as 0, is a damaged record, named by `what`.
    double number(int c, const std::string& what) const
    {
        const int type = sqlite3_column_type(m_stmt, c);
        if (type == SQLITE_TEXT || type == SQLITE_BLOB)
            throw Error(m_path + ": " + what + " is not a number: the session is damaged");
        if (type == SQLITE_NULL)
            return RunResult::kNotTimed;
        // Every stored measure (a rate, a time, a ratio, a count) is finite and not negative.
        const double v = f64(c);
        if (!(std::isfinite(v) && v >= 0))
            throw Error(m_path + ": " + what + " is " + (std::isinf(v) ? std::string(v > 0 ? "infinite" : "minus infinity") : json(v).dump())
                        + ", not a measure: the session is damaged");
        return v;
    }
    std::string text(int c) const
    {
        const auto* p = sqlite3_column_text(m_stmt, c);
        return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(m_stmt, c))) : std::string();
    }
    std::string describe(int rc) const { return describeSqlite(m_db, rc); }

private:
    sqlite3* m_db;
    sqlite3_stmt* m_stmt = nullptr;
    std::string m_path;
};

std::string nowIso()
{
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

uint32_t be32(const unsigned char* p)
{
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// `path` as the file name of an SQLite URI: '?' and '#' would end the name there and "%41" would be
// read as 'A', so they are escaped ('new#1.fkv' was unreadable, 'a%41.fkv' opened 'aA.fkv').
std::string uriPath(const std::string& path)
{
    std::string out;
    // "file://x" would name a host x: "//tmp/s.fkv" is the same file as "/tmp/s.fkv"
    std::string name = path;
    while (name.rfind("//", 0) == 0)
        name.erase(0, 1);
    for (const char c : name) {
        if (c == '%' || c == '?' || c == '#') {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
            out += hex;
        } else {
            out += c;
        }
    }
    return out;
}

// Bytes of the write-ahead log beside the session at `path`: 0 where there is none.
uint64_t walBytes(const std::string& path)
{
    std::error_code ec;
    const uint64_t bytes = fs::file_size(path + "-wal", ec);
    return ec ? 0 : bytes;
}

// A file name as sqlite3_open_v2() takes it literally: SQLite builds that read URIs in plain names
// (Debian's: SQLITE_USE_URI) take one beginning with "file:" for a URI, which would write
// elsewhere ("file:s.fkv?mode=memory" in memory) than the checks and the readers look.
std::string sqliteName(const std::string& path)
{
    return path.rfind("file:", 0) == 0 ? "./" + path : path;
}

// The URI that opens a session for reading. A reader of a WAL database (`wal`, from
// checkFileHeader()) needs to create its -shm file beside it. Where no connection uses the file
// (no -shm, no -wal holding changes), it is read as immutable instead when nothing beside it can be
// written (a read-only folder or medium), and when this user cannot write the session itself:
// SQLite gives the -wal and -shm it would make the file's own permissions, this reader could not
// remove them afterwards, and a read-only -shm stops every later write, also the owner's once the
// file is made writable again. One in rollback mode reads with locking anywhere, and immutable
// would drop the locking a live writer relies on.
std::string readUri(const std::string& path, bool wal)
{
    std::error_code ec;
    const bool unused = walBytes(path) == 0 && !fs::exists(path + "-shm", ec);
    const bool companionsStay = access(folderOf(path).c_str(), W_OK) != 0 || access(path.c_str(), W_OK) != 0;
    return "file:" + uriPath(path) + (wal && unused && companionsStay ? "?mode=ro&immutable=1" : "?mode=ro");
}

// JSON as a session stores it. Text that is not UTF-8 (a label, a file name from a Latin-1 folder)
// is stored with U+FFFD in its place: nlohmann's dump() would throw, and the run would be lost.
std::string storedText(const json& j)
{
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Stored JSON (a run's result, settings, environment), parsed: discarded when it is not JSON or
// nests deeper than anything FairKV writes (the recursive readers and writers of nlohmann's json
// would overflow the stack on a value nested 100000 deep).
constexpr int kMaxStoredDepth = 32;

// SQLite's longest file name with its folder (SQLITE_MAX_PATHNAME of the unix VFS, 512 bytes).
constexpr size_t kSqliteMaxPath = 512;

// Whether parseStored() would take the text (the run list checks results with it, without
// building them: SQLite's json_valid() accepts nesting far deeper than a run can be loaded with).
bool storedJsonSound(const std::string& text)
{
    return scanJson(text, kMaxStoredDepth).valid;
}

json parseStored(const std::string& text)
{
    if (!storedJsonSound(text))
        return json(json::value_t::discarded);
    return json::parse(text, nullptr, false);
}

// What a file's application id and schema version say against opening it (empty: nothing). Read
// before anything is written, and again under the write lock, where another program may have
// created or upgraded the file since.
std::string schemaRefusal(int version, int32_t appId, bool hasTables)
{
    if (hasTables && appId != SessionStore::kApplicationId)
        return "an SQLite database, but not a FairKV session";
    if (version > SessionStore::kSchemaVersion)
        return "written by a newer FairKV Studio (schema " + std::to_string(version) + "; this build reads up to "
               + std::to_string(SessionStore::kSchemaVersion) + "); the file was not changed";
    if (version < 0 || (hasTables && version == 0))
        return "a FairKV session with schema version " + std::to_string(version)
               + ", which no FairKV Studio writes: the file is damaged and was not changed";
    return {};
}

// Whether the file's header says it is a FairKV session (its application id, bytes 68-71).
bool headerIsSession(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    unsigned char h[72] = {};
    return in.read(reinterpret_cast<char*>(h), sizeof h) && int32_t(be32(h + 68)) == SessionStore::kApplicationId;
}

// Checks the file before SQLite sees it: an SQLite header, and a size that holds every page the
// header counts (a truncated copy otherwise fails later, deep in a query). Returns whether the
// database is in WAL mode (header bytes 18 and 19 are 2).
bool checkFileHeader(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    unsigned char h[100] = {};
    in.read(reinterpret_cast<char*>(h), sizeof h);
    const auto got = in.gcount();
    if (got == 0)
        return false; // empty: a new session
    if (got < 100 || std::memcmp(h, kSqliteHeader, sizeof kSqliteHeader) != 0)
        throw Error(path + ": not a FairKV session file (no SQLite header)");
    uint32_t pageSize = (uint32_t(h[16]) << 8) | h[17];
    if (pageSize == 1)
        pageSize = 65536;
    const uint32_t pages = be32(h + 28);
    const bool countValid = be32(h + 92) == be32(h + 24);
    const bool wal = h[18] == 2 && h[19] == 2;
    // A checkpoint cut short (a full disk, a file-size limit) leaves the file shorter than its
    // header says while the -wal still holds the pages: SQLite reads them from there.
    const bool walHoldsPages = wal && walBytes(path) > 0;
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (!ec && countValid && pages > 0 && size < uint64_t(pages) * pageSize && !walHoldsPages)
        throw Error(path + ": the session file is truncated (" + std::to_string(size) + " bytes, the header counts "
                    + std::to_string(uint64_t(pages) * pageSize) + ")");
    return wal;
}

std::string readCpuName()
{
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            return colon == std::string::npos ? line : line.substr(colon + 2);
        }
    return "unknown";
}

} // namespace

Environment Environment::detect()
{
    Environment e;
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    e.host = host;
    struct utsname u {};
    if (uname(&u) == 0)
        e.os = std::string(u.sysname) + " " + u.release;
    e.cpu = readCpuName() + " (" + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores)";
#ifdef FAIRKV_HAVE_CUPTI
    // CUDA builds: the GPUs, the driver's and the runtime's CUDA versions, NCCL's. A machine
    // without a GPU or driver keeps "none".
    int devices = 0;
    if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0) {
        std::map<std::string, int> names;
        for (int d = 0; d < devices; ++d) {
            cudaDeviceProp prop{};
            if (cudaGetDeviceProperties(&prop, d) == cudaSuccess)
                ++names[prop.name];
        }
        e.gpu.clear();
        for (const auto& [name, count] : names)
            e.gpu += (e.gpu.empty() ? "" : ", ") + std::to_string(count) + " x " + name;
        auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
        int driver = 0, runtime = 0;
        if (cudaDriverGetVersion(&driver) == cudaSuccess)
            e.driver = "CUDA " + version(driver) + " driver";
        if (cudaRuntimeGetVersion(&runtime) == cudaSuccess)
            e.cuda = version(runtime);
    }
    cudaGetLastError();
#ifdef FAIRKV_HAVE_NCCL
    int nccl = 0;
    if (ncclGetVersion(&nccl) == ncclSuccess)
        e.nccl = std::to_string(nccl / 10000) + "." + std::to_string(nccl / 100 % 100) + "." + std::to_string(nccl % 100);
#endif
#endif
    return e;
}

json Environment::toJson() const
{
    return {{"host", host}, {"os", os}, {"cpu", cpu}, {"gpu", gpu}, {"driver", driver}, {"cuda", cuda}, {"nccl", nccl}};
}

// A field the record lacks (or holds as another type) reads "unknown": the defaults' "none" would
// say the run had no GPU.
Environment Environment::fromJson(const json& j)
{
    Environment e;
    auto get = [&](const char* k, std::string& v) {
        v = j.is_object() && j.contains(k) && j.at(k).is_string() ? j.at(k).get<std::string>() : std::string(kUnknown);
    };
    get("host", e.host);
    get("os", e.os);
    get("cpu", e.cpu);
    get("gpu", e.gpu);
    get("driver", e.driver);
    get("cuda", e.cuda);
    get("nccl", e.nccl);
    return e;
}

// Every view of a run allocates per rank: a damaged count must stop here, not in an allocation.
int SessionStore::runRanks(int64_t id) const
{
    Statement st(m_db, "SELECT ranks FROM runs WHERE id=?", m_path);
    st.bind(1, id);
    if (!st.step())
        fail("there is no run " + std::to_string(id));
    return storedRanks(id, st.integer(0, "run " + std::to_string(id) + "'s rank count"));
}

namespace {
constexpr int64_t kMostRanks = 4096; // fairkv plan's limit; fairkv run stops at 1024

bool ranksInRange(int64_t ranks)
{
    return ranks >= 1 && ranks <= kMostRanks;
}
} // namespace

int SessionStore::storedRanks(int64_t run, int64_t ranks) const
{
    if (!ranksInRange(ranks))
        fail("run " + std::to_string(run) + " has " + std::to_string(ranks) + " ranks, outside 1.." + std::to_string(kMostRanks)
             + ": the session is damaged");
    return int(ranks);
}

void SessionStore::fail(const std::string& what) const
{
    throw Error(m_path + ": " + what);
}

void SessionStore::exec(const char* sql) const
{
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
        fail(describeSqlite(m_db, sqlite3_errcode(m_db)));
}

std::string SessionStore::whyPathTooLong(const std::string& path, Mode mode)
{
    // SQLite keeps "-journal", "-wal" and "-shm" files beside the session, and takes file names of
    // at most 512 bytes with their folder (they had failed as "unable to open database file").
    const size_t suffix = std::strlen(mode == Mode::ReadWrite ? "-journal" : "-wal"); // a reader makes no journal
    std::error_code ec;
    if (!fs::exists(path, ec))
        if (const std::string why = nameTooLong(path, suffix); !why.empty())
            return why + " (choose a shorter name for the session)";
    if (const std::string full = fs::absolute(path, ec).string(); full.size() + suffix > kSqliteMaxPath)
        return "the session's path is " + std::to_string(full.size()) + " bytes long with its folder, more than the "
            + std::to_string(kSqliteMaxPath - suffix) + " SQLite takes (move it to a shorter path)";
    return {};
}

std::unique_ptr<SessionStore> SessionStore::open(const std::string& path, Mode mode)
{
    std::unique_ptr<SessionStore> s(new SessionStore);
    s->m_path = path;
    std::error_code ec;
    // SQLite follows a link to the session and keeps its -wal and -shm beside the file it names:
    // the checks of those, and the tidying after a read, look there (messages name the path given).
    const std::string resolved = fs::is_symlink(fs::symlink_status(path, ec)) && fs::exists(path, ec) ? fs::canonical(path, ec).string() : path;
    s->m_file = resolved.empty() ? path : resolved; // a link swapped meanwhile: the path as given
    const std::string& file = s->m_file;
    const bool exists = fs::exists(path, ec);
    if (!exists && ec && ec != std::errc::no_such_file_or_directory) { // a name too long, a loop of links, no permission
        if (const std::string why = whyPathTooLong(path, mode); !why.empty())
            throw Error(path + ": " + why);
        throw Error(path + ": cannot be opened: " + ec.message());
    }
    if (!exists && fs::is_symlink(fs::symlink_status(path, ec)))
        throw Error(path + ": is a link to " + fs::read_symlink(path, ec).string()
                    + ", which leads to no file (missing, or links in a loop)");
    if (!exists && mode == Mode::ReadOnly)
        throw Error(path + ": no such session file");
    if (exists && fs::is_directory(path, ec))
        throw Error(path + ": is a folder, not a session file");
    if (exists && !fs::is_regular_file(path, ec)) // a FIFO would block the first read forever
        throw Error(path + ": is not a regular file, not a session file");
    if (exists && fs::file_size(path, ec) == 0 && !ec) {
        // SQLite reads an empty file as an empty database and deletes a -wal beside it: the runs a
        // copy left only in its write-ahead log would be gone.
        if (const uint64_t wal = walBytes(file); wal > 0)
            throw Error(path + ": the session file is empty but its write-ahead log " + file + "-wal holds "
                        + std::to_string(wal) + " bytes (copied without its main file?); not opening it, nothing was changed");
        if (mode == Mode::ReadOnly)
            throw Error(path + ": the file is empty, not a FairKV session");
    }
    const bool wal = exists && checkFileHeader(path);
    s->m_tidyCompanions = mode == Mode::ReadOnly && wal && !fs::exists(file + "-wal", ec) && !fs::exists(file + "-shm", ec);
    if (mode == Mode::ReadWrite && exists && access(path.c_str(), W_OK) != 0)
        throw Error(path + ": the session file is read-only; open it for viewing or save to another file");
    // SQLite's files beside the session must be files: a folder or a link in their place fails
    // every read or write as "unable to open database file", naming none of them.
    for (const char* companion : {"-wal", "-shm", "-journal"})
        if (const auto st = fs::symlink_status(file + companion, ec); fs::exists(st) && !fs::is_regular_file(st))
            throw Error(file + companion + ": SQLite's " + (companion + 1) + " file beside the session is "
                        + (fs::is_directory(st) ? "a folder" : fs::is_symlink(st) ? "a link" : "not a regular file")
                        + "; move it away to open the session");
    // SQLite writes through the -wal and -shm files beside the database; one that another user's
    // viewer left, or that a read-only copy left behind, stops every write late, as "read-only".
    for (const char* companion : {"-wal", "-shm"})
        if (mode == Mode::ReadWrite && exists && fs::exists(file + companion, ec) && access((file + companion).c_str(), W_OK) != 0)
            throw Error(file + companion + ": SQLite's " + (companion + 1) + " file beside the session is not writable by this user "
                        "(left by another user or a read-only copy): the session can be viewed, not appended to, until its "
                        "owner removes it or makes it writable");
    if (const std::string why = whyPathTooLong(file, mode); !why.empty())
        throw Error(path + ": " + why);
    if (const std::string folder = exists ? std::string() : missingFolderOf(path); !folder.empty())
        throw Error(path + ": the folder " + folder + " does not exist");
    // SQLite writes its journal (-wal and -shm, or -journal) beside the session: a folder that
    // takes no file fails every write, which SQLite reports as a read-only database.
    if (const std::string folder = folderOf(file); mode == Mode::ReadWrite && access(folder.c_str(), W_OK) != 0)
        throw Error(path + ": the folder " + folder + " is not writable, and SQLite writes its journal files beside the "
                    "session; open it for viewing or save to another folder");

    // Look first without writing anything: application id and schema version decide what happens.
    int version = 0;
    int32_t appId = 0;
    bool hasTables = false;
    const std::string uri = exists ? readUri(file, wal) : std::string(); // the probe's and a viewer's
    // A program that stopped in the middle of a write in rollback-journal mode (a schema-1 session,
    // or one another tool wrote) left a hot journal, which only a writable connection may roll
    // back: a writer does that first, as any SQLite writer would, and only for a FairKV session.
    const std::string journal = file + "-journal";
    if (mode == Mode::ReadWrite && exists && fs::file_size(journal, ec) > 0 && !ec && headerIsSession(file)) {
        sqlite3* db = nullptr;
        if (sqlite3_open_v2(sqliteName(file).c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
            sqlite3_busy_timeout(db, 5000);
            sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
        }
        sqlite3_close(db);
    }
    if (exists && fs::file_size(path, ec) > 0) {
        sqlite3* raw = nullptr;
        int rc = sqlite3_open_v2(uri.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
        const std::unique_ptr<sqlite3, int (*)(sqlite3*)> probe(raw, sqlite3_close); // closed on every exit
        sqlite3_busy_timeout(raw, 5000); // another program creating or writing the file holds it briefly
        // First row, first column of `sql`, as text; rc keeps the first failure.
        auto read = [&](const char* sql) {
            std::string value;
            sqlite3_stmt* st = nullptr;
            if (rc == SQLITE_OK && (rc = sqlite3_prepare_v2(raw, sql, -1, &st, nullptr)) == SQLITE_OK
                && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
                value = text ? text : "";
                rc = SQLITE_OK;
            }
            sqlite3_finalize(st);
            return value;
        };
        const auto number = [](const std::string& text) { return std::strtoll(text.c_str(), nullptr, 10); };
        version = int(number(read("PRAGMA user_version")));
        appId = int32_t(number(read("PRAGMA application_id")));
        hasTables = number(read("SELECT count(*) FROM sqlite_master")) > 0;
        const std::string tables = "," + read("SELECT group_concat(name) FROM sqlite_master WHERE type='table'") + ",";
        if (rc != SQLITE_OK) {
            // Reading a WAL session creates its -shm index beside it: on a full disk that fails
            // as an I/O error, which would read as a damaged file.
            // (A read-only medium reports no space free too: only a folder we may write counts.)
            if ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL) {
                const std::string folder = folderOf(file);
                std::error_code ec;
                const auto space = fs::space(folder, ec);
                if (!ec && space.available < (uint64_t(1) << 20) && access(folder.c_str(), W_OK) == 0)
                    throw Error(path + ": cannot be read: the disk holding it is full (" + std::to_string(space.available >> 10)
                                + " KiB free; SQLite needs room beside the file for its -shm index even to read it)");
            }
            if ((rc & 0xff) == SQLITE_READONLY && fs::file_size(journal, ec) > 0 && !ec)
                throw Error(path + ": a program stopped in the middle of writing to it and left its rollback journal " + journal
                            + (mode == Mode::ReadOnly ? "; opening the session for writing (a run saved to it) rolls that write back, "
                                                        "viewing cannot"
                                                      : headerIsSession(file) ? ", which could not be rolled back (another program holds the session?)"
                                                                              : ", which is not a FairKV session's to roll back")
                            + "; nothing was changed");
            if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
                throw Error(path + ": is locked by another program (waited 5 s); try again once it has finished with the session");
            // A write-ahead log holding runs needs its -shm index made beside it to be read.
            if ((rc & 0xff) == SQLITE_CANTOPEN && walBytes(file) > 0 && !fs::exists(file + "-shm", ec)
                && access(folderOf(file).c_str(), W_OK) != 0)
                throw Error(path + ": its write-ahead log " + file + "-wal holds runs not yet in the file, and reading them needs "
                            "a -shm index beside it, which this user cannot create in " + folderOf(file)
                            + " (copy the session with its -wal to a writable folder, or have the owner open it once)");
            throw Error(path + ": not a readable FairKV session (" + (raw ? sqlite3_errmsg(raw) : "cannot open") + ")");
        }
        if (const std::string refusal = schemaRefusal(version, appId, hasTables); !refusal.empty())
            throw Error(path + ": " + refusal);
        // The current schema's tables: a file of this version without one of them was damaged or
        // edited, and would fail half way through a read or a write.
        std::string missing;
        for (const char* table : kCurrentTables)
            if (tables.find("," + std::string(table) + ",") == std::string::npos)
                missing += std::string(missing.empty() ? "'" : ", '") + table + "'";
        if (version == kSchemaVersion && !missing.empty())
            throw Error(path + ": the session is damaged: it has no table " + missing + "; the file was not changed");
        // A session about to be written must be sound throughout: a damaged page that no read
        // happens to touch would take the new run down with it.
        if (mode == Mode::ReadWrite) {
            std::string check = read("PRAGMA quick_check(1)");
            std::replace(check.begin(), check.end(), '\n', ' '); // one line
            if (rc != SQLITE_OK || check != "ok")
                throw Error(path + ": the session file is damaged (" + (rc != SQLITE_OK ? sqlite3_errmsg(raw) : check)
                            + "); not writing to it, and it was not changed");
        }
    }

    if (mode == Mode::ReadOnly) {
        if (sqlite3_open_v2(uri.c_str(), &s->m_db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) != SQLITE_OK)
            s->fail(std::string("cannot open: ") + sqlite3_errmsg(s->m_db));
        s->m_readOnly = true;
        if (version < kSchemaVersion) {
            // Migrate a private in-memory copy: viewing never writes to the file.
            sqlite3* mem = nullptr;
            sqlite3_open(":memory:", &mem);
            sqlite3_backup* b = sqlite3_backup_init(mem, "main", s->m_db, "main");
            if (!b || sqlite3_backup_step(b, -1) != SQLITE_DONE) {
                sqlite3_backup_finish(b);
                sqlite3_close(mem);
                s->fail("cannot read the session to upgrade it in memory");
            }
            sqlite3_backup_finish(b);
            sqlite3_close(s->m_db);
            s->m_db = mem;
            s->exec("BEGIN");
            s->migrate(version);
            s->exec("COMMIT");
        }
        return s;
    }

    if (sqlite3_open_v2(sqliteName(s->m_file).c_str(), &s->m_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
        s->fail(std::string("cannot open: ") + sqlite3_errmsg(s->m_db));
    // Which file this store writes, taken as it opens: one moved, renamed or replaced at its path
    // afterwards is not written past (checkStillAtPath(): SQLite keeps its -wal by the path, and
    // refuses to checkpoint into a file no longer there).
    if (struct stat st; ::stat(s->m_file.c_str(), &st) == 0)
        s->m_identity = {uint64_t(st.st_dev), uint64_t(st.st_ino)};
    sqlite3_busy_timeout(s->m_db, 5000);
    s->exec("PRAGMA foreign_keys=ON");
    // Upgraded (or created) before the switch to WAL below: a file whose upgrade is refused keeps
    // its journal mode too, unchanged to the byte.
    if (version < kSchemaVersion) {
        s->exec("BEGIN IMMEDIATE");
        try {
            // Another program may have created or upgraded the file since the look above (two runs
            // saving to a new session at once): what it wrote decides, read under the write lock.
            const auto pragma = [&](const char* sql) {
                Statement st(s->m_db, sql, path);
                return st.step() ? st.i64(0) : int64_t(0);
            };
            const int now = int(pragma("PRAGMA user_version"));
            const bool tables = pragma("SELECT count(*) FROM sqlite_master") > 0;
            if (const std::string refusal = schemaRefusal(now, int32_t(pragma("PRAGMA application_id")), tables); !refusal.empty())
                s->fail(refusal);
            if (now < kSchemaVersion)
                s->migrate(tables ? now : 0);
            s->exec("COMMIT");
        } catch (...) {
            sqlite3_exec(s->m_db, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }
    // Switching to WAL takes an exclusive lock and, where another connection is just creating or
    // switching the same file, can fail at once as busy without calling the busy handler: retried
    // (without the handler, which may wait its 5 s inside each try) until the same 5 s are up.
    sqlite3_busy_timeout(s->m_db, 0);
    for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);;) {
        const int rc = sqlite3_exec(s->m_db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK)
            break;
        if (rc != SQLITE_BUSY || std::chrono::steady_clock::now() >= until)
            s->fail(describeSqlite(s->m_db, rc));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    sqlite3_busy_timeout(s->m_db, 5000);
    s->exec("PRAGMA synchronous=NORMAL");
    return s;
}

void SessionStore::checkStillAtPath() const
{
    struct stat st;
    if (::stat(m_file.c_str(), &st) != 0)
        fail("the session file (or its folder) was moved, renamed or deleted while it was open for this save; nothing was "
             "saved (SQLite keeps its write-ahead log by the path; save again to the file where it is now)");
    if (std::make_pair(uint64_t(st.st_dev), uint64_t(st.st_ino)) != m_identity)
        fail("the session file was replaced by another file while it was open; nothing was saved in either");
}

void SessionStore::migrate(int from)
{
    if (from == 0) {
        exec(kSchemaV1);
        exec(("PRAGMA application_id=" + std::to_string(kApplicationId)).c_str());
        from = 1;
    }
    if (from == 1) {
        // A file that says schema 1 but already has schema 2's tables or columns is damaged (or its
        // version was set back by hand): say so, not SQLite's "duplicate column name".
        {
            Statement st(m_db, "SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name IN ('parent_id', 'label')", m_path);
            st.step();
            if (st.i64(0) > 0)
                fail("the file says schema version 1 but already has schema 2's columns: its version was changed or "
                     "it is damaged; not upgrading it, nothing was changed");
        }
        exec(kMigrateV1ToV2);
        // Runs written with schema 1 get their per-layer rank times from their records.
        std::vector<int64_t> runs;
        {
            Statement st(m_db, "SELECT id, ranks FROM runs", m_path);
            while (st.step())
                runs.push_back(st.i64(0));
        }
        for (int64_t id : runs) {
            // A run whose rank count or trace is damaged gets no per-layer times: the run list
            // marks it and opening it names the fault, while the session's other runs read.
            int ranks = 0;
            {
                Statement st(m_db, "SELECT ranks FROM runs WHERE id=?", m_path);
                st.bind(1, id);
                st.step();
                if (st.isNull(0) || !ranksInRange(st.i64(0))) // named by the run list
                    continue;
                ranks = int(st.i64(0));
            }
            const RunAggregate agg = aggregate(loadTrace(id), ranks);
            Statement ins(m_db, "INSERT INTO layer_times VALUES(?,?,?,?,?,?,?)", m_path);
            for (const auto& a : agg.layers)
                for (int g = 0; g < ranks; ++g)
                    ins.bind(1, id).bind(2, int64_t(a.step)).bind(3, int64_t(a.layer)).bind(4, int64_t(g))
                        .bind(5, a.attentionMs[size_t(g)]).bind(6, a.mlpMs[size_t(g)]).bind(7, a.collectiveMs).run();
        }
        from = 2;
    }
    exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
}

SessionStore::~SessionStore()
{
    if (m_db)
        sqlite3_close(m_db);
    // The -wal and -shm files this reader made, while the log is empty: a writable connection that
    // reads and closes removes them the way every writer does, and only where no other connection
    // still uses them (SQLite deletes them under an exclusive lock). With nothing to copy from the
    // log, the session file itself is not written; a log that a writer filled meanwhile stays for
    // the next writer, whose file it is to change.
    if (!m_tidyCompanions)
        return;
    std::error_code ec;
    if (fs::file_size(m_file + "-wal", ec) != 0 || ec || access(m_file.c_str(), W_OK) != 0
        || access(folderOf(m_file).c_str(), W_OK) != 0)
        return;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(sqliteName(m_file).c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK)
        sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
    sqlite3_close(db);
}

int SessionStore::schemaVersion() const
{
    Statement st(m_db, "PRAGMA user_version", m_path);
    st.step();
    return int(st.i64(0));
}

void SessionStore::setBusyTimeout(int ms)
{
    sqlite3_busy_timeout(m_db, ms);
}

int64_t SessionStore::appendRun(const fairkv::RunResult& run, const TraceBuffer& trace, const Environment& env,
                                std::optional<int64_t> parent, const std::string& label)
{
    if (m_readOnly)
        fail("opened for viewing only; cannot save a run");
    if (label.size() > kMaxLabelBytes)
        fail("a run's label is at most " + std::to_string(kMaxLabelBytes) + " bytes, this one has " + std::to_string(label.size()));
    const json result = run.toJson();
    const RunAggregate agg = aggregate(trace, run.ranks);
    exec("BEGIN IMMEDIATE");
    try {
        checkStillAtPath();
        if (parent)
            requireRun(*parent);
        Statement envIns(m_db, "INSERT INTO environments(json) VALUES(?)", m_path);
        envIns.bind(1, storedText(env.toJson())).run();
        const int64_t envId = sqlite3_last_insert_rowid(m_db);
        const std::string modelName = result["model"].value("name", std::string("?"));
        const std::string shape = storedText(result["model"]);
        Statement modelIns(m_db, "INSERT OR IGNORE INTO models(name, shape_json) VALUES(?,?)", m_path);
        modelIns.bind(1, modelName).bind(2, shape).run();
        Statement modelSel(m_db, "SELECT id FROM models WHERE name=? AND shape_json=?", m_path);
        modelSel.bind(1, modelName).bind(2, shape);
        modelSel.step();
        const int64_t modelId = modelSel.i64(0);

        Statement runIns(m_db, "INSERT INTO runs(model_id, environment_id, created_at, backend, timing, ranks, config_json, "
                               "result_json, parent_id, label) VALUES(?,?,?,?,?,?,?,?,?,?)", m_path);
        runIns.bind(1, modelId).bind(2, envId).bind(3, nowIso()).bind(4, run.backend).bind(5, run.timing)
            .bind(6, int64_t(run.ranks)).bind(7, storedText(result["config"])).bind(8, storedText(result));
        if (parent)
            runIns.bind(9, *parent);
        else
            runIns.bindNull(9);
        runIns.bind(10, label).run();
        const int64_t runId = sqlite3_last_insert_rowid(m_db);

        Statement pl(m_db, "INSERT INTO placements(run_id, name, json) VALUES(?,?,?)", m_path);
        pl.bind(1, runId).bind(2, run.placement.name).bind(3, storedText(run.placement.toJson())).run();

        Statement us(m_db, "INSERT INTO unit_stats VALUES(?,?,?,?,?,?)", m_path);
        for (size_t r = 0; r < run.kvLen.size(); ++r)
            for (size_t l = 0; l < run.kvLen[r].size(); ++l)
                for (size_t u = 0; u < run.kvLen[r][l].size(); ++u)
                    us.bind(1, runId).bind(2, int64_t(r)).bind(3, int64_t(l)).bind(4, int64_t(u))
                        .bind(5, int64_t(run.kvLen[r][l][u])).bind(6, run.attentionMass[r][l][u]).run();

        // Intern kernel names in the file, then write the records with the file's ids.
        std::vector<int64_t> nameIds;
        Statement nameIns(m_db, "INSERT OR IGNORE INTO kernel_names(name) VALUES(?)", m_path);
        Statement nameSel(m_db, "SELECT id FROM kernel_names WHERE name=?", m_path);
        for (const auto& n : trace.names()) {
            nameIns.bind(1, n).run();
            nameSel.bind(1, n);
            nameSel.step();
            nameIds.push_back(nameSel.i64(0));
            nameSel.reset();
        }
        Statement rec(m_db, "INSERT INTO trace_records VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", m_path);
        for (const TraceRecord& r : trace.records)
            rec.bind(1, runId).bind(2, int64_t(r.rank)).bind(3, int64_t(r.device)).bind(4, int64_t(r.stream))
                .bind(5, nameIds.at(r.nameId)).bind(6, r.startNs).bind(7, r.endNs).bind(8, int64_t(r.step))
                .bind(9, int64_t(r.layer)).bind(10, int64_t(r.unit)).bind(11, int64_t(r.phase)).bind(12, int64_t(r.kind)).run();

        Statement lt(m_db, "INSERT INTO layer_times VALUES(?,?,?,?,?,?,?)", m_path);
        for (const auto& a : agg.layers)
            for (int g = 0; g < run.ranks; ++g)
                lt.bind(1, runId).bind(2, int64_t(a.step)).bind(3, int64_t(a.layer)).bind(4, int64_t(g))
                    .bind(5, a.attentionMs[size_t(g)]).bind(6, a.mlpMs[size_t(g)]).bind(7, a.collectiveMs).run();

        Statement m(m_db, "INSERT INTO metrics VALUES(?,?,?,?,?)", m_path);
        const std::pair<const char*, std::pair<double, const char*>> rows[] = {
            {"tokens_per_s", {run.tokensPerS, "tokens/s"}}, {"step_ms", {run.stepMeanMs(), "ms"}},
            {"prefill_ms", {run.prefillMs, "ms"}},          {"attention_ms", {run.attentionMs, "ms"}},
            {"imbalance", {run.imbalance, "max/mean"}}};
        m.bind(1, runId).bind(2, std::string("prefill_wall_ms")).bind(3, run.prefillWallMs).bind(4, std::string("ms"))
            .bind(5, std::string("measured")).run();
        for (const auto& [name, v] : rows)
            m.bind(1, runId).bind(2, std::string(name)).bind(3, v.first).bind(4, std::string(v.second)).bind(5, run.timing).run();
        m.bind(1, runId).bind(2, std::string("lower_bound_ms")).bind(3, run.lowerBoundMs).bind(4, std::string("ms"))
            .bind(5, std::string("modelled")).run();
        m.bind(1, runId).bind(2, std::string("dropped_records")).bind(3, double(trace.dropped)).bind(4, std::string("records"))
            .bind(5, std::string("measured")).run();
        exec("COMMIT");
        return runId;
    } catch (...) {
        sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void SessionStore::requireRun(int64_t id) const
{
    Statement st(m_db, "SELECT 1 FROM runs WHERE id=?", m_path);
    st.bind(1, id);
    if (!st.step())
        fail("there is no run " + std::to_string(id));
}

namespace {

// What a run's metrics can be, given the decode steps its result timed (`timedSteps`, none where the
// result says nothing; the result's own checks name that): a run that
// timed steps stored a throughput and a step time above 0, a run that timed none stored neither
// (or zeros, as sessions saved before 2026-12-07 did: read as not timed)
// (else its speedups would read "not timed" beside timed records, or 0 tokens/s as a measurement);
// max/mean is at least 1; and nothing FairKV times comes near 1e15 (a value there is an edit, and
// would overflow the charts' scales). Faults go to `damaged(flag, why)`.
template <typename Damaged>
void checkMetrics(RunSummary& s, std::optional<int64_t> timedSteps, const Damaged& damaged)
{
    constexpr double kImplausible = 1e15;
    const std::string run = "run " + std::to_string(s.id);
    const std::pair<const char*, double*> measures[] = {
        {"tokens_per_s", &s.tokensPerS}, {"step_ms", &s.stepMs}, {"imbalance", &s.imbalance}, {"lower_bound_ms", &s.lowerBoundMs}};
    for (const auto& [name, value] : measures)
        if (!std::isnan(*value) && *value >= kImplausible) {
            damaged(s.resultDamaged, run + "'s metric '" + name + "' is " + json(*value).dump() + ", not a plausible measure");
            *value = RunResult::kNotTimed;
        }
    if (!std::isnan(s.imbalance) && s.imbalance < 1 - 1e-6) {
        damaged(s.resultDamaged, run + "'s metric 'imbalance' is " + json(s.imbalance).dump() + ", below 1 (max / mean)");
        s.imbalance = RunResult::kNotTimed;
    }
    for (const auto& [name, value] : {std::pair{"tokens_per_s", &s.tokensPerS}, std::pair{"step_ms", &s.stepMs}}) {
        if (timedSteps && *timedSteps == 0 && *value == 0) { // how runs without a timed step were saved before NULL
            *value = RunResult::kNotTimed;
            continue;
        }
        if (!std::isnan(*value) && *value <= 0)
            damaged(s.resultDamaged, run + "'s metric '" + name + "' is 0, which no timed run measures");
        else if (timedSteps && *timedSteps > 0 && std::isnan(*value))
            damaged(s.resultDamaged, run + " has damaged metrics: it timed " + std::to_string(*timedSteps)
                                         + (*timedSteps == 1 ? " decode step" : " decode steps") + " but its '" + name + "' is missing");
        else if (timedSteps && *timedSteps == 0 && !std::isnan(*value))
            damaged(s.resultDamaged, run + "'s metric '" + name + "' is set, but its result's 'step_ms' lists no timed decode step");
    }
}

} // namespace

std::vector<RunSummary> SessionStore::summaries(std::optional<int64_t> only) const
{
    std::vector<RunSummary> out;
    Statement st(m_db, "SELECT r.id, r.parent_id, r.created_at, r.label, COALESCE(m.name, '(model record missing)'), r.backend, r.timing, r.ranks, "
                       "r.config_json, p.name, (SELECT count(*) FROM trace_records t WHERE t.run_id = r.id), "
                       "(SELECT value FROM metrics WHERE run_id=r.id AND name='tokens_per_s'), "
                       "(SELECT value FROM metrics WHERE run_id=r.id AND name='step_ms'), "
                       "(SELECT value FROM metrics WHERE run_id=r.id AND name='imbalance'), "
                       "(SELECT value FROM metrics WHERE run_id=r.id AND name='lower_bound_ms'), r.result_json, "
                       "CASE WHEN json_valid(r.result_json) AND json_type(r.result_json, '$.step_ms') = 'array' "
                       "THEN json_array_length(r.result_json, '$.step_ms') END, "
                       // The first of the design's result keys every view reads that the record lacks.
                       "CASE WHEN NOT json_valid(r.result_json) THEN NULL "
                       "WHEN json_type(r.result_json) <> 'object' THEN '' "
                       "WHEN json_type(r.result_json, '$.rank_attention_ms') IS NOT 'array' THEN 'rank_attention_ms' "
                       "WHEN json_type(r.result_json, '$.kv_len') IS NOT 'array' THEN 'kv_len' "
                       "WHEN json_type(r.result_json, '$.step_ms') IS NOT 'array' THEN 'step_ms' "
                       "WHEN json_type(r.result_json, '$.placement') IS NOT 'object' THEN 'placement' END "
                       "FROM runs r LEFT JOIN models m ON m.id = r.model_id LEFT JOIN placements p ON p.run_id = r.id "
                       "WHERE ?1 IS NULL OR r.id = ?1 ORDER BY r.id",
                 m_path);
    if (only)
        st.bind(1, *only);
    else
        st.bindNull(1);
    while (st.step()) {
        RunSummary s;
        s.id = st.i64(0);
        if (!st.isNull(1))
            s.parent = st.i64(1);
        s.createdAt = st.text(2);
        s.label = st.text(3);
        s.model = st.text(4);
        s.backend = st.text(5);
        s.timing = st.text(6);
        // A damaged field marks its run's row and says why (opening that run names it too); the
        // other runs still list. The first fault found is kept.
        const std::string run = "run " + std::to_string(s.id);
        const auto damaged = [&](bool& flag, const std::string& why) {
            flag = true;
            const std::string file = m_path + ": "; // said once, by whoever reports it
            if (s.damage.empty())
                s.damage = why.rfind(file, 0) == 0 ? why.substr(file.size()) : why;
        };
        const json cfg = parseStored(st.text(8));
        if (!cfg.is_object())
            damaged(s.settingsDamaged, run + "'s settings are not a JSON object");
        try {
            s.ranks = storedRanks(s.id, st.integer(7, run + "'s rank count"));
        } catch (const Error& e) {
            damaged(s.settingsDamaged, e.what());
        }
        if (!storedJsonSound(st.text(15)))
            damaged(s.resultDamaged, run + "'s result is not valid JSON");
        else if (!st.isNull(17)) { // a record without a key every view reads would show zeros
            const std::string key = st.text(17);
            damaged(s.resultDamaged, run + " has a damaged result record"
                                         + (key.empty()               ? std::string(" (not a JSON object)")
                                            : key == "placement" ? std::string(": no 'placement'")
                                                                 : ": no '" + key + "' array"));
        }
        if (cfg.is_object()) { // a value of another type is a damaged record, not a crash
            try {
                const std::string what = run + "'s settings";
                s.compress = jsonStringOr(cfg, "compress", std::string(), what);
                s.budget = jsonIntOr(cfg, "budget", 0, what, 0);
                s.batch = jsonIntOr(cfg, "batch", 0, what, 0);
                // Settings without a step count (edited by hand) take the steps the result timed.
                s.decode = jsonIntOr(cfg, "decode", st.isNull(16) ? 0 : int(std::min<int64_t>(st.i64(16), 1 << 30)), what, 0);
                s.promptLen = jsonIntOr(cfg, "prompt_len", 0, what, 0);
            } catch (const Error& e) {
                damaged(s.settingsDamaged, e.what());
            }
        }
        s.placement = st.text(9);
        s.records = st.i64(10);
        const auto metric = [&](int c, const char* name) {
            try {
                return st.number(c, run + "'s metric '" + name + "'");
            } catch (const Error& e) {
                damaged(s.resultDamaged, e.what());
                return RunResult::kNotTimed;
            }
        };
        s.tokensPerS = metric(11, "tokens_per_s");
        s.stepMs = metric(12, "step_ms");
        s.imbalance = metric(13, "imbalance");
        s.lowerBoundMs = metric(14, "lower_bound_ms");
        checkMetrics(s, st.isNull(16) ? std::nullopt : std::optional<int64_t>(st.i64(16)), damaged);
        if (s.timing != "measured" && s.timing != "emulated")
            damaged(s.resultDamaged, run + "'s timing is '" + printable(s.timing.substr(0, 32))
                                         + "', which no run records (measured or emulated)");
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<RunSummary> SessionStore::listRuns() const
{
    return summaries(std::nullopt);
}

namespace {

bool isNumbers(const json& v)
{
    return v.is_array() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_number(); });
}
bool isNumberRows(const json& v)
{
    return v.is_array() && std::all_of(v.begin(), v.end(), isNumbers);
}
bool isNumberCubes(const json& v)
{
    return v.is_array() && std::all_of(v.begin(), v.end(), isNumberRows);
}

// The keys of RunResult::toJson with the types the report and the views read them as. A record
// holding another type is damaged: read as it is, it would throw deep inside a report or a paint.
// A null scalar (what a NaN is stored as) reads as absent, so every reader takes its default.
template <typename Damaged>
void checkResultTypes(json& result, int runRanks, const Damaged& damaged)
{
    using Check = bool (*)(const json&);
    static const std::pair<std::vector<const char*>, Check> kScalars[] = {
        {{"backend", "timing", "collective", "compression_on", "gemm"}, [](const json& v) { return v.is_string(); }},
        {{"kernel_tracing"}, [](const json& v) { return v.is_boolean(); }},
        {{"ranks", "prefill_ms", "prefill_wall_ms", "tokens_per_s", "imbalance", "attention_ms", "lower_bound_ms",
          "kv_moved_bytes", "calibration_steps"},
         [](const json& v) { return v.is_number(); }},
    };
    for (const auto& [keys, ok] : kScalars)
        for (const char* key : keys) {
            if (result.contains(key) && result.at(key).is_null())
                result.erase(key);
            else if (result.contains(key) && !ok(result.at(key)))
                damaged(std::string("'") + key + "' is " + jsonBrief(result.at(key)) + ", of the wrong type");
        }
    static const std::pair<const char*, Check> kShapes[] = {
        {"step_ms", isNumbers},          {"rank_weight_bytes", isNumbers}, {"rank_kv_bytes", isNumbers},
        {"collective_ms", isNumbers},    {"rank_attention_ms", isNumberRows}, {"rank_mlp_ms", isNumberRows},
        {"tokens", isNumberRows},        {"kv_len", isNumberCubes},       {"attention_mass", isNumberCubes},
        {"model", [](const json& v) { return v.is_object(); }},
        {"config", [](const json& v) { return v.is_object(); }},
        {"lower_bound", [](const json& v) { return v.is_object(); }},
        {"warnings", [](const json& v) {
             return v.is_array() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string(); });
         }},
    };
    for (const auto& [key, ok] : kShapes)
        if (result.contains(key) && !ok(result.at(key)))
            damaged(std::string("'") + key + "' does not have the shape or types a run writes");
    // Per-rank tables hold one value per rank of the run (a ragged row would draw as more ranks).
    if (const json& ranks = result.value("ranks", json()); ranks.is_number_unsigned())
        for (const char* key : {"rank_attention_ms", "rank_mlp_ms"})
            for (const json& row : result.value(key, json::array()))
                if (row.is_array() && row.size() != ranks.get<size_t>())
                    damaged(std::string("'") + key + "' has a layer of " + std::to_string(row.size()) + " ranks in a run of "
                            + std::to_string(ranks.get<size_t>()));
    if (result.contains("model") && result.at("model").contains("name") && !result.at("model").at("name").is_string())
        damaged("the model's 'name' is not text");
    if (const json& lb = result.value("lower_bound", json::object()); !lb.empty()) {
        for (const char* key : {"c_unit_ms", "c_tok_ms"})
            if (lb.contains(key) && !lb.at(key).is_number())
                damaged(std::string("'lower_bound.") + key + "' is not a number");
        for (const char* key : {"kind", "source"})
            if (lb.contains(key) && !lb.at(key).is_string())
                damaged(std::string("'lower_bound.") + key + "' is not text");
    }
    // The placement as the placement editor and the reports read it: units, ranks, request sets.
    // The run's rank count (its row) is what every view lays its ranks out by: the record must agree.
    if (const json& ranks = result.value("ranks", json()); ranks.is_number() && ranks != json(runRanks))
        damaged("it says " + ranks.dump() + " ranks where the run's record says " + std::to_string(runRanks));
    // Times are finite and not negative (a -5 ms rank had been dropped from the plot while the
    // summary still counted it).
    const auto isTime = [](const json& v) { return jsonIsNumberIn(v, 0.0, 1e12); };
    for (const char* key : {"step_ms", "collective_ms"})
        for (const json& v : result.value(key, json::array()))
            if (!isTime(v))
                damaged(std::string("'") + key + "' holds " + jsonBrief(v) + ", not a time");
    for (const char* key : {"rank_attention_ms", "rank_mlp_ms"})
        for (const json& row : result.value(key, json::array()))
            for (const json& v : row)
                if (!isTime(v))
                    damaged(std::string("'") + key + "' holds " + jsonBrief(v) + ", not a time");
    // Token counts: whole numbers from 0 to 2^31 (-7 and 2^62 had drawn as a colour scale to 10^18).
    for (const auto& request : result.value("kv_len", json::array()))
        for (const auto& layer : request)
            for (const auto& len : layer)
                if (!jsonIsIntIn(len, 0, int64_t(1) << 31))
                    damaged("'kv_len' holds " + jsonBrief(len) + ", not a token count");
    // Every [request][layer][unit] table is one full box, and the per-layer tables have a row per
    // layer: the views index them by the placement's layers and units (a short row of one request
    // had made the compare view write past its grid).
    const json& kv = result.value("kv_len", json::array());
    const size_t batch = kv.size(), layers = batch ? kv[0].size() : 0, units = layers ? kv[0][0].size() : 0;
    const auto isBox = [&](const json& t) {
        return t.size() == batch && std::all_of(t.begin(), t.end(), [&](const json& request) {
                   return request.size() == layers
                       && std::all_of(request.begin(), request.end(), [&](const json& layer) { return layer.size() == units; });
               });
    };
    if (!isBox(kv))
        damaged("'kv_len' is not one value per request, layer and unit (its rows differ in length)");
    // Every run writes both (the heatmap indexes the mass by kv_len's shape), and the rank tables
    // with a row per layer (zeros without a timed step).
    if (const json& mass = result.value("attention_mass", json::array()); !isBox(mass))
        damaged("'attention_mass' does not have the shape of 'kv_len' (" + std::to_string(batch) + " x " + std::to_string(layers)
                + " x " + std::to_string(units) + ")");
    for (const char* key : {"rank_attention_ms", "rank_mlp_ms"})
        if (const json& t = result.value(key, json::array()); t.size() != layers)
            damaged(std::string("'") + key + "' has " + layerCount(int64_t(t.size())) + " where 'kv_len' has "
                    + std::to_string(layers));
    // The placement a run ran: every unit of every layer, its replicas on the run's ranks, their
    // request sets a partition of the batch (design §2).
    std::string why;
    try {
        Placement::fromJson(result.at("placement"), int(batch), "its placement").validate(int(layers), int(units), runRanks, int(batch));
    } catch (const Error& e) {
        why = e.what();
    }
    if (!why.empty())
        damaged(why);
}

} // namespace

StoredRun SessionStore::loadRun(int64_t id) const
{
    StoredRun r;
    const auto found = summaries(id); // this run only: no record counts for the whole session
    if (found.empty())
        fail("there is no run " + std::to_string(id));
    r.summary = found.front();
    Statement st(m_db, "SELECT r.config_json, r.result_json, e.json FROM runs r LEFT JOIN environments e ON e.id = "
                       "r.environment_id WHERE r.id=?", m_path);
    st.bind(1, id);
    st.step();
    r.config = parseStored(st.text(0));
    r.result = parseStored(st.text(1));
    if (r.result.is_discarded() || !r.result.is_object())
        fail("run " + std::to_string(id) + " has a damaged result record" + (r.result.is_discarded() ? "" : " (not a JSON object)"));
    if (r.config.is_discarded() || !r.config.is_object())
        fail("run " + std::to_string(id) + " has damaged settings (not a JSON object)");
    if (!r.summary.damage.empty()) // what the run list marked (its rank count, a setting, a key, a metric)
        fail(r.summary.damage);
    // The design's result keys every view reads (the run list checks them in SQL, but only where
    // SQLite's JSON reader agrees with ours: a byte-order mark, say, it refuses and ours takes).
    const auto damaged = [&](const std::string& why) { fail("run " + std::to_string(id) + " has a damaged result record: " + why); };
    for (const char* key : {"rank_attention_ms", "kv_len", "step_ms"})
        if (!r.result.contains(key) || !r.result.at(key).is_array())
            damaged(std::string("no '") + key + "' array");
    if (!r.result.contains("placement") || !r.result.at("placement").is_object())
        damaged("no 'placement'");
    checkResultTypes(r.result, r.summary.ranks, damaged);
    r.environment = Environment::fromJson(parseStored(st.text(2))); // damaged or missing: every field "unknown"
    return r;
}

TraceBuffer SessionStore::loadTrace(int64_t id) const
{
    TraceBuffer t;
    std::vector<std::string> names;
    {
        Statement st(m_db, "SELECT id, name FROM kernel_names", m_path);
        while (st.step()) {
            // Ids are the indices a trace interned, 0 to n - 1; one outside that range would size
            // (or, negative, wrap) the table it indexes.
            constexpr int64_t kMaxNames = int64_t(1) << 24;
            if (st.i64(0) < 0 || st.i64(0) >= kMaxNames)
                fail("the kernel name table is damaged (name id " + std::to_string(st.i64(0)) + ")");
            const auto i = size_t(st.i64(0));
            if (names.size() <= i)
                names.resize(i + 1);
            names[i] = readableKernelName(st.text(1)); // sessions written before names were demangled
        }
    }
    t.setNames(std::move(names));
    const int ranks = runRanks(id);
    int64_t impossible = 0, foreign = 0, notWhole = 0;
    Statement st(m_db, "SELECT rank, device, stream, name_id, start_ns, end_ns, step, layer, unit, phase, kind FROM "
                       "trace_records WHERE run_id=? ORDER BY start_ns", m_path);
    st.bind(1, id);
    while (st.step()) {
        // A NULL or text column would read as 0: a record on rank 0 at time 0. Left out, and counted.
        bool whole = true;
        for (int c = 0; c <= 10; ++c)
            whole = whole && st.isInteger(c);
        if (!whole) {
            ++notWhole;
            continue;
        }
        TraceRecord r;
        r.rank = int32_t(st.i64(0));
        r.device = int32_t(st.i64(1));
        r.stream = int32_t(st.i64(2));
        if (st.i64(3) < 0 || uint64_t(st.i64(3)) >= t.names().size())
            fail("run " + std::to_string(id) + " has a trace record with an unknown kernel name");
        r.nameId = uint32_t(st.i64(3));
        r.startNs = st.i64(4);
        r.endNs = st.i64(5);
        r.step = int32_t(st.i64(6));
        r.layer = int32_t(st.i64(7));
        r.unit = int32_t(st.i64(8));
        // A rank outside the run's (-1: all of them) would draw as a rank of its own, and a phase or
        // kind past the enums would be read as another one: such records are left out, and counted.
        if (st.i64(0) < -1 || st.i64(0) >= ranks || st.i64(9) < 0 || st.i64(9) > int64_t(Phase::Other) || st.i64(10) < 0
            || st.i64(10) > int64_t(RecordKind::Range)) {
            ++foreign;
            continue;
        }
        r.phase = Phase(uint8_t(st.i64(9)));
        r.kind = RecordKind(uint8_t(st.i64(10)));
        // Times are nanoseconds of a steady clock: a record outside [0, 2^62) or ending before it
        // starts (CUPTI's "no timestamps" record, kept by builds before this check) would turn every
        // difference taken from it into garbage. Such records are left out, and the trace says so.
        if (r.startNs < 0 || r.endNs < r.startNs || r.endNs >= (int64_t(1) << 62)) {
            ++impossible;
            continue;
        }
        t.records.push_back(r);
    }
    Statement d(m_db, "SELECT value FROM metrics WHERE run_id=? AND name='dropped_records'", m_path);
    d.bind(1, id);
    if (d.step()) {
        const double dropped = d.number(0, "run " + std::to_string(id) + "'s metric 'dropped_records'"); // NaN: none
        t.dropped = dropped > 0 && dropped < 1e18 ? uint64_t(dropped) : 0;
    }
    if (impossible > 0)
        t.warnings.push_back(std::to_string(impossible) + " trace records of run " + std::to_string(id)
                             + " have impossible times (no timestamps, or ending before they start) and are left out");
    if (notWhole > 0)
        t.warnings.push_back(std::to_string(notWhole) + " trace records of run " + std::to_string(id)
                             + " hold a NULL or text where a number belongs, and are left out");
    if (foreign > 0)
        t.warnings.push_back(std::to_string(foreign) + " trace records of run " + std::to_string(id) + " name a rank outside 0.."
                             + std::to_string(ranks - 1) + ", or a phase or kind no build writes, and are left out");
    return t;
}

std::vector<LayerAggregate> SessionStore::loadLayerTimes(int64_t id) const
{
    const int ranks = runRanks(id);
    std::vector<LayerAggregate> out;
    Statement st(m_db, "SELECT step, layer, rank, attention_ms, mlp_ms, collective_ms FROM layer_times WHERE run_id=? "
                       "ORDER BY step, layer, rank", m_path);
    st.bind(1, id);
    while (st.step()) {
        const int step = int(st.i64(0)), layer = int(st.i64(1)), rank = int(st.i64(2));
        if (out.empty() || out.back().step != step || out.back().layer != layer) {
            LayerAggregate a;
            a.step = step;
            a.layer = layer;
            a.attentionMs.assign(size_t(ranks), 0.0);
            a.mlpMs.assign(size_t(ranks), 0.0);
            a.idleMs.assign(size_t(ranks), 0.0);
            out.push_back(std::move(a));
        }
        if (rank < 0 || rank >= ranks)
            fail("run " + std::to_string(id) + " has layer times for rank " + std::to_string(rank));
        out.back().attentionMs[size_t(rank)] = st.f64(3);
        out.back().mlpMs[size_t(rank)] = st.f64(4);
        out.back().collectiveMs = st.f64(5);
    }
    for (auto& a : out) {
        double mean = 0;
        for (int g = 0; g < ranks; ++g) {
            const double busy = a.attentionMs[size_t(g)] + a.mlpMs[size_t(g)];
            if (busy > a.slowestMs)
                a.slowestMs = busy, a.slowestRank = g;
            mean += busy / ranks;
        }
        for (int g = 0; g < ranks; ++g)
            a.idleMs[size_t(g)] = a.slowestMs - a.attentionMs[size_t(g)] - a.mlpMs[size_t(g)];
        a.imbalance = mean > 0 ? a.slowestMs / mean : 1.0;
    }
    return out;
}

void SessionStore::saveCopy(const std::string& path) const
{
    const std::string tmp = temporaryBeside(path, std::strlen("-journal")); // SQLite writes the copy's journal beside it
    std::error_code ec;
    fs::remove(tmp, ec);
    sqlite3* dest = nullptr;
    if (sqlite3_open_v2(sqliteName(tmp).c_str(), &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
        sqlite3_close(dest);
        throw Error(path + ": cannot write");
    }
    sqlite3_backup* b = sqlite3_backup_init(dest, "main", m_db, "main");
    const int rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
    sqlite3_backup_finish(b);
    const std::string msg = sqlite3_errmsg(dest);
    sqlite3_close(dest);
    if (rc != SQLITE_DONE) {
        fs::remove(tmp, ec);
        throw Error(path + ": cannot write the copy (" + msg + ")");
    }
    fs::rename(tmp, path, ec);
    if (ec)
        throw Error(path + ": cannot write: " + ec.message());
}

const char* SessionStore::firstSchemaSql()
{
    return kSchemaV1;
}

SessionStore::UnitStats SessionStore::loadUnitStats(int64_t id) const
{
    requireRun(id);
    UnitStats out;
    Statement st(m_db, "SELECT request, layer, unit, kv_len, attention_mass FROM unit_stats WHERE run_id=? ORDER BY request, layer, unit", m_path);
    st.bind(1, id);
    while (st.step()) {
        const auto r = size_t(st.i64(0)), l = size_t(st.i64(1)), u = size_t(st.i64(2));
        if (r > 1u << 20 || l > 1u << 20 || u > 1u << 20)
            fail("run " + std::to_string(id) + " has out-of-range unit statistics");
        if (out.kvLen.size() <= r)
            out.kvLen.resize(r + 1), out.attentionMass.resize(r + 1);
        if (out.kvLen[r].size() <= l)
            out.kvLen[r].resize(l + 1), out.attentionMass[r].resize(l + 1);
        if (out.kvLen[r][l].size() <= u)
            out.kvLen[r][l].resize(u + 1), out.attentionMass[r][l].resize(u + 1);
        out.kvLen[r][l][u] = int(st.i64(3));
        out.attentionMass[r][l][u] = st.f64(4);
    }
    return out;
}

void SessionStore::addNote(std::optional<int64_t> run, const std::string& text)
{
    if (m_readOnly)
        fail("opened for viewing only; cannot add a note");
    checkStillAtPath();
    if (run)
        requireRun(*run);
    Statement st(m_db, "INSERT INTO notes(run_id, created_at, text) VALUES(?,?,?)", m_path);
    if (run)
        st.bind(1, *run);
    else
        st.bindNull(1);
    st.bind(2, nowIso()).bind(3, text).run();
}

std::vector<std::pair<std::optional<int64_t>, std::string>> SessionStore::notes() const
{
    std::vector<std::pair<std::optional<int64_t>, std::string>> out;
    Statement st(m_db, "SELECT run_id, text FROM notes ORDER BY id", m_path);
    while (st.step())
        out.emplace_back(st.isNull(0) ? std::nullopt : std::optional<int64_t>(st.i64(0)), st.text(1));
    return out;
}

} // namespace fairkv::profiler
