// The studio's views and window on the offscreen platform: item models under
// QAbstractItemModelTester, timeline coordinate maths, heatmap cells, a demo run from the run
// panel, cancelling, opening sessions and a corrupt session file.
#include "qcustomplot_include.h" // first: QCustomPlot needs foreach

#include "compare_view.h"
#include "cpu_tracer.h"
#include "gpu_load_view.h"
#include "kernel_stats_model.h"
#include "kv_heatmap_view.h"
#include "main_window.h"
#include "placement_editor.h"
#include "plot_export.h"
#include "run_panel.h"
#include "runs_model.h"
#include "report.h"
#include "runtime/run.h"
#include "session_store.h"
#include "test_util.h"
#include "time_axis.h"
#include "timeline_view.h"

#include <QAbstractItemModelTester>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>

#include <sqlite3.h>

#include <fstream>

using namespace fairkv;
using namespace fairkv::views;

namespace {

// 2 requests, 3 layers, 4 units with hand-picked lengths; placement: units 0-1 on rank 0,
// unit 2 on rank 1, unit 3 replicated on ranks 0 and 1.
StudioRun knownRun()
{
    StudioRun r;
    r.summary.id = 7;
    r.summary.ranks = 2;
    r.summary.placement = "hand-made";
    r.summary.timing = "emulated";
    nlohmann::json kv = nlohmann::json::array(), mass = nlohmann::json::array();
    for (int req = 0; req < 2; ++req) {
        nlohmann::json lk = nlohmann::json::array(), lm = nlohmann::json::array();
        for (int l = 0; l < 3; ++l) {
            nlohmann::json uk = nlohmann::json::array(), um = nlohmann::json::array();
            for (int u = 0; u < 4; ++u) {
                uk.push_back(10 * (l + 1) + u + 100 * req);
                um.push_back(0.1 * (u + 1) + 0.01 * l);
            }
            lk.push_back(uk);
            lm.push_back(um);
        }
        kv.push_back(lk);
        mass.push_back(lm);
    }
    nlohmann::json layers = nlohmann::json::array();
    for (int l = 0; l < 3; ++l)
        layers.push_back({{{"unit", 0}, {"replicas", {{{"rank", 0}, {"requests", {0, 1}}}}}},
                          {{"unit", 1}, {"replicas", {{{"rank", 0}, {"requests", {0, 1}}}}}},
                          {{"unit", 2}, {"replicas", {{{"rank", 1}, {"requests", {0, 1}}}}}},
                          {{"unit", 3}, {"replicas", {{{"rank", 0}, {"requests", {0}}}, {{"rank", 1}, {"requests", {1}}}}}}});
    r.result = {{"kv_len", kv}, {"attention_mass", mass}, {"placement", {{"layers", layers}}},
                {"rank_attention_ms", {{1.0, 2.0}, {1.5, 0.5}, {1.0, 1.0}}}, {"rank_mlp_ms", {{0.5, 0.5}, {0.5, 0.5}, {0.5, 0.5}}},
                {"collective_ms", {0.1, 0.1, 0.1}}, {"step_ms", {4.6, 4.4}}};
    return r;
}

fairkv::RunConfig smallRun(int decode = 3)
{
    fairkv::RunConfig c;
    c.model = "tiny";
    c.layers = 2;
    c.ranks = 2;
    c.batch = 2;
    c.promptLen = 80;
    c.decode = decode;
    c.compression.policy = CompressionPolicy::AdaSnapKV;
    c.compression.budget = 48;
    return c;
}

// A session file of `runs` runs of smallRun(), as a CLI on a GPU server writes one: the first a
// fresh run, each further one a re-run of it labelled "re-run".
void writeSmallRuns(const QString& file, int runs)
{
    profiler::CpuTracer tracer;
    const RunResult r = runInference(smallRun(), {}, nullptr, &tracer);
    auto s = profiler::SessionStore::open(file.toStdString(), profiler::SessionStore::Mode::ReadWrite);
    for (int i = 0; i < runs; ++i)
        s->appendRun(r, tracer.buffer(), profiler::Environment::detect(), i ? std::optional<int64_t>(1) : std::nullopt,
                     i ? "re-run" : "");
}

QMessageBox* errorDialog(QWidget* window)
{
    return window->findChild<QMessageBox*>(QStringLiteral("errorDialog"));
}

} // namespace

