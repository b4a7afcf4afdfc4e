#ifdef FAIRKV_HAVE_CUDA_BACKEND
#include "backend/cuda/cuda_rank.h"
#endif
#include "compare_view.h"
#include "gpu_load_view.h"
#include "kv_heatmap_view.h"
#include "main_window.h"
#include "runs_model.h"
#include "placement_editor.h"
#include "run_job.h"
#include "session_store.h"
#include "studio_run.h"
#include "run_panel.h"
#include "theme.h"
#include "timeline_view.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QLibraryInfo>
#include <QLocale>
#include <QScreen>
#include <QSettings>
#include <QTemporaryDir>
#include <QTimer>
#include <QTranslator>

#include <cstdio>
#include <cstring>
#include <memory>

namespace {

// Saves the window and each view as PNGs (docs and README screenshots), in the light and dark theme.
void saveScreenshots(fairkv::views::MainWindow& w, const QString& dir)
{
    using namespace fairkv::views;
    for (ThemeChoice t : {ThemeChoice::Light, ThemeChoice::Dark}) {
        theme::apply(*qApp, t);
        QApplication::processEvents();
        w.showRuns({1});
        w.heatmap()->selectCell(1, 3);
        QApplication::processEvents();
        const QString suffix = t == ThemeChoice::Dark ? QStringLiteral("-dark") : QString();
        w.grab().save(dir + QStringLiteral("/studio-window") + suffix + QStringLiteral(".png"));
        if (QScreen* screen = w.screen())
            screen->grabWindow(0).save(dir + QStringLiteral("/studio-screen") + suffix + QStringLiteral(".png"));
        w.heatmap()->grab().save(dir + QStringLiteral("/kv-heatmap") + suffix + QStringLiteral(".png"));
        w.gpuLoad()->grab().save(dir + QStringLiteral("/gpu-load") + suffix + QStringLiteral(".png"));
        w.timeline()->grab().save(dir + QStringLiteral("/timeline") + suffix + QStringLiteral(".png"));
        // uniform (run 1) next to fairkv-copy (run 2)
        w.showRuns({1, 2});
        QApplication::processEvents();
        w.gpuLoad()->grab().save(dir + QStringLiteral("/gpu-load-compare") + suffix + QStringLiteral(".png"));
        w.grab().save(dir + QStringLiteral("/studio-compare") + suffix + QStringLiteral(".png"));
        {
            // the compare view at a readable size, on its own: uniform (1) vs fairkv-copy (2)
            auto store = fairkv::profiler::SessionStore::open(w.sessionPath().toStdString(),
                                                             fairkv::profiler::SessionStore::Mode::ReadOnly);
            CompareView compare;
            compare.resize(1100, 760);
            compare.setRuns({loadStudioRun(*store, 1, false), loadStudioRun(*store, 2, false)});
            compare.setMetric(CompareView::Metric::RankAttentionMs);
            compare.grab().save(dir + QStringLiteral("/compare-view") + suffix + QStringLiteral(".png"));
        }
        if (t == ThemeChoice::Light) { // the comparison report of all three runs, as a user exports it
            w.showRuns({1, 2, 3});
            w.exportReport(dir + QStringLiteral("/report.pdf"));
            w.exportReport(dir + QStringLiteral("/report.html"));
        }
        // the placement editor on the live run (2), which was re-run with a hand edit as run 3
        w.showRuns({2, 3});
        if (auto* editorDock = w.findChild<QDockWidget*>(QStringLiteral("editorDock"))) {
            editorDock->raise();
            w.resizeDocks({editorDock}, {430}, Qt::Vertical);
        }
        QApplication::processEvents();
        w.placementEditor()->grab().save(dir + QStringLiteral("/placement-editor") + suffix + QStringLiteral(".png"));
        w.grab().save(dir + QStringLiteral("/studio-rerun") + suffix + QStringLiteral(".png"));
    }
}

} // namespace

// --help and --version print text and quit: they need no display (a QApplication aborts without one).
bool onlyPrints(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i)
        for (const char* flag : {"-h", "--help", "-?", "--help-all", "-v", "--version"})
            if (std::strcmp(argv[i], flag) == 0)
                return true;
    return false;
}

// Screenshots go to `dir`: it must exist or be creatable, and be writable, or nothing is shot.
bool screenshotFolderUsable(const QString& dir)
{
    if (QDir().mkpath(dir) && QFileInfo(dir).isDir() && QFileInfo(dir).isWritable())
        return true;
    std::fprintf(stderr, "fairkv-studio: cannot write screenshots to %s (not a writable folder)\n", qPrintable(dir));
    return false;
}

