// Per-rank aggregation on hand-made records with known answers; CPU tracer against the engine's
// own step timing; Chrome trace export.
#include "aggregation.h"
#include "chrome_trace.h"
#include "common/json_file.h"
#include "cpu_tracer.h"
#include "report.h"
#include "model/model_weights.h"
#include "runtime/inference_engine.h"
#include "runtime/run.h"
#include "test_util.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <set>

using namespace fairkv;
using namespace fairkv::profiler;

namespace {
TraceRecord rec(TraceBuffer& t, const char* name, int rank, int step, int layer, Phase phase, double startMs, double ms,
                RecordKind kind = RecordKind::Op, int unit = -1)
{
    TraceRecord r;
    r.nameId = t.intern(name);
    r.rank = rank;
    r.step = step;
    r.layer = layer;
    r.unit = unit;
    r.phase = phase;
    r.kind = kind;
    r.startNs = int64_t(startMs * 1e6);
    r.endNs = int64_t((startMs + ms) * 1e6);
    t.records.push_back(r);
    return r;
}
} // namespace

class TestAggregation : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void kernelNamesAreReadable()
    {
        QCOMPARE(readableKernelName("_ZN6fairkv4cuda45_GLOBAL__N__4fd48e46_12_cuda_step_cu_3918a3bb9embedRowsEPKiPK13__nv_bfloat16iPf"),
                 std::string("fairkv::cuda::(anonymous namespace)::embedRows(int const*, __nv_bfloat16 const*, int, float*)"));
        QCOMPARE(readableKernelName("nvjet_tst_192x8_64x8_2x1_v_bz_TNT"), std::string("nvjet_tst_192x8_64x8_2x1_v_bz_TNT"));
        QCOMPARE(readableKernelName("_Zbroken"), std::string("_Zbroken"));
    }

    // NCCL ranks each time the same all-reduce, waiting included: the last rank to arrive (the
    // shortest time) measures the collective itself; device-timed ranges are display only, and
    // kernels carry the per-rank sums.
    void perRankCollectivesTakeTheLastArrival()
    {
        TraceBuffer t;
        rec(t, "ncclKernel", 0, 0, 0, Phase::Collective, 0, 0.2, RecordKind::Kernel);
        rec(t, "ncclKernel", 1, 0, 0, Phase::Collective, 0, 0.3, RecordKind::Kernel);
        rec(t, "ncclKernel", 1, 0, 0, Phase::Collective, 1, 0.1, RecordKind::Kernel);
        rec(t, "all_reduce attention", 0, 0, 0, Phase::Collective, 0, 0.9, RecordKind::Range);
        rec(t, "gemm", 0, 0, 0, Phase::Attention, 0, 1.0, RecordKind::Kernel);
        rec(t, "attention", 0, 0, 0, Phase::Attention, 0, 1.5, RecordKind::Range);
        const RunAggregate a = aggregate(t, 2);
        QCOMPARE(a.layers.size(), size_t(1));
        QVERIFY(std::abs(a.layers[0].collectiveMs - 0.2) < 1e-9);
        QCOMPARE(a.layers[0].attentionMs[0], 1.0);
        QVERIFY(std::abs(a.collectiveMs - 0.2) < 1e-9);
    }

    // A kernel started by programmatic dependent launch (the attention's combine) runs, and is
    // recorded, from before the kernel it depends on ends: the two kernels kept the rank busy for
    // 2.5 ms, not 3, and with o_proj's 0.5 ms the rank's attention took 3 ms, not 3.5.
    void overlappingKernelsCountOnce()
    {
        TraceBuffer t;
        rec(t, "decodeAttentionMma", 0, 0, 0, Phase::Attention, 0, 2, RecordKind::Kernel);
        rec(t, "decodeAttentionCombine", 0, 0, 0, Phase::Attention, 1.5, 1, RecordKind::Kernel);
        rec(t, "o_proj", 0, 0, 0, Phase::Attention, 3, 0.5, RecordKind::Kernel);
        rec(t, "decodeAttentionMma", 1, 0, 0, Phase::Attention, 4, 1, RecordKind::Kernel);
        rec(t, "mlp", 0, 0, 0, Phase::Mlp, 3.5, 1, RecordKind::Kernel); // another phase: its own time
        const RunAggregate a = aggregate(t, 2);
        QCOMPARE(a.layers.size(), size_t(1));
        QCOMPARE(a.layers[0].attentionMs[0], 3.0);
        QCOMPARE(a.layers[0].attentionMs[1], 1.0);
        QCOMPARE(a.layers[0].mlpMs[0], 1.0);
    }

    void knownAnswers()
    {
        TraceBuffer t;
        // step 0, layer 0: rank 0 attention 3 ms (as two kernels), rank 1 attention 1 ms; MLP 1 ms each; collective 0.5 ms
        rec(t, "attn_a", 0, 0, 0, Phase::Attention, 0, 2, RecordKind::Kernel);
        rec(t, "attn_b", 0, 0, 0, Phase::Attention, 2, 1, RecordKind::Kernel);
        rec(t, "attn_a", 1, 0, 0, Phase::Attention, 0, 1, RecordKind::Kernel);
        rec(t, "mlp", 0, 0, 0, Phase::Mlp, 3, 1);
        rec(t, "mlp", 1, 0, 0, Phase::Mlp, 3, 1);
        rec(t, "all_reduce", -1, 0, 0, Phase::Collective, 4, 0.5);
        // not summed: ranges (per-unit detail, the pass) and prefill is kept apart
        rec(t, "unit attention", 0, 0, 0, Phase::Attention, 0, 3, RecordKind::Range, 2);
        rec(t, "decode step", -1, 0, -1, Phase::Decode, 0, 5, RecordKind::Range);
        rec(t, "attention", 1, -1, 0, Phase::Attention, 0, 7);
        // step 1, layer 0: balanced
        rec(t, "attention", 0, 1, 0, Phase::Attention, 10, 2);
        rec(t, "attention", 1, 1, 0, Phase::Attention, 10, 2);

        const RunAggregate a = aggregate(t, 2);
        QCOMPARE(a.decodeSteps, 2);
        QCOMPARE(a.layers.size(), size_t(3)); // prefill layer 0, step 0 layer 0, step 1 layer 0
        const LayerAggregate& pre = a.layers[0];
        QCOMPARE(pre.step, -1);
        QCOMPARE(pre.attentionMs[1], 7.0);
        const LayerAggregate& s0 = a.layers[1];
        QCOMPARE(s0.attentionMs[0], 3.0);
        QCOMPARE(s0.attentionMs[1], 1.0);
        QCOMPARE(s0.slowestRank, 0);
        QCOMPARE(s0.slowestMs, 4.0);
        QCOMPARE(s0.idleMs[1], 2.0);
        QCOMPARE(s0.idleMs[0], 0.0);
        QCOMPARE(s0.collectiveMs, 0.5);
        QVERIFY(std::abs(s0.imbalance - 4.0 / 3.0) < 1e-12);
        QCOMPARE(a.rankBusyMs[0], 6.0);
        QCOMPARE(a.rankIdleMs[1], 2.0);
        QCOMPARE(a.criticalMs, 4.5 + 2.0);
        QCOMPARE(a.attentionMs, 3.0 + 1.0 + 4.0);
        QCOMPARE(a.collectiveMs, 0.5);
        QVERIFY(std::abs(a.imbalance - (4.0 + 2.0) / (3.0 + 2.0)) < 1e-12);
        rec(t, "bad", 5, 0, 0, Phase::Attention, 0, 1);
        FAIRKV_EXPECT_ERROR(aggregate(t, 2), "rank 5");
    }

    void cpuTracerMatchesStepTiming()
    {
        ModelConfig c = ModelConfig::builtin("tiny", 2);
        auto w = std::make_shared<ModelWeights>(ModelWeights::synthetic(c, 1));
        InferenceEngine e(w, 3, UnitMode::Gqa);
        CpuTracer tracer;
        e.setTraceSink(&tracer);
        e.prefill(makePrompts(2, 40, c.vocabSize, 1), CompressionOptions{}, Placement::uniform(2, 8, 3, 2));
        StepTiming t0, t1;
        e.decodeStep({1, 2}, &t0);
        e.decodeStep({3, 4}, &t1);
        const RunAggregate a = aggregate(tracer.buffer(), 3);
        QCOMPARE(a.decodeSteps, 2);
        for (const auto& la : a.layers) {
            if (la.step < 0)
                continue;
            const StepTiming& t = la.step == 0 ? t0 : t1;
            for (int g = 0; g < 3; ++g) {
                QVERIFY(std::abs(la.attentionMs[size_t(g)] - t.attentionMs[size_t(la.layer)][size_t(g)]) < 1e-9);
                QVERIFY(std::abs(la.mlpMs[size_t(g)] - t.mlpMs[size_t(la.layer)][size_t(g)]) < 1e-9);
            }
            QVERIFY(std::abs(la.collectiveMs - t.collectiveMs[size_t(la.layer)]) < 1e-9);
        }
        // per-unit detail records carry their unit, and the sum of a rank's units fits in its attention op
        int unitRecords = 0;
        for (const auto& r : tracer.buffer().records)
            if (r.unit >= 0) {
                ++unitRecords;
                QCOMPARE(int(r.kind), int(RecordKind::Range));
                QVERIFY(r.rank >= 0 && r.layer >= 0);
            }
        QCOMPARE(unitRecords, 3 * 2 * 8); // passes x layers x units
    }

    // A pass run in sequential parts (prefill in groups of prompts) waits, in every part, for that
    // part's slowest rank: the composed time must not take the slowest of the per-rank sums.
    void sequentialPartsWaitForTheirSlowestRank()
    {
        StepTiming total, first, second;
        for (StepTiming* t : {&total, &first, &second})
            t->reset(1, 2);
        first.attentionMs[0] = {1.0, 3.0};
        first.mlpMs[0] = {2.0, 2.0};
        second.attentionMs[0] = {3.0, 1.0};
        second.mlpMs[0] = {1.0, 4.0};
        second.collectiveMs[0] = 0.5;
        total.addSequential(first);
        QCOMPARE(total.composedMs(), 5.0);
        total.addSequential(second);
        QCOMPARE(total.attentionMs[0], (std::vector<double>{4.0, 4.0})); // what each rank was busy
        QCOMPARE(total.mlpMs[0], (std::vector<double>{3.0, 6.0}));
        QCOMPARE(total.composedMs(), 3.0 + 2.0 + 3.0 + 4.0 + 0.5); // each part's slowest, then the collective
    }

    void chromeTrace()
    {
        TraceBuffer t;
        rec(t, "attention", 0, 0, 0, Phase::Attention, 1, 2);
        rec(t, "attention", 1, 0, 0, Phase::Attention, 1, 1);
        rec(t, "all_reduce", -1, 0, 0, Phase::Collective, 3, 0.25);
        t.dropped = 7;
        const auto doc = nlohmann::json::parse(chromeTraceJson(t, 2, "test run"));
        QVERIFY(doc.contains("traceEvents"));
        std::set<std::string> tracks;
        int durations = 0;
        for (const auto& e : doc["traceEvents"]) {
            if (e["ph"] == "M" && e["name"] == "thread_name")
                tracks.insert(e["args"]["name"].get<std::string>());
            if (e["ph"] == "X") {
                ++durations;
                QVERIFY(e["tid"].get<int>() >= 0 && e["tid"].get<int>() <= 2);
                QVERIFY(e["dur"].get<double>() > 0);
            }
        }
        QCOMPARE(tracks, (std::set<std::string>{"rank 0", "rank 1", "all ranks"}));
        QCOMPARE(durations, 3);
        QCOMPARE(doc["otherData"]["dropped_records"].get<int>(), 7);
    }

    // The report's charts count in round steps from 0 (a quarter of 110% of the highest bar had
    // given 0, 426, 852, 1278, 1705), with as many decimals as the step needs.
    void reportChartsHaveRoundTicks_data()
    {
        QTest::addColumn<double>("highest");
        QTest::addColumn<QStringList>("labels");
        QTest::newRow("tokens/s") << 1549.6 << QStringList{QStringLiteral("0"), QStringLiteral("500"), QStringLiteral("1000"), QStringLiteral("1500"), QStringLiteral("2000")};
        QTest::newRow("ms") << 0.793 << QStringList{QStringLiteral("0.0"), QStringLiteral("0.2"), QStringLiteral("0.4"), QStringLiteral("0.6"), QStringLiteral("0.8"), QStringLiteral("1.0")};
        QTest::newRow("fifths") << 1.1 << QStringList{QStringLiteral("0.0"), QStringLiteral("0.2"), QStringLiteral("0.4"), QStringLiteral("0.6"), QStringLiteral("0.8"), QStringLiteral("1.0"), QStringLiteral("1.2")};
        QTest::newRow("quarters") << 1.3 << QStringList{QStringLiteral("0.00"), QStringLiteral("0.25"), QStringLiteral("0.50"), QStringLiteral("0.75"), QStringLiteral("1.00"), QStringLiteral("1.25"), QStringLiteral("1.50")};
        QTest::newRow("nothing timed") << 0.0 << QStringList{QStringLiteral("0.00"), QStringLiteral("0.25"), QStringLiteral("0.50"), QStringLiteral("0.75"), QStringLiteral("1.00")};
    }
    void reportChartsHaveRoundTicks()
    {
        QFETCH(double, highest);
        QFETCH(QStringList, labels);
        Report report;
        for (double tps : {highest / 2, highest}) {
            StoredRun r;
            r.summary.id = int64_t(report.runs.size()) + 1;
            r.summary.tokensPerS = tps;
            r.result = {{"kv_len", {{{1, 2}}}}, {"rank_attention_ms", {{1.0, 2.0}}}, {"step_ms", {3.0}}};
            report.runs.push_back(r);
        }
        const std::string svg = report.charts().front().svg;
        std::vector<std::string> ticks; // the axis labels: right-aligned texts
        const std::string open = "text-anchor=\"end\">";
        for (size_t at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
            const size_t from = at + open.size();
            ticks.push_back(svg.substr(from, svg.find('<', from) - from));
        }
        QStringList got;
        for (const std::string& t : ticks)
            got << QString::fromStdString(t);
        QCOMPARE(got, labels);
    }

    // Runs of different rank counts side by side: a run has no bar for a rank it does not have
    // (it had one of 0.000 ms, read as a rank without attention).
    void reportChartsDrawNoBarForMissingRanks()
    {
        Report report;
        for (int ranks : {2, 4}) {
            StoredRun r;
            r.summary.id = int64_t(report.runs.size()) + 1;
            r.summary.tokensPerS = 100;
            r.result = {{"kv_len", {{{1, 2, 3, 4}}}}, {"rank_attention_ms", {std::vector<double>(size_t(ranks), 1.5)}}, {"step_ms", {3.0}}};
            report.runs.push_back(r);
        }
        const std::string svg = report.charts().at(1).svg;
        size_t bars = 0;
        for (size_t at = svg.find("<rect x="); at != std::string::npos; at = svg.find("<rect x=", at + 1))
            bars += svg.compare(svg.find('>', at) + 1, 7, "<title>") == 0; // bars carry a title; legend swatches do not
        QCOMPARE(bars, size_t(6));
        QVERIFY2(svg.find(": 0.000<") == std::string::npos, svg.c_str());
    }

    // What reaches a terminal, an HTML page or a CSV cell from a session: controls and the
    // bidirectional overrides become '?', bytes that are not UTF-8 U+FFFD, characters stay.
    void textShownAsWritten_data()
    {
        QTest::addColumn<QByteArray>("in");
        QTest::addColumn<QByteArray>("out");
        QTest::newRow("plain") << QByteArray("run 1") << QByteArray("run 1");
        QTest::newRow("escape and newline") << QByteArray("a\x1b[2J\nb") << QByteArray("a?[2J?b");
        QTest::newRow("C1 CSI") << QByteArray("a\xc2\x9b" "31m") << QByteArray("a?31m");
        QTest::newRow("right-to-left override") << QByteArray("abc\xe2\x80\xae" "def") << QByteArray("abc?def");
        QTest::newRow("isolate") << QByteArray("x\xe2\x81\xa6y") << QByteArray("x?y");
        QTest::newRow("line separator") << QByteArray("x\xe2\x80\xa8y") << QByteArray("x?y");
        QTest::newRow("latin-1 byte") << QByteArray("caf\xe9") << QByteArray("caf\xef\xbf\xbd");
        QTest::newRow("cut sequence") << QByteArray("\xe6\xa8") << QByteArray("\xef\xbf\xbd\xef\xbf\xbd");
        QTest::newRow("overlong slash") << QByteArray("\xc0\xaf") << QByteArray("\xef\xbf\xbd\xef\xbf\xbd");
        QTest::newRow("surrogate") << QByteArray("\xed\xa0\x80") << QByteArray("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
        QTest::newRow("wide and emoji kept") << QByteArray("\xe6\xa8\xa1\xf0\x9f\x98\x80") << QByteArray("\xe6\xa8\xa1\xf0\x9f\x98\x80");
    }
    void textShownAsWritten()
    {
        QFETCH(QByteArray, in);
        QFETCH(QByteArray, out);
        QCOMPARE(QByteArray::fromStdString(fairkv::withoutControls(in.toStdString(), '?')), out);
    }

    // A report of many runs stays on the page: tables of a column per run come in blocks, the
    // chart's legend grows with the runs and cuts long names, and every run says where its work
    // differs from the baseline's.
    void reportsOfManyRunsStayOnThePage()
    {
        Report report;
        for (int i = 0; i < 8; ++i) {
            StoredRun r;
            r.summary.id = i + 1;
            r.summary.placement = "uniform";
            r.summary.label = i == 7 ? std::string(120, 'x') : std::string();
            r.summary.timing = "measured";
            r.summary.tokensPerS = 100 + i;
            r.summary.budget = i == 3 ? 512 : 256;
            r.config = {{"budget", r.summary.budget}};
            r.result = {{"kv_len", {{{1, 2}}}}, {"rank_attention_ms", {{1.0, 2.0}}}, {"step_ms", {3.0}}};
            report.runs.push_back(r);
        }
        const std::string html = report.html();
        const auto count = [&](const std::string& what) {
            size_t n = 0;
            for (size_t at = html.find(what); at != std::string::npos; at = html.find(what, at + 1))
                ++n;
            return n;
        };
        QCOMPARE(count("<th class=\"l\">metric</th>"), size_t(2));  // runs 1-6, then 7-8
        QCOMPARE(count("<th class=\"l\">setting</th>"), size_t(2));
        QVERIFY(html.find("<td>budget</td>") != std::string::npos);      // run 4's other budget
        QCOMPARE(count("nothing: the same workload"), size_t(6));
        const std::string svg = report.charts().front().svg;
        QVERIFY2(svg.find("height=\"320\"") != std::string::npos, svg.substr(0, 200).c_str()); // 3 legend rows
        QVERIFY(svg.find(std::string(120, 'x')) != std::string::npos);  // whole in the bar's title
        QVERIFY(svg.find(std::string(30, 'x') + "…") == std::string::npos); // cut in the legend
        QVERIFY(svg.find("xxx…</text>") != std::string::npos);
        // The one cut for names, labels and legends never splits a character.
        QCOMPARE(cutUtf8("a\u00e9b", 2, "…"), std::string("a…"));
        QCOMPARE(cutUtf8("a\u00e9b", 3, "…"), std::string("a\u00e9…"));
        QCOMPARE(cutUtf8("a\u00e9b", 4), std::string("a\u00e9b"));
    }
};

QTEST_GUILESS_MAIN(TestAggregation)
#include "test_aggregation.moc"
