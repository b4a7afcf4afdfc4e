// GUI benchmark (issues 5 and 7): heatmap redraw of 80 x 64 cells, timeline panning over one
// million records, the placement editor and the compare view at 80 layers x 64 units x 8 ranks,
// and opening a 1M-record session into the views. Offscreen platform; writes docs/gui-benchmark.md.
#include "qcustomplot_include.h" // first: QCustomPlot needs foreach

#include "compare_view.h"
#include "kv_heatmap_view.h"
#include "placement_editor.h"
#include "main_window.h"
#include "runtime/run.h"
#include "session_store.h"
#include "studio_run.h"
#include "timeline_view.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QSpinBox>
#include <QStandardPaths>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

using namespace fairkv;
using namespace fairkv::views;

namespace {

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

StudioRun bigRun(int layers, int units, int ranks, int batch)
{
    StudioRun r;
    r.summary.id = 1;
    r.summary.ranks = ranks;
    r.summary.timing = "emulated";
    nlohmann::json kv = nlohmann::json::array(), mass = nlohmann::json::array(), pl = nlohmann::json::array();
    for (int q = 0; q < batch; ++q) {
        nlohmann::json lk = nlohmann::json::array(), lm = nlohmann::json::array();
        for (int l = 0; l < layers; ++l) {
            nlohmann::json uk = nlohmann::json::array(), um = nlohmann::json::array();
            for (int u = 0; u < units; ++u) {
                uk.push_back(32 + (l * 131 + u * 71 + q * 17) % 1000);
                um.push_back(0.3 + 0.001 * ((l + u) % 500));
            }
            lk.push_back(uk);
            lm.push_back(um);
        }
        kv.push_back(lk);
        mass.push_back(lm);
    }
    for (int l = 0; l < layers; ++l) {
        nlohmann::json units_ = nlohmann::json::array();
        for (int u = 0; u < units; ++u)
        {
            nlohmann::json all = nlohmann::json::array();
            for (int q = 0; q < batch; ++q)
                all.push_back(q);
            units_.push_back({{"unit", u}, {"replicas", {{{"rank", u * ranks / units}, {"requests", all}}}}});
        }
        pl.push_back(units_);
    }
    nlohmann::json attention = nlohmann::json::array();
    for (int l = 0; l < layers; ++l) {
        nlohmann::json row = nlohmann::json::array();
        for (int g = 0; g < ranks; ++g)
            row.push_back(0.05 + 0.001 * ((l * 7 + g * 3) % 20));
        attention.push_back(row);
    }
    r.result = {{"kv_len", kv},
                {"attention_mass", mass},
                {"placement", {{"ranks", ranks}, {"batch", batch}, {"layers", pl}}},
                {"rank_attention_ms", attention},
                {"lower_bound", {{"c_unit_ms", 0.002}, {"c_tok_ms", 1e-5}}}};
    return r;
}

std::shared_ptr<profiler::TraceBuffer> millionRecords(int ranks)
{
    auto t = std::make_shared<profiler::TraceBuffer>();
    const uint32_t names[] = {t->intern("decode_attention"), t->intern("o_proj"), t->intern("mlp")};
    int64_t clock = 0;
    while (t->records.size() < 1'000'000)
        for (int rank = 0; rank < ranks; ++rank) {
            profiler::TraceRecord r;
            r.rank = rank;
            r.nameId = names[t->records.size() % 3];
            r.startNs = clock + rank * 500;
            r.endNs = r.startNs + 1500 + int64_t(t->records.size() % 7) * 300;
            r.layer = int((t->records.size() / ranks) % 80);
            r.phase = t->records.size() % 3 == 2 ? profiler::Phase::Mlp : profiler::Phase::Attention;
            r.kind = profiler::RecordKind::Kernel;
            t->records.push_back(r);
            if (rank == ranks - 1)
                clock += 4000;
        }
    return t;
}

} // namespace