int main(int argc, char** argv)
{
    const std::unique_ptr<QCoreApplication> application =
        onlyPrints(argc, argv) ? std::make_unique<QCoreApplication>(argc, argv) : std::make_unique<QApplication>(argc, argv);
    QCoreApplication& app = *application;
#ifdef FAIRKV_HAVE_CUDA_BACKEND
    fairkv::cuda::CudaRank::registerBackend();
#endif
    QApplication::setOrganizationName(QStringLiteral("FairKV"));
    QApplication::setApplicationName(QStringLiteral("FairKV Studio"));
    QApplication::setApplicationVersion(QStringLiteral("0.1.0"));
    // The language from the settings (empty: the system's), for our strings and Qt's own dialogs.
    const QString language = QSettings().value(QStringLiteral("language")).toString();
    const QLocale locale = language.isEmpty() ? QLocale::system() : QLocale(language);
    QLocale::setDefault(locale);
    for (const auto& [name, folder] : {std::pair{QStringLiteral("qtbase"), QLibraryInfo::path(QLibraryInfo::TranslationsPath)},
                                       std::pair{QStringLiteral("fairkv"), QStringLiteral(":/i18n")}}) {
        auto* translator = new QTranslator(&app);
        // Ours falls back to English (plural forms) for languages without a catalogue.
        if (translator->load(locale, name, QStringLiteral("_"), folder)
            || (name == QLatin1String("fairkv") && translator->load(QStringLiteral(":/i18n/fairkv_en.qm"))))
            QApplication::installTranslator(translator);
        else
            delete translator;
    }
    QCommandLineParser parser;
    parser.setApplicationDescription(QApplication::translate("main", "Profiler for tensor-parallel decoding with compressed KV caches"));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption demo(QStringLiteral("demo"), QApplication::translate("main", "Run the CPU demo at start."));
    QCommandLineOption shots(QStringLiteral("screenshots"),
                             QApplication::translate("main", "Run the demo, save screenshots of every view to <dir>, quit."),
                             QStringLiteral("dir"));
    parser.addOption(demo);
    parser.addOption(shots);
    parser.addPositionalArgument(QStringLiteral("session"), QApplication::translate("main", "A session file (.fkv) to open."));
    parser.process(app);

    using namespace fairkv::views;
    if (parser.isSet(shots)) {
        if (!screenshotFolderUsable(parser.value(shots)))
            return 1;
        // Screenshots in the default layout, theme and size, and none of the user's settings
        // (recent sessions, window state) touched: settings go to a folder of their own.
        static QTemporaryDir settings;
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, settings.path());
    }
    theme::apply(*qApp, theme::fromString(QSettings().value(QStringLiteral("theme")).toString()));
    MainWindow window;
    if (parser.isSet(shots))
        window.resize(1680, 940);
    window.show();
    if (parser.isSet(shots) && !parser.positionalArguments().isEmpty()) {
        // A saved session (e.g. a GPU run): its first run, then its first and last side by side,
        // then all of them.
        const QString dir = parser.value(shots);
        if (!window.openSession(parser.positionalArguments().constFirst()))
            return 1;
        QTimer::singleShot(500, &window, [&window, dir] {
            QList<int64_t> ids;
            for (int row = 0; row < window.runsModel()->rowCount(); ++row)
                ids.append(window.runsModel()->run(row)->id);
            if (ids.isEmpty()) {
                std::fprintf(stderr, "fairkv-studio: the session has no runs to show\n");
                QApplication::exit(1);
                return;
            }
            window.showRuns({ids.constFirst()});
            QApplication::processEvents();
            bool saved = window.grab().save(dir + QStringLiteral("/session-window.png"))
                && window.timeline()->grab().save(dir + QStringLiteral("/session-timeline.png"));
            if (ids.size() > 1) { // a comparison needs two runs: one run is not compared with itself
                window.showRuns({ids.constFirst(), ids.constLast()});
                QApplication::processEvents();
                saved = saved && window.grab().save(dir + QStringLiteral("/session-compare.png"));
            }
            if (ids.size() > 2) { // every run side by side, as a sweep is looked at
                window.showRuns(ids);
                QApplication::processEvents();
                saved = saved && window.grab().save(dir + QStringLiteral("/session-all.png"))
                    && window.gpuLoad()->grab().save(dir + QStringLiteral("/session-gpu-load.png"));
            }
            if (!saved)
                std::fprintf(stderr, "fairkv-studio: could not save the screenshots in %s\n", qPrintable(dir));
            // A run the window could not read was reported (and shot as an error): not a success.
            const bool readable = window.lastError().isEmpty();
            QApplication::exit(saved && readable ? 0 : 1);
        });
        return app.exec();
    }
    if (parser.isSet(shots)) {
        // The demo under the uniform split, then the same run planned by fairkv-copy; then shots.
        const QString dir = parser.value(shots);
        auto runs = std::make_shared<int>(0);
        QObject::connect(window.jobs(), &RunJobTracker::finished, &window, [&window, dir, runs] {
            if (++*runs == 1) {
                QTimer::singleShot(200, &window, [&window] {
                    fairkv::RunConfig copy = fairkv::RunConfig::demo();
                    copy.placement = "fairkv-copy";
                    window.runPanel()->setConfig(copy);
                    window.startRun(copy);
                });
                return;
            }
            if (*runs == 2) { // a hand edit of the plan, re-run live: one more replica of unit 0
                QTimer::singleShot(200, &window, [&window] {
                    PlacementEditor* e = window.placementEditor();
                    for (int rank = 0; rank < e->placement().ranks; ++rank)
                        if (e->addReplica(0, rank, {2, 3}))
                            break;
                    e->copyLayerToAll();
                    window.rerun(e->placement(), e->rerunName());
                });
                return;
            }
            QTimer::singleShot(500, &window, [&window, dir] {
                saveScreenshots(window, dir);
                QApplication::quit();
            });
        });
        QObject::connect(window.jobs(), &RunJobTracker::failed, &app, [] { QApplication::exit(1); });
        window.runDemo();
    } else if (!parser.positionalArguments().isEmpty()) {
        window.openSession(parser.positionalArguments().constFirst());
    } else if (parser.isSet(demo)) {
        window.runDemo();
    }
    return app.exec();
}
