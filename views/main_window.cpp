#include "main_window.h"
#include "session_store.h"

#include "common/error.h"
#include "common/output_path.h"
#include "compare_view.h"
#include "report.h"
#include "report_pdf.h"
#include "placement_editor.h"

#include "gpu_load_view.h"
#include "kernel_stats_model.h"
#include "kv_heatmap_view.h"
#include "run_panel.h"
#include "runs_model.h"
#include "settings_dialog.h"
#include "start_page.h"
#include "theme.h"
#include "timeline_view.h"

#include "common/error.h"

#include <fstream>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QFileDialog>
#include <QHeaderView>
#include <QLabel>
#include <QLoggingCategory>
#include <QMenuBar>
#include <QMessageBox>
#include <QScrollArea>
#include <QSettings>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTableView>
#include <QThread>

Q_LOGGING_CATEGORY(lcStudio, "fairkv.studio")

// Resources of a static library are registered by hand (outside any namespace).
static void initStudioResources()
{
    Q_INIT_RESOURCE(resources);
}

namespace fairkv::views {

namespace {
constexpr int kMaxRecent = 8;

QDockWidget* dock(QMainWindow* w, const QString& title, const QString& name, QWidget* content, Qt::DockWidgetArea area)
{
    auto* d = new QDockWidget(title, w);
    d->setObjectName(name); // saveState/restoreState key
    d->setWidget(content);
    w->addDockWidget(area, d);
    return d;
}
} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
    , m_jobs(new RunJobTracker(this))
{
    initStudioResources();
    setWindowIcon(QIcon(QStringLiteral(":/icons/fairkv.svg")));
    m_center = new QStackedWidget(this);
    m_start = new StartPage(this);
    m_heatmap = new KvHeatmapView(this);
    m_center->addWidget(m_start);
    m_center->addWidget(m_heatmap);
    setCentralWidget(m_center);
    buildDocks();
    buildMenus();

    // What this machine runs new runs on, not what a session's runs ran on (the run list says that).
    const std::string gpus = profiler::Environment::detect().gpu; // "none" without a CUDA build or a GPU
    m_backendLabel = new QLabel(gpus != "none" ? tr("This machine: %1 CPU cores, %2").arg(QThread::idealThreadCount()).arg(QString::fromStdString(gpus))
                                               : tr("This machine: %1 CPU cores, no GPU; ranks run emulated on the CPU").arg(QThread::idealThreadCount()),
                                this);
    m_stateLabel = new QLabel(tr("Idle"), this);
    statusBar()->addWidget(m_stateLabel, 1);
    statusBar()->addPermanentWidget(m_backendLabel);

    connect(m_start, &StartPage::runDemoRequested, this, &MainWindow::runDemo);
    connect(m_start, &StartPage::openRequested, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Open session"), QString(), tr("FairKV sessions (*.fkv)"));
        if (!f.isEmpty())
            openSession(f);
    });
    connect(m_start, &StartPage::openRecentRequested, this, &MainWindow::openSession);
    connect(m_runPanel, &RunPanel::runRequested, this, &MainWindow::startRun);
    connect(m_runPanel, &RunPanel::cancelRequested, m_jobs, &RunJobTracker::cancel);
    connect(m_jobs, &RunJobTracker::progress, this, [this](int, const QString& phase, int done, int total) {
        m_runPanel->setProgress(phase, done, total);
    });
    connect(m_jobs, &RunJobTracker::finished, this, &MainWindow::onRunFinished);
    connect(m_jobs, &RunJobTracker::partial, this, [this](int, const RunOutcome& soFar) {
        // Results stream in: the heatmap after prefill, rank times as decode steps finish.
        const StudioRun live = studioRunFromResult(*soFar.result);
        m_heatmap->setRun(live);
        m_gpuLoad->setRuns({live});
        m_center->setCurrentWidget(m_heatmap);
    });
    connect(m_jobs, &RunJobTracker::failed, this, [this](int, const QString& message) {
        m_runPanel->setRunning(false);
        m_rerunning = false;
        m_runPanel->setStatus(tr("The run failed: %1").arg(message));
        m_stateLabel->setText(tr("Run failed"));
        reportError(tr("Run failed"), message);
    });
    connect(m_jobs, &RunJobTracker::cancelled, this, [this](int) {
        m_runPanel->setRunning(false);
        m_rerunning = false;
        m_runPanel->setStatus(tr("Cancelled. The session is unchanged."));
        m_stateLabel->setText(tr("Cancelled"));
    });
    connect(m_timeline, &TimelineView::rangeSelected, this, [this](qint64 a, qint64 b) {
        m_kernelStats->setRange(m_current.trace, a, b);
    });

