#include "run_job.h"

#include "common/error.h"
#include "engine_tracer.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QThread>

namespace fairkv::views {

RunJobTracker::RunJobTracker(QObject* parent)
    : QObject(parent)
{
    qRegisterMetaType<RunOutcome>();
}

RunJobTracker::~RunJobTracker()
{
    cancel();
    waitForIdle();
}

int RunJobTracker::start(const fairkv::RunConfig& config, std::optional<int64_t> parent)
{
    m_live.reset(); // the next run replaces it: do not hold two models while it loads (a job holds its own)
    return launch(
        [config](const fairkv::ProgressFn& progress, const std::atomic<bool>* cancel, fairkv::TraceSink* trace,
                 const fairkv::PartialFn& partial, std::shared_ptr<fairkv::LiveRun>& live) {
            live = std::make_shared<fairkv::LiveRun>(config, progress, cancel, trace, partial);
            return live->result();
        },
        parent, config.backend == "cuda");
}

int RunJobTracker::rerun(const fairkv::Placement& placement, const QString& name, std::optional<int64_t> parent)
{
    if (!m_live)
        return 0;
    return launch(
        [placement, name = name.toStdString(), engine = m_live](const fairkv::ProgressFn& progress,
                                                               const std::atomic<bool>* cancel, fairkv::TraceSink* trace,
                                                               const fairkv::PartialFn& partial,
                                                               std::shared_ptr<fairkv::LiveRun>& live) {
            live = engine; // stays loaded: a re-run can be re-run again
            return engine->rerun(placement, name, progress, cancel, trace, partial);
        },
        parent, m_live->result().backend == "cuda");
}

int RunJobTracker::rerunFresh(const fairkv::RunConfig& config, const fairkv::Placement& placement, const QString& name,
                              std::optional<int64_t> parent)
{
    m_live.reset();
    // Prefill only (uniform split: planners need decode steps), then the edited placement decodes
    // the run's steps. Moved KV bytes therefore count from the uniform split.
    fairkv::RunConfig prefillOnly = config;
    prefillOnly.decode = 0;
    prefillOnly.placement = "uniform";
    const int steps = config.decode;
    return launch(
        [prefillOnly, placement, name = name.toStdString(), steps](
            const fairkv::ProgressFn& progress, const std::atomic<bool>* cancel, fairkv::TraceSink* trace,
            const fairkv::PartialFn& partial, std::shared_ptr<fairkv::LiveRun>& live) {
            live = std::make_shared<fairkv::LiveRun>(prefillOnly, progress, cancel, trace);
            return live->rerun(placement, name, progress, cancel, trace, partial, steps);
        },
        parent, config.backend == "cuda");
}

int RunJobTracker::launch(Work work, std::optional<int64_t> parent, bool kernels)
{
    cancel();
    waitForIdle();
    const int job = ++m_current;
    auto cancelFlag = std::make_shared<std::atomic<bool>>(false);
    m_cancel = cancelFlag;
    m_running = true;
    QPointer<RunJobTracker> self(this);
    m_thread = QThread::create([self, job, work, cancelFlag, parent, kernels] {
        // GPU runs trace their kernels (CUPTI); where that cannot start, the run still goes on
        // with the device-event times, and its trace says why.
        std::shared_ptr<profiler::EngineTracer> tracer;
        std::string tracingProblem;
        try {
            tracer = std::make_shared<profiler::EngineTracer>(kernels && profiler::EngineTracer::kernelTracingBuilt());
        } catch (const std::exception& e) {
            tracingProblem = e.what();
            tracer = std::make_shared<profiler::EngineTracer>(false);
        }
        if (!tracingProblem.empty())
            tracer->buffer().warnings.push_back("kernel tracing is off: " + tracingProblem);
        auto emitProgress = [&](const std::string& phase, int done, int total) {
            if (self)
                QMetaObject::invokeMethod(self.data(), [self, job, p = QString::fromStdString(phase), done, total] {
                    if (self && job == self->m_current)
                        Q_EMIT self->progress(job, p, done, total);
                }, Qt::QueuedConnection);
        };
        QElapsedTimer sinceLast;
        auto emitPartial = [&](const fairkv::RunResult& soFar) {
            if (sinceLast.isValid() && sinceLast.elapsed() < 250)
                return;
            sinceLast.start();
            RunOutcome outcome{std::make_shared<fairkv::RunResult>(soFar), nullptr, parent};
            if (self)
                QMetaObject::invokeMethod(self.data(), [self, job, outcome] {
                    if (self && job == self->m_current && self->m_running)
                        Q_EMIT self->partial(job, outcome);
                }, Qt::QueuedConnection);
        };
        try {
            std::shared_ptr<fairkv::LiveRun> live;
            auto result = std::make_shared<fairkv::RunResult>(work(emitProgress, cancelFlag.get(), tracer.get(), emitPartial, live));
            RunOutcome outcome{result, std::make_shared<profiler::TraceBuffer>(std::move(tracer->buffer())), parent};
            if (self)
                QMetaObject::invokeMethod(self.data(), [self, job, outcome, live] {
                    if (!self || job != self->m_current) // a stale job: the newer one is still running
                        return;
                    self->m_running = false;
                    {
                        self->m_live = live;
                        Q_EMIT self->finished(job, outcome);
                    }
                }, Qt::QueuedConnection);
        } catch (const std::exception& e) {
            const bool wasCancelled = cancelFlag->load();
            const QString message = QString::fromStdString(e.what());
            if (self)
                QMetaObject::invokeMethod(self.data(), [self, job, message, wasCancelled] {
                    if (!self || job != self->m_current)
                        return;
                    self->m_running = false;
                    if (wasCancelled)
                        Q_EMIT self->cancelled(job);
                    else
                        Q_EMIT self->failed(job, message);
                }, Qt::QueuedConnection);
        }
    });
    connect(m_thread, &QThread::finished, m_thread, &QObject::deleteLater);
    m_thread->start();
    return job;
}

void RunJobTracker::dropLive()
{
    cancel();
    waitForIdle();
    m_live.reset();
    // A job past its last cancel check still posts its outcome: it belongs to the session left.
    ++m_current;
}

void RunJobTracker::cancel()
{
    if (m_cancel)
        m_cancel->store(true);
}

void RunJobTracker::waitForIdle()
{
    if (m_thread)
        m_thread->wait();
}

} // namespace fairkv::views
