#include "studio_run.h"

#include <QCoreApplication>

namespace fairkv::views {

int StudioRun::layers() const
{
    const auto& kv = result.value("kv_len", nlohmann::json::array());
    return kv.empty() ? 0 : int(kv[0].size());
}

int StudioRun::units() const
{
    const auto& kv = result.value("kv_len", nlohmann::json::array());
    return kv.empty() || kv[0].empty() ? 0 : int(kv[0][0].size());
}

int StudioRun::batch() const
{
    return int(result.value("kv_len", nlohmann::json::array()).size());
}

QString StudioRun::title() const
{
    return QCoreApplication::translate("StudioRun", "run %1 · %2")
        .arg(summary.id)
        .arg(QString::fromStdString(summary.placement));
}

QString StudioRun::timingLabel() const
{
    return QString::fromStdString(summary.timing);
}

StudioRun loadStudioRun(const profiler::SessionStore& store, int64_t id)
{
    const profiler::StoredRun stored = store.loadRun(id);
    StudioRun run;
    run.summary = stored.summary;
    run.result = stored.result;
    run.environment = stored.environment;
    run.trace = std::make_shared<profiler::TraceBuffer>(store.loadTrace(id));
    return run;
}

} // namespace fairkv::views