class TestViews : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void runsModelIsAValidModel()
    {
        RunsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        profiler::RunSummary a, b;
        a.id = 1;
        a.model = "tiny";
        b.id = 2;
        b.parent = 1;
        b.decode = 0; // timed nothing: its figures read n/a, not 0
        model.setRuns({a, b});
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.data(model.index(1, RunsModel::Parent), Qt::DisplayRole).toLongLong(), 1LL);
        QCOMPARE(model.data(model.index(1, RunsModel::Decode), Qt::DisplayRole).toInt(), 0);
        QCOMPARE(model.data(model.index(1, RunsModel::TokensPerS), Qt::DisplayRole).toString(), QStringLiteral("n/a"));
        QCOMPARE(model.data(model.index(1, RunsModel::Batch), Qt::DisplayRole).toString(), QStringLiteral("–")); // settings without one
        QCOMPARE(model.rowOf(2), 1);
        // A run whose stored settings cannot be read says so, with "?" for its settings.
        profiler::RunSummary c = a;
        c.id = 3;
        c.label = "baseline";
        c.settingsDamaged = true;
        model.setRuns({a, b, c});
        QCOMPARE(model.data(model.index(2, RunsModel::Budget), Qt::DisplayRole).toString(), QStringLiteral("?"));
        QCOMPARE(model.data(model.index(2, RunsModel::Label), Qt::DisplayRole).toString(), QStringLiteral("[settings damaged] baseline"));
        QVERIFY(!model.data(model.index(2, RunsModel::Label), Qt::ToolTipRole).toString().isEmpty());
        QCOMPARE(model.data(model.index(0, RunsModel::Budget), Qt::DisplayRole).toInt(), 0);
        model.setRuns({});
        QCOMPARE(model.rowCount(), 0);
    }

    void kernelStatsModel()
    {
        auto trace = std::make_shared<profiler::TraceBuffer>();
        const uint32_t a = trace->intern("a"), b = trace->intern("b");
        for (int i = 0; i < 4; ++i)
            trace->records.push_back({0, -1, 0, a, i * 1000, i * 1000 + (i + 1) * 100, 0, 0, -1, profiler::Phase::Attention, profiler::RecordKind::Op});
        trace->records.push_back({1, -1, 0, b, 500, 5500, 0, 0, -1, profiler::Phase::Mlp, profiler::RecordKind::Op});
        trace->records.push_back({1, -1, 0, b, 90000, 90100, 0, 0, -1, profiler::Phase::Mlp, profiler::RecordKind::Op});
        KernelStatsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setRange(trace, 0, 10000);
        QCOMPARE(model.rowCount(), 2);
        const auto& rows = model.rows();
        QCOMPARE(rows[0].name, QStringLiteral("b")); // sorted by total: 5 µs... b = 5000 ns, a = 1000 ns
        QCOMPARE(rows[0].count, 1);
        QCOMPARE(rows[1].count, 4);
        QCOMPARE(rows[1].totalMs, 0.001);
        QCOMPARE(rows[1].meanUs, 0.25);
        QCOMPARE(rows[1].medianUs, 0.25); // (200 + 300) / 2 ns
        // A prefill record of the same kernel is a row of its own.
        trace->records.push_back({0, -1, 0, a, 6000, 9000, -1, 0, -1, profiler::Phase::Attention, profiler::RecordKind::Op});
        model.setRange(trace, 0, 10000);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.rows()[1].name, QStringLiteral("a"));
        QVERIFY(model.rows()[1].prefill);
        QCOMPARE(model.rows()[1].count, 1);
        QCOMPARE(model.rows()[2].count, 4);
        QCOMPARE(model.data(model.index(1, KernelStatsModel::Phase), Qt::DisplayRole).toString(), QStringLiteral("prefill"));
    }

    void timelineTickLabels_data()
    {
        QTest::addColumn<double>("ns");
        QTest::addColumn<double>("step");
        QTest::addColumn<QString>("label");
        QTest::newRow("seconds") << 2e10 << 1e10 << QStringLiteral("20 s");
        QTest::newRow("milliseconds") << 2.5e6 << 1e6 << QStringLiteral("2.5 ms");
        QTest::newRow("microseconds") << 1500.0 << 1000.0 << QStringLiteral("1.5 µs");
        QTest::newRow("nanoseconds") << 20.0 << 10.0 << QStringLiteral("20 ns");
    }

    void timelineTickLabels()
    {
        QFETCH(double, ns);
        QFETCH(double, step);
        QFETCH(QString, label);
        QCOMPARE(TimelineView::tickLabel(ns, step), label);
    }

    void timelineOpensOnSteadySteps_data()
    {
        QTest::addColumn<QList<qint64>>("starts");
        QTest::addColumn<qint64>("opening");
        QTest::newRow("no steps") << QList<qint64>{} << qint64(INT64_MAX);
        QTest::newRow("one step") << QList<qint64>{7} << qint64(7);
        QTest::newRow("two steps") << QList<qint64>{7, 9000} << qint64(7);
        QTest::newRow("steady") << QList<qint64>{0, 10, 20, 30} << qint64(0);
        QTest::newRow("warm-up step") << QList<qint64>{0, 1000, 1010, 1020, 1030} << qint64(1000);
        QTest::newRow("two warm-up steps") << QList<qint64>{0, 500, 1500, 1510, 1520, 1530} << qint64(1500);
        QTest::newRow("placement moved mid-run") << QList<qint64>{0, 10, 20, 30, 5000, 5010, 5020} << qint64(5000);
        QTest::newRow("jitter is no pause") << QList<qint64>{0, 10, 25, 33, 48} << qint64(0);
    }

    void timelineOpensOnSteadySteps()
    {
        QFETCH(QList<qint64>, starts);
        QFETCH(qint64, opening);
        QCOMPARE(qint64(TimelineView::steadyDecodeStart(std::vector<int64_t>(starts.begin(), starts.end()))), opening);
    }

    void timeAxis_data()
    {
        QTest::addColumn<qint64>("start");
        QTest::addColumn<qint64>("end");
        QTest::addColumn<double>("width");
        QTest::addColumn<qint64>("t");
        QTest::addColumn<double>("x");
        QTest::newRow("origin") << qint64(0) << qint64(1000) << 100.0 << qint64(0) << 0.0;
        QTest::newRow("middle") << qint64(0) << qint64(1000) << 100.0 << qint64(500) << 50.0;
        QTest::newRow("offset") << qint64(5000) << qint64(7000) << 200.0 << qint64(6000) << 100.0;
        QTest::newRow("before window") << qint64(5000) << qint64(7000) << 200.0 << qint64(4000) << -100.0;
        QTest::newRow("ns per pixel 1e6") << qint64(0) << qint64(1000000000) << 1000.0 << qint64(250000000) << 250.0;
    }
    void timeAxis()
    {
        QFETCH(qint64, start);
        QFETCH(qint64, end);
        QFETCH(double, width);
        QFETCH(qint64, t);
        QFETCH(double, x);
        const TimeAxis a{start, end, width};
        QCOMPARE(a.toX(t), x);
        QCOMPARE(a.toTime(x), t);
    }

    void timeAxisZoomAndPan()
    {
        const TimeAxis a{0, 1000, 100.0};
        const TimeAxis z = a.zoomed(2.0, 25.0, 0, 1000);
        QCOMPARE(z.end - z.start, qint64(500));
        QCOMPARE(z.toTime(25.0), a.toTime(25.0)); // the time under the cursor stays put
        const TimeAxis out = z.zoomed(0.01, 50.0, 0, 1000);
        QCOMPARE(out.start, qint64(0));
        QCOMPARE(out.end, qint64(1000)); // never wider than the trace
        const TimeAxis tiny = a.zoomed(1e9, 50.0, 0, 1000, 100);
        QCOMPARE(tiny.end - tiny.start, qint64(100)); // never narrower than the minimum span
        const TimeAxis p = z.panned(-1000.0, 0, 1000);
        QCOMPARE(p.end, qint64(1000)); // clamped at the end
        QCOMPARE(z.panned(1000.0, 0, 1000).start, qint64(0));
    }

    void timelineFoldsSubPixelRecords()
    {
        auto trace = std::make_shared<profiler::TraceBuffer>();
        const uint32_t id = trace->intern("k");
        for (int i = 0; i < 200000; ++i)
            trace->records.push_back({i % 2, 0, 0, id, int64_t(i) * 100, int64_t(i) * 100 + 50, 0, 0, -1, profiler::Phase::Attention,
                                      profiler::RecordKind::Kernel});
        trace->records.push_back({0, 0, 0, id, 0, 10'000'000, 0, 0, -1, profiler::Phase::Mlp, profiler::RecordKind::Kernel});
        TimelineView view;
        view.resize(480, 200);
        view.setTrace(trace, 2);
        QCOMPARE(view.lanes(), 3);
        QImage image(view.size(), QImage::Format_ARGB32_Premultiplied);
        view.renderTo(image);
        // 400 plot pixels: at most one mark per pixel column and row, plus the one long record.
        QVERIFY2(view.lastDrawnMarks() <= 2 * 401 + 1, qPrintable(QString::number(view.lastDrawnMarks())));
        QVERIFY(view.lastDrawnMarks() > 400);
        view.setWindow(0, 1000); // 10 records wide on 400 px: every record is its own mark
        view.renderTo(image);
        QVERIFY(view.lastDrawnMarks() >= 6);
        QSignalSpy range(&view, &TimelineView::rangeSelected);
        view.selectRange(600, 200);
        QCOMPARE(view.selection(), std::make_pair(int64_t(200), int64_t(600)));
        QCOMPARE(range.count(), 1);
    }

    void heatmapShowsKnownValuesAtTheRightCells()
    {
        KvHeatmapView view;
        view.resize(800, 600);
        view.setRun(knownRun());
        QCPColorMap* map = nullptr;
        for (int i = 0; i < view.plot()->plottableCount(); ++i)
            if (auto* m = qobject_cast<QCPColorMap*>(view.plot()->plottable(i)))
                map = m;
        QVERIFY(map);
        QCOMPARE(map->data()->keySize(), 4);   // units along x
        QCOMPARE(map->data()->valueSize(), 3); // layers along y
        for (int l = 0; l < 3; ++l)
            for (int u = 0; u < 4; ++u) {
                const double mean = (10.0 * (l + 1) + u + 10.0 * (l + 1) + u + 100) / 2;
                QCOMPARE(view.cellValue(l, u), mean);
                QCOMPARE(map->data()->cell(u, l), mean);
            }
        view.setMetric(KvHeatmapView::Metric::RequestTokens, 1);
        QCOMPARE(view.cellValue(2, 3), 133.0);
        view.setMetric(KvHeatmapView::Metric::AttentionMass);
        QVERIFY(std::abs(view.cellValue(1, 2) - 0.31) < 1e-12);
        view.setMetric(KvHeatmapView::Metric::LayerShare);
        double share = 0;
        for (int u = 0; u < 4; ++u)
            share += view.cellValue(0, u);
        QVERIFY(std::abs(share - 100.0) < 1e-9);
        view.setLogScale(true);
        QCOMPARE(map->colorScale()->dataScaleType(), QCPAxis::stLogarithmic);
        // Placement labels: dark on the brightest cell, light on the darkest (on the log scale too).
        std::pair<int, int> hiCell{0, 0}, loCell{0, 0};
        for (int l = 0; l < 3; ++l)
            for (int u = 0; u < 4; ++u) {
                if (view.cellValue(l, u) > view.cellValue(hiCell.first, hiCell.second))
                    hiCell = {l, u};
                if (view.cellValue(l, u) < view.cellValue(loCell.first, loCell.second))
                    loCell = {l, u};
            }
        auto labelColour = [&](std::pair<int, int> cell) {
            for (int i = 0; i < view.plot()->itemCount(); ++i)
                if (auto* t = qobject_cast<QCPItemText*>(view.plot()->item(i));
                    t && t->property("overlay").toBool() && t->position->coords() == QPointF(cell.second, cell.first))
                    return t->color();
            return QColor();
        };
        QVERIFY(labelColour(hiCell).isValid() && labelColour(hiCell).lightnessF() < 0.3);
        QVERIFY(labelColour(loCell).isValid() && labelColour(loCell).lightnessF() > 0.7);

        // Hover names layer, unit and the ranks holding it, click selects and explains.
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        view.plot()->replot();
        const QPoint cell(int(view.plot()->xAxis->coordToPixel(3)), int(view.plot()->yAxis->coordToPixel(2)));
        const QString tip = view.tooltipAt(cell);
        QVERIFY2(tip.contains(QStringLiteral("layer 2, unit 3")), qPrintable(tip));
        QVERIFY2(tip.contains(QStringLiteral("rank 0+1")), qPrintable(tip));
        // The value in the metric's unit and the details line's decimals (a share: a tenth of a percent).
        QVERIFY2(tip.endsWith(QLocale().toString(view.cellValue(2, 3), 'f', 1) + QStringLiteral(" %")), qPrintable(tip));
        view.setMetric(KvHeatmapView::Metric::AttentionMass);
        QVERIFY(view.tooltipAt(cell).endsWith(QLocale().toString(view.cellValue(2, 3), 'f', 3)));
        QSignalSpy selected(&view, &KvHeatmapView::unitSelected);
        QTest::mouseClick(view.plot(), Qt::LeftButton, {}, cell);
        QCOMPARE(selected.count(), 1);
        QCOMPARE(view.selectedCell().value(), std::make_pair(2, 3));
        QVERIFY(view.selectionDetails().contains(QStringLiteral("rank 1 serves requests 1")));
    }

    void compareViewShowsSpeedupAndDifferences()
    {
        CompareView view;
        StudioRun a = knownRun(), b = knownRun();
        b.summary.id = 8;
        a.summary.tokensPerS = 100;
        b.summary.tokensPerS = 125;
        // b keeps 5 more tokens in layer 1, unit 2 of request 0 and has a slower rank 1 in layer 0
        b.result["kv_len"][0][1][2] = b.result["kv_len"][0][1][2].get<int>() + 5;
        b.result["rank_attention_ms"][0][1] = 2.5;
        b.summary.decode = 9; // other work: the table says so
        view.setRuns({a, b});
        QCOMPARE(view.speedup(1), 1.25);
        QCOMPARE(view.table()->columnCount(), 2);
        QCOMPARE(view.table()->item(3, 1)->text(), QLocale().toString(1.25, 'f', 3) + QStringLiteral("×"));
        int differs = -1;
        for (int row = 0; row < view.table()->rowCount(); ++row)
            if (view.table()->verticalHeaderItem(row)->text() == QStringLiteral("Differs from the baseline in"))
                differs = row;
        QVERIFY(differs >= 0);
        QCOMPARE(view.table()->item(differs, 1)->text(), QStringLiteral("decode steps"));
        QCOMPARE(view.table()->item(differs, 0)->text(), QStringLiteral("–"));
        QCOMPARE(view.deltaRows(), 3);
        QCOMPARE(view.deltaCell(1, 2), 5.0);
        QVERIFY(std::isnan(view.deltaCell(0, 0))); // equal: hidden
        view.setThreshold(6.0);
        QVERIFY(std::isnan(view.deltaCell(1, 2)));
        view.setThreshold(0.0);
        view.setMetric(CompareView::Metric::RankAttentionMs);
        QCOMPARE(view.deltaCell(0, 1), 0.5);
        view.setBaseline(1); // now a minus b
        view.setCompared(0);
        QCOMPARE(view.deltaCell(0, 1), -0.5);
        QCOMPARE(view.speedup(0), 0.8);
        QTemporaryDir dir;
        QVERIFY(view.exportPlot(dir.filePath(QStringLiteral("d.svg"))));
        QVERIFY(view.exportPlot(dir.filePath(QStringLiteral("d.png"))));
        QVERIFY(!view.exportPlot(dir.filePath(QStringLiteral("d.bmp"))));
        QVERIFY(view.lastError().contains(QStringLiteral(".png or .svg")));
        // every plot has the export action, and the timeline (painted by hand) exports too
        QCOMPARE(view.plot()->actions().size(), 1);
        TimelineView timeline;
        timeline.resize(400, 200);
        QVERIFY(exportWidget(&timeline, dir.filePath(QStringLiteral("t.svg"))).isEmpty());
        QVERIFY(QFileInfo(dir.filePath(QStringLiteral("t.svg"))).size() > 0);
        QFile svg(dir.filePath(QStringLiteral("d.svg")));
        QVERIFY(svg.open(QIODevice::ReadOnly));
        QVERIFY(svg.readAll().contains("<svg"));
        QVERIFY(QImage(dir.filePath(QStringLiteral("d.png"))).width() > 0);
    }

    // Rank labels that do not fit their cell shrink ("×4" for four replicas), and the map says
    // when it leaves labels out (64 ranks had run across their neighbours; 2048 cells lost them
    // without a word).
    void placementLabelsFitTheirCells()
    {
        StudioRun run = knownRun();
        for (auto& layer : run.result["placement"]["layers"])
            layer[3]["replicas"] = {{{"rank", 12}, {"requests", {0}}}, {{"rank", 13}, {"requests", {1}}},
                                    {{"rank", 14}, {"requests", nlohmann::json::array()}},
                                    {{"rank", 15}, {"requests", nlohmann::json::array()}}};
        KvHeatmapView view;
        view.resize(300, 320);
        view.setRun(run);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        const auto labelAt = [&](int layer, int unit) {
            for (int i = 0; i < view.plot()->itemCount(); ++i)
                if (auto* t = qobject_cast<QCPItemText*>(view.plot()->item(i));
                    t && t->property("overlay").toBool() && t->position->coords() == QPointF(unit, layer))
                    return t->text();
            return QString();
        };
        QTRY_COMPARE(labelAt(1, 3), QStringLiteral("×4"));
        QCOMPARE(view.overlayLabels(), 12);
        QVERIFY(view.overlayNote().isEmpty());
        view.resize(1400, 700);
        QTRY_COMPARE(labelAt(1, 3), QStringLiteral("r12+13+14+15"));
        QCOMPARE(labelAt(1, 2), QStringLiteral("r1"));
        view.plot()->setFixedHeight(90); // rows of a few pixels: no label, and a note that says why
        QTRY_COMPARE(view.overlayLabels(), 0);
        QVERIFY2(view.overlayNote().contains(QStringLiteral("12 cell")) && view.overlayNote().contains(QStringLiteral("too small")),
                 qPrintable(view.overlayNote()));

        // 33 layers x 32 units: past the label limit, said so.
        StudioRun big;
        big.summary.id = 9;
        nlohmann::json kv = nlohmann::json::array({nlohmann::json::array()});
        nlohmann::json layers = nlohmann::json::array();
        for (int l = 0; l < 33; ++l) {
            kv[0].push_back(std::vector<int>(32, 10 + l));
            nlohmann::json units = nlohmann::json::array();
            for (int u = 0; u < 32; ++u)
                units.push_back({{"unit", u}, {"replicas", {{{"rank", u / 4}, {"requests", {0}}}}}});
            layers.push_back(units);
        }
        big.result = {{"kv_len", kv}, {"attention_mass", kv}, {"placement", {{"layers", layers}}}};
        view.setRun(big);
        QCOMPARE(view.overlayLabels(), 0);
        QVERIFY2(view.overlayNote().contains(QStringLiteral("too many")), qPrintable(view.overlayNote()));
        view.setOverlay(false);
        QVERIFY(view.overlayNote().isEmpty());
    }

    // One layer (or one unit) is still drawn: a colour map with a zero-width range draws nothing.
    void singleLayerHeatmapsAreDrawn()
    {
        StudioRun run = knownRun();
        auto firstLayer = [](nlohmann::json& layers) { layers = nlohmann::json::array({layers[0]}); };
        for (auto* key : {"kv_len", "attention_mass"})
            for (auto& request : run.result[key])
                firstLayer(request); // keep layer 0 only
        firstLayer(run.result["placement"]["layers"]);
        KvHeatmapView view;
        view.resize(600, 400);
        view.setRun(run);
        view.plot()->replot();
        const QImage image = view.plot()->toPixmap(600, 400).toImage();
        const QPoint centre(int(view.plot()->xAxis->coordToPixel(1)), int(view.plot()->yAxis->coordToPixel(0)));
        const QColor c = image.pixelColor(centre); // a viridis colour, never a grey of the frame or grid
        QVERIFY2(c.red() != c.green() || c.green() != c.blue(), qPrintable(c.name()));
    }

    void gpuLoadComparesRuns()
    {
        GpuLoadView view;
        StudioRun a = knownRun(), b = knownRun();
        b.summary.id = 8;
        a.summary.tokensPerS = 100;
        b.summary.tokensPerS = 150;
        view.setRuns({a, b});
        QCOMPARE(view.barCount(), 6); // attention, MLP, collectives per run
        QVERIFY(view.summaryText().contains(QStringLiteral("1.500×")));
        QVERIFY(view.summaryText().contains(QStringLiteral("emulated")));
        QVERIFY(view.summaryText().contains(QStringLiteral("modelled")));
        QCOMPARE(profiler::rankTotals(a.result, "rank_attention_ms"), (std::vector<double>{3.5, 3.5}));
        // Waits: 2 - 1.5, 1.5 - 1 and 0 over the three layers; one copy of unit 3 per layer.
        QCOMPARE(profiler::attentionWaitMs(a.result), 1.0);
        QCOMPARE(profiler::extraReplicas(a.result), 3);
        // Without a timed decode step the per-rank tables hold zeros: they read as not timed.
        StudioRun untimed = knownRun();
        untimed.result["step_ms"] = nlohmann::json::array();
        QVERIFY(std::isnan(profiler::attentionWaitMs(untimed.result)));
        QVERIFY(std::isnan(profiler::rankTotals(untimed.result, "rank_attention_ms")[0]));
        QVERIFY(std::isnan(profiler::attentionCriticalMs(untimed.result)));
        QVERIFY(!profiler::speedupOver(150, std::numeric_limits<double>::infinity())); // a damaged baseline: no speedup
        QVERIFY(!profiler::speedupOver(150, std::nan("")));
        // Runs that did other work than the first are named so, with what differs.
        StudioRun unlike = knownRun();
        unlike.summary.budget += 64;
        unlike.summary.promptLen += 100;
        QCOMPARE(profiler::unlikeWork(a.summary, a.result, unlike.summary, unlike.result),
                 (std::vector<std::string>{"budget", "prompt length"}));
        QVERIFY(profiler::unlikeWork(a.summary, a.result, knownRun().summary, knownRun().result).empty());
        StudioRun uncompressed = knownRun(), otherBudget = knownRun(); // a budget nothing was compressed to
        uncompressed.summary.compress = otherBudget.summary.compress = "none";
        otherBudget.summary.budget = 4096;
        QVERIFY(profiler::unlikeWork(uncompressed.summary, uncompressed.result, otherBudget.summary, otherBudget.result).empty());
        // Titles carry the user's label, shortened; without a placement record no dangling separator.
        StudioRun labelled = knownRun();
        labelled.summary.label = "long label that tells the runs apart";
        const QChar in(0x2068), out(0x2069); // each session text isolated, so right-to-left text stays in its place
        QCOMPARE(labelled.title(), QStringLiteral("run 7 · ") + in + QStringLiteral("hand-made") + out + QStringLiteral(" · ") + in
                                       + QStringLiteral("long label that tells t…") + out);
        // A long hand-made placement name is shortened too (it had widened the window to 3252 px),
        // and a label's own bidi override is dropped.
        labelled.summary.placement = std::string(200, 'x');
        labelled.summary.label = "\u202eevil";
        QCOMPARE(labelled.title(), QStringLiteral("run 7 · ") + in + QString(31, QLatin1Char('x')) + QChar(0x2026) + out
                                       + QStringLiteral(" · ") + in + QStringLiteral("evil") + out);
        labelled.summary.label.clear();
        labelled.summary.placement.clear();
        QCOMPARE(labelled.title(), QStringLiteral("run 7"));
        QVERIFY2(view.summaryText().contains(QLocale().toString(1.0, 'f', 3) + QStringLiteral(" ms per step for each layer")),
                 qPrintable(view.summaryText()));
        QVERIFY(view.summaryText().contains(QStringLiteral("3 unit copies")));
        QVERIFY(view.untimedNote().isEmpty());
        view.setMode(GpuLoadView::Mode::PerLayer);
        QCOMPARE(view.barCount(), 4); // one line per rank per run
        view.setRuns({a, untimed}); // a prefill-only run's empty bars are explained on the plot
        QVERIFY2(view.untimedNote().contains(untimed.title()) && view.untimedNote().contains(QStringLiteral("no decode step timed")),
                 qPrintable(view.untimedNote()));
        view.setRuns({a});
        QVERIFY(view.untimedNote().isEmpty());
    }

    void demoRunFromTheRunPanelFillsEveryView()
    {
        MainWindow w;
        w.show();
        w.runPanel()->setConfig(smallRun());
        QSignalSpy done(w.jobs(), &RunJobTracker::finished);
        QSignalSpy partial(w.jobs(), &RunJobTracker::partial);
        QTest::mouseClick(w.runPanel()->runButton(), Qt::LeftButton);
        QVERIFY(!w.runPanel()->runButton()->isEnabled());
        QVERIFY(done.wait(120000));
        QVERIFY2(partial.count() >= 1, "results should stream in before the run ends (after prefill at least)");
        QTRY_COMPARE(w.runsModel()->rowCount(), 1);
        QVERIFY(w.currentRun().valid());
        QCOMPARE(w.heatmap()->cellValue(0, 0), w.heatmap()->cellValue(0, 0)); // not NaN: the heatmap has data
        QVERIFY(w.gpuLoad()->barCount() > 0);
        QCOMPARE(w.timeline()->lanes(), 3); // 2 ranks + all ranks
        QVERIFY(w.kernelStats()->rowCount() > 0);
        QVERIFY(w.runPanel()->statusText().contains(QStringLiteral("saved as run 1")));
        QVERIFY(w.runPanel()->runButton()->isEnabled());
    }

    // Issue 7: edit the finished run's placement (with undo/redo), re-run it live; the new run is
    // stored with its parent, shown next to it, and decodes the same tokens.
    void editorEditsAndRerunsLive()
    {
        MainWindow w;
        w.show();
        fairkv::RunConfig c = smallRun(4);
        c.ranks = 3;
        c.batch = 3;
        QSignalSpy done(w.jobs(), &RunJobTracker::finished);
        w.startRun(c);
        QVERIFY(done.wait(120000));
        QTRY_COMPARE(w.runsModel()->rowCount(), 1);
        PlacementEditor* e = w.placementEditor();
        QVERIFY(e->isEnabled());
        QCOMPARE(e->placement().ranks, 3);
        QCOMPARE(e->rankMs().size(), size_t(3));
        QVERIFY(e->lowerBoundMs() > 0);
        const fairkv::Placement original = e->placement();
        QVERIFY(e->moveReplica(0, 0, 2));
        QCOMPARE(e->placement().layers[0][0].replicas[0].rank, 2);
        QVERIFY(e->addReplica(5, 0, {1}));
        QCOMPARE(e->placement().layers[0][5].replicas.size(), size_t(2));
        QVERIFY(!e->removeReplica(1, 0)); // the only replica
        QVERIFY(e->lastError().contains(QStringLiteral("only replica")));
        QVERIFY(e->copyLayerToAll());
        QCOMPARE(e->placement().layers[1][5].replicas.size(), size_t(2));
        e->undoStack()->undo();
        e->undoStack()->undo();
        e->undoStack()->undo();
        QCOMPARE(e->placement().toJson(), original.toJson());
        // Undone back to the run's own placement: a re-run stores its name, not "edited".
        QCOMPARE(e->rerunName(), QString::fromStdString(w.currentRun().summary.placement));
        QVERIFY(e->rerunName() != QStringLiteral("edited"));
        e->undoStack()->redo();
        e->undoStack()->redo();
        e->undoStack()->redo();
        QCOMPARE(e->placement().layers[1][5].replicas.size(), size_t(2));

        // every layer at once (replicas matched by rank), and no undo step for an edit that changes nothing
        const int steps = e->undoStack()->count();
        const int rankOf2 = e->placement().layers[0][2].replicas[0].rank;
        QVERIFY(e->moveReplica(2, 0, rankOf2));
        QCOMPARE(e->undoStack()->count(), steps);
        e->setEditAllLayers(true);
        QVERIFY(e->moveReplica(2, 0, (rankOf2 + 1) % 3));
        QCOMPARE(e->placement().layers[0][2].replicas[0].rank, (rankOf2 + 1) % 3);
        QCOMPARE(e->placement().layers[1][2].replicas[0].rank, (rankOf2 + 1) % 3);
        e->undoStack()->undo();
        QCOMPARE(e->placement().layers[1][2].replicas[0].rank, rankOf2);
        e->setEditAllLayers(false);

        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("p.json"));
        QVERIFY(e->saveFile(file));
        QVERIFY(e->startFrom(QStringLiteral("fairkv-assign")));
        // The editor's plan is not the run's planner's (whole-run stats, default options): "edited",
        // unless it happens to be the run's own placement (the plan follows measured times).
        QCOMPARE(e->rerunName(), e->placement().toJson().at("layers") == original.toJson().at("layers")
                                     ? QString::fromStdString(w.currentRun().summary.placement)
                                     : QStringLiteral("edited"));
        // The Use button plans on a worker thread: the same plan arrives as one undo step, and a plan
        // that ends after another run was chosen is dropped.
        const nlohmann::json planned = e->placement().toJson();
        QVERIFY(e->startFrom(QStringLiteral("uniform")));
        QSignalSpy planned1(e, &PlacementEditor::planFinished);
        const int before = e->undoStack()->count();
        e->startFromInBackground(QStringLiteral("fairkv-assign"));
        QVERIFY(e->planning());
        QVERIFY(planned1.wait(60000));
        QCOMPARE(planned1.takeFirst().at(0).toBool(), true);
        QVERIFY(!e->planning());
        QCOMPARE(e->placement().toJson(), planned);
        QCOMPARE(e->undoStack()->count(), before + 1);
        e->startFromInBackground(QStringLiteral("fairkv-copy"));
        e->setRun(w.currentRun(), true); // the plan now ends for a run no longer shown
        const nlohmann::json reopened = e->placement().toJson();
        QVERIFY(planned1.wait(60000));
        QCOMPARE(planned1.takeFirst().at(0).toBool(), false);
        QCOMPARE(e->placement().toJson(), reopened);
        QCOMPARE(e->undoStack()->count(), 0);
        QVERIFY(e->startFrom(QStringLiteral("uniform")));
        QVERIFY(e->loadFile(file));
        QCOMPARE(e->placement().layers[1][5].replicas.size(), size_t(2));

        const int64_t parent = w.liveRunId();
        QCOMPARE(parent, int64_t(1));
        QCOMPARE(e->rerunName(), QStringLiteral("edited"));
        w.rerun(e->placement(), e->rerunName());
        QVERIFY(done.wait(120000));
        QTRY_COMPARE(w.runsModel()->rowCount(), 2);
        auto store = profiler::SessionStore::open(w.sessionPath().toStdString(), profiler::SessionStore::Mode::ReadOnly);
        const auto child = store->loadRun(2);
        QVERIFY(child.summary.parent.has_value());
        QCOMPARE(*child.summary.parent, parent);
        QCOMPARE(child.result.at("tokens"), store->loadRun(1).result.at("tokens"));
        QCOMPARE(child.result.at("placement").at("layers")[1][5].at("replicas").size(), size_t(2));
        QCOMPARE(w.gpuLoad()->runCount(), 2); // shown next to its parent

        // A second window on the same session has no engine loaded: re-running run 1 prefills again.
        {
            MainWindow other;
            QVERIFY(other.openSession(w.sessionPath()));
            other.showRuns({1});
            QCOMPARE(other.placementEditor()->runId(), int64_t(1));
            QSignalSpy otherDone(other.jobs(), &RunJobTracker::finished);
            other.rerun(e->placement(), QStringLiteral("edited"));
            QVERIFY(otherDone.wait(120000));
            QTRY_COMPARE(other.runsModel()->rowCount(), 3);
            auto check = profiler::SessionStore::open(w.sessionPath().toStdString(), profiler::SessionStore::Mode::ReadOnly);
            const auto fresh = check->loadRun(3);
            QCOMPARE(*fresh.summary.parent, int64_t(1));
            QCOMPARE(fresh.result.at("tokens"), check->loadRun(1).result.at("tokens"));
            QCOMPARE(other.liveRunId(), int64_t(1)); // its engine is loaded now: the next re-run is live
            QVERIFY(other.jobs()->hasLiveRun());
        }

        // File ▸ Export Comparison Report on the two runs shown
        QVERIFY(w.exportReport(dir.filePath(QStringLiteral("r.pdf"))));
        QFile pdf(dir.filePath(QStringLiteral("r.pdf")));
        QVERIFY(pdf.open(QIODevice::ReadOnly) && pdf.read(5) == "%PDF-");
        QVERIFY(w.exportReport(dir.filePath(QStringLiteral("r.html"))));
        QFile html(dir.filePath(QStringLiteral("r.html")));
        QVERIFY(html.open(QIODevice::ReadOnly) && html.readAll().contains("run 2 · edited"));
    }

    void settingsChooseTheDefaultBackend()
    {
        QSettings().setValue(QStringLiteral("defaultBackend"), QStringLiteral("cpu"));
        RunPanel panel;
        QCOMPARE(panel.config().backend, std::string("cpu"));
        QSettings().setValue(QStringLiteral("defaultBackend"), QStringLiteral("cuda")); // not in this build: stays on CPU
        RunPanel fallback;
        QCOMPARE(fallback.config().backend, std::string("cpu"));
        QSettings().remove(QStringLiteral("defaultBackend"));
    }

    void cancelStopsTheRunAndKeepsTheSession()
    {
        MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        w.startRun(smallRun());
        QSignalSpy done(w.jobs(), &RunJobTracker::finished);
        QVERIFY(done.wait(120000));
        fairkv::RunConfig slow = smallRun(8000); // within tiny's 8192 positions, seconds of decoding
        QSignalSpy cancelled(w.jobs(), &RunJobTracker::cancelled);
        QSignalSpy progress(w.jobs(), &RunJobTracker::progress);
        w.startRun(slow);
        QTRY_VERIFY_WITH_TIMEOUT(progress.count() > 3, 60000);
        QTest::mouseClick(w.runPanel()->cancelButton(), Qt::LeftButton);
        QVERIFY(cancelled.wait(60000));
        QCOMPARE(w.runsModel()->rowCount(), 1);
        QVERIFY(w.runPanel()->statusText().contains(QStringLiteral("Cancelled")));
        w.startRun(smallRun());
        QVERIFY(done.wait(120000));
        QTRY_COMPARE(w.runsModel()->rowCount(), 2);
    }

    void failedRunShowsItsErrorAndKeepsTheSession()
    {
        MainWindow w;
        fairkv::RunConfig bad = smallRun();
        bad.model = "/no/such/checkpoint";
        QSignalSpy failed(w.jobs(), &RunJobTracker::failed);
        w.startRun(bad);
        QVERIFY(failed.wait(60000));
        QVERIFY(w.lastError().contains(QStringLiteral("/no/such/checkpoint")));
        QVERIFY(errorDialog(&w));
        QCOMPARE(w.runsModel()->rowCount(), 0);
    }

    void openingASessionFillsTheViews()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("gpu-server.fkv"));
        writeSmallRuns(file, 2);
        MainWindow w;
        QVERIFY(w.openSession(file));
        QCOMPARE(w.runsModel()->rowCount(), 2);
        QCOMPARE(w.currentRun().summary.id, int64_t(2));
        QCOMPARE(w.heatmap()->cellValue(1, 7), w.heatmap()->cellValue(1, 7));
        QCOMPARE(w.timeline()->lanes(), 3);
        w.showRuns({1, 2});
        QCOMPARE(w.gpuLoad()->barCount(), 6);
        QVERIFY(w.sessionPath().endsWith(QStringLiteral("gpu-server.fkv")));
        // Save As writes a copy that opens with the same runs.
        const QString copy = dir.filePath(QStringLiteral("copy.fkv"));
        QVERIFY(w.saveSessionAs(copy));
        QCOMPARE(w.runsModel()->rowCount(), 2);
    }

    // A session whose only run cannot be read: the window names the run and shows nothing of it
    // (drawing the views of no run had thrown from a resize handler: --screenshots aborted).
    void sessionWithOnlyADamagedRunOpensEmpty()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("damaged.fkv"));
        writeSmallRuns(file, 1);
        sqlite3* db = nullptr;
        QCOMPARE(sqlite3_open(file.toLocal8Bit().constData(), &db), SQLITE_OK);
        QCOMPARE(sqlite3_exec(db, "UPDATE runs SET result_json='{'", nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(db);
        MainWindow w;
        w.resize(1400, 900);
        w.openSession(file);
        w.showRuns({1});
        QVERIFY(w.lastError().contains(QStringLiteral("run 1 has a damaged result record")));
        QVERIFY(!w.grab().isNull()); // every view laid out and drawn for no run
        QCOMPARE(w.gpuLoad()->barCount(), 0);
    }

    void viewingASessionWritesNothingUntilARunIsSaved()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("colleague.fkv"));
        writeSmallRuns(file, 1);
        // In rollback-journal mode (header bytes 18 and 19 are 1), as sessions written by other
        // SQLite tools are: a window that opened it for writing switched it to WAL mode.
        const auto bytes = [&] {
            QFile f(file);
            return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
        };
        QByteArray data = bytes();
        QVERIFY(data.size() > 100 && data[18] == 2 && data[19] == 2);
        data[18] = data[19] = 1;
        {
            QFile f(file);
            QVERIFY(f.open(QIODevice::WriteOnly));
            QCOMPARE(f.write(data), qint64(data.size()));
        }
        {
            MainWindow w;
            QVERIFY(w.openSession(file));
            w.showRuns({1});
            QVERIFY(!w.windowTitle().contains(QStringLiteral("read-only")));
            QCOMPARE(bytes(), data);
        }
        QCOMPARE(bytes(), data);
        QVERIFY(!QFileInfo::exists(file + QStringLiteral("-wal")));
        // A run saves into it: the window reopens the file for writing before the run starts.
        MainWindow w;
        QVERIFY(w.openSession(file));
        QSignalSpy done(w.jobs(), &RunJobTracker::finished);
        w.startRun(smallRun());
        QVERIFY(done.wait(120000));
        QTRY_COMPARE(w.runsModel()->rowCount(), 2);
        QVERIFY2(w.lastError().isEmpty(), qPrintable(w.lastError()));
        QCOMPARE(profiler::SessionStore::open(file.toStdString(), profiler::SessionStore::Mode::ReadOnly)->listRuns().size(), size_t(2));
    }

    // HeadKV from the run panel: its score file is read when the run starts (HeadKV's own
    // {"layer-head": ...} files too); without one, the run is refused before it starts.
    void headKvRunsWithTheChosenScoreFile()
    {
        QTemporaryDir dir;
        MainWindow w;
        fairkv::RunConfig c = smallRun();
        c.compression.policy = CompressionPolicy::HeadKV;
        w.startRun(c);
        QVERIFY2(w.lastError().contains(QStringLiteral("choose a head score file")), qPrintable(w.lastError()));
        QCOMPARE(w.runsModel()->rowCount(), 0);
        nlohmann::json scores;
        for (int l = 0; l < 4; ++l) // the tiny shape's 4 layers of 16 query heads
            for (int h = 0; h < 16; ++h)
                scores[std::to_string(l) + "-" + std::to_string(h)] = {0.1 + 0.05 * ((l * 5 + h * 3) % 7)};
        const QString file = dir.filePath(QStringLiteral("heads.json"));
        std::ofstream(file.toStdString()) << scores.dump();
        w.runPanel()->setHeadScoresFile(file);
        QSignalSpy done(w.jobs(), &RunJobTracker::finished);
        w.startRun(c);
        QVERIFY(done.wait(120000));
        QTRY_COMPARE(w.runsModel()->rowCount(), 1);
        QCOMPARE(QString::fromStdString(w.currentRun().result.at("config").at("compress").get<std::string>()), QStringLiteral("headkv"));
    }

    void corruptSessionShowsAnErrorAndKeepsTheOpenOne()
    {
        QTemporaryDir dir;
        const QString bad = dir.filePath(QStringLiteral("bad.fkv"));
        std::ofstream(bad.toStdString()) << std::string(8192, 'q');
        MainWindow w;
        w.show();
        w.startRun(smallRun());
        QSignalSpy done(w.jobs(), &RunJobTracker::finished);
        QVERIFY(done.wait(120000));
        QTRY_COMPARE(w.runsModel()->rowCount(), 1);
        const QString before = w.sessionPath();
        QVERIFY(!w.openSession(bad));
        QVERIFY(errorDialog(&w));
        QVERIFY2(w.lastError().contains(QStringLiteral("not a FairKV session")), qPrintable(w.lastError()));
        QCOMPARE(w.sessionPath(), before);
        QCOMPARE(w.runsModel()->rowCount(), 1);
        // An empty file is refused and stays empty (opened for writing it had become a session).
        const QString empty = dir.filePath(QStringLiteral("empty.fkv"));
        QVERIFY(QFile(empty).open(QIODevice::WriteOnly));
        QVERIFY(!w.openSession(empty));
        QVERIFY2(w.lastError().contains(QStringLiteral("the file is empty")), qPrintable(w.lastError()));
        QCOMPARE(QFileInfo(empty).size(), qint64(0));
        QCOMPARE(w.sessionPath(), before);
    }
};

QTEST_MAIN(TestViews)
#include "test_views.moc"
