// Session files: round trip of every table, migration from the first schema, a writer killed with
// SIGKILL mid-run, and one clear error for each kind of bad file, with the file left untouched.
#include "cpu_tracer.h"
#include "runtime/run.h"
#include "session_store.h"
#include "test_util.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QtTest>

#include <sqlite3.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace fairkv;
using namespace fairkv::profiler;
using SS = SessionStore;

namespace {

struct Recorded
{
    RunResult result;
    TraceBuffer trace;
};

Recorded record(int ranks = 2, const std::string& placement = "uniform")
{
    RunConfig c;
    c.model = "tiny";
    c.layers = 2;
    c.ranks = ranks;
    c.batch = 2;
    c.promptLen = 80;
    c.decode = 3;
    c.placement = placement;
    c.compression.policy = CompressionPolicy::AdaSnapKV;
    c.compression.budget = 48;
    CpuTracer tracer;
    Recorded r{runInference(c, {}, nullptr, &tracer), {}};
    r.trace = tracer.buffer();
    return r;
}

QByteArray digest(const std::string& path)
{
    QFile f(QString::fromStdString(path));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}

// Why the run list marks a session's first run damaged (empty: it does not).
std::string listedDamage(const std::string& path)
{
    return SS::open(path, SS::Mode::ReadOnly)->listRuns().front().damage;
}

void sql(const std::string& path, const std::string& statements)
{
    sqlite3* db = nullptr;
    QCOMPARE(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &err);
    QVERIFY2(rc == SQLITE_OK, err ? err : "");
    sqlite3_close(db);
}

} // namespace