    QSettings s;
    m_start->setRecent(s.value(QStringLiteral("recentSessions")).toStringList());
    newSession();
    resize(1400, 900);
    restoreGeometry(s.value(QStringLiteral("geometry")).toByteArray());
    restoreState(s.value(QStringLiteral("windowState")).toByteArray());
}

MainWindow::~MainWindow()
{
    m_jobs->cancel();
    m_jobs->waitForIdle();
    m_session.reset();
    if (!m_scratchPath.isEmpty())
        for (const QString& suffix : {QString(), QStringLiteral("-wal"), QStringLiteral("-shm")})
            QFile::remove(m_scratchPath + suffix);
}

void MainWindow::buildDocks()
{
    m_runPanel = new RunPanel(this);
    m_gpuLoad = new GpuLoadView(this);
    m_timeline = new TimelineView(this);
    m_editor = new PlacementEditor(this);
    m_compare = new CompareView(this);
    connect(m_editor, &PlacementEditor::rerunRequested, this, &MainWindow::rerun);
    m_runsModel = new RunsModel(this);
    m_runsView = new QTableView(this);
    m_runsView->setModel(m_runsModel);
    m_runsView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_runsView->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_runsView->verticalHeader()->hide();
    // The label tells runs apart: it takes the room, the other columns what their values need.
    m_runsView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_runsView->horizontalHeader()->setSectionResizeMode(RunsModel::Label, QHeaderView::Stretch);
    m_runsView->setToolTip(tr("Select one run to inspect it, several to compare them side by side"));
    connect(m_runsView->selectionModel(), &QItemSelectionModel::selectionChanged, this, &MainWindow::onSelectionChanged);
    m_kernelStats = new KernelStatsModel(this);
    auto* statsView = new QTableView(this);
    statsView->setModel(m_kernelStats);
    statsView->verticalHeader()->hide();
    statsView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    statsView->horizontalHeader()->setSectionResizeMode(KernelStatsModel::Name, QHeaderView::Stretch);
    statsView->setToolTip(tr("Records of the selected run in the timeline's selection (all of it when none is selected), "
                             "timed as the run says: measured on the GPU by CUPTI, or on the host"));

    dock(this, tr("New run"), QStringLiteral("runDock"), m_runPanel, Qt::LeftDockWidgetArea);
    auto* gpuLoad = dock(this, tr("GPU load"), QStringLiteral("gpuLoadDock"), m_gpuLoad, Qt::RightDockWidgetArea);
    auto* compare = dock(this, tr("Compare"), QStringLiteral("compareDock"), m_compare, Qt::RightDockWidgetArea);
    tabifyDockWidget(gpuLoad, compare);
    gpuLoad->raise();
    auto* runs = dock(this, tr("Runs"), QStringLiteral("runsDock"), m_runsView, Qt::BottomDockWidgetArea);
    // Lanes scroll: a run of 64 ranks had grown the dock, and the window, past the screen.
    auto* timelineScroll = new QScrollArea(this);
    timelineScroll->setWidget(m_timeline);
    timelineScroll->setWidgetResizable(true);
    timelineScroll->setFrameShape(QFrame::NoFrame);
    timelineScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff); // the timeline zooms in time itself
    auto* timeline = dock(this, tr("Timeline"), QStringLiteral("timelineDock"), timelineScroll, Qt::BottomDockWidgetArea);
    auto* stats = dock(this, tr("Kernel statistics"), QStringLiteral("statsDock"), statsView, Qt::BottomDockWidgetArea);
    tabifyDockWidget(runs, timeline);
    auto* editor = dock(this, tr("Placement editor"), QStringLiteral("editorDock"), m_editor, Qt::BottomDockWidgetArea);
    tabifyDockWidget(timeline, stats);
    tabifyDockWidget(stats, editor);
    timeline->raise();
    resizeDocks({findChild<QDockWidget*>(QStringLiteral("gpuLoadDock"))}, {460}, Qt::Horizontal);
}

