#pragma once
#include "run_job.h"
#include "studio_run.h"

#include <QMainWindow>

#include <memory>

class QLabel;
class QStackedWidget;
class QTableView;
class QMenu;

namespace fairkv::views {

class RunPanel;
class KvHeatmapView;
class GpuLoadView;
class TimelineView;
class RunsModel;
class KernelStatsModel;
class StartPage;
class PlacementEditor;
class CompareView;

// The studio window: run panel, runs of the session, KV heatmap, GPU load, timeline and kernel
// statistics as docks; a session file behind it. Runs made here are saved in the open session
// (a scratch file until "Save Session As"); a failed run leaves the session as it was.
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens a session file; on error shows a message and keeps the current session. Returns success.
    bool openSession(const QString& path);
    bool saveSessionAs(const QString& path);
    void newSession();
    void startRun(const fairkv::RunConfig& config);
    void runDemo();
    void showRuns(const QList<int64_t>& ids);
    // A comparison report of the shown runs, the format by the suffix (.html, .pdf, .csv, .json).
    bool exportReport(const QString& path);

    QString sessionPath() const;
    RunPanel* runPanel() const { return m_runPanel; }
    KvHeatmapView* heatmap() const { return m_heatmap; }
    GpuLoadView* gpuLoad() const { return m_gpuLoad; }
    TimelineView* timeline() const { return m_timeline; }
    PlacementEditor* placementEditor() const { return m_editor; }
    CompareView* compare() const { return m_compare; }
    // Decodes the loaded run's steps again under `placement`; the new run is saved with its parent.
    void rerun(const fairkv::Placement& placement, const QString& name);
    // The session id of the run whose engine is loaded (0: none).
    int64_t liveRunId() const { return m_liveRunId; }
    RunsModel* runsModel() const { return m_runsModel; }
    KernelStatsModel* kernelStats() const { return m_kernelStats; }
    RunJobTracker* jobs() const { return m_jobs; }
    const StudioRun& currentRun() const { return m_current; }
    // The last error shown to the user (tests read it; the dialog is window-modal, not blocking).
    QString lastError() const { return m_lastError; }

protected:
    void closeEvent(QCloseEvent* e) override;

private:
    void buildMenus();
    void buildDocks();
    void reportError(const QString& title, const QString& message);
    void leaveSession();
    void refreshRuns(int64_t select = 0);
    void onRunFinished(int job, const RunOutcome& outcome);
    void onSelectionChanged();
    void addRecent(const QString& path);
    void updateTitle();
    bool readyToSave(const QString& action);
    bool withHeadScores(fairkv::RunConfig& config, const QString& action);

    std::unique_ptr<profiler::SessionStore> m_session;
    // Whether the open session's file may take new runs. Sessions open for reading (viewing writes
    // nothing, not even WAL mode or a schema upgrade); readyToSave() reopens one for writing.
    bool m_sessionWritable = false;
    QString m_scratchPath;
    RunJobTracker* m_jobs;
    RunPanel* m_runPanel;
    KvHeatmapView* m_heatmap;
    GpuLoadView* m_gpuLoad;
    TimelineView* m_timeline;
    PlacementEditor* m_editor = nullptr;
    CompareView* m_compare = nullptr;
    int64_t m_liveRunId = 0;
    QList<int64_t> m_shownIds;
    bool m_rerunning = false;
    RunsModel* m_runsModel;
    KernelStatsModel* m_kernelStats;
    QTableView* m_runsView;
    QStackedWidget* m_center;
    StartPage* m_start;
    QLabel* m_backendLabel;
    QLabel* m_stateLabel = nullptr;
    QString m_runWarning; // the shown run's warning in m_stateLabel, cleared when another run is shown
    QMenu* m_recentMenu = nullptr;
    QMenu* m_viewMenu = nullptr;
    StudioRun m_current;
    QString m_lastError;
};

} // namespace fairkv::views