class TestSessionStore : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void roundTripOfEveryTable()
    {
        QTemporaryDir dir;
        const std::string file = fairkv::test::path(dir, "s.fkv");
        const Recorded a = record();
        const Recorded b = record(2, "fairkv-copy");
        Environment env = Environment::detect();
        env.gpu = "Test GPU";
        env.nccl = "2.28";
        int64_t ida = 0, idb = 0;
        {
            auto s = SS::open(file, SS::Mode::ReadWrite);
            QCOMPARE(s->schemaVersion(), SS::kSchemaVersion);
            ida = s->appendRun(a.result, a.trace, env, std::nullopt, "baseline");
            idb = s->appendRun(b.result, b.trace, env, ida, "re-run");
            s->addNote(ida, "first note");
            s->addNote(std::nullopt, "session note");
            FAIRKV_EXPECT_ERROR(s->appendRun(a.result, a.trace, env, 999), "there is no run 999");
            FAIRKV_EXPECT_ERROR(s->appendRun(a.result, a.trace, env, std::nullopt, std::string(257, 'x')),
                                "a run's label is at most 256 bytes, this one has 257");
        }
        auto s = SS::open(file, SS::Mode::ReadOnly);
        const auto runs = s->listRuns();
        QCOMPARE(runs.size(), size_t(2)); // the failed append left nothing behind
        QCOMPARE(runs[0].label, std::string("baseline"));
        QVERIFY(!runs[0].parent);
        QCOMPARE(runs[1].parent.value(), ida);
        QCOMPARE(runs[1].placement, std::string("fairkv-copy"));
        QCOMPARE(runs[0].model, std::string("tiny"));
        QCOMPARE(runs[0].ranks, 2);
        QCOMPARE(runs[0].batch, 2);
        QCOMPARE(runs[0].compress, std::string("ada-snapkv"));
        QCOMPARE(runs[0].tokensPerS, a.result.tokensPerS);
        QCOMPARE(runs[0].imbalance, a.result.imbalance);
        QCOMPARE(runs[0].lowerBoundMs, a.result.lowerBoundMs);
        QCOMPARE(runs[0].records, int64_t(a.trace.records.size()));

        const StoredRun ra = s->loadRun(ida);
        QCOMPARE(ra.result, a.result.toJson());
        QCOMPARE(ra.config, a.result.config.toJson());
        QCOMPARE(ra.environment.gpu, std::string("Test GPU"));
        QCOMPARE(ra.environment.nccl, std::string("2.28"));
        QCOMPARE(ra.environment.cpu, env.cpu);

        const TraceBuffer t = s->loadTrace(idb);
        QCOMPARE(t.records.size(), b.trace.records.size());
        std::multiset<std::tuple<int, int, int, int, int64_t, int64_t, std::string>> want, got;
        for (const auto& r : b.trace.records)
            want.insert({r.rank, r.step, r.layer, r.unit, r.startNs, r.endNs, b.trace.name(r.nameId)});
        for (const auto& r : t.records)
            got.insert({r.rank, r.step, r.layer, r.unit, r.startNs, r.endNs, t.name(r.nameId)});
        QVERIFY(want == got);

        const auto stats = s->loadUnitStats(ida);
        QCOMPARE(stats.kvLen, a.result.kvLen);
        QCOMPARE(stats.attentionMass, a.result.attentionMass);

        const auto times = s->loadLayerTimes(ida);
        const RunAggregate agg = aggregate(a.trace, 2);
        QCOMPARE(times.size(), agg.layers.size());
        for (size_t i = 0; i < times.size(); ++i) {
            QCOMPARE(times[i].attentionMs, agg.layers[i].attentionMs);
            QCOMPARE(times[i].slowestRank, agg.layers[i].slowestRank);
        }
        const auto notes = s->notes();
        QCOMPARE(notes.size(), size_t(2));
        QCOMPARE(notes[0].first.value(), ida);
        QCOMPARE(notes[1].second, std::string("session note"));
        FAIRKV_EXPECT_ERROR(s->appendRun(a.result, a.trace, env), "viewing only");
        FAIRKV_EXPECT_ERROR(s->loadRun(42), "there is no run 42");
    }

    void migrationFromTheFirstSchema()
    {
        QTemporaryDir dir;
        const std::string file = fairkv::test::path(dir, "old.fkv");
        const Recorded a = record();
        std::string result = a.result.toJson().dump();
        for (size_t at = result.find('\''); at != std::string::npos; at = result.find('\'', at + 2))
            result.replace(at, 1, "''"); // SQL string literal
        std::string insert = std::string(SS::firstSchemaSql()) + "PRAGMA application_id=" + std::to_string(SS::kApplicationId)
                             + "; PRAGMA user_version=1;"
                               "INSERT INTO models VALUES(1, 'tiny', '{}');"
                               "INSERT INTO runs VALUES(1, 1, NULL, '2026-01-01T00:00:00Z', 'cpu', 'emulated', 2, '{\"batch\": 2}', '"
                             + result + "');"
                               "INSERT INTO placements VALUES(1, 'uniform', '{}');"
                               "INSERT INTO metrics VALUES(1, 'tokens_per_s', 123.0, 'tokens/s', 'emulated');";
        for (const auto& r : a.trace.records)
            insert += "INSERT INTO trace_records VALUES(1," + std::to_string(r.rank) + "," + std::to_string(r.device) + ",0,'"
                      + a.trace.name(r.nameId) + "'," + std::to_string(r.startNs) + "," + std::to_string(r.endNs) + ","
                      + std::to_string(r.step) + "," + std::to_string(r.layer) + "," + std::to_string(r.unit) + ","
                      + std::to_string(int(r.phase)) + "," + std::to_string(int(r.kind)) + ");";
        sql(file, insert);
        const QByteArray before = digest(file);
        {
            // Viewing migrates a private copy and never writes.
            auto view = SS::open(file, SS::Mode::ReadOnly);
            QCOMPARE(view->schemaVersion(), 2);
            QCOMPARE(view->listRuns().size(), size_t(1));
            QCOMPARE(view->loadTrace(1).records.size(), a.trace.records.size());
        }
        QCOMPARE(digest(file), before);
        {
            auto s = SS::open(file, SS::Mode::ReadWrite);
            QCOMPARE(s->schemaVersion(), 2);
            const auto runs = s->listRuns();
            QCOMPARE(runs.size(), size_t(1));
            QCOMPARE(runs[0].tokensPerS, 123.0);
            QCOMPARE(runs[0].batch, 2);
            QVERIFY(!runs[0].parent);
            const TraceBuffer t = s->loadTrace(1);
            QCOMPARE(t.records.size(), a.trace.records.size());
            std::multiset<std::string> want, got;
            for (const auto& r : a.trace.records)
                want.insert(a.trace.name(r.nameId));
            for (const auto& r : t.records)
                got.insert(t.name(r.nameId));
            QVERIFY(want == got);
            // per-layer times were rebuilt from the migrated records
            QCOMPARE(s->loadLayerTimes(1).size(), aggregate(a.trace, 2).layers.size());
            s->appendRun(a.result, a.trace, Environment::detect(), 1);
        }
        QCOMPARE(SS::open(file, SS::Mode::ReadOnly)->listRuns().size(), size_t(2));
        // A schema-1 run with a damaged rank count is marked, and the session's other runs read
        // (the upgrade had refused the whole file, the viewer's in-memory one too).
        const std::string damaged = fairkv::test::path(dir, "damaged.fkv");
        sql(damaged, insert + "INSERT INTO runs VALUES(2, 1, NULL, '2026-01-01T00:00:00Z', 'cpu', 'emulated', NULL, '{}', '"
                         + result + "');");
        for (const SS::Mode mode : {SS::Mode::ReadOnly, SS::Mode::ReadWrite}) {
            auto s = SS::open(damaged, mode);
            const auto listed = s->listRuns();
            QCOMPARE(listed.size(), size_t(2));
            QVERIFY(!listed[0].settingsDamaged);
            QVERIFY(listed[1].settingsDamaged);
            QCOMPARE(s->loadTrace(1).records.size(), a.trace.records.size());
            FAIRKV_EXPECT_ERROR(s->loadRun(2), "run 2");
        }
        // A schema-1 file whose upgrade is refused is left as it was, its journal mode too (it had
        // been switched to WAL before the upgrade failed).
        const std::string refused = fairkv::test::path(dir, "refused.fkv");
        sql(refused, insert + "ALTER TABLE runs ADD COLUMN label TEXT;");
        const QByteArray refusedBefore = digest(refused);
        FAIRKV_EXPECT_ERROR(SS::open(refused, SS::Mode::ReadWrite), "already has schema 2's columns");
        QCOMPARE(digest(refused), refusedBefore);
    }

    // Programs that create one new session at once all save (two to eight runs started together
    // had lost some: "table meta already exists", "database is locked").
    void concurrentCreatorsAllSave()
    {
        QTemporaryDir dir;
        const std::string file = fairkv::test::path(dir, "new.fkv");
        const Recorded a = record();
        constexpr int kWriters = 8;
        int go[2];
        QCOMPARE(pipe(go), 0);
        std::vector<pid_t> children;
        for (int i = 0; i < kWriters; ++i) {
            const pid_t child = fork();
            if (child == 0) {
                char c = 0;
                if (read(go[0], &c, 1) != 1) // all start together
                    _exit(3);
                try {
                    SS::open(file, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
                    _exit(0);
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "writer %d: %s\n", i, e.what());
                    _exit(2);
                }
            }
            children.push_back(child);
        }
        QCOMPARE(write(go[1], "xxxxxxxx", kWriters), ssize_t(kWriters));
        int failed = 0;
        for (pid_t child : children) {
            int status = 0;
            waitpid(child, &status, 0);
            failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        QCOMPARE(failed, 0);
        QCOMPARE(SS::open(file, SS::Mode::ReadOnly)->listRuns().size(), size_t(kWriters));
    }

    void killedWriterLeavesEarlierRunsIntact()
    {
        QTemporaryDir dir;
        const std::string file = fairkv::test::path(dir, "killed.fkv");
        const Recorded a = record();
        // A run with many records, so the kill lands inside its transaction.
        TraceBuffer big = a.trace;
        while (big.records.size() < 2'000'000)
            big.records.insert(big.records.end(), a.trace.records.begin(), a.trace.records.end());
        int ready[2];
        QCOMPARE(pipe(ready), 0);
        const pid_t child = fork();
        if (child == 0) {
            try {
                auto s = SS::open(file, SS::Mode::ReadWrite);
                s->appendRun(a.result, a.trace, Environment::detect());
                if (write(ready[1], "x", 1) != 1)
                    _exit(3);
                s->appendRun(a.result, big, Environment::detect());
                _exit(0);
            } catch (...) {
                _exit(2);
            }
        }
        char c = 0;
        QCOMPARE(read(ready[0], &c, 1), ssize_t(1));
        usleep(300 * 1000); // well inside writing two million records
        kill(child, SIGKILL);
        int status = 0;
        waitpid(child, &status, 0);
        QVERIFY2(WIFSIGNALED(status), "the writer finished before it was killed; the test did not test anything");
        auto s = SS::open(file, SS::Mode::ReadOnly);
        const auto runs = s->listRuns();
        QCOMPARE(runs.size(), size_t(1));
        QCOMPARE(s->loadTrace(runs[0].id).records.size(), a.trace.records.size());
        QCOMPARE(s->loadRun(runs[0].id).result, a.result.toJson());
        // and the file takes new runs
        SS::open(file, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        QCOMPARE(SS::open(file, SS::Mode::ReadOnly)->listRuns().size(), size_t(2));
    }

    void badFiles()
    {
        QTemporaryDir dir;
        const std::string garbage = fairkv::test::path(dir, "garbage.fkv");
        std::ofstream(garbage) << std::string(5000, 'x');
        FAIRKV_EXPECT_ERROR(SS::open(garbage, SS::Mode::ReadOnly), "not a FairKV session");
        FAIRKV_EXPECT_ERROR(SS::open(garbage, SS::Mode::ReadWrite), "not a FairKV session");

        const std::string other = fairkv::test::path(dir, "other.db");
        sql(other, "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
        const QByteArray otherBefore = digest(other);
        FAIRKV_EXPECT_ERROR(SS::open(other, SS::Mode::ReadWrite), "not a FairKV session");
        QCOMPARE(digest(other), otherBefore);

        const std::string good = fairkv::test::path(dir, "good.fkv");
        const Recorded a = record();
        SS::open(good, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());

        // A copy of the good file with its schema version set to `version`: refused for viewing and
        // for writing with `readOnlyNeedle` and `readWriteNeedle`, and left as it was.
        const auto refusedVersion = [&](const char* name, int version, const std::string& readOnlyNeedle,
                                        const std::string& readWriteNeedle) {
            const std::string copy = fairkv::test::path(dir, name);
            QVERIFY(QFile::copy(QString::fromStdString(good), QString::fromStdString(copy)));
            sql(copy, "PRAGMA user_version=" + std::to_string(version) + ";");
            const QByteArray before = digest(copy);
            FAIRKV_EXPECT_ERROR(SS::open(copy, SS::Mode::ReadOnly), readOnlyNeedle);
            FAIRKV_EXPECT_ERROR(SS::open(copy, SS::Mode::ReadWrite), readWriteNeedle);
            QCOMPARE(digest(copy), before);
        };
        refusedVersion("newer.fkv", 99, "newer FairKV Studio", "newer FairKV Studio (schema 99");
        // A schema 2 file whose version was set back to 1: refused by name, not by SQLite's
        // "duplicate column name".
        refusedVersion("setback.fkv", 1, "says schema version 1 but already has schema 2's columns",
                       "says schema version 1 but already has schema 2's columns");

        const std::string truncated = fairkv::test::path(dir, "truncated.fkv");
        {
            std::ifstream in(good, std::ios::binary);
            std::string bytes((std::istreambuf_iterator<char>(in)), {});
            std::ofstream(truncated, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
        }
        const std::string msg = fairkv::test::errorOf([&] {
            auto s = SS::open(truncated, SS::Mode::ReadOnly);
            for (const auto& r : s->listRuns())
                s->loadTrace(r.id);
        });
        QVERIFY2(!msg.empty(), "a truncated session was read without error");
        QVERIFY2(msg.find("truncated") != std::string::npos || msg.find("damaged") != std::string::npos, msg.c_str());

        // A page in the middle overwritten with noise: an error when read, never a crash.
        const std::string damaged = fairkv::test::path(dir, "damaged.fkv");
        QVERIFY(QFile::copy(QString::fromStdString(good), QString::fromStdString(damaged)));
        {
            std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(4096 * 3);
            const std::string noise(4096, '\x5a');
            f.write(noise.data(), std::streamsize(noise.size()));
        }
        const std::string dmsg = fairkv::test::errorOf([&] {
            auto s = SS::open(damaged, SS::Mode::ReadOnly);
            for (const auto& r : s->listRuns()) {
                s->loadRun(r.id);
                s->loadTrace(r.id);
                s->loadUnitStats(r.id);
            }
        });
        QVERIFY2(!dmsg.empty(), "a damaged session was read without error");
        // Nothing is ever appended to a damaged file, even where the reads above would not fail.
        const QByteArray damagedBefore = digest(damaged);
        const std::string wmsg = fairkv::test::errorOf([&] { SS::open(damaged, SS::Mode::ReadWrite); });
        QVERIFY2(!wmsg.empty(), "a damaged session was opened for writing");
        QCOMPARE(digest(damaged), damagedBefore);

        // A rank count no command writes (edited by hand or by another tool): one error, not an
        // allocation of two billion rank tracks.
        const std::string ranks = fairkv::test::path(dir, "ranks.fkv");
        QVERIFY(QFile::copy(QString::fromStdString(good), QString::fromStdString(ranks)));
        sql(ranks, "UPDATE runs SET ranks=2000000000;");
        QVERIFY(SS::open(ranks, SS::Mode::ReadOnly)->listRuns().front().damage.find("2000000000 ranks") != std::string::npos);
        FAIRKV_EXPECT_ERROR(SS::open(ranks, SS::Mode::ReadOnly)->loadRun(1), "run 1 has 2000000000 ranks");
        FAIRKV_EXPECT_ERROR(SS::open(ranks, SS::Mode::ReadOnly)->loadLayerTimes(1), "the session is damaged");

        // A schema version no build writes, and a current session with a table dropped: refused
        // before anything is read or written, and the file stays as it was.
        for (const auto& [name, change, needle] :
             {std::tuple<const char*, const char*, const char*>{"negative.fkv", "PRAGMA user_version=-1;", "schema version -1"},
              {"unversioned.fkv", "PRAGMA user_version=0;", "schema version 0"},
              {"notable.fkv", "DROP TABLE layer_times;", "it has no table 'layer_times'"}}) {
            const std::string f = fairkv::test::path(dir, name);
            QVERIFY(QFile::copy(QString::fromStdString(good), QString::fromStdString(f)));
            sql(f, change);
            const QByteArray before = digest(f);
            FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly), needle);
            FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadWrite), needle);
            QCOMPARE(digest(f), before);
        }
        FAIRKV_EXPECT_ERROR(SS::open(fairkv::test::path(dir, "no/such/folder/s.fkv"), SS::Mode::ReadWrite), "does not exist");
        // A result record without the keys the views read: an error, not a report of zeros.
        const std::string partial = fairkv::test::path(dir, "partial-result.fkv");
        QVERIFY(QFile::copy(QString::fromStdString(good), QString::fromStdString(partial)));
        sql(partial, R"(UPDATE runs SET result_json='{"x":1}';)");
        FAIRKV_EXPECT_ERROR(SS::open(partial, SS::Mode::ReadOnly)->loadRun(1), "damaged result record: no 'rank_attention_ms' array");
        // Settings of another type (edited by another tool): one error, not an uncaught type error.
        const std::string settings = fairkv::test::path(dir, "settings.fkv");
        QVERIFY(QFile::copy(QString::fromStdString(good), QString::fromStdString(settings)));
        sql(settings, R"(UPDATE runs SET config_json='{"budget":"64"}';)");
        const auto listed = SS::open(settings, SS::Mode::ReadOnly)->listRuns().front();
        QVERIFY(listed.settingsDamaged);
        QCOMPARE(listed.damage, std::string("run 1's settings: 'budget' must be an integer, got \"64\""));
        FAIRKV_EXPECT_ERROR(SS::open(settings, SS::Mode::ReadOnly)->loadRun(1), "run 1's settings: 'budget' must be an integer");

        FAIRKV_EXPECT_ERROR(SS::open(fairkv::test::path(dir, "missing.fkv"), SS::Mode::ReadOnly), "no such session file");
        FAIRKV_EXPECT_ERROR(SS::open(dir.path().toStdString(), SS::Mode::ReadWrite), "is a folder");
    }

    // Records another tool (or damage) left in a session: one error naming the run and what is
    // wrong, never an uncaught type error inside a report or a view, never a crash.
    void damagedRecords_data()
    {
        QTest::addColumn<QString>("change");
        QTest::addColumn<QString>("needle");
        QTest::newRow("number as text") << QStringLiteral(R"(UPDATE runs SET result_json=json_set(result_json,'$.attention_ms','fast');)")
                                        << QStringLiteral("'attention_ms' is \"fast\", of the wrong type");
        QTest::newRow("model as text") << QStringLiteral(R"(UPDATE runs SET result_json=json_set(result_json,'$.model','tiny');)")
                                       << QStringLiteral("'model' does not have the shape");
        QTest::newRow("ragged rank table") << QStringLiteral(R"(UPDATE runs SET result_json=json_set(result_json,'$.rank_attention_ms[0]',json('[1,2,3,4,5,6,7]'));)")
                                           << QStringLiteral("'rank_attention_ms' has a layer of 7 ranks in a run of");
        QTest::newRow("placement layers") << QStringLiteral(R"(UPDATE runs SET result_json=json_set(result_json,'$.placement.layers',5);)")
                                          << QStringLiteral("its placement: expected a placement object");
        QTest::newRow("flag as text") << QStringLiteral(R"(UPDATE runs SET result_json=json_set(result_json,'$.kernel_tracing','yes');)")
                                      << QStringLiteral("'kernel_tracing' is \"yes\"");
        QTest::newRow("ranks disagree") << QStringLiteral("UPDATE runs SET ranks = ranks + 1;")
                                        << QStringLiteral("ranks where the run's record says");
        QTest::newRow("replica beyond the ranks") << QStringLiteral(R"(UPDATE runs SET result_json=json_set(result_json,'$.placement.layers[0][0].replicas[0].rank',17);)")
                                                  << QStringLiteral("has a replica on rank 17, out of range");
        // Found by a probe: a short row drew past the compare view's grid (heap corruption).
        QTest::newRow("ragged kv_len") << QStringLiteral(R"(UPDATE runs SET result_json=json_remove(result_json,'$.kv_len[0][0][1]');)")
                                       << QStringLiteral("'kv_len' is not one value per request, layer and unit");
        QTest::newRow("mass of another shape") << QStringLiteral(R"(UPDATE runs SET result_json=json_remove(result_json,'$.attention_mass[0][1]');)")
                                               << QStringLiteral("'attention_mass' does not have the shape of 'kv_len'");
        QTest::newRow("rank table of another depth") << QStringLiteral(R"(UPDATE runs SET result_json=json_remove(result_json,'$.rank_attention_ms[1]');)")
                                                     << QStringLiteral("'rank_attention_ms' has 1 layer where 'kv_len' has 2");
        QTest::newRow("negative rank time") << QStringLiteral(R"(UPDATE runs SET result_json=json_set(result_json,'$.rank_attention_ms[0][0]',-5);)")
                                            << QStringLiteral("'rank_attention_ms' holds -5, not a time");
        QTest::newRow("no attention mass") << QStringLiteral(R"(UPDATE runs SET result_json=json_remove(result_json,'$.attention_mass');)")
                                           << QStringLiteral("'attention_mass' does not have the shape of 'kv_len'");
        QTest::newRow("request served by nobody") << QStringLiteral(R"(UPDATE runs SET result_json=json_set(result_json,'$.placement.layers[0][0].replicas[0].requests',json('[0]'));)")
                                                  << QStringLiteral("layer 0, unit 0");
        QTest::newRow("unit missing") << QStringLiteral(R"(UPDATE runs SET result_json=json_remove(result_json,'$.placement.layers[1][0]');)")
                                      << QStringLiteral("layer 1 places");
        QTest::newRow("negative length") << QStringLiteral(R"(UPDATE runs SET result_json=json_set(result_json,'$.kv_len[0][0][0]',-7);)")
                                         << QStringLiteral("'kv_len' holds -7, not a token count");
        // A byte-order mark SQLite's JSON reader refuses (so the run list's key check passes it by)
        // and ours takes: opening the run still names the missing key.
        QTest::newRow("no placement after a BOM") << QStringLiteral("UPDATE runs SET result_json=char(65279)||json_remove(result_json,'$.placement');")
                                                  << QStringLiteral("no 'placement'");
        QTest::newRow("settings not json") << QStringLiteral(R"(UPDATE runs SET config_json='garbage{';)")
                                           << QStringLiteral("damaged settings");
        QTest::newRow("deep result") << QStringLiteral("UPDATE runs SET result_json=substr(result_json,1,length(result_json)-1)||',\"x\":'||"
                                                       "replace(hex(zeroblob(100000)),'00','[')||replace(hex(zeroblob(100000)),'00',']')||'}';")
                                     << QStringLiteral("damaged result record");
    }
    // A result that parses but lacks what every view reads: the run list marks it (it had listed
    // as sound while every other command refused it), and opening it names the key.
    void listingNamesResultsWithoutTheKeysViewsRead_data()
    {
        QTest::addColumn<QString>("change");
        QTest::addColumn<QString>("damage");
        QTest::newRow("a number") << QStringLiteral("UPDATE runs SET result_json='42';")
                                  << QStringLiteral("run 1 has a damaged result record (not a JSON object)");
        QTest::newRow("no placement") << QStringLiteral("UPDATE runs SET result_json=json_remove(result_json,'$.placement');")
                                      << QStringLiteral("run 1 has a damaged result record: no 'placement'");
        QTest::newRow("no kv_len") << QStringLiteral("UPDATE runs SET result_json=json_remove(result_json,'$.kv_len');")
                                   << QStringLiteral("run 1 has a damaged result record: no 'kv_len' array");
        // Not "the run timed no decode step" beside a stored throughput: the key is what is wrong.
        QTest::newRow("step_ms a string") << QStringLiteral("UPDATE runs SET result_json=json_set(result_json,'$.step_ms','x');")
                                          << QStringLiteral("run 1 has a damaged result record: no 'step_ms' array");
    }
    void listingNamesResultsWithoutTheKeysViewsRead()
    {
        QFETCH(QString, change);
        QFETCH(QString, damage);
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        const Recorded a = record();
        SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        sql(f, change.toStdString());
        const auto runs = SS::open(f, SS::Mode::ReadOnly)->listRuns();
        QVERIFY(runs[0].resultDamaged);
        QCOMPARE(runs[0].damage, damage.toStdString());
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly)->loadRun(1), damage.toStdString());
    }

    void damagedRecords()
    {
        QFETCH(QString, change);
        QFETCH(QString, needle);
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        const Recorded a = record();
        SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        sql(f, change.toStdString());
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly)->loadRun(1), needle.toStdString());
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly)->loadRun(1), "run 1 has");
    }

    // The run list reads every run's settings and checks its result parses: a damaged one is
    // named there (it had listed with blank settings and a budget of 0), the others read as before.
    void listingNamesDamagedRecords()
    {
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        const Recorded a = record();
        for (int i = 0; i < 6; ++i)
            SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        sql(f, "UPDATE runs SET config_json='garbage{' WHERE id=1; UPDATE runs SET result_json='[1,' WHERE id=2;"
               "UPDATE runs SET ranks=0 WHERE id=4; UPDATE metrics SET value='fast' WHERE run_id=5 AND name='step_ms';"
               // JSON to SQLite, but nested deeper than a run is loaded with: listed as damaged, not as sound.
               "UPDATE runs SET result_json=substr(result_json,1,length(result_json)-1)||',\"x\":'||"
               "replace(hex(zeroblob(40)),'00','[')||replace(hex(zeroblob(40)),'00',']')||'}' WHERE id=6;");
        const auto runs = SS::open(f, SS::Mode::ReadOnly)->listRuns();
        QCOMPARE(runs.size(), size_t(6));
        QVERIFY(!runs[5].settingsDamaged && runs[5].resultDamaged);
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly)->loadRun(6), "run 6 has");
        QVERIFY(runs[0].settingsDamaged && !runs[0].resultDamaged);
        QVERIFY(!runs[1].settingsDamaged && runs[1].resultDamaged);
        QVERIFY(!runs[2].settingsDamaged && !runs[2].resultDamaged && runs[2].damage.empty());
        // A rank count or a metric no run writes marks its own row only (it had stopped the whole list).
        QVERIFY(runs[3].settingsDamaged && !runs[3].resultDamaged);
        QCOMPARE(runs[3].damage, std::string("run 4 has 0 ranks, outside 1..4096: the session is damaged"));
        QVERIFY(!runs[4].settingsDamaged && runs[4].resultDamaged && std::isnan(runs[4].stepMs));
        QCOMPARE(runs[4].damage, std::string("run 5's metric 'step_ms' is not a number: the session is damaged"));
        QCOMPARE(runs[4].tokensPerS, runs[2].tokensPerS);
        // A damaged environment record reads "unknown", not "none" (which says: no GPU).
        sql(f, "UPDATE environments SET json='nope';");
        const StoredRun third = SS::open(f, SS::Mode::ReadOnly)->loadRun(3);
        QCOMPARE(third.environment.gpu, std::string("unknown"));
        QCOMPARE(third.environment.cuda, std::string("unknown"));
        QCOMPARE(runs[1].budget, runs[2].budget); // the settings of a run with a damaged result still read
        QVERIFY(runs[2].budget > 0);
    }

    // Metrics no run records (edited, or written by another tool) mark their run in the list and
    // refuse its opening, with the reason: they had listed, and reached charts and speedups.
    void implausibleMetricsAreNamed_data()
    {
        QTest::addColumn<QString>("change");
        QTest::addColumn<QString>("needle");
        QTest::newRow("huge") << QStringLiteral("UPDATE metrics SET value=1e308 WHERE run_id=1 AND name='tokens_per_s';")
                              << QStringLiteral("'tokens_per_s' is 1e+308, not a plausible measure");
        QTest::newRow("zero throughput") << QStringLiteral("UPDATE metrics SET value=0 WHERE run_id=1 AND name='tokens_per_s';")
                                         << QStringLiteral("'tokens_per_s' is 0, which no timed run measures");
        QTest::newRow("imbalance below 1") << QStringLiteral("UPDATE metrics SET value=0.2 WHERE run_id=1 AND name='imbalance';")
                                           << QStringLiteral("'imbalance' is 0.2, below 1");
        QTest::newRow("missing step time") << QStringLiteral("DELETE FROM metrics WHERE run_id=1 AND name='step_ms';")
                                           << QStringLiteral("decode steps but its 'step_ms' is missing");
        QTest::newRow("metrics of no step") << QStringLiteral("UPDATE runs SET result_json=json_set(result_json,'$.step_ms',json('[]')) WHERE id=1;")
                                            << QStringLiteral("'tokens_per_s' is set, but its result's 'step_ms' lists no timed decode step");
        QTest::newRow("unknown timing") << QStringLiteral("UPDATE runs SET timing='bogus' WHERE id=1;")
                                        << QStringLiteral("timing is 'bogus', which no run records");
    }
    void implausibleMetricsAreNamed()
    {
        QFETCH(QString, change);
        QFETCH(QString, needle);
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        const Recorded a = record();
        for (int i = 0; i < 2; ++i)
            SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        sql(f, change.toStdString());
        const auto runs = SS::open(f, SS::Mode::ReadOnly)->listRuns();
        QCOMPARE(runs.size(), size_t(2));
        QVERIFY2(runs[0].resultDamaged && runs[0].damage.find(needle.toStdString()) != std::string::npos, runs[0].damage.c_str());
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly)->loadRun(1), needle.toStdString());
        QVERIFY2(!runs[1].resultDamaged && runs[1].damage.empty(), runs[1].damage.c_str()); // the other run reads as before
        SS::open(f, SS::Mode::ReadOnly)->loadRun(2);
    }

    // A path SQLite cannot open for its length (512 bytes with the journal's suffix): named, before
    // any work (it had failed as "unable to open database file").
    void pathsTooLongForSqliteAreNamed()
    {
        QTemporaryDir dir;
        std::string folder = dir.path().toStdString();
        while (folder.size() < 460)
            folder += "/" + std::string(40, 'd');
        std::filesystem::create_directories(folder);
        const std::string f = folder + "/" + std::string(520 - folder.size(), 's');
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadWrite), "more than the 504 SQLite takes");
        QVERIFY(!std::filesystem::exists(f));
        const std::string fits = folder + "/" + std::string(500 - folder.size(), 's');
        SS::open(fits, SS::Mode::ReadWrite);
        QVERIFY(std::filesystem::exists(fits));
    }

    // Sessions saved before a run without a timed step stored NULL stored zeros for it: such a
    // run reads as not timed, not as damaged.
    void zerosOfRunsWithoutStepsReadAsNotTimed()
    {
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        const Recorded a = record();
        SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        sql(f, "UPDATE runs SET result_json=json_set(result_json,'$.step_ms',json('[]'));"
               "UPDATE metrics SET value=0 WHERE name IN ('tokens_per_s','step_ms','lower_bound_ms');"
               "UPDATE metrics SET value=1 WHERE name='imbalance';");
        const auto runs = SS::open(f, SS::Mode::ReadOnly)->listRuns();
        QVERIFY2(!runs[0].resultDamaged && runs[0].damage.empty(), runs[0].damage.c_str());
        QVERIFY(std::isnan(runs[0].tokensPerS) && std::isnan(runs[0].stepMs));
        QVERIFY(std::isnan(SS::open(f, SS::Mode::ReadOnly)->loadRun(1).summary.tokensPerS));
    }

    // Text that is not UTF-8 (a placement file's name from a Latin-1 folder) is stored with U+FFFD:
    // the JSON writer had thrown, and the run was lost.
    void textThatIsNotUtf8IsStored()
    {
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        Recorded a = record();
        a.result.placement.name = "file caf\xe9.json";
        SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        const auto run = SS::open(f, SS::Mode::ReadOnly)->loadRun(1);
        QCOMPARE(run.result.at("placement").at("name").get<std::string>(), std::string("file caf\xef\xbf\xbd.json"));
    }

    void damagedTraceNames()
    {
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        const Recorded a = record();
        SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        const std::string g = fairkv::test::path(dir, "g.fkv");
        QVERIFY(QFile::copy(QString::fromStdString(f), QString::fromStdString(g)));
        sql(f, "INSERT INTO kernel_names VALUES(-1, 'x');"); // sized the name table by a wrapped index
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly)->loadTrace(1), "kernel name table is damaged (name id -1)");
        const size_t all = SS::open(g, SS::Mode::ReadOnly)->loadTrace(1).records.size();
        sql(g, "UPDATE trace_records SET end_ns = start_ns - 1 WHERE rowid = (SELECT min(rowid) FROM trace_records);");
        const TraceBuffer t = SS::open(g, SS::Mode::ReadOnly)->loadTrace(1);
        QCOMPARE(t.records.size(), all - 1);
        QCOMPARE(t.warnings.size(), size_t(1));
        QVERIFY(t.warnings[0].find("1 trace records of run 1 have impossible times") != std::string::npos);
        // A rank the run does not have, and a phase no build writes: left out, counted, not drawn.
        sql(g, "UPDATE trace_records SET rank = 1000000000 WHERE rowid = (SELECT max(rowid) FROM trace_records);"
               "UPDATE trace_records SET phase = 200 WHERE rowid = (SELECT max(rowid) - 1 FROM trace_records);");
        const TraceBuffer u = SS::open(g, SS::Mode::ReadOnly)->loadTrace(1);
        QCOMPARE(u.records.size(), all - 3);
        QCOMPARE(u.warnings.size(), size_t(2));
        QVERIFY(u.warnings[1].find("2 trace records of run 1 name a rank outside 0..") != std::string::npos);
        // NULL or text where a number belongs (SQLite reads both as 0: rank 0 at time 0).
        sql(g, "UPDATE trace_records SET rank = NULL WHERE rowid = (SELECT min(rowid) + 1 FROM trace_records);"
               "UPDATE trace_records SET start_ns = 'x' WHERE rowid = (SELECT min(rowid) + 2 FROM trace_records);");
        const TraceBuffer v = SS::open(g, SS::Mode::ReadOnly)->loadTrace(1);
        QCOMPARE(v.records.size(), all - 5);
        QCOMPARE(v.warnings.size(), size_t(3));
        QVERIFY(v.warnings[1].find("2 trace records of run 1 hold a NULL or text where a number belongs") != std::string::npos);
        // A rank count stored as text or a fraction is named, not read as 0 or 2.
        sql(g, "UPDATE runs SET ranks = 'two';");
        QVERIFY(SS::open(g, SS::Mode::ReadOnly)->listRuns().front().damage.find("run 1's rank count is 'two', not a whole number") != std::string::npos);
        FAIRKV_EXPECT_ERROR(SS::open(g, SS::Mode::ReadOnly)->loadTrace(1), "run 1's rank count is 'two', not a whole number");
        sql(g, "UPDATE runs SET ranks = 2.9;");
        FAIRKV_EXPECT_ERROR(SS::open(g, SS::Mode::ReadOnly)->loadTrace(1), "run 1's rank count is 2.9, not a whole number");
    }

    // A metric stored as text would read as 0 in the run list, a plausible number: named instead.
    void metricAsText()
    {
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        const Recorded a = record();
        SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        sql(f, "UPDATE metrics SET value = 'abc' WHERE name = 'tokens_per_s';");
        QVERIFY(listedDamage(f).find("run 1's metric 'tokens_per_s' is not a number") != std::string::npos);
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly)->loadRun(1), "run 1's metric 'tokens_per_s' is not a number");
        // Nor a negative or infinite one, which had listed as -5 tokens/s or as "n/a, no timed step".
        sql(f, "UPDATE metrics SET value = -5 WHERE name = 'tokens_per_s';");
        QVERIFY(listedDamage(f).find("run 1's metric 'tokens_per_s' is -5.0, not a measure") != std::string::npos);
        sql(f, "UPDATE metrics SET value = 9e999 WHERE name = 'tokens_per_s';");
        QVERIFY(listedDamage(f).find("run 1's metric 'tokens_per_s' is infinite, not a measure") != std::string::npos);
        // A NULL (or missing) one beside timed steps had read as "not timed".
        sql(f, "UPDATE metrics SET value = NULL WHERE name = 'tokens_per_s';");
        QVERIFY(std::isnan(SS::open(f, SS::Mode::ReadOnly)->listRuns().front().tokensPerS)); // the list still opens
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly)->loadRun(1), "but its 'tokens_per_s' is missing");
        sql(f, "DELETE FROM metrics WHERE name = 'step_ms';");
        sql(f, "UPDATE metrics SET value = 12 WHERE name = 'tokens_per_s';");
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly)->loadRun(1), "but its 'step_ms' is missing");
    }

    // A session another program holds locked: after the 5 s wait, a line that says so (it had
    // read "not a readable FairKV session", as if the file were damaged).
    void lockedSessionIsNamedAsLocked()
    {
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        const Recorded a = record();
        SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        sqlite3* holder = nullptr;
        QCOMPARE(sqlite3_open(f.c_str(), &holder), SQLITE_OK);
        QCOMPARE(sqlite3_exec(holder, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE runs SET label=label;", nullptr, nullptr,
                              nullptr),
                 SQLITE_OK);
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly), "is locked by another program");
        sqlite3_exec(holder, "COMMIT", nullptr, nullptr, nullptr);
        sqlite3_close(holder);
        QCOMPARE(SS::open(f, SS::Mode::ReadOnly)->listRuns().size(), size_t(1));
    }

    // Reading a session leaves no -wal or -shm beside it (`fairkv sessions` had left both), and
    // never removes them from under another reader.
    void readersLeaveTheFolderAsTheyFoundIt()
    {
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        const Recorded a = record();
        SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        const auto companions = [&] { return int(std::filesystem::exists(f + "-wal")) + int(std::filesystem::exists(f + "-shm")); };
        QCOMPARE(companions(), 0);
        SS::open(f, SS::Mode::ReadOnly)->listRuns();
        QCOMPARE(companions(), 0);
        {
            auto viewer = SS::open(f, SS::Mode::ReadOnly);
            viewer->loadRun(1);
            QCOMPARE(companions(), 2);
            SS::open(f, SS::Mode::ReadOnly)->listRuns(); // found them: leaves them to their maker
            QCOMPARE(companions(), 2);
            QCOMPARE(viewer->loadRun(1).summary.id, int64_t(1));
        }
        QCOMPARE(companions(), 0);
        QCOMPARE(SS::open(f, SS::Mode::ReadOnly)->listRuns().size(), size_t(1));
        // Read through a link: SQLite keeps the companions beside the file the link names, and
        // they go from there (they had stayed beside it).
        const std::string link = fairkv::test::path(dir, "link.fkv");
        std::filesystem::create_symlink(f, link);
        SS::open(link, SS::Mode::ReadOnly)->loadRun(1);
        QCOMPARE(companions(), 0);
        SS::open(link, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        QCOMPARE(companions(), 0);
        QCOMPARE(SS::open(f, SS::Mode::ReadOnly)->listRuns().size(), size_t(2));
    }

    // An empty main file beside a -wal that holds the runs (a copy taken half way): SQLite would read
    // an empty database and delete the log. Refused, and the log stays.
    void emptyFileBesideItsLog()
    {
        QTemporaryDir dir;
        const std::string f = fairkv::test::path(dir, "s.fkv");
        std::ofstream(f).close();
        std::ofstream(f + "-wal") << std::string(4096, 'w');
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly), "its write-ahead log");
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadWrite), "its write-ahead log");
        QCOMPARE(QFileInfo(QString::fromStdString(f + "-wal")).size(), qint64(4096));
        std::filesystem::remove(f + "-wal");
        FAIRKV_EXPECT_ERROR(SS::open(f, SS::Mode::ReadOnly), "the file is empty");
        SS::open(f, SS::Mode::ReadWrite); // an empty file is where a new session starts
    }

    // '#', '?' and '%' in a file name: SQLite's URI syntax would cut or decode the name.
    void namesThatLookLikeUris()
    {
        QTemporaryDir dir;
        const Recorded a = record();
        for (const char* name : {"run#1.fkv", "what?.fkv", "a%41.fkv"}) {
            const std::string f = fairkv::test::path(dir, name);
            SS::open(f, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
            QCOMPARE(SS::open(f, SS::Mode::ReadOnly)->listRuns().size(), size_t(1));
        }
    }

    // A name that begins with "file:" is a file of that name (Debian's SQLite reads such names as
    // URIs: "file:s.fkv?mode=memory" had been "saved" in memory, and a foreign file behind
    // "file:x" switched to WAL before it was refused).
    void namesThatBeginLikeUris()
    {
        QTemporaryDir dir;
        const QString cwd = QDir::currentPath();
        QVERIFY(QDir::setCurrent(dir.path()));
        const Recorded a = record();
        for (const std::string name : {"file:s.fkv", "file:m.fkv?mode=memory"}) {
            SS::open(name, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
            QVERIFY(std::filesystem::exists(fairkv::test::path(dir, name.c_str())));
            QCOMPARE(SS::open(name, SS::Mode::ReadOnly)->listRuns().size(), size_t(1));
        }
        sql("foreign.db", "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
        const QByteArray before = digest("foreign.db");
        SS::open("file:foreign.db", SS::Mode::ReadWrite); // a new session of that name
        QVERIFY(std::filesystem::exists(fairkv::test::path(dir, "file:foreign.db")));
        QCOMPARE(digest("foreign.db"), before);
        QVERIFY(QDir::setCurrent(cwd));
    }

    // The session moved, deleted or replaced while a run held it open: the run is refused, not
    // written through the old handle into a file no longer at the path (its -wal is left at the
    // path, so the runs had been lost while the command said "saved").
    void sessionMovedWhileOpen()
    {
        QTemporaryDir dir;
        const std::string file = fairkv::test::path(dir, "s.fkv"), moved = fairkv::test::path(dir, "moved.fkv");
        const Recorded a = record();
        SS::open(file, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        {
            auto s = SS::open(file, SS::Mode::ReadWrite);
            std::filesystem::rename(file, moved);
            FAIRKV_EXPECT_ERROR(s->appendRun(a.result, a.trace, Environment::detect()), "was moved, renamed or deleted while it was open");
            FAIRKV_EXPECT_ERROR(s->addNote(std::nullopt, "x"), "was moved, renamed or deleted");
        }
        {
            auto s = SS::open(moved, SS::Mode::ReadWrite);
            std::filesystem::copy_file(moved, file);
            std::filesystem::rename(file, moved); // another file now at the path
            FAIRKV_EXPECT_ERROR(s->appendRun(a.result, a.trace, Environment::detect()), "was replaced by another file");
        }
        QCOMPARE(SS::open(moved, SS::Mode::ReadOnly)->listRuns().size(), size_t(1));
    }

    // A writer in rollback-journal mode killed mid-transaction leaves a hot journal: viewing names
    // it (a read-only connection cannot roll it back), a writer rolls it back and saves.
    void hotJournalLeftByAKilledWriter()
    {
        QTemporaryDir dir;
        const std::string file = fairkv::test::path(dir, "hot.fkv");
        const Recorded a = record();
        SS::open(file, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        sql(file, "PRAGMA journal_mode=DELETE");
        const pid_t child = fork();
        if (child == 0) {
            sqlite3* db = nullptr;
            sqlite3_open(file.c_str(), &db);
            sqlite3_exec(db, "PRAGMA cache_size=1; BEGIN; UPDATE runs SET label='half'; "
                             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
                             "INSERT INTO notes(run_id, created_at, text) SELECT NULL, 'x', hex(randomblob(500)) FROM n;",
                         nullptr, nullptr, nullptr);
            _exit(9); // no commit, no rollback
        }
        int status = 0;
        waitpid(child, &status, 0);
        QVERIFY(std::filesystem::file_size(file + "-journal") > 0);
        FAIRKV_EXPECT_ERROR(SS::open(file, SS::Mode::ReadOnly), "left its rollback journal " + file + "-journal");
        {
            auto s = SS::open(file, SS::Mode::ReadWrite);
            QCOMPARE(s->listRuns().size(), size_t(1));
            QVERIFY(s->notes().empty());
            s->appendRun(a.result, a.trace, Environment::detect());
        }
        QCOMPARE(SS::open(file, SS::Mode::ReadOnly)->listRuns().size(), size_t(2));
    }

    // Links in a loop, a name longer than the file system takes, and a folder where SQLite's -wal
    // goes: each named as what it is (they had read "no such session file" or "unable to open").
    void oddPathsAreNamed()
    {
        QTemporaryDir dir;
        const std::string a = fairkv::test::path(dir, "a.fkv"), b = fairkv::test::path(dir, "b.fkv");
        std::filesystem::create_symlink(b, a);
        std::filesystem::create_symlink(a, b);
        for (const SS::Mode mode : {SS::Mode::ReadOnly, SS::Mode::ReadWrite})
            FAIRKV_EXPECT_ERROR(SS::open(a, mode), "symbolic links");
        FAIRKV_EXPECT_ERROR(SS::open(fairkv::test::path(dir, (std::string(300, 'x') + ".fkv").c_str()), SS::Mode::ReadOnly),
                            "(choose a shorter name for the session)");
        const std::string f = fairkv::test::path(dir, "s.fkv");
        const Recorded r = record();
        SS::open(f, SS::Mode::ReadWrite)->appendRun(r.result, r.trace, Environment::detect());
        std::filesystem::create_directory(f + "-wal");
        for (const SS::Mode mode : {SS::Mode::ReadOnly, SS::Mode::ReadWrite})
            FAIRKV_EXPECT_ERROR(SS::open(f, mode), f + "-wal: SQLite's wal file beside the session is a folder");
    }

    void readOnlyFile()
    {
        QTemporaryDir dir;
        const std::string file = fairkv::test::path(dir, "ro.fkv");
        const Recorded a = record();
        SS::open(file, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        chmod(file.c_str(), 0444);
        // Viewing a read-only file works.
        QCOMPARE(SS::open(file, SS::Mode::ReadOnly)->listRuns().size(), size_t(1));
        if (geteuid() != 0) { // root ignores permission bits, so this is only observable as a user
            FAIRKV_EXPECT_ERROR(SS::open(file, SS::Mode::ReadWrite), "read-only");
            // A viewer makes no -wal or -shm it could not remove: SQLite gives them the file's
            // permissions, and a read-only -shm had stopped every later write, the owner's too.
            {
                auto viewer = SS::open(file, SS::Mode::ReadOnly);
                QCOMPARE(viewer->loadRun(1).summary.id, int64_t(1));
                QVERIFY(!std::filesystem::exists(file + "-wal") && !std::filesystem::exists(file + "-shm"));
            }
            chmod(file.c_str(), 0644);
            SS::open(file, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
            QCOMPARE(SS::open(file, SS::Mode::ReadOnly)->listRuns().size(), size_t(2));
            // A writable session in a folder that takes no file: named as the folder, not the file.
            chmod(dir.path().toLocal8Bit().constData(), 0555);
            FAIRKV_EXPECT_ERROR(SS::open(file, SS::Mode::ReadWrite), "is not writable, and SQLite writes its journal files");
            QCOMPARE(SS::open(file, SS::Mode::ReadOnly)->listRuns().size(), size_t(2));
            chmod(dir.path().toLocal8Bit().constData(), 0755);
        }
        // A link whose target's folder is gone.
        const std::string link = fairkv::test::path(dir, "link.fkv");
        std::filesystem::create_symlink(fairkv::test::path(dir, "gone/s.fkv"), link);
        FAIRKV_EXPECT_ERROR(SS::open(link, SS::Mode::ReadWrite), "link.fkv: is a link to");
    }

    // A checkpoint cut short (disk full, a file-size limit) leaves the main file shorter than its
    // header counts while the -wal holds the pages: the session reads, it is not "truncated".
    void checkpointCutShort()
    {
        QTemporaryDir dir;
        const std::string file = fairkv::test::path(dir, "s.fkv"), copy = fairkv::test::path(dir, "copy.fkv");
        const Recorded a = record();
        SS::open(file, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        sqlite3* hold = nullptr; // another connection keeps the log when the writer closes
        QCOMPARE(sqlite3_open(file.c_str(), &hold), SQLITE_OK);
        QCOMPARE(sqlite3_exec(hold, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr), SQLITE_OK);
        SS::open(file, SS::Mode::ReadWrite)->appendRun(a.result, a.trace, Environment::detect());
        std::filesystem::copy_file(file, copy);
        std::filesystem::copy_file(file + "-wal", copy + "-wal");
        sqlite3_close(hold);
        QVERIFY(std::filesystem::file_size(copy + "-wal") > 0);
        {
            // The header's page count (bytes 28-31, big-endian) three pages beyond the file.
            std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
            unsigned char count[4];
            f.seekg(28);
            f.read(reinterpret_cast<char*>(count), 4);
            uint32_t pages = (uint32_t(count[0]) << 24) | (uint32_t(count[1]) << 16) | (uint32_t(count[2]) << 8) | count[3];
            pages += 3;
            for (int i = 0; i < 4; ++i)
                count[i] = static_cast<unsigned char>(pages >> (24 - 8 * i));
            f.seekp(28);
            f.write(reinterpret_cast<const char*>(count), 4);
        }
        QCOMPARE(SS::open(copy, SS::Mode::ReadOnly)->listRuns().size(), size_t(2));
        std::filesystem::remove(copy + "-wal"); // without the log it is truncated, and says so
        std::filesystem::remove(copy + "-shm");
        FAIRKV_EXPECT_ERROR(SS::open(copy, SS::Mode::ReadOnly), "the session file is truncated");
    }
};

QTEST_GUILESS_MAIN(TestSessionStore)
#include "test_session_store.moc"