void MainWindow::buildMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(QIcon(QStringLiteral(":/icons/new.svg")), tr("&New Session"), QKeySequence::New, this, &MainWindow::newSession);
    file->addAction(QIcon(QStringLiteral(":/icons/open.svg")), tr("&Open Session…"), QKeySequence::Open, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Open session"), QString(), tr("FairKV sessions (*.fkv)"));
        if (!f.isEmpty())
            openSession(f);
    });
    file->addAction(QIcon(QStringLiteral(":/icons/save.svg")), tr("Save Session &As…"), QKeySequence::SaveAs, this, [this] {
        const QString f = QFileDialog::getSaveFileName(this, tr("Save session as"), QString(), tr("FairKV sessions (*.fkv)"));
        if (!f.isEmpty())
            saveSessionAs(f.endsWith(QLatin1String(".fkv")) ? f : f + QStringLiteral(".fkv"));
    });
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    connect(m_recentMenu, &QMenu::aboutToShow, this, [this] {
        m_recentMenu->clear();
        const QStringList recent = QSettings().value(QStringLiteral("recentSessions")).toStringList();
        for (const QString& f : recent)
            m_recentMenu->addAction(f, this, [this, f] { openSession(f); });
        if (recent.isEmpty())
            m_recentMenu->addAction(tr("(none)"))->setEnabled(false);
    });
    file->addSeparator();
    file->addAction(tr("&Export Comparison Report…"), this, [this] {
        const QString f = QFileDialog::getSaveFileName(this, tr("Export comparison report"), QStringLiteral("report.html"),
                                                       tr("HTML (*.html);;PDF (*.pdf);;CSV table (*.csv);;JSON (*.json)"));
        if (!f.isEmpty())
            exportReport(f);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    run->addAction(QIcon(QStringLiteral(":/icons/run.svg")), tr("Run the &Demo"), this, &MainWindow::runDemo);
    run->addAction(tr("&Run"), QKeySequence(Qt::CTRL | Qt::Key_R), this, [this] { startRun(m_runPanel->config()); });
    run->addAction(QIcon(QStringLiteral(":/icons/cancel.svg")), tr("&Cancel"), QKeySequence(Qt::Key_Escape), m_jobs, &RunJobTracker::cancel);

    m_viewMenu = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* d : findChildren<QDockWidget*>())
        m_viewMenu->addAction(d->toggleViewAction());
    m_viewMenu->addSeparator();
    QMenu* themes = m_viewMenu->addMenu(tr("&Theme"));
    for (ThemeChoice c : {ThemeChoice::System, ThemeChoice::Light, ThemeChoice::Dark}) {
        const QString name = c == ThemeChoice::System ? tr("Follow the system") : (c == ThemeChoice::Light ? tr("Light") : tr("Dark"));
        themes->addAction(name, this, [c] {
            QSettings().setValue(QStringLiteral("theme"), theme::toString(c));
            theme::apply(*qApp, c);
        });
    }
    m_viewMenu->addAction(tr("&Settings…"), this, [this] {
        SettingsDialog dialog(this);
        if (dialog.exec() == QDialog::Accepted)
            theme::apply(*qApp, theme::fromString(QSettings().value(QStringLiteral("theme")).toString()));
    });
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About FairKV Studio"), this, [this] {
        QMessageBox::about(this, tr("About FairKV Studio"),
                           tr("FairKV Studio %1 — a profiler for tensor-parallel decoding with compressed KV caches.")
                               .arg(QApplication::applicationVersion()));
    });
}

