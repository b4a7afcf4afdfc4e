// Live re-run (issue 7): a finished run's engine takes another placement without a new prefill
// and decodes the same steps again. By the placement invariant the tokens equal a fresh run with
// that placement; the re-run is stored with its parent.
#include "session_store.h"
#include "common/error.h"
#include "runtime/run.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include <QTemporaryDir>
#include <QtTest>

using namespace fairkv;

namespace {

RunConfig smallRun()
{
    RunConfig c;
    c.model = "tiny";
    c.layers = 2;
    c.ranks = 3;
    c.batch = 3;
    c.promptLen = 96;
    c.decode = 5;
    c.seed = 7;
    c.compression.policy = CompressionPolicy::AdaSnapKV;
    c.compression.budget = 40;
    c.compression.window = 8;
    return c;
}

// An edited placement: unit 0 moved, unit 5 replicated with the batch split, in every layer.
Placement edited(const RunResult& parent)
{
    Placement p = parent.placement;
    for (auto& layer : p.layers) {
        layer[0].replicas = {{2, {0, 1, 2}}};
        layer[5].replicas = {{0, {0}}, {1, {1, 2}}};
    }
    return p;
}

} // namespace

class TestLiveRerun : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    // What `fairkv run` prints and the session stores of a run's steps: the mean, and the median
    // that one slow step does not move.
    void stepMeanAndMedian()
    {
        RunResult r;
        QVERIFY(std::isnan(r.stepMeanMs())); // no step: not timed, not 0 ms
        QVERIFY(std::isnan(r.stepMedianMs()));
        QVERIFY(std::isnan(r.tokensPerS) && std::isnan(r.imbalance));
        r.stepMs = {2.5, 9.5, 2.4, 2.6, 2.5};
        QCOMPARE(r.stepMeanMs(), 3.9);
        QCOMPARE(r.stepMedianMs(), 2.5);
        r.stepMs = {3.0, 1.0};
        QCOMPARE(r.stepMedianMs(), 2.0); // the mean of the middle two, as the reports' spread and the kernel table take it
    }

    void rerunEqualsFreshRunWithThatPlacement()
    {
        LiveRun live(smallRun());
        const Placement p = edited(live.result());
        const RunResult again = live.rerun(p, "edited");
        QCOMPARE(again.config.placement, std::string("edited"));
        QCOMPARE(again.placement.layers[1][5].replicas.size(), size_t(2));
        QVERIFY(again.kvMovedBytes > 0);
        QCOMPARE(int(again.stepMs.size()), smallRun().decode);

        QTemporaryDir dir;
        const std::string file = dir.filePath(QStringLiteral("edited.json")).toStdString();
        p.saveFile(file);
        RunConfig fresh = smallRun();
        fresh.placement = file;
        const RunResult reference = runInference(fresh);
        QCOMPARE(again.tokens, reference.tokens);
        QCOMPARE(again.kvLen, reference.kvLen);
        // and the same as the parent, since a placement never changes outputs
        QCOMPARE(again.tokens, live.result().tokens);

        // a second re-run starts from the prefill state again, not from the first re-run's end
        const RunResult third = live.rerun(live.result().placement, "uniform again");
        QCOMPARE(third.tokens, live.result().tokens);
    }

    // Sampling (temperature > 0): each request draws from its own stream, as its prompt does, so
    // what request 0 generates does not depend on the batch it shares; a re-run samples the same.
    void sampledTokensDoNotDependOnTheBatch()
    {
        RunConfig three = smallRun();
        three.temperature = 1.0;
        LiveRun live(three);
        const RunResult& sampled = live.result();
        RunConfig one = three;
        one.batch = 1;
        const RunResult alone = runInference(one);
        QCOMPARE(alone.prompts[0], sampled.prompts[0]);
        QCOMPARE(alone.tokens[0], sampled.tokens[0]);
        RunConfig greedy = three;
        greedy.temperature = 0.0;
        QVERIFY2(runInference(greedy).tokens != sampled.tokens, "temperature 1 sampled the greedy tokens");
        QCOMPARE(live.rerun(sampled.placement, "again").tokens, sampled.tokens);
    }

    void badPlacementIsRefusedAndLeavesTheEngineUsable()
    {
        LiveRun live(smallRun());
        Placement bad = live.result().placement;
        bad.layers[0][1].replicas = {{7, {0, 1, 2}}};
        try {
            live.rerun(bad, "bad");
            QFAIL("a replica on rank 7 of 3 was accepted");
        } catch (const std::exception& e) {
            QVERIFY2(QString::fromStdString(e.what()).contains(QLatin1String("rank")), e.what());
        }
        const RunResult ok = live.rerun(edited(live.result()), "edited");
        QCOMPARE(ok.tokens, live.result().tokens);
    }

    // A stored run's settings come back (for re-running a run whose engine is not loaded).
    void settingsRoundTrip()
    {
        RunConfig c = smallRun();
        c.placement = "fairkv-copy";
        c.memoryBudget = 12345;
        c.devices.emulate = true;
        c.compression.pooling = Pooling::Avg;
        QCOMPARE(RunConfig::fromJson(c.toJson()).toJson(), c.toJson());
        // Runs stored before --gemm existed ran cublasGemmEx for every product: read so.
        RunConfig old;
        old.devices.chooseGemms = false;
        QCOMPARE(RunConfig::fromJson(nlohmann::json::object()).toJson(), old.toJson());
        c.devices.chooseGemms = false; // --gemm cublas
        QCOMPARE(RunConfig::fromJson(c.toJson()).toJson(), c.toJson());
        // A value beyond an int, or of another type, is refused, not converted (it had read as 1 or 2).
        for (const char* bad : {R"({"ranks": "three"})", R"({"compress": "zip"})", R"({"pooling": "min"})", "[1]",
                                R"({"layers": 4294967297})", R"({"batch": 1.5})", R"({"emulate": 1})", R"({"gemm": "fast"})"}) {
            try {
                RunConfig::fromJson(nlohmann::json::parse(bad));
                QFAIL(bad);
            } catch (const Error&) {
            }
        }
    }

    // Without the loaded engine: prefill again, then decode under the placement; same tokens.
    void freshRerunEqualsTheParent()
    {
        RunConfig prefillOnly = smallRun();
        prefillOnly.decode = 0;
        LiveRun fresh(prefillOnly);
        const RunResult parent = runInference(smallRun());
        const RunResult again = fresh.rerun(edited(parent), "edited", {}, nullptr, nullptr, {}, smallRun().decode);
        QCOMPARE(int(again.stepMs.size()), smallRun().decode);
        QCOMPARE(again.config.decode, smallRun().decode);
        QCOMPARE(again.tokens, parent.tokens);
    }

    void storedWithItsParent()
    {
        QTemporaryDir dir;
        const std::string path = dir.filePath(QStringLiteral("s.fkv")).toStdString();
        auto store = profiler::SessionStore::open(path, profiler::SessionStore::Mode::ReadWrite);
        LiveRun live(smallRun());
        const auto env = profiler::Environment::detect();
        const int64_t parent = store->appendRun(live.result(), {}, env);
        const int64_t child = store->appendRun(live.rerun(edited(live.result()), "edited"), {}, env, parent, "edited");
        const auto stored = store->loadRun(child);
        QVERIFY(stored.summary.parent.has_value());
        QCOMPARE(*stored.summary.parent, parent);
        QCOMPARE(stored.summary.placement, std::string("edited"));
    }
};

QTEST_GUILESS_MAIN(TestLiveRerun)
#include "test_live_rerun.moc"
