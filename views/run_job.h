#pragma once
#include "runtime/run.h"
#include "studio_run.h"

#include <QObject>
#include <QPointer>
#include <QThread>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>


namespace fairkv::views {

// A finished engine run with its trace, before it is saved in a session.
struct RunOutcome
{
    std::shared_ptr<fairkv::RunResult> result;
    std::shared_ptr<profiler::TraceBuffer> trace;
    std::optional<int64_t> parent;
};

// Runs the engine off the GUI thread. Every job gets a number; the tracker keeps only the newest,
// so a stale result never overwrites a fresh one (KDAB hotspot's job tracker). Cancellation is an
// atomic flag the engine checks between steps.
class RunJobTracker : public QObject
{
    Q_OBJECT
public:
    explicit RunJobTracker(QObject* parent = nullptr);
    ~RunJobTracker() override;

    // Starts a job and returns its number; a job already running is cancelled. The finished run
    // keeps its engine loaded for rerun().
    int start(const fairkv::RunConfig& config, std::optional<int64_t> parent = std::nullopt);
    // Decodes the last finished run's steps again under `placement`, on its loaded engine (shards
    // and KV move, no new prefill). Returns 0 when no run is loaded.
    int rerun(const fairkv::Placement& placement, const QString& name, std::optional<int64_t> parent);
    // The same for a stored run whose engine is not loaded: prefills `config`'s prompts again,
    // then decodes its steps under `placement`; the engine stays loaded afterwards.
    int rerunFresh(const fairkv::RunConfig& config, const fairkv::Placement& placement, const QString& name,
                   std::optional<int64_t> parent);
    // Whether a finished run's engine is loaded (rerun() can be used).
    bool hasLiveRun() const { return m_live != nullptr; }
    // Stops the running job and unloads the finished run's engine (the session changed).
    void dropLive();
    void cancel();
    bool running() const { return m_running; }
    int current() const { return m_current; }
    // Blocks until the running job (if any) has stopped: for shutdown and tests.
    void waitForIdle();

Q_SIGNALS:
    void progress(int job, const QString& phase, int done, int total);
    void finished(int job, const fairkv::views::RunOutcome& outcome);
    // The run so far (not saved): after prefill, then at most every 250 ms while decoding.
    void partial(int job, const fairkv::views::RunOutcome& soFar);
    void failed(int job, const QString& message);
    void cancelled(int job);

private:
    using Work = std::function<fairkv::RunResult(const fairkv::ProgressFn&, const std::atomic<bool>*, fairkv::TraceSink*,
                                                 const fairkv::PartialFn&, std::shared_ptr<fairkv::LiveRun>&)>;
    // `kernels`: trace the run's GPU kernels with CUPTI (CUDA runs).
    int launch(Work work, std::optional<int64_t> parent, bool kernels);

    std::shared_ptr<fairkv::LiveRun> m_live; // the last finished run's engine
    int m_current = 0;
    bool m_running = false;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    QPointer<QThread> m_thread; // deletes itself when it finishes
};

} // namespace fairkv::views

Q_DECLARE_METATYPE(fairkv::views::RunOutcome)