void MainWindow::reportError(const QString& title, const QString& message)
{
    m_lastError = message;
    qCWarning(lcStudio).noquote() << title + QStringLiteral(": ") + message; // one plain line, as the CLI writes them
    if (m_stateLabel)
        m_stateLabel->setText(title + QStringLiteral(": ") + message); // stays in view once the dialog is closed
    auto* box = new QMessageBox(QMessageBox::Critical, title, message, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setObjectName(QStringLiteral("errorDialog"));
    box->open();
}

QString MainWindow::sessionPath() const
{
    return m_session ? QString::fromStdString(m_session->path()) : QString();
}

void MainWindow::updateTitle()
{
    const bool scratch = sessionPath() == m_scratchPath;
    setWindowTitle(scratch ? tr("FairKV Studio — unsaved session")
                           : tr("FairKV Studio — %1%2")
                                 .arg(QFileInfo(sessionPath()).fileName(),
                                      m_session && !m_sessionWritable ? tr(" (read-only)") : QString()));
}

// Whether a run may start: the open session takes new runs, reopened for writing if it was opened
// for viewing. Asked before a run, so a session that refuses writes costs no run.
bool MainWindow::readyToSave(const QString& action)
{
    if (!m_session || !m_sessionWritable) {
        reportError(action, tr("This session is read-only. Use File ▸ Save Session As to keep new runs."));
        return false;
    }
    if (!m_session->readOnly())
        return true;
    // Opened for writing, a path with no file would become a new, empty session.
    if (!QFileInfo::exists(sessionPath())) {
        reportError(action, tr("The session file %1 is gone (moved or deleted since it was opened): open it again, or use "
                               "File ▸ Save Session As to keep new runs.")
                                .arg(sessionPath()));
        return false;
    }
    try {
        auto store = profiler::SessionStore::open(m_session->path(), profiler::SessionStore::Mode::ReadWrite);
        store->listRuns();
        m_session = std::move(store);
    } catch (const std::exception& e) {
        reportError(action, QString::fromStdString(e.what()));
        return false;
    }
    return true;
}

void MainWindow::leaveSession()
{
    // A running job, the loaded engine and the shown ids all belong to the session being left.
    m_jobs->dropLive();
    m_runPanel->setRunning(false);
    m_liveRunId = 0;
    m_rerunning = false;
    m_shownIds.clear();
    m_editor->setLive(false);
}

void MainWindow::newSession()
{
    if (m_scratchPath.isEmpty()) {
        const QString dir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation);
        QDir().mkpath(dir);
        // per window: a second window of this process must not remove the first one's runs
        static int windows = 0;
        m_scratchPath = dir + QStringLiteral("/scratch-%1-%2.fkv").arg(QCoreApplication::applicationPid()).arg(++windows);
    }
    leaveSession();
    m_session.reset();
    m_sessionWritable = false;
    for (const QString& suffix : {QString(), QStringLiteral("-wal"), QStringLiteral("-shm")})
        QFile::remove(m_scratchPath + suffix);
    try {
        m_session = profiler::SessionStore::open(m_scratchPath.toStdString(), profiler::SessionStore::Mode::ReadWrite);
        m_sessionWritable = true;
    } catch (const std::exception& e) {
        reportError(tr("Cannot create a session"), QString::fromStdString(e.what()));
    }
    m_current = StudioRun{};
    refreshRuns();
    m_center->setCurrentWidget(m_start);
    updateTitle();
}

bool MainWindow::openSession(const QString& path)
{
    std::unique_ptr<profiler::SessionStore> store;
    bool writable = false;
    try {
        // Opened for reading: looking at a session changes nothing in its file (opened for writing,
        // SQLite would switch it to WAL mode, and an older schema would be upgraded on disk). The
        // first run to be saved reopens it for writing (readyToSave()). An empty file is refused
        // untouched, as anything else that is not a session, before it replaces the open session.
        const QFileInfo file(path);
        // SQLite writes its journal beside the file: a folder that takes no file takes no run either.
        writable = file.isWritable() && QFileInfo(file.absolutePath()).isWritable();
        store = profiler::SessionStore::open(path.toStdString(), profiler::SessionStore::Mode::ReadOnly);
        store->listRuns(); // a damaged file fails here
    } catch (const std::exception& e) {
        reportError(tr("Cannot open the session"), QString::fromStdString(e.what()));
        return false;
    }
    leaveSession();
    m_session = std::move(store);
    m_sessionWritable = writable;
    addRecent(QFileInfo(path).absoluteFilePath());
    refreshRuns();
    const auto runs = m_session->listRuns();
    if (!runs.empty())
        showRuns({runs.back().id});
    updateTitle();
    m_stateLabel->setText(tr("Opened %1 (%n run(s))", nullptr, int(runs.size())).arg(QFileInfo(path).fileName()));
    return true;
}

bool MainWindow::saveSessionAs(const QString& path)
{
    if (!m_session)
        return false;
    try {
        m_session->saveCopy(path.toStdString());
    } catch (const std::exception& e) {
        reportError(tr("Cannot save the session"), QString::fromStdString(e.what()));
        return false;
    }
    return openSession(path);
}

void MainWindow::addRecent(const QString& path)
{
    QSettings s;
    QStringList recent = s.value(QStringLiteral("recentSessions")).toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    s.setValue(QStringLiteral("recentSessions"), recent);
    m_start->setRecent(recent);
}

void MainWindow::runDemo()
{
    const fairkv::RunConfig c = fairkv::RunConfig::demo();
    m_runPanel->setConfig(c);
    startRun(c);
}

