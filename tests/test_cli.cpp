// The fairkv CLI as users and scripts call it: exit codes, one-line errors, JSON results.
#include "test_util.h"

#include <QXmlStreamReader>
#include <QtTest>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <QFile>

#include <fstream>
#include <cerrno>
#include <cstring>
#include <csignal>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>
#include <functional>
#include <set>

namespace {

struct Result
{
    int exitCode = -1;
    QString out, err;
};

Result runCli(const QStringList& args, const QString& workDir = {})
{
    QProcess p;
    if (!workDir.isEmpty())
        p.setWorkingDirectory(workDir);
    p.start(QString::fromUtf8(FAIRKV_CLI_PATH), args);
    if (!p.waitForFinished(120000))
        return {};
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

// The CLI on a pseudo-terminal (stdout and stderr both): what a user at a terminal sees, and its
// exit status (-1: killed after two minutes).
std::pair<QString, int> runCliOnTerminal(const QStringList& args, const QString& workDir)
{
    std::vector<std::string> words{FAIRKV_CLI_PATH};
    for (const QString& a : args)
        words.push_back(a.toStdString());
    std::vector<char*> argv;
    for (std::string& w : words)
        argv.push_back(w.data());
    argv.push_back(nullptr);
    const std::string dir = workDir.toStdString();
    int master = -1;
    const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
    if (pid < 0)
        return {};
    if (pid == 0) {
        if (chdir(dir.c_str()) == 0)
            execv(argv[0], argv.data());
        _exit(127);
    }
    std::string seen;
    char buf[4096];
    QElapsedTimer clock;
    clock.start();
    bool killed = false;
    for (;;) {
        pollfd p{master, POLLIN, 0};
        const int ready = poll(&p, 1, 1000);
        if (ready < 0 && errno == EINTR)
            continue;
        if (clock.elapsed() > 120000) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        if (ready == 0)
            continue;
        const ssize_t n = read(master, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) // EIO once the child has closed the terminal
            break;
        seen.append(buf, size_t(n));
    }
    close(master);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return {QString::fromStdString(seen), killed || !WIFEXITED(status) ? -1 : WEXITSTATUS(status)};
}

nlohmann::json readJson(const QString& file)
{
    std::ifstream in(file.toStdString());
    return nlohmann::json::parse(in);
}

QString fixture(const char* name)
{
    return QString::fromUtf8(FAIRKV_FIXTURES_DIR) + QStringLiteral("/hf/") + QString::fromUtf8(name);
}

// `fairkv run` of a small model into `session`: 2 layers, 2 ranks, batch 2, 3 decode steps.
QStringList smallRunArgs(const QString& session)
{
    return {QStringLiteral("run"),        QStringLiteral("--layers"), QStringLiteral("2"),  QStringLiteral("--ranks"),
            QStringLiteral("2"),          QStringLiteral("--batch"),  QStringLiteral("2"),  QStringLiteral("--prompt-len"),
            QStringLiteral("80"),         QStringLiteral("--budget"), QStringLiteral("48"), QStringLiteral("--decode"),
            QStringLiteral("3"),          QStringLiteral("--session"), session};
}

} // namespace

class TestCli : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void runWritesTheDesignJson()
    {
        QTemporaryDir dir;
        const QString out = dir.filePath(QStringLiteral("out.json"));
        const Result r = runCli({QStringLiteral("run"), QStringLiteral("--model"), QStringLiteral("tiny"),
                                 QStringLiteral("--ranks"), QStringLiteral("4"), QStringLiteral("--compress"),
                                 QStringLiteral("ada-snapkv"), QStringLiteral("--budget"), QStringLiteral("64"),
                                 QStringLiteral("--batch"), QStringLiteral("4"), QStringLiteral("--prompt-len"),
                                 QStringLiteral("512"), QStringLiteral("--decode"), QStringLiteral("16"),
                                 QStringLiteral("--json"), out});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = readJson(out);
        for (const char* key : {"model", "ranks", "backend", "timing", "placement", "kv_len", "attention_mass",
                                "rank_attention_ms", "step_ms", "tokens_per_s", "imbalance", "lower_bound_ms", "tokens"})
            QVERIFY2(j.contains(key), key);
        QCOMPARE(j["ranks"].get<int>(), 4);
        QCOMPARE(j["backend"].get<std::string>(), std::string("cpu"));
        QCOMPARE(j["timing"].get<std::string>(), std::string("emulated"));
        QCOMPARE(j["rank_attention_ms"].size(), size_t(4)); // layers
        for (const auto& layer : j["rank_attention_ms"]) {
            QCOMPARE(layer.size(), size_t(4)); // ranks
            for (const auto& t : layer)
                QVERIFY(t.get<double>() > 0.0);
        }
        QCOMPARE(j["kv_len"].size(), size_t(4));       // requests
        QCOMPARE(j["kv_len"][0].size(), size_t(4));    // layers
        QCOMPARE(j["kv_len"][0][0].size(), size_t(8)); // units (KV heads)
        std::set<int> lengths;
        for (const auto& v : j["kv_len"][0][0])
            lengths.insert(v.get<int>());
        QVERIFY2(lengths.size() > 1, "per-unit KV lengths should differ under Ada-SnapKV");
        QCOMPARE(j["step_ms"].size(), size_t(16));
        QCOMPARE(j["tokens"][0].size(), size_t(17));
        QVERIFY(j["tokens_per_s"].get<double>() > 0);
        QVERIFY(j["imbalance"].get<double>() >= 1.0);
        QVERIFY(j["lower_bound_ms"].get<double>() > 0);
        QVERIFY(j["lower_bound_ms"].get<double>() <= j["attention_ms"].get<double>() * 1.5);
        QCOMPARE(j["placement"]["layers"].size(), size_t(4));
        QVERIFY2(j["warnings"].is_array() && j["warnings"].empty(), "a CPU run has nothing in its times to warn about");
        QVERIFY2(!r.err.contains(QStringLiteral("warning:")), qPrintable(r.err));
        // One rank: nothing is composed from ranks run apart, and there is no all-reduce.
        const Result one = runCli({QStringLiteral("run"), QStringLiteral("--model"), QStringLiteral("tiny"), QStringLiteral("--layers"),
                                   QStringLiteral("1"), QStringLiteral("--decode"), QStringLiteral("2"), QStringLiteral("--prompt-len"),
                                   QStringLiteral("40"), QStringLiteral("--json"), out});
        QVERIFY2(one.exitCode == 0, qPrintable(one.err));
        const auto k = readJson(out);
        QCOMPARE(k["timing"].get<std::string>(), std::string("measured"));
        QVERIFY(k["collective"].get<std::string>().rfind("none", 0) == 0);
        QCOMPARE(k["collective_ms"][0].get<double>(), 0.0);
    }

