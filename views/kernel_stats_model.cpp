#include "kernel_stats_model.h"

#include "common/quantile.h"

#include <QLocale>

#include <algorithm>
#include <map>

namespace fairkv::views {

KernelStatsModel::KernelStatsModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void KernelStatsModel::setRange(std::shared_ptr<const profiler::TraceBuffer> trace, int64_t start, int64_t end)
{
    // One prompt's prefill kernel runs for milliseconds, a decode step's for microseconds: pooled,
    // the mean of one would drown the median of the other.
    std::map<std::pair<uint32_t, bool>, std::vector<int64_t>> byName;
    if (trace)
        for (const auto& r : trace->records)
            if (r.startNs >= start && r.startNs <= end)
                byName[{r.nameId, r.step < 0}].push_back(r.durationNs());
    std::vector<Row> rows;
    for (auto& [key, durations] : byName) {
        std::sort(durations.begin(), durations.end());
        Row row;
        row.name = QString::fromStdString(trace->name(key.first));
        row.prefill = key.second;
        row.count = int(durations.size());
        int64_t total = 0;
        for (int64_t d : durations)
            total += d;
        row.totalMs = double(total) / 1e6;
        row.meanUs = double(total) / 1e3 / double(durations.size());
        row.medianUs = quantileOfSorted(durations, 0.5) / 1e3;
        rows.push_back(row);
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.totalMs > b.totalMs; });
    beginResetModel();
    m_rows = std::move(rows);
    endResetModel();
}

int KernelStatsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int KernelStatsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant KernelStatsModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rows.size()))
        return {};
    const Row& r = m_rows[size_t(index.row())];
    if (role == Qt::TextAlignmentRole && index.column() != Name && index.column() != Phase)
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole && index.column() == Name)
        return r.name; // the whole name where the column cuts it
    if (role != Qt::DisplayRole)
        return {};
    const QLocale loc;
    switch (Column(index.column())) {
    case Name:
        return r.name;
    case Phase:
        return r.prefill ? tr("prefill") : tr("decode");
    case Count:
        return loc.toString(r.count);
    case TotalMs:
        return loc.toString(r.totalMs, 'f', 3);
    case MeanUs:
        return loc.toString(r.meanUs, 'f', 1);
    case MedianUs:
        return loc.toString(r.medianUs, 'f', 1);
    case ColumnCount:
        break;
    }
    return {};
}

QVariant KernelStatsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (Column(section)) {
    case Name:
        return tr("Kernel / op");
    case Phase:
        return tr("Phase");
    case Count:
        return tr("Count");
    case TotalMs:
        return tr("Total ms");
    case MeanUs:
        return tr("Mean µs");
    case MedianUs:
        return tr("Median µs");
    case ColumnCount:
        break;
    }
    return {};
}

} // namespace fairkv::views