// A headkv run's per-head scores, read from the run panel's score file (a session keeps none):
// whether the run can go ahead.
bool MainWindow::withHeadScores(fairkv::RunConfig& config, const QString& action)
{
    if (config.compression.policy != CompressionPolicy::HeadKV || !config.compression.headScores.empty())
        return true;
    const QString file = m_runPanel->headScoresFile();
    if (file.isEmpty()) {
        reportError(action, tr("HeadKV needs its per-head scores: choose a head score file beside Compression."));
        return false;
    }
    try {
        config.compression.headScores = headScoresFor(config, file.toStdString());
    } catch (const std::exception& e) {
        reportError(action, QString::fromStdString(e.what()));
        return false;
    }
    return true;
}

void MainWindow::startRun(const fairkv::RunConfig& settings)
{
    fairkv::RunConfig config = settings;
    if (!withHeadScores(config, tr("Cannot run")) || !readyToSave(tr("Cannot run")))
        return;
    m_runPanel->setRunning(true);
    m_stateLabel->setText(tr("Running %1 on %n rank(s)…", nullptr, config.ranks).arg(QString::fromStdString(config.model)));
    m_rerunning = false;
    m_liveRunId = 0;
    m_editor->setLive(false);
    m_jobs->start(config);
}

void MainWindow::rerun(const fairkv::Placement& placement, const QString& name)
{
    const int64_t parent = m_editor->runId();
    if (parent <= 0) {
        reportError(tr("Cannot re-run"), tr("Select a stored run to re-run."));
        return;
    }
    if (!readyToSave(tr("Cannot re-run")))
        return;
    m_runPanel->setRunning(true);
    m_rerunning = true;
    int job = 0;
    if (parent == m_liveRunId && m_jobs->hasLiveRun()) {
        m_stateLabel->setText(tr("Re-running run %1 with the %2 placement…").arg(parent).arg(name));
        job = m_jobs->rerun(placement, name, parent);
    } else {
        try {
            fairkv::RunConfig config = fairkv::RunConfig::fromJson(m_editor->run().result.at("config"));
            if (!withHeadScores(config, tr("Cannot re-run"))) {
                m_rerunning = false;
                m_runPanel->setRunning(false);
                return;
            }
            m_stateLabel->setText(tr("Re-running run %1 with the %2 placement: its engine is not loaded, so its prompts "
                                     "are prefilled again…")
                                      .arg(parent)
                                      .arg(name));
            job = m_jobs->rerunFresh(config, placement, name, parent);
            m_liveRunId = parent; // the engine it loads has that run's settings
        } catch (const std::exception& e) {
            reportError(tr("Cannot re-run"), QString::fromStdString(e.what()));
        }
    }
    if (job == 0) {
        m_rerunning = false;
        m_runPanel->setRunning(false);
    }
}

