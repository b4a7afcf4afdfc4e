#include "studio_run.h"

#include "report.h"

#include <QCoreApplication>
#include <QLocale>

#include <cmath>

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

namespace {

// Text from a session as a title shows it: one line, at most `most` characters (the Runs table
// shows it whole), its own bidi controls dropped and the whole isolated (FSI ... PDI), so a
// right-to-left label or a stray U+202E cannot reorder the text around it.
QString inTitle(const std::string& text, qsizetype most)
{
    QString t = QString::fromStdString(text).simplified();
    t.removeIf([](QChar c) { return (c.unicode() >= 0x202a && c.unicode() <= 0x202e) || (c.unicode() >= 0x2066 && c.unicode() <= 0x2069); });
    if (t.size() > most) {
        const qsizetype cut = t.at(most - 2).isHighSurrogate() ? most - 2 : most - 1; // not inside a pair
        t = t.left(cut) + QChar(0x2026);
    }
    return QChar(0x2068) + t + QChar(0x2069);
}

} // namespace

QString StudioRun::title() const
{
    // A hand-made placement's name may be long (up to 256 bytes): shortened like the label.
    const QString placement = inTitle(summary.placement, 32);
    if (summary.id <= 0)
        return QCoreApplication::translate("StudioRun", "running · %1").arg(placement);
    QString title = summary.placement.empty() // a session whose placement record is missing
        ? QCoreApplication::translate("StudioRun", "run %1").arg(summary.id)
        : QCoreApplication::translate("StudioRun", "run %1 · %2").arg(summary.id).arg(placement);
    // The user's --label tells runs of one placement apart in legends and headers.
    if (!summary.label.empty())
        title += QStringLiteral(" · ") + inTitle(summary.label, 24);
    return title;
}

QString requestRanges(const std::vector<int>& sorted)
{
    QStringList out;
    for (size_t i = 0; i < sorted.size();) {
        size_t j = i;
        while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1)
            ++j;
        out << (j == i ? QString::number(sorted[i]) : QStringLiteral("%1-%2").arg(sorted[i]).arg(sorted[j]));
        i = j + 1;
    }
    return out.join(QStringLiteral(", "));
}

QString timingName(const std::string& timing)
{
    if (timing == "measured")
        return QCoreApplication::translate("StudioRun", "measured");
    if (timing == "emulated")
        return QCoreApplication::translate("StudioRun", "emulated");
    if (timing == "modelled")
        return QCoreApplication::translate("StudioRun", "modelled");
    return QString::fromStdString(timing);
}

QString settingName(const std::string& key)
{
    if (key == "model")
        return QCoreApplication::translate("StudioRun", "model");
    if (key == "batch")
        return QCoreApplication::translate("StudioRun", "batch");
    if (key == "layers")
        return QCoreApplication::translate("StudioRun", "layers");
    if (key == "units")
        return QCoreApplication::translate("StudioRun", "units");
    if (key == "compression")
        return QCoreApplication::translate("StudioRun", "compression");
    if (key == "budget")
        return QCoreApplication::translate("StudioRun", "budget");
    if (key == "prompt length")
        return QCoreApplication::translate("StudioRun", "prompt length");
    if (key == "decode steps")
        return QCoreApplication::translate("StudioRun", "decode steps");
    return QString::fromStdString(key);
}

QString unlikeSettings(const StudioRun& base, const StudioRun& run)
{
    QStringList names;
    for (const std::string& d : profiler::unlikeWork(base.summary, base.result, run.summary, run.result))
        names << settingName(d);
    return names.join(QStringLiteral(", "));
}

QString runFigure(double value, int decimals)
{
    return std::isfinite(value) ? QLocale().toString(value, 'f', decimals) : QCoreApplication::translate("StudioRun", "n/a");
}

QString StudioRun::timingLabel() const
{
    return timingName(summary.timing);
}

StudioRun studioRunFromResult(const fairkv::RunResult& r)
{
    StudioRun run;
    run.summary.id = 0;
    run.summary.model = r.model.value("name", std::string());
    run.summary.backend = r.backend;
    run.summary.timing = r.timing;
    run.summary.placement = r.placement.name;
    run.summary.ranks = r.ranks;
    run.summary.batch = r.config.batch;
    run.summary.budget = r.config.compression.budget;
    run.summary.decode = r.config.decode;
    run.summary.compress = compressionName(r.config.compression.policy);
    run.summary.tokensPerS = r.tokensPerS;
    run.summary.stepMs = r.stepMeanMs();
    run.summary.imbalance = r.imbalance;
    run.summary.lowerBoundMs = r.lowerBoundMs;
    run.result = r.toJson();
    return run;
}

StudioRun loadStudioRun(const profiler::SessionStore& store, int64_t id, bool withTrace)
{
    const profiler::StoredRun stored = store.loadRun(id);
    StudioRun run;
    run.summary = stored.summary;
    run.result = stored.result;
    run.environment = stored.environment;
    if (withTrace)
        run.trace = std::make_shared<profiler::TraceBuffer>(store.loadTrace(id));
    return run;
}

} // namespace fairkv::views