int main(int argc, char** argv)
{
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QStandardPaths::setTestModeEnabled(true);
    std::string out = "docs/gui-benchmark.md";
    if (argc == 3 && std::string(argv[1]) == "--out")
        out = argv[2];

    // 1. Heatmap: 80 layers x 64 units, full replot (data rebuilt from the run, then drawn).
    KvHeatmapView heatmap;
    heatmap.resize(1200, 800);
    heatmap.show();
    heatmap.setRun(bigRun(80, 64, 8, 4));
    heatmap.plot()->replot(QCustomPlot::rpImmediateRefresh);
    std::vector<double> replot, rebuild;
    for (int i = 0; i < 30; ++i) {
        QElapsedTimer t;
        t.start();
        heatmap.plot()->replot(QCustomPlot::rpImmediateRefresh);
        replot.push_back(t.nsecsElapsed() / 1e6);
        t.restart();
        heatmap.setLogScale(i % 2 == 0); // rebuilds the cells and rescales
        heatmap.plot()->replot(QCustomPlot::rpImmediateRefresh);
        rebuild.push_back(t.nsecsElapsed() / 1e6);
    }

    // 2. Timeline: one million records on 8 ranks; pan frames rendered into an image.
    TimelineView timeline;
    timeline.resize(1600, 400);
    const auto trace = millionRecords(8);
    timeline.setTrace(trace, 8);
    QImage frame(timeline.size(), QImage::Format_ARGB32_Premultiplied);
    std::vector<double> fullView, zoomedPan;
    for (int i = 0; i < 10; ++i) {
        QElapsedTimer t;
        t.start();
        timeline.renderTo(frame);
        fullView.push_back(t.nsecsElapsed() / 1e6);
    }
    const int64_t lo = timeline.traceStart(), hi = timeline.traceEnd();
    timeline.setWindow(lo, lo + (hi - lo) / 50);
    for (int i = 0; i < 60; ++i) {
        QElapsedTimer t;
        t.start();
        timeline.panBy(-40);
        timeline.renderTo(frame);
        zoomedPan.push_back(t.nsecsElapsed() / 1e6);
    }

    // 3. Placement editor on 80 layers x 64 units x 8 ranks: one edit (validated, cards rebuilt,
    //    modelled times of all 80 layers), and switching the shown layer.
    PlacementEditor editor;
    editor.resize(1600, 500);
    editor.show();
    const StudioRun big = bigRun(80, 64, 8, 4);
    editor.setRun(big, false);
    if (!editor.isEnabled() || editor.rankMs().size() != 8) {
        std::cerr << "the editor did not take the benchmark run\n";
        return 1;
    }
    std::vector<double> edit, layerSwitch;
    for (int i = 0; i < 20; ++i) {
        QElapsedTimer t;
        t.start();
        const int unit = i % 64, from = unit * 8 / 64; // the uniform split puts unit u on rank u * 8 / 64
        if (!editor.moveReplica(unit, 0, (from + 1) % 8)) {
            std::cerr << "edit refused: " << editor.lastError().toStdString() << "\n";
            return 1;
        }
        QApplication::processEvents();
        edit.push_back(t.nsecsElapsed() / 1e6);
        t.restart();
        editor.findChild<QSpinBox*>()->setValue((i * 7) % 80);
        QApplication::processEvents();
        layerSwitch.push_back(t.nsecsElapsed() / 1e6);
    }

    // 4. Compare view: two 80 x 64 runs side by side, then switching the difference metric.
    CompareView compare;
    compare.resize(1200, 800);
    compare.show();
    StudioRun other = bigRun(80, 64, 8, 4);
    other.summary.id = 2;
    other.result["kv_len"][0][3][5] = 7;
    std::vector<double> compareSet, metricSwitch;
    for (int i = 0; i < 10; ++i) {
        QElapsedTimer t;
        t.start();
        compare.setRuns({big, other});
        compare.plot()->replot(QCustomPlot::rpImmediateRefresh);
        compareSet.push_back(t.nsecsElapsed() / 1e6);
        t.restart();
        compare.setMetric(i % 2 ? CompareView::Metric::KvTokens : CompareView::Metric::AttentionMass);
        compare.plot()->replot(QCustomPlot::rpImmediateRefresh);
        metricSwitch.push_back(t.nsecsElapsed() / 1e6);
    }

    // 5. A 1M-record session opened into the views (run list, heatmap, GPU load, timeline).
    const std::string file = (std::filesystem::temp_directory_path() / "fairkv-gui-bench.fkv").string();
    for (const char* s : {"", "-wal", "-shm"})
        std::filesystem::remove(file + s);
    {
        RunConfig c;
        c.ranks = 8;
        c.layers = 1;
        c.promptLen = 64;
        c.decode = 2;
        const RunResult run = runInference(c);
        auto s = profiler::SessionStore::open(file, profiler::SessionStore::Mode::ReadWrite);
        s->appendRun(run, *trace, profiler::Environment::detect());
    }
    double openMs = 0;
    {
        MainWindow w;
        w.show();
        QApplication::processEvents();
        QElapsedTimer t;
        t.start();
        w.openSession(QString::fromStdString(file));
        QApplication::processEvents();
        openMs = t.nsecsElapsed() / 1e6;
    }
    for (const char* s : {"", "-wal", "-shm"})
        std::filesystem::remove(file + s);

    const double fullFps = 1000.0 / median(fullView), panFps = 1000.0 / median(zoomedPan);
    std::ostringstream md;
    md << "# GUI benchmark\n\nProduced by `./build/bench/fairkv-bench-gui` (issues 5 and 7) on this project's 2-core machine, "
          "Qt offscreen platform (software raster, as under Xvfb). Medians.\n\n"
       << "| measure | result | target |\n|---|---|---|\n"
       << "| heatmap 80 × 64 cells: replot | " << QString::number(median(replot), 'f', 2).toStdString() << " ms | < 16 ms "
       << (median(replot) < 16 ? "**pass**" : "**fail**") << " |\n"
       << "| heatmap 80 × 64 cells: rebuild cells from the run + replot (scale switch) | "
       << QString::number(median(rebuild), 'f', 2).toStdString() << " ms | < 16 ms " << (median(rebuild) < 16 ? "**pass**" : "**fail**") << " |\n"
       << "| timeline, 1M records, 8 ranks, whole trace in view: frame | " << QString::number(median(fullView), 'f', 1).toStdString()
       << " ms = " << QString::number(fullFps, 'f', 0).toStdString() << " frames/s | ≥ 30 frames/s " << (fullFps >= 30 ? "**pass**" : "**fail**") << " |\n"
       << "| timeline, 1M records, zoomed to 2%, panning: frame | " << QString::number(median(zoomedPan), 'f', 1).toStdString()
       << " ms = " << QString::number(panFps, 'f', 0).toStdString() << " frames/s | ≥ 30 frames/s " << (panFps >= 30 ? "**pass**" : "**fail**") << " |\n"
       << "| open a session whose run has 1M records and show it in every view | " << QString::number(openMs, 'f', 0).toStdString()
       << " ms | < 1000 ms " << (openMs < 1000 ? "**pass**" : "**fail**") << " |\n";
    auto row = [&](const char* what, double ms) {
        md << "| " << what << " | " << QString::number(ms, 'f', 1).toStdString() << " ms | < 100 ms "
           << (ms < 100 ? "**pass**" : "**fail**") << " |\n";
    };
    row("placement editor, 80 layers × 64 units × 8 ranks: one edit (validate, rebuild, modelled times)", median(edit));
    row("placement editor: switch the shown layer", median(layerSwitch));
    row("compare view, two 80 × 64 runs: table and difference heatmap", median(compareSet));
    row("compare view: switch the difference metric", median(metricSwitch));
    std::ofstream(out) << md.str();
    std::cout << md.str();
    return 0;
}