void MainWindow::onRunFinished(int, const RunOutcome& outcome)
{
    m_runPanel->setRunning(false);
    if (!m_session) {
        reportError(tr("Cannot save the run"), tr("No session is open."));
        return;
    }
    int64_t id = 0;
    try {
        id = m_session->appendRun(*outcome.result, *outcome.trace, profiler::Environment::detect(), outcome.parent);
    } catch (const std::exception& e) {
        reportError(tr("Cannot save the run"), QString::fromStdString(e.what()));
        return;
    }
    m_runPanel->setDone();
    m_runPanel->setStatus(tr("Finished: %L1 tokens/s (%2), saved as run %3.")
                              .arg(runFigure(outcome.result->tokensPerS, 1))
                              .arg(timingName(outcome.result->timing))
                              .arg(id));
    m_stateLabel->setText(tr("Run %1 finished").arg(id));
    m_backendLabel->setText(tr("Last run: backend %1, %2 ranks (%3)")
                                .arg(QString::fromStdString(outcome.result->backend).toUpper())
                                .arg(outcome.result->ranks)
                                .arg(timingName(outcome.result->timing)));
    if (!m_rerunning)
        m_liveRunId = id; // its engine stays loaded for live re-runs
    m_rerunning = false;
    refreshRuns(id);
    if (outcome.parent) { // a re-run: show it next to its parent at once
        const int parentRow = m_runsModel->rowOf(*outcome.parent), row = m_runsModel->rowOf(id);
        if (parentRow >= 0 && row >= 0) {
            QItemSelection both;
            for (int r : {parentRow, row})
                both.select(m_runsModel->index(r, 0), m_runsModel->index(r, m_runsModel->columnCount() - 1));
            m_runsView->selectionModel()->select(both, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
        }
    }
}

void MainWindow::refreshRuns(int64_t select)
{
    m_runsModel->setRuns(m_session ? m_session->listRuns() : std::vector<profiler::RunSummary>{});
    const int row = select ? m_runsModel->rowOf(select) : -1;
    if (row >= 0)
        m_runsView->selectRow(row);
}

void MainWindow::onSelectionChanged()
{
    QList<int64_t> ids;
    for (const QModelIndex& i : m_runsView->selectionModel()->selectedRows())
        ids << m_runsModel->data(i, RunsModel::RunIdRole).toLongLong();
    std::sort(ids.begin(), ids.end());
    if (!ids.isEmpty())
        showRuns(ids);
}

void MainWindow::showRuns(const QList<int64_t>& ids)
{
    if (!m_session || ids.isEmpty())
        return;
    std::vector<StudioRun> runs;
    try {
        for (int64_t id : ids) // only the run the timeline shows needs its trace records
            runs.push_back(loadStudioRun(*m_session, id, id == ids.back()));
    } catch (const std::exception& e) {
        reportError(tr("Cannot read the run"), QString::fromStdString(e.what()));
        return;
    }
    m_shownIds = ids;
    m_current = runs.back();
    // The editor edits the parent when a re-run is shown next to it, else the newest selected run.
    const StudioRun& editable = runs.front();
    const bool live = editable.summary.id == m_liveRunId && m_jobs->hasLiveRun();
    if (editable.summary.id != m_editor->runId()) // keep the edit (and its undo history) while the same run is shown
        m_editor->setRun(editable, live);
    else
        m_editor->setLive(live);
    m_heatmap->setRun(m_current);
    m_timeline->setTrace(m_current.trace, m_current.ranks());
    m_kernelStats->setRange(m_current.trace, m_timeline->traceStart(), m_timeline->traceEnd());
    m_compare->setRuns(runs);
    m_gpuLoad->setRuns(std::move(runs));
    m_center->setCurrentWidget(m_heatmap);
    // The shown run's warning; a warning of a run no longer shown goes (any other message stays).
    QString warning;
    if (m_current.trace && !m_current.trace->warnings.empty())
        warning = QString::fromStdString(m_current.trace->warnings.front());
    else if (const auto w = m_current.result.find("warnings"); w != m_current.result.end() && w->is_array() && !w->empty()
             && w->front().is_string())
        warning = tr("Run %1: %2").arg(m_current.summary.id).arg(QString::fromStdString(w->front().get<std::string>()));
    if (!warning.isEmpty())
        m_stateLabel->setText(warning);
    else if (!m_runWarning.isEmpty() && m_stateLabel->text() == m_runWarning)
        m_stateLabel->clear();
    m_runWarning = warning;
}

bool MainWindow::exportReport(const QString& path)
{
    QList<int64_t> ids = m_shownIds;
    if (!m_session || ids.isEmpty()) {
        reportError(tr("Cannot export a report"), tr("Select the runs to compare in the Runs list first."));
        return false;
    }
    try {
        fairkv::refuseUnsafeOutput(path.toStdString());
        const std::string format = profiler::reportFormat(path.toStdString());
        if (format.empty())
            throw fairkv::Error(path.toStdString() + ": a report file ends in .html, .pdf, .csv or .json");
        std::vector<int64_t> order(ids.begin(), ids.end());
        const int64_t baseline = order[size_t(std::clamp(m_compare->baseline(), 0, int(order.size()) - 1))];
        const profiler::Report report = profiler::makeReport(*m_session, order, baseline);
        const QByteArray pdf = format == "pdf" ? reportPdf(report) : QByteArray();
        fairkv::writeTextFile(QFile::encodeName(path).toStdString(), // as the CLI writes its reports
                              format == "pdf" ? std::string(pdf.constData(), size_t(pdf.size())) : report.text(format));
    } catch (const std::exception& e) {
        reportError(tr("Cannot export a report"), QString::fromStdString(e.what()));
        return false;
    }
    m_stateLabel->setText(tr("Report written to %1").arg(path));
    return true;
}

void MainWindow::closeEvent(QCloseEvent* e)
{
    QSettings s;
    s.setValue(QStringLiteral("geometry"), saveGeometry());
    s.setValue(QStringLiteral("windowState"), saveState());
    m_jobs->cancel();
    m_jobs->waitForIdle();
    QMainWindow::closeEvent(e);
}

} // namespace fairkv::views