    void badOptions_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("needle");
        const QString run = QStringLiteral("run");
        QTest::newRow("zero ranks") << QStringList{run, QStringLiteral("--ranks"), QStringLiteral("0")} << QStringLiteral("--ranks");
        QTest::newRow("text ranks") << QStringList{run, QStringLiteral("--ranks"), QStringLiteral("four")} << QStringLiteral("--ranks");
        QTest::newRow("unknown option") << QStringList{run, QStringLiteral("--rank"), QStringLiteral("4")} << QStringLiteral("--rank");
        QTest::newRow("missing value") << QStringList{run, QStringLiteral("--batch")} << QStringLiteral("--batch");
        QTest::newRow("twice") << QStringList{run, QStringLiteral("--batch=2"), QStringLiteral("--batch=3")} << QStringLiteral("--batch");
        QTest::newRow("bad policy") << QStringList{run, QStringLiteral("--compress"), QStringLiteral("zip")} << QStringLiteral("--compress");
        QTest::newRow("bad model") << QStringList{run, QStringLiteral("--model"), QStringLiteral("/no/such/model")} << QStringLiteral("--model");
        QTest::newRow("bad placement") << QStringList{run, QStringLiteral("--placement"), QStringLiteral("/no/p.json")} << QStringLiteral("--placement");
        QTest::newRow("budget below window") << QStringList{run, QStringLiteral("--budget"), QStringLiteral("16")} << QStringLiteral("--budget");
        QTest::newRow("bad units") << QStringList{run, QStringLiteral("--units"), QStringLiteral("heads")} << QStringLiteral("--units");
        QTest::newRow("bad layers") << QStringList{run, QStringLiteral("--layers"), QStringLiteral("99")} << QStringLiteral("--layers");
        QTest::newRow("headkv without scores") << QStringList{run, QStringLiteral("--compress"), QStringLiteral("headkv")} << QStringLiteral("--head-scores");
        QTest::newRow("model too big for memory") << QStringList{run, QStringLiteral("--model"), QStringLiteral("llama-3.3-70b")} << QStringLiteral("--layers");
        QTest::newRow("empty session name") << QStringList{run, QStringLiteral("--session"), QString(), QStringLiteral("--label"), QStringLiteral("x")} << QStringLiteral("--session needs a file name");
        QTest::newRow("negative seed") << QStringList{run, QStringLiteral("--seed"), QStringLiteral("-1")} << QStringLiteral("--seed");
        QTest::newRow("logits seed of a checkpoint") << QStringList{QStringLiteral("logits"), QStringLiteral("--model"), QDir::tempPath(), QStringLiteral("--tokens"), QStringLiteral("1"), QStringLiteral("--seed"), QStringLiteral("4")} << QStringLiteral("--seed applies to a built-in shape's synthetic weights only");
        QTest::newRow("logits bad tokens") << QStringList{QStringLiteral("logits"), QStringLiteral("--model"), QStringLiteral("tiny"), QStringLiteral("--tokens"), QStringLiteral("1,x")} << QStringLiteral("--tokens");
        QTest::newRow("logits beyond max positions") << QStringList{QStringLiteral("logits"), QStringLiteral("--model"), QStringLiteral("tiny"), QStringLiteral("--layers"), QStringLiteral("1"), QStringLiteral("--tokens"), QStringLiteral("1,").repeated(8192) + QStringLiteral("1")} << QStringLiteral("a sequence of 8193 tokens needs 8193 positions");
        QTest::newRow("logits token beyond 2^32") << QStringList{QStringLiteral("logits"), QStringLiteral("--model"), QStringLiteral("tiny"), QStringLiteral("--tokens"), QStringLiteral("1,4294967297")} << QStringLiteral("id 4294967297 is out of range");
        QTest::newRow("logits trailing comma") << QStringList{QStringLiteral("logits"), QStringLiteral("--model"), QStringLiteral("tiny"), QStringLiteral("--tokens"), QStringLiteral("1,2,")} << QStringLiteral("trailing comma");
        QTest::newRow("logits token out of vocab") << QStringList{QStringLiteral("logits"), QStringLiteral("--model"), QStringLiteral("tiny"), QStringLiteral("--layers"), QStringLiteral("1"), QStringLiteral("--tokens"), QStringLiteral("1,99999")} << QStringLiteral("id 99999 (position 1) is outside the model's vocabulary");
        QTest::newRow("plan unknown planner") << QStringList{QStringLiteral("plan"), QStringLiteral("--stats"), QStringLiteral("/no/such/stats.json"), QStringLiteral("--ranks"), QStringLiteral("2"), QStringLiteral("--planner"), QStringLiteral("fairkv")}
                                              << QStringLiteral("--planner 'fairkv' is not a planner");
        QTest::newRow("check-model missing") << QStringList{QStringLiteral("check-model"), QStringLiteral("/no/such/dir")} << QStringLiteral("/no/such/dir");
        QTest::newRow("unknown command") << QStringList{QStringLiteral("serve")} << QStringLiteral("serve");
        QTest::newRow("no command") << QStringList{} << QStringLiteral("fairkv: no command given (check-model, compare, export-trace, logits, make-model, plan, report, run, sessions)");
        QTest::newRow("same-count without assign") << QStringList{run, QStringLiteral("--same-count")} << QStringLiteral("--same-count");
        QTest::newRow("window without compression") << QStringList{run, QStringLiteral("--compress"), QStringLiteral("none"), QStringLiteral("--window"), QStringLiteral("8")} << QStringLiteral("--window applies to a --compress policy that compresses");
        QTest::newRow("budget without compression") << QStringList{run, QStringLiteral("--compress"), QStringLiteral("none"), QStringLiteral("--budget"), QStringLiteral("64")} << QStringLiteral("--budget applies");
        QTest::newRow("floor with snapkv") << QStringList{run, QStringLiteral("--compress"), QStringLiteral("snapkv"), QStringLiteral("--floor-alpha"), QStringLiteral("0.5")} << QStringLiteral("--floor-alpha applies to --compress ada-snapkv and headkv only");
        QTest::newRow("head scores without headkv") << QStringList{run, QStringLiteral("--compress"), QStringLiteral("snapkv"), QStringLiteral("--head-scores"), QStringLiteral("x.json")} << QStringLiteral("--head-scores");
        QTest::newRow("make-model bad dtype") << QStringList{QStringLiteral("make-model"), QStringLiteral("--shape"), QStringLiteral("llama-3.1-8b"), QStringLiteral("--dtype"), QStringLiteral("Q4"), QStringLiteral("--out"), QDir::tempPath() + QStringLiteral("/fairkv-never")} << QStringLiteral("--dtype 'Q4'");
        QTest::newRow("make-model empty out") << QStringList{QStringLiteral("make-model"), QStringLiteral("--shape"), QStringLiteral("tiny"), QStringLiteral("--out"), QString()} << QStringLiteral("--out needs a folder name");
        QTest::newRow("make-model too big for memory") << QStringList{QStringLiteral("make-model"), QStringLiteral("--shape"), QStringLiteral("llama-3.3-70b"), QStringLiteral("--out"), QDir::tempPath() + QStringLiteral("/fairkv-never")} << QStringLiteral("--layers");
        QTest::newRow("beyond max positions") << QStringList{run, QStringLiteral("--prompt-len"), QStringLiteral("8190"), QStringLiteral("--decode"), QStringLiteral("3")} << QStringLiteral("max_position_embeddings of 8192");
        QTest::newRow("json is a folder") << QStringList{run, QStringLiteral("--json"), QDir::tempPath()} << QStringLiteral("folder");
        // Numbers as the help writes them: a space no longer lets a sign through an unsigned option.
        QTest::newRow("spaced negative seed") << QStringList{run, QStringLiteral("--seed"), QStringLiteral(" -1")} << QStringLiteral("--seed");
        QTest::newRow("spaced memory budget") << QStringList{run, QStringLiteral("--placement"), QStringLiteral("fairkv-copy"), QStringLiteral("--memory-budget"), QStringLiteral(" -1")} << QStringLiteral("--memory-budget");
        QTest::newRow("memory budget without copies") << QStringList{run, QStringLiteral("--memory-budget"), QStringLiteral("100")} << QStringLiteral("--memory-budget applies to --placement fairkv-copy only");
        QTest::newRow("spaced prompt") << QStringList{run, QStringLiteral("--prompt-len"), QStringLiteral(" 5")} << QStringLiteral("--prompt-len");
        QTest::newRow("hex float") << QStringList{run, QStringLiteral("--floor-alpha"), QStringLiteral("0x0.8p0")} << QStringLiteral("--floor-alpha");
        QTest::newRow("option as a value") << QStringList{run, QStringLiteral("--session"), QStringLiteral("x.fkv"), QStringLiteral("--label"), QStringLiteral("--no-trace")}
                                           << QStringLiteral("'--label' needs a value");
        QTest::newRow("all-reduce model on cpu") << QStringList{run, QStringLiteral("--allreduce-gbs"), QStringLiteral("5")} << QStringLiteral("--backend cuda only");
        QTest::newRow("json to dash") << QStringList{run, QStringLiteral("--json"), QStringLiteral("-")} << QStringLiteral("standard output carries the summary");
        QTest::newRow("bad backend") << QStringList{run, QStringLiteral("--backend"), QStringLiteral("gpu")} << QStringLiteral("--backend must be cpu or cuda");
        QTest::newRow("label without session") << QStringList{run, QStringLiteral("--label"), QStringLiteral("x")} << QStringLiteral("--label applies to --session only");
        QTest::newRow("memory budget beyond 2^64") << QStringList{QStringLiteral("plan"), QStringLiteral("--stats"), QStringLiteral("s.json"), QStringLiteral("--ranks"), QStringLiteral("2"), QStringLiteral("--memory-budget"), QStringLiteral("99999999999999999999")}
                                                   << QStringLiteral("--memory-budget is beyond 2^64 - 1");
        QTest::newRow("empty stats name") << QStringList{QStringLiteral("plan"), QStringLiteral("--stats"), QString(), QStringLiteral("--ranks"), QStringLiteral("2")}
                                          << QStringLiteral("--stats needs a file name");
        // After "--" an argument is a file name, also one that starts with "--".
        QTest::newRow("file after --") << QStringList{QStringLiteral("sessions"), QStringLiteral("--"), QStringLiteral("--no-such.fkv")}
                                       << QStringLiteral("--no-such.fkv");
        // A name longer than the file system takes is refused before the run (it had failed after it).
        QTest::newRow("json name too long") << QStringList{run, QStringLiteral("--json"), QString(300, QLatin1Char('a')) + QStringLiteral(".json")}
                                            << QStringLiteral("its name is 305 bytes long, more than the 255");
        QTest::newRow("session name too long") << QStringList{run, QStringLiteral("--session"), QString(300, QLatin1Char('a')) + QStringLiteral(".fkv")}
                                               << QStringLiteral("its name is 304 bytes long");
        // A name the file system takes, but not with SQLite's "-journal" beside it.
        QTest::newRow("session name without room for its journal") << QStringList{run, QStringLiteral("--session"), QString(246, QLatin1Char('a')) + QStringLiteral(".fkv")}
                                                                  << QStringLiteral("more than the 247 the file system takes in one name beside the files SQLite keeps");
        QTest::newRow("stats without a decode step") << QStringList{run, QStringLiteral("--decode"), QStringLiteral("0"), QStringLiteral("--stats"), QDir::tempPath() + QStringLiteral("/fairkv-never.json")}
                                                     << QStringLiteral("--stats needs a measured decode step");
    }
    void badOptions()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, needle);
        const Result r = runCli(args);
        QVERIFY2(r.exitCode > 0, qPrintable(QStringLiteral("exit code %1").arg(r.exitCode)));
        const QStringList lines = r.err.trimmed().split(QLatin1Char('\n'));
        QVERIFY2(lines.size() == 1, qPrintable(r.err));
        QVERIFY2(lines.front().contains(needle), qPrintable(r.err));
    }

    void helpForEveryCommand()
    {
        for (const char* cmd : {"run", "logits", "check-model", "make-model", "report"}) {
            const Result r = runCli({QString::fromUtf8(cmd), QStringLiteral("--help")});
            QCOMPARE(r.exitCode, 0);
            QVERIFY(r.out.contains(QStringLiteral("usage: fairkv ")));
        }
        Result r = runCli({QStringLiteral("help"), QStringLiteral("plan")});
        QVERIFY2(r.exitCode == 0 && r.out.startsWith(QStringLiteral("usage: fairkv plan")), qPrintable(r.out));
        r = runCli({QStringLiteral("help"), QStringLiteral("serve")});
        QVERIFY2(r.exitCode == 2 && r.err.contains(QStringLiteral("unknown command 'serve'")), qPrintable(r.err));
        // A value an option does not take is a usage error, exit 2, as for a bad number.
        r = runCli({QStringLiteral("run"), QStringLiteral("--units"), QStringLiteral("heads")});
        QCOMPARE(r.exitCode, 2);
        // Also where the range allows the number and the compression does not (it had exited 1
        // after loading the model, where --kernel 0 exits 2 at once).
        r = runCli({QStringLiteral("run"), QStringLiteral("--kernel"), QStringLiteral("4")});
        QVERIFY2(r.exitCode == 2 && r.err.contains(QStringLiteral("--kernel must be a positive odd number")), qPrintable(r.err));
    }

    void makeModelCheckAndRun()
    {
        QTemporaryDir dir;
        const QString folder = dir.filePath(QStringLiteral("model"));
        Result r = runCli({QStringLiteral("make-model"), QStringLiteral("--shape"), QStringLiteral("tiny"),
                           QStringLiteral("--layers"), QStringLiteral("2"), QStringLiteral("--dtype"),
                           QStringLiteral("BF16"), QStringLiteral("--out"), folder});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        r = runCli({QStringLiteral("check-model"), folder});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.out.contains(QStringLiteral("2 layers")));
        QVERIFY(r.out.contains(QStringLiteral("BF16")));
        const QString out = dir.filePath(QStringLiteral("run.json"));
        r = runCli({QStringLiteral("run"), QStringLiteral("--model"), folder, QStringLiteral("--ranks"),
                    QStringLiteral("2"), QStringLiteral("--prompt-len"), QStringLiteral("40"), QStringLiteral("--budget"),
                    QStringLiteral("36"), QStringLiteral("--decode"), QStringLiteral("2"), QStringLiteral("--json"), out});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(readJson(out)["model"]["layers"].get<int>(), 2);
        // Output over a file of the checkpoint the command reads: refused, the checkpoint intact.
        const QString config = folder + QStringLiteral("/config.json");
        const QByteArray before = [&] { QFile f(config); return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray(); }();
        r = runCli({QStringLiteral("check-model"), folder, QStringLiteral("--json"), config});
        QVERIFY2(r.exitCode == 2 && r.err.contains(QStringLiteral("inside the PATH this command reads")), qPrintable(r.err));
        r = runCli({QStringLiteral("run"), QStringLiteral("--model"), folder, QStringLiteral("--json"), config});
        QVERIFY2(r.exitCode == 2 && r.err.contains(QStringLiteral("inside --model's folder")), qPrintable(r.err));
        // A new file there too: the same command gets the same answer the second time.
        r = runCli({QStringLiteral("check-model"), folder, QStringLiteral("--json"), folder + QStringLiteral("/summary.json")});
        QVERIFY2(r.exitCode == 2 && r.err.contains(QStringLiteral("inside the PATH this command reads")), qPrintable(r.err));
        QVERIFY(!QFile::exists(folder + QStringLiteral("/summary.json")));
        // A file option given a folder: its reader says so, rather than that the output lies inside it.
        r = runCli({QStringLiteral("plan"), QStringLiteral("--stats"), folder, QStringLiteral("--ranks"), QStringLiteral("2"),
                    QStringLiteral("--json"), config});
        QVERIFY2(r.exitCode != 0 && r.err.contains(QStringLiteral("is a folder, not a stats file")), qPrintable(r.err));
        QFile after(config);
        QVERIFY(after.open(QIODevice::ReadOnly) && after.readAll() == before);
        // A config that does not match its tensors is named as such before any memory estimate (the
        // estimate from the config alone had blamed host memory for an 8B config over tiny weights).
        nlohmann::json cfg = readJson(config);
        cfg["num_hidden_layers"] = 80; // a 70B config: about 0.5 TiB as fp32
        cfg["hidden_size"] = 8192;
        cfg["intermediate_size"] = 28672;
        cfg["num_attention_heads"] = 64;
        cfg["num_key_value_heads"] = 8;
        {
            QFile f(config);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(QByteArray::fromStdString(cfg.dump()));
        }
        for (const QString& command : {QStringLiteral("logits"), QStringLiteral("run")}) {
            r = runCli({command, QStringLiteral("--model"), folder, QStringLiteral("--tokens"), QStringLiteral("1,2")});
            if (command == QStringLiteral("run"))
                r = runCli({command, QStringLiteral("--model"), folder});
            QVERIFY2(r.exitCode != 0 && r.err.contains(QStringLiteral("tensor")) && !r.err.contains(QStringLiteral("memory")),
                     qPrintable(r.err));
        }
    }

    void logitsJson()
    {
        QTemporaryDir dir;
        const QString out = dir.filePath(QStringLiteral("logits.json"));
        const Result r = runCli({QStringLiteral("logits"), QStringLiteral("--model"), fixture("llama3-f32"),
                                 QStringLiteral("--tokens"), QStringLiteral("1, 17 ,5"), QStringLiteral("--json"), out});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto j = readJson(out);
        QCOMPARE(j["tokens"].get<std::vector<int>>(), (std::vector<int>{1, 17, 5}));
        QCOMPARE(j["logits"].size(), size_t(3));
        QCOMPARE(j["logits"][0].size(), size_t(128));
    }

    // fairkv report: HTML that parses, a PDF with pages, CSV with the documented columns, JSON.
    // A name from the user's file with a newline and an escape sequence: the error stays one
    // line and cannot restyle the terminal.
    void errorsAreOneLine()
    {
        QTemporaryDir dir;
        const QString result = dir.filePath(QStringLiteral("r.json")), placement = dir.filePath(QStringLiteral("p.json"));
        Result r = runCli({QStringLiteral("run"), QStringLiteral("--model"), QStringLiteral("tiny"), QStringLiteral("--ranks"),
                           QStringLiteral("4"), QStringLiteral("--batch"), QStringLiteral("1"), QStringLiteral("--decode"),
                           QStringLiteral("2"), QStringLiteral("--json"), result});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        nlohmann::json p = readJson(result).at("placement");
        p["name"] = "evil\nsecond\x1b[2J";
        std::ofstream(placement.toStdString()) << p.dump();
        r = runCli({QStringLiteral("run"), QStringLiteral("--model"), QStringLiteral("tiny"), QStringLiteral("--ranks"),
                    QStringLiteral("2"), QStringLiteral("--batch"), QStringLiteral("1"), QStringLiteral("--decode"),
                    QStringLiteral("2"), QStringLiteral("--placement"), placement});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.count(QLatin1Char('\n')) == 1 && !r.err.contains(QChar(0x1b)), qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("is for 4 ranks")), qPrintable(r.err));
    }

    // A prompt within the budget is kept whole: the run says so (it had reported the policy and
    // budget as if they had compressed), and the default prompt is long enough to compress.
    void promptsWithinTheBudgetAreNamed()
    {
        Result r = runCli({QStringLiteral("run"), QStringLiteral("--layers"), QStringLiteral("1"), QStringLiteral("--decode"),
                           QStringLiteral("1"), QStringLiteral("--prompt-len"), QStringLiteral("64"), QStringLiteral("--budget"),
                           QStringLiteral("96")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("warning: the prompt (64 tokens) is not longer than the budget (96): nothing was compressed")),
                 qPrintable(r.err));
        r = runCli({QStringLiteral("run"), QStringLiteral("--layers"), QStringLiteral("1"), QStringLiteral("--decode"), QStringLiteral("1")});
        QVERIFY2(r.exitCode == 0 && !r.err.contains(QStringLiteral("warning:")), qPrintable(r.err));
    }

    // A name the file system takes but with no room for ".partial": written through a short
    // temporary name (it had failed after the run), and nothing else is left in the folder.
    void longOutputNamesAreWritten()
    {
        QTemporaryDir dir;
        const QString name = QString(250, QLatin1Char('b')) + QStringLiteral(".json");
        const Result r = runCli({QStringLiteral("run"), QStringLiteral("--model"), QStringLiteral("tiny"), QStringLiteral("--layers"),
                                 QStringLiteral("1"), QStringLiteral("--decode"), QStringLiteral("1"), QStringLiteral("--prompt-len"),
                                 QStringLiteral("40"), QStringLiteral("--json"), dir.filePath(name)});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList{name});
        QCOMPARE(readJson(dir.filePath(name))["timing"].get<std::string>(), std::string("measured"));
    }

    // make-model whose write fails part way (a file-size limit, as a full disk): one error, and
    // neither the temporary file nor a checkpoint is left.
    void makeModelLeavesNothingWhenItsWriteFails()
    {
        QTemporaryDir dir;
        const QString out = dir.filePath(QStringLiteral("m"));
        QProcess limited;
        limited.start(QStringLiteral("prlimit"), {QStringLiteral("--fsize=100000"), QString::fromUtf8(FAIRKV_CLI_PATH),
                                                  QStringLiteral("make-model"), QStringLiteral("--shape"), QStringLiteral("tiny"),
                                                  QStringLiteral("--out"), out});
        QVERIFY(limited.waitForFinished(120000));
        QCOMPARE(limited.exitStatus(), QProcess::NormalExit);
        QCOMPARE(limited.exitCode(), 1);
        const QString err = QString::fromUtf8(limited.readAllStandardError());
        QVERIFY2(err.contains(QStringLiteral("model.safetensors: write failed")), qPrintable(err));
        QVERIFY(QDir(out).entryList(QDir::Files | QDir::Hidden).isEmpty());
    }

    void reportInEveryFormat()
    {
        QTemporaryDir dir;
        const QString session = dir.filePath(QStringLiteral("s.fkv"));
        const QStringList common = smallRunArgs(session) + QStringList{QStringLiteral("--no-trace")};
        // a label with markup and a control character must not break the XHTML
        QCOMPARE(runCli(common + QStringList{QStringLiteral("--label"), QStringLiteral("a<b & \"c\"") + QChar(1)}).exitCode, 0);
        // a label a spreadsheet would take for a formula
        QCOMPARE(runCli(common + QStringList{QStringLiteral("--placement"), QStringLiteral("fairkv-copy"), QStringLiteral("--label"),
                                             QStringLiteral("=1+1")}).exitCode, 0);
        auto report = [&](const QString& name, const QStringList& extra = {}) {
            return runCli(QStringList{QStringLiteral("report"), session, QStringLiteral("--runs"), QStringLiteral("1,2"),
                                      QStringLiteral("--out"), dir.filePath(name)} + extra);
        };
        Result r = report(QStringLiteral("r.html"));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile html(dir.filePath(QStringLiteral("r.html")));
        QVERIFY(html.open(QIODevice::ReadOnly));
        QXmlStreamReader xml(&html);
        int tables = 0, svgs = 0;
        while (!xml.atEnd()) {
            xml.readNext();
            tables += xml.isStartElement() && xml.name() == QLatin1String("table");
            svgs += xml.isStartElement() && xml.name() == QLatin1String("svg");
        }
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
        QVERIFY(tables >= 5); // summary, settings, environment, one placement table per run
        QCOMPARE(svgs, 2);    // throughput and per-rank charts, inline
        // Settings in their own words: no limit, the alpha-beta model unused on the CPU.
        html.seek(0);
        const QString page = QString::fromUtf8(html.readAll());
        QVERIFY(page.contains(QStringLiteral(">unlimited<")) && page.contains(QStringLiteral(">not used (cpu)<")));

        r = report(QStringLiteral("r.csv"), {QStringLiteral("--baseline"), QStringLiteral("2")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile csv(dir.filePath(QStringLiteral("r.csv")));
        QVERIFY(csv.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(csv.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 3);
        QCOMPARE(lines[0], QStringLiteral("run,label,parent,model,placement,compress,budget,batch,ranks,backend,timing,"
                                          "tokens_per_s,speedup,step_ms,imbalance,attention_ms,lower_bound_ms,differs_from_baseline,"
                                          "gpu,driver,cuda,nccl"));
        QCOMPARE(lines[2].split(QLatin1Char(','))[12], QStringLiteral("1.0000")); // run 2 over itself
        QCOMPARE(lines[2].split(QLatin1Char(','))[1], QStringLiteral("'=1+1"));
        // Where each run's work differs from the baseline's travels with its speedup, as in the HTML.
        QCOMPARE(lines[2].split(QLatin1Char(','))[17], QString());
        QVERIFY(!lines[1].split(QLatin1Char(','))[17].isEmpty());

        r = report(QStringLiteral("r.json"));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(readJson(dir.filePath(QStringLiteral("r.json"))).at("runs").size(), size_t(2));

        r = report(QStringLiteral("r.pdf"));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile pdf(dir.filePath(QStringLiteral("r.pdf")));
        QVERIFY(pdf.open(QIODevice::ReadOnly));
        const QByteArray bytes = pdf.readAll();
        QVERIFY(bytes.startsWith("%PDF-"));
        QVERIFY(bytes.count("/Type /Page\n") + bytes.count("/Type /Page ") + bytes.count("/Type /Page>") >= 1);
        QVERIFY(bytes.trimmed().endsWith("%%EOF"));
        // A write that fails part way (here a file-size limit, as a full disk does) fails the
        // command and leaves no cut-off PDF; QPdfWriter writing to the file itself had said "wrote".
        QProcess limited;
        limited.start(QStringLiteral("prlimit"), {QStringLiteral("--fsize=%1").arg(bytes.size() / 2), QString::fromUtf8(FAIRKV_CLI_PATH),
                                                  QStringLiteral("report"), session, QStringLiteral("--runs"), QStringLiteral("1,2"),
                                                  QStringLiteral("--out"), dir.filePath(QStringLiteral("cut.pdf"))});
        QVERIFY(limited.waitForFinished(120000));
        QCOMPARE(limited.exitStatus(), QProcess::NormalExit);
        QCOMPARE(limited.exitCode(), 1);
        QVERIFY2(QString::fromUtf8(limited.readAllStandardError()).contains(QStringLiteral("cut.pdf")), "the error names the file");
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("cut.pdf"))));

        r = report(QStringLiteral("r.html"), {QStringLiteral("--baseline"), QStringLiteral("7")});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains(QStringLiteral("--baseline 7")));
        r = runCli({QStringLiteral("report"), session, QStringLiteral("--runs"), QStringLiteral("1,9"), QStringLiteral("--out"),
                    dir.filePath(QStringLiteral("x.html"))});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains(QStringLiteral("no run 9")));
        QCOMPARE(report(QStringLiteral("r.doc")).exitCode, 2);
    }

    void sessionsCompareAndExport()
    {
        QTemporaryDir dir;
        const QString session = dir.filePath(QStringLiteral("s.fkv"));
        const QStringList common = smallRunArgs(session);
        Result r = runCli(common + QStringList{QStringLiteral("--label"), QStringLiteral("base")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.out.contains(QStringLiteral("saved as run 1")));
        r = runCli(common + QStringList{QStringLiteral("--placement"), QStringLiteral("fairkv-copy")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        r = runCli(common + QStringList{QStringLiteral("--no-trace")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.out.contains(QStringLiteral("(0 trace records)")));
        const QString list = dir.filePath(QStringLiteral("list.json"));
        r = runCli({QStringLiteral("sessions"), session, QStringLiteral("--json"), list});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto runs = readJson(list);
        QCOMPARE(runs.size(), size_t(3));
        QCOMPARE(runs[2]["records"].get<int>(), 0);
        QCOMPARE(runs[0]["label"].get<std::string>(), std::string("base"));
        QCOMPARE(runs[1]["placement"].get<std::string>(), std::string("fairkv-copy"));
        QVERIFY(runs[0]["records"].get<int>() > 0);
        r = runCli({QStringLiteral("compare"), session, QStringLiteral("1"), QStringLiteral("2")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.out.contains(QStringLiteral("speedup of run 2 over run 1")));
        QVERIFY(r.out.contains(QStringLiteral("rank 1 attention ms")));
        const QString trace = dir.filePath(QStringLiteral("t.json"));
        r = runCli({QStringLiteral("export-trace"), session, QStringLiteral("2"), QStringLiteral("--format"),
                    QStringLiteral("chrome"), QStringLiteral("--out"), trace});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto doc = readJson(trace);
        int rankTracks = 0;
        for (const auto& e : doc["traceEvents"])
            rankTracks += e["ph"] == "M" && e["name"] == "thread_name" && e["args"]["name"].get<std::string>().rfind("rank ", 0) == 0;
        QCOMPARE(rankTracks, 2);

        // Bad input: one line each, and the session is unchanged.
        const QString garbage = dir.filePath(QStringLiteral("garbage.fkv"));
        QFile g(garbage);
        QVERIFY(g.open(QIODevice::WriteOnly));
        g.write(QByteArray(4096, 'z'));
        g.close();
        for (const QStringList& bad : {QStringList{QStringLiteral("sessions"), garbage},
                                       QStringList{QStringLiteral("compare"), session, QStringLiteral("1"), QStringLiteral("9")},
                                       QStringList{QStringLiteral("compare"), session, QStringLiteral("x"), QStringLiteral("1")},
                                       QStringList{QStringLiteral("export-trace"), session, QStringLiteral("1"), QStringLiteral("--format"), QStringLiteral("pprof")},
                                       common.mid(0, common.size() - 1) + QStringList{garbage},
                                       // Output over the session, or where it cannot go: refused before any work,
                                       // so nothing is lost and no run is saved twice.
                                       QStringList{QStringLiteral("sessions"), session, QStringLiteral("--json"), session},
                                       QStringList{QStringLiteral("compare"), session, QStringLiteral("1"), QStringLiteral("2"),
                                                   QStringLiteral("--json"), session},
                                       QStringList{QStringLiteral("export-trace"), session, QStringLiteral("1"), QStringLiteral("--out"), session},
                                       QStringList{QStringLiteral("report"), session, QStringLiteral("--runs"), QStringLiteral("1"),
                                                   QStringLiteral("--out"), session},
                                       QStringList{QStringLiteral("report"), session, QStringLiteral("--runs"), QStringLiteral("1,2,"),
                                                   QStringLiteral("--out"), dir.filePath(QStringLiteral("r.html"))},
                                       common + QStringList{QStringLiteral("--json"), session},
                                       common + QStringList{QStringLiteral("--stats"), dir.filePath(QStringLiteral("no/such/dir/s.json"))}}) {
            r = runCli(bad);
            QVERIFY2(r.exitCode > 0, qPrintable(bad.join(QLatin1Char(' '))));
            QVERIFY2(r.err.trimmed().split(QLatin1Char('\n')).size() == 1, qPrintable(r.err));
        }
        // The default output path gets the same checks, before the trace is read.
        QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("run-1.trace.json")));
        r = runCli({QStringLiteral("export-trace"), session, QStringLiteral("1")}, dir.path());
        QVERIFY2(r.exitCode == 2 && r.err.contains(QStringLiteral("output run-1.trace.json (--out's default): is a folder")), qPrintable(r.err));
        r = runCli({QStringLiteral("sessions"), session, QStringLiteral("--json"), list});
        QCOMPARE(readJson(list).size(), size_t(3));
        // Settings edited down to nothing list their batch as unknown, not as 0.
        sqlite3* db = nullptr;
        QCOMPARE(sqlite3_open(session.toUtf8().constData(), &db), SQLITE_OK);
        QCOMPARE(sqlite3_exec(db, "UPDATE runs SET config_json = '{}' WHERE id = 3", nullptr, nullptr, nullptr), SQLITE_OK);
        // A model named by a long folder path (any length, not ASCII) widens its column: the
        // columns after it still line up under their headers.
        QCOMPARE(sqlite3_exec(db, "UPDATE models SET name = '/data/checkpoints/\u00fcber-Llama-3.1-8B-Instruct-long-folder-name'",
                              nullptr, nullptr, nullptr),
                 SQLITE_OK);
        sqlite3_close(db);
        r = runCli({QStringLiteral("sessions"), session});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QStringList lines = r.out.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        const qsizetype timingColumn = lines[0].indexOf(QStringLiteral("timing"));
        for (int i = 1; i <= 3; ++i)
            QVERIFY2(lines[i].indexOf(QRegularExpression(QStringLiteral("\\b(measured|emulated)\\b"))) == timingColumn, qPrintable(r.out));
        const QStringList line = r.out.split(QLatin1Char('\n'))[3].split(QLatin1Char(' '), Qt::SkipEmptyParts);
        QVERIFY2(line.size() > 8 && line[0] == QStringLiteral("3") && line.count(QStringLiteral("-")) == 2, // no parent, no batch
                 qPrintable(r.out));
        // ... and the steps the result timed, not 0 (compare had said the runs differ in decode steps).
        r = runCli({QStringLiteral("sessions"), session, QStringLiteral("--json"), list});
        QCOMPARE(readJson(list)[2]["decode"].get<int>(), 3);
        r = runCli({QStringLiteral("compare"), session, QStringLiteral("1"), QStringLiteral("3")});
        QVERIFY2(r.exitCode == 0 && !r.out.contains(QStringLiteral("decode steps;")), qPrintable(r.out));
    }

    // A run measured on one rank beside one emulated over two: each keeps its own kind, and the
    // speedup says it compares both (it had taken run A's kind for both).
    void compareNamesEachRunsTiming()
    {
        QTemporaryDir dir;
        const QString session = dir.filePath(QStringLiteral("s.fkv"));
        QStringList one = smallRunArgs(session);
        one[one.indexOf(QStringLiteral("--ranks")) + 1] = QStringLiteral("1");
        for (const QStringList& run : {one, smallRunArgs(session)}) {
            const Result r = runCli(run);
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        }
        const QString out = dir.filePath(QStringLiteral("c.json"));
        const Result r = runCli({QStringLiteral("compare"), session, QStringLiteral("1"), QStringLiteral("2"), QStringLiteral("--json"), out});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        // The JSON says what the terminal notes say: unlike timing, and the work that differs.
        const nlohmann::json c = readJson(out);
        QCOMPARE(c.at("same_timing").get<bool>(), false);
        QVERIFY2(c.at("differs_in").is_array(), c.dump().substr(0, 200).c_str());
        QCOMPARE(c.at("speedup_kind").get<std::string>(), std::string("computed: tokens_per_s of b over a, each measured vs emulated"));
        QVERIFY2(r.out.contains(QStringLiteral("tokens/s (measured vs emulated)")), qPrintable(r.out));
        QVERIFY2(r.out.contains(QRegularExpression(QStringLiteral("speedup of run 2 over run 1: [0-9.]+x \\(measured vs emulated\\)"))),
                 qPrintable(r.out));
        QVERIFY2(r.out.contains(QStringLiteral("note: run 1 is measured and run 2 emulated")), qPrintable(r.out));
    }

    // A finished run is not lost to a session that another program keeps locked: saving waits
    // for the lock (--session-wait), and when it gives up the result is already in --json.
    void runKeepsItsResultWhenTheSessionIsLocked()
    {
        QTemporaryDir dir;
        const QString session = dir.filePath(QStringLiteral("s.fkv"));
        Result r = runCli(smallRunArgs(session));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        sqlite3* db = nullptr;
        QCOMPARE(sqlite3_open(session.toUtf8().constData(), &db), SQLITE_OK);
        QCOMPARE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
        const QString json = dir.filePath(QStringLiteral("r.json"));
        r = runCli(smallRunArgs(session) + QStringList{QStringLiteral("--session-wait"), QStringLiteral("1"), QStringLiteral("--json"), json});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.trimmed().split(QLatin1Char('\n')).size() == 1, qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("the run finished but was not saved")) && r.err.contains(QStringLiteral("locked"))
                     && r.err.contains(QStringLiteral("its result is in ") + json),
                 qPrintable(r.err));
        QCOMPARE(readJson(json)["tokens"].size(), size_t(2));
        r = runCli(smallRunArgs(session) + QStringList{QStringLiteral("--session-wait"), QStringLiteral("0")});
        QVERIFY2(r.exitCode == 1 && r.err.contains(QStringLiteral("pass --json FILE")), qPrintable(r.err));

        // The lock is released while the run waits for it: the run is saved.
        QProcess p;
        p.start(QString::fromUtf8(FAIRKV_CLI_PATH), smallRunArgs(session));
        QVERIFY(p.waitForStarted());
        QTest::qWait(3000);
        QCOMPARE(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(db);
        QVERIFY(p.waitForFinished(120000));
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        QVERIFY2(p.exitCode() == 0 && out.contains(QStringLiteral("saved as run 2")), qPrintable(QString::fromUtf8(p.readAllStandardError())));
    }

    // A run refused after its session file was created leaves no empty session behind; a run
    // without decode steps has no speedup to compare.
    void refusedRunsAndRunsWithoutSteps()
    {
        QTemporaryDir dir;
        const QString session = dir.filePath(QStringLiteral("new.fkv"));
        // Refused by what the model allows (the options alone pass), and by the options alone.
        QStringList refused = smallRunArgs(session);
        refused[refused.indexOf(QStringLiteral("--layers")) + 1] = QStringLiteral("5");
        Result r = runCli(refused);
        QVERIFY2(r.exitCode == 1 && r.err.contains(QStringLiteral("--layers 5 is out of range for tiny")), qPrintable(r.err));
        QVERIFY(!QFile::exists(session));
        refused = smallRunArgs(session);
        refused[refused.indexOf(QStringLiteral("--budget")) + 1] = QStringLiteral("4");
        r = runCli(refused);
        QVERIFY2(r.exitCode == 2 && r.err.contains(QStringLiteral("--budget")), qPrintable(r.err));
        QVERIFY(!QFile::exists(session));
        QVERIFY(QDir(dir.path()).entryList(QDir::Files).isEmpty());
        QStringList noSteps = smallRunArgs(session);
        noSteps[noSteps.indexOf(QStringLiteral("--decode")) + 1] = QStringLiteral("0");
        r = runCli(noSteps);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        r = runCli(smallRunArgs(session));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QString json = dir.filePath(QStringLiteral("c.json"));
        r = runCli({QStringLiteral("compare"), session, QStringLiteral("+1"), QStringLiteral("2"), QStringLiteral("--json"), json});
        QVERIFY2(r.exitCode == 0 && r.out.contains(QStringLiteral("speedup of run 2 over run 1: n/a")), qPrintable(r.out));
        QVERIFY(readJson(json)["speedup"].is_null());
        // Nothing untimed reads as a measurement: no 0 tokens/s, no perfect imbalance of 1, no
        // 0 ms ranks, in the run's JSON, the session's list and the comparison.
        const QString first = dir.filePath(QStringLiteral("first.json"));
        noSteps << QStringLiteral("--json") << first;
        QVERIFY2(runCli(noSteps).exitCode == 0, "the run without steps again, with --json");
        for (const char* key : {"tokens_per_s", "imbalance", "attention_ms", "lower_bound_ms"})
            QVERIFY2(readJson(first)[key].is_null(), key);
        r = runCli({QStringLiteral("sessions"), session, QStringLiteral("--json"), json});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(readJson(json)[0]["tokens_per_s"].is_null());
        QVERIFY2(r.out.split(QLatin1Char('\n')).at(1).contains(QStringLiteral("n/a")), qPrintable(r.out));
        r = runCli({QStringLiteral("compare"), session, QStringLiteral("1"), QStringLiteral("2")});
        QVERIFY2(r.out.contains(QRegularExpression(QStringLiteral("rank 0 attention ms +n/a +\\d"))), qPrintable(r.out));
        const QString csv = dir.filePath(QStringLiteral("r.csv"));
        r = runCli({QStringLiteral("report"), session, QStringLiteral("--runs"), QStringLiteral("2,1"), QStringLiteral("--out"), csv});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> rows = f.readAll().trimmed().split('\n');
        QCOMPARE(rows.size(), 3);
        const int speedupColumn = int(rows[0].split(',').indexOf("speedup"));
        QCOMPARE(rows[1].split(',').at(speedupColumn), QByteArray("1.0000"));
        QCOMPARE(rows[2].split(',').at(speedupColumn), QByteArray("n/a")); // run 1 timed no step, as its other times say
        QVERIFY2(!r.err.contains(QStringLiteral("note:")), qPrintable(r.err));
        // A baseline that timed no step is said on stderr too, not only inside the file.
        r = runCli({QStringLiteral("report"), session, QStringLiteral("--runs"), QStringLiteral("1,2"), QStringLiteral("--out"), csv});
        QVERIFY2(r.exitCode == 0 && r.err.contains(QStringLiteral("note: baseline run 1 timed no decode step")), qPrintable(r.err));
    }

    // A run's --json result is an export of its stats (design §5): plan reads it as it reads the
    // --stats file of the same run: on the run's ranks (so its MLP and collectives count), with a
    // budget of about one unit replica (so the replica's bytes count), for both kinds of unit.
    void planFromARunsResult()
    {
        QTemporaryDir dir;
        const QString result = dir.filePath(QStringLiteral("r.json")), stats = dir.filePath(QStringLiteral("s.json"));
        Result r;
        for (const char* units : {"gqa", "per-query-head"}) {
            r = runCli({QStringLiteral("run"), QStringLiteral("--layers"), QStringLiteral("2"), QStringLiteral("--ranks"),
                        QStringLiteral("2"), QStringLiteral("--batch"), QStringLiteral("3"), QStringLiteral("--prompt-len"),
                        QStringLiteral("64"), QStringLiteral("--decode"), QStringLiteral("2"), QStringLiteral("--units"),
                        QString::fromLatin1(units), QStringLiteral("--json"), result, QStringLiteral("--stats"), stats});
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
            const auto bytes = readJson(stats).at("unit_weight_bytes").get<uint64_t>();
            nlohmann::json plans[2];
            for (int i = 0; i < 2; ++i) {
                const QString out = dir.filePath(QStringLiteral("p%1.json").arg(i));
                r = runCli({QStringLiteral("plan"), QStringLiteral("--stats"), i ? result : stats, QStringLiteral("--ranks"),
                            QStringLiteral("2"), QStringLiteral("--planner"), QStringLiteral("fairkv-copy"),
                            QStringLiteral("--memory-budget"), QString::number(bytes + bytes / 2), QStringLiteral("--json"), out});
                QVERIFY2(r.exitCode == 0, qPrintable(r.err));
                plans[i] = readJson(out);
                plans[i].erase("plan_ms");
            }
            QVERIFY(plans[0].at("fixed_layer_ms").get<double>() > 0);
            QCOMPARE(plans[1].dump(), plans[0].dump());
        }
        // An edited result: one line naming the key (the JSON library's message had named none),
        // and lengths of another shape than the run's are refused rather than planned.
        const nlohmann::json good = readJson(result);
        const std::pair<std::function<void(nlohmann::json&)>, QString> edits[] = {
            {[](nlohmann::json& j) { j["model"] = "tiny"; }, QStringLiteral("the run's result has no 'model' object")},
            {[](nlohmann::json& j) { j["kv_len"][0][0][0] = 3.5; }, QStringLiteral("holds 3.5 in 'kv_len', not a whole token count")},
            {[](nlohmann::json& j) { j["kv_len"].push_back(j["kv_len"][0]); }, QStringLiteral("'kv_len' for 4 requests, its 'config' says batch 3")},
            {[](nlohmann::json& j) { j["config"]["units"] = "gqa"; }, QStringLiteral("units per layer in 'kv_len', the model's gqa units are")},
            {[](nlohmann::json& j) { j["config"]["units"] = "heads"; }, QStringLiteral("has units 'heads' in its 'config'")},
            {[](nlohmann::json& j) { j["model"]["head_dim"] = 0; }, QStringLiteral("the run's 'model': 'head_dim' = 0")},
            {[](nlohmann::json& j) { j["collective_ms"][0] = -1; }, QStringLiteral("holds -1 in 'collective_ms'")},
        };
        for (const auto& [edit, needle] : edits) {
            nlohmann::json j = good;
            edit(j);
            std::ofstream(result.toStdString()) << j.dump();
            r = runCli({QStringLiteral("plan"), QStringLiteral("--stats"), result, QStringLiteral("--ranks"), QStringLiteral("2")});
            QVERIFY2(r.exitCode == 1 && r.err.trimmed().split(QLatin1Char('\n')).size() == 1 && r.err.contains(needle), qPrintable(r.err));
        }
        // Without a timed step there are no costs to plan with: one line that says so.
        r = runCli({QStringLiteral("run"), QStringLiteral("--layers"), QStringLiteral("1"), QStringLiteral("--decode"), QStringLiteral("0"),
                    QStringLiteral("--json"), result});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        r = runCli({QStringLiteral("plan"), QStringLiteral("--stats"), result, QStringLiteral("--ranks"), QStringLiteral("2")});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains(QStringLiteral("the run has no timed decode step")), qPrintable(r.err));
    }

    // HeadKV's own score files ({"layer-head": [scores of each detection run]}, over query heads)
    // give the same run as the unit scores they average to; a head without a score is named.
    void headKvRetrievalHeadFiles()
    {
        QTemporaryDir dir;
        nlohmann::json perHead, units = nlohmann::json::array(), heads = nlohmann::json::array();
        for (int l = 0; l < 4; ++l) { // tiny: 4 layers, 16 query heads, groups of 2
            nlohmann::json u = nlohmann::json::array(), h = nlohmann::json::array();
            for (int q = 0; q < 16; ++q) {
                const double a = 0.1 + 0.05 * ((l * 7 + q * 3) % 11), b = 0.2 + 0.03 * ((l + q * 5) % 7);
                perHead[std::to_string(l) + "-" + std::to_string(q)] = {a, b};
                h.push_back((a + b) / 2);
            }
            for (int k = 0; k < 8; ++k)
                u.push_back((h[2 * k].get<double>() + h[2 * k + 1].get<double>()) / 2);
            units.push_back(u);
            heads.push_back(h);
        }
        const auto write = [&](const char* name, const nlohmann::json& j) {
            const QString file = dir.filePath(QString::fromUtf8(name));
            std::ofstream(file.toStdString()) << j.dump();
            return file;
        };
        const QString rh = write("rh.json", perHead), unitFile = write("units.json", {{"scores", units}}),
                      headFile = write("heads.json", {{"scores", heads}});
        const auto kvLen = [&](const QString& scores, const char* mode) {
            const QString out = dir.filePath(QStringLiteral("out.json"));
            const Result r = runCli({QStringLiteral("run"), QStringLiteral("--units"), QString::fromUtf8(mode), QStringLiteral("--compress"),
                                     QStringLiteral("headkv"), QStringLiteral("--head-scores"), scores, QStringLiteral("--decode"),
                                     QStringLiteral("1"), QStringLiteral("--json"), out});
            return r.exitCode == 0 ? readJson(out)["kv_len"] : nlohmann::json(r.err.toStdString());
        };
        QCOMPARE(kvLen(rh, "gqa"), kvLen(unitFile, "gqa"));
        QCOMPARE(kvLen(rh, "per-query-head"), kvLen(headFile, "per-query-head"));
        QVERIFY(kvLen(rh, "gqa") != kvLen(rh, "per-query-head"));
        const auto refusal = [&](const nlohmann::json& file) {
            const Result r = runCli({QStringLiteral("run"), QStringLiteral("--compress"), QStringLiteral("headkv"), QStringLiteral("--head-scores"),
                                     write("bad.json", file)});
            return r.exitCode == 1 ? r.err.trimmed() : QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err);
        };
        // Keys that would alias another head's ("01-2", a wrapped 2^32 + 1) are not 'layer-head'.
        for (const char* key : {"01-2", " 1-2", "+1-2", "4294967297-2", "1-02", "1--2"}) {
            nlohmann::json alias = perHead;
            alias[key] = {9.0};
            QVERIFY2(refusal(alias).contains(QStringLiteral("is not 'layer-head'")), qPrintable(refusal(alias)));
        }
        // The mean of scores whose sum overflows is the mean.
        nlohmann::json huge = perHead;
        huge["0-0"] = {1.7e308, 1.7e308};
        QCOMPARE(runCli({QStringLiteral("run"), QStringLiteral("--compress"), QStringLiteral("headkv"), QStringLiteral("--head-scores"),
                         write("huge.json", huge), QStringLiteral("--decode"), QStringLiteral("1")})
                     .exitCode,
                 0);
        nlohmann::json stray = perHead;
        stray["60000-0"] = {1.0};
        QVERIFY2(refusal(stray).contains(QStringLiteral("has no score for layer 4 head 0 (key \"4-0\"), but has scores up to layer 60000")),
                 qPrintable(refusal(stray)));
        perHead.erase("2-5");
        QVERIFY2(refusal(perHead).contains(QStringLiteral("has no score for layer 2 head 5 (key \"2-5\")")), qPrintable(refusal(perHead)));
    }

    // Progress on a terminal, for every command that works for seconds (design §5); none through a pipe.
    void progressOnATerminal()
    {
        QTemporaryDir dir;
        const QString model = dir.filePath(QStringLiteral("m"));
        const auto check = [](const std::pair<QString, int>& r, std::initializer_list<const char*> wanted, int status = 0) {
            QCOMPARE(r.second, status);
            for (const char* w : wanted)
                QVERIFY2(r.first.contains(QString::fromUtf8(w)), qPrintable(r.first));
        };
        check(runCliOnTerminal({QStringLiteral("make-model"), QStringLiteral("--layers"), QStringLiteral("1"), QStringLiteral("--out"), model},
                               dir.path()),
              {"\rsynthesizing   0/2", "\rwriting        2/2"});
        check(runCliOnTerminal({QStringLiteral("logits"), QStringLiteral("--model"), model, QStringLiteral("--tokens"), QStringLiteral("1,2")}, dir.path()),
              {"\rloading model  0/2", "\rforward        2/2", "position 1 token 2: argmax"});
        check(runCliOnTerminal({QStringLiteral("run"), QStringLiteral("--model"), model, QStringLiteral("--decode"), QStringLiteral("2"),
                                QStringLiteral("--stats"), QStringLiteral("s.json")},
                               dir.path()),
              {"\rdecode         2/2"});
        check(runCliOnTerminal({QStringLiteral("plan"), QStringLiteral("--stats"), QStringLiteral("s.json"), QStringLiteral("--ranks"),
                                QStringLiteral("2"), QStringLiteral("--planner"), QStringLiteral("fairkv-copy")},
                               dir.path()),
              {"\rplanning       1/1"});
        // A warning while a progress line is open starts a line of its own: a tensor the model does
        // not use, added to the checkpoint (the terminal turns each newline into CR LF).
        {
            QFile f(model + QStringLiteral("/model.safetensors"));
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QByteArray file = f.readAll();
            f.close();
            uint64_t headerBytes = 0;
            std::memcpy(&headerBytes, file.constData(), 8);
            nlohmann::json header = nlohmann::json::parse(file.mid(8, qsizetype(headerBytes)).toStdString());
            const QByteArray data = file.mid(8 + qsizetype(headerBytes));
            header["model.extra.weight"] = {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {data.size(), data.size() + 8}}};
            std::string text = header.dump();
            text.append((8 - text.size() % 8) % 8, ' ');
            const uint64_t newBytes = text.size();
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(reinterpret_cast<const char*>(&newBytes), 8);
            f.write(text.data(), qint64(text.size()));
            f.write(data);
            f.write(QByteArray(8, '\0'));
        }
        check(runCliOnTerminal({QStringLiteral("logits"), QStringLiteral("--model"), model, QStringLiteral("--tokens"), QStringLiteral("1,2")}, dir.path()),
              {"\rloading model  0/2   \r\nwarning: ", "model.extra.weight", "\rforward        2/2"});
        const Result piped = runCli({QStringLiteral("run"), QStringLiteral("--decode"), QStringLiteral("2")});
        QCOMPARE(piped.exitCode, 0);
        QVERIFY2(!piped.err.contains(QLatin1Char('\r')) && !piped.out.contains(QLatin1Char('\r')), qPrintable(piped.err));
    }

    // A NaN weight (check-model reads headers, not values): run and logits stop with one line that
    // names where the logits went bad, and the session is left as it was.
    void nanWeightsStopRunAndLogitsNamingWhere()
    {
        QTemporaryDir dir;
        const QString model = dir.filePath(QStringLiteral("nan-model"));
        Result r = runCli({QStringLiteral("make-model"), QStringLiteral("--layers"), QStringLiteral("1"), QStringLiteral("--out"), model});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        {
            // The final norm's weights become NaN: every position's logits are NaN.
            std::fstream f(QString(model + QStringLiteral("/model.safetensors")).toStdString(), std::ios::in | std::ios::out | std::ios::binary);
            uint64_t headerBytes = 0;
            f.read(reinterpret_cast<char*>(&headerBytes), 8);
            std::string header(headerBytes, '\0');
            f.read(header.data(), std::streamsize(headerBytes));
            const auto offsets = nlohmann::json::parse(header).at("model.norm.weight").at("data_offsets");
            const float nan = std::nanf("");
            f.seekp(std::streamoff(8 + headerBytes + offsets[0].get<uint64_t>()));
            for (uint64_t at = offsets[0]; at < offsets[1].get<uint64_t>(); at += 4)
                f.write(reinterpret_cast<const char*>(&nan), 4);
            QVERIFY(f.good());
        }
        const QString session = dir.filePath(QStringLiteral("s.fkv"));
        r = runCli({QStringLiteral("run"), QStringLiteral("--model"), QStringLiteral("tiny"), QStringLiteral("--layers"), QStringLiteral("1"),
                    QStringLiteral("--decode"), QStringLiteral("1"), QStringLiteral("--session"), session});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile before(session);
        QVERIFY(before.open(QIODevice::ReadOnly));
        const QByteArray saved = before.readAll();
        r = runCli({QStringLiteral("run"), QStringLiteral("--model"), model, QStringLiteral("--prompt-len"), QStringLiteral("80"),
                    QStringLiteral("--budget"), QStringLiteral("48"), QStringLiteral("--decode"), QStringLiteral("2"), QStringLiteral("--session"), session});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.trimmed().count(QLatin1Char('\n')) == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("request 0, position 79 (input token ")) && r.err.contains(QStringLiteral("NaN for vocabulary entry 0")),
                 qPrintable(r.err));
        QFile after(session);
        QVERIFY(after.open(QIODevice::ReadOnly));
        QCOMPARE(after.readAll(), saved);
        r = runCli({QStringLiteral("logits"), QStringLiteral("--model"), model, QStringLiteral("--tokens"), QStringLiteral("5,6")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QStringLiteral("position 0 (input token 5): the logits are not finite (NaN for vocabulary entry 0)")), qPrintable(r.err));
    }

    void placementFileRoundTrip()
    {
        // A run's JSON result can be fed back as --placement.
        QTemporaryDir dir;
        const QString first = dir.filePath(QStringLiteral("a.json"));
        const QStringList common = {QStringLiteral("run"), QStringLiteral("--layers"), QStringLiteral("1"),
                                    QStringLiteral("--ranks"), QStringLiteral("3"), QStringLiteral("--batch"),
                                    QStringLiteral("2"), QStringLiteral("--prompt-len"), QStringLiteral("40"),
                                    QStringLiteral("--decode"), QStringLiteral("1")};
        Result r = runCli(common + QStringList{QStringLiteral("--json"), first});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QString second = dir.filePath(QStringLiteral("b.json"));
        r = runCli(common + QStringList{QStringLiteral("--placement"), first, QStringLiteral("--json"), second});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(readJson(second)["tokens"], readJson(first)["tokens"]);
        // The file says "uniform", a planner's name: the run is listed by its file instead.
        QCOMPARE(readJson(first)["placement"]["name"], "uniform");
        QCOMPARE(readJson(second)["placement"]["name"], "file a.json");
        // Fed back again, the stale file label gives way to this file's; a planner's name with a
        // space or in capitals is still a planner's, and control characters never reach a terminal.
        const QString third = dir.filePath(QStringLiteral("c.json"));
        r = runCli(common + QStringList{QStringLiteral("--placement"), second, QStringLiteral("--json"), third});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(readJson(third)["placement"]["name"], "file b.json");
        // Names of other scripts are names, not claims.
        const std::vector<std::pair<std::string, std::string>> claims = {
            {"fairkv-copy ", "file hand.json"}, {"Uniform", "file hand.json"},         {"FairKV  Copy", "file hand.json"},
            {"FAIRKV_ASSIGN", "file hand.json"}, {"fairkvcopy", "file hand.json"},     {"my\x1b[2J split", "my [2J split"},
            {"\u5747\u5300", "\u5747\u5300"},   {"fairkv-copy v2", "fairkv-copy v2"},
            {"fairkv\u00a0copy", "file hand.json"}, {"fairkv\u2013copy", "file hand.json"}, {"fair\u200bkv-copy", "file hand.json"},
            {"uniform\u3000", "file hand.json"}, {"\uff46airkv-copy", "file hand.json"}};
        for (const auto& [claim, expected] : claims) {
            nlohmann::json edited = readJson(first);
            edited["placement"]["name"] = claim;
            const QString hand = dir.filePath(QStringLiteral("hand.json"));
            std::ofstream(hand.toStdString()) << edited.dump();
            r = runCli(common + QStringList{QStringLiteral("--placement"), hand, QStringLiteral("--json"), third});
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
            QCOMPARE(readJson(third)["placement"]["name"], expected);
            QVERIFY(!r.out.contains(QChar(0x1b)));
        }
        r = runCli({QStringLiteral("run"), QStringLiteral("--layers"), QStringLiteral("1"), QStringLiteral("--ranks"),
                    QStringLiteral("2"), QStringLiteral("--batch"), QStringLiteral("2"), QStringLiteral("--placement"), first});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains(QStringLiteral("is for 3 ranks, the run has 2")), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
