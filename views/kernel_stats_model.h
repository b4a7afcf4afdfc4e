#pragma once
#include "trace_record.h"

#include <QAbstractTableModel>

#include <memory>

namespace fairkv::views {

// Count, total, mean and median duration per record name for the records that start inside a
// selected time range of the timeline.
class KernelStatsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Name, Phase, Count, TotalMs, MeanUs, MedianUs, ColumnCount };
    explicit KernelStatsModel(QObject* parent = nullptr);
    void setRange(std::shared_ptr<const profiler::TraceBuffer> trace, int64_t start, int64_t end);

    struct Row
    {
        QString name;
        bool prefill = false; // prefill and decode records of one kernel are kept apart
        int count = 0;
        double totalMs = 0, meanUs = 0, medianUs = 0;
    };
    const std::vector<Row>& rows() const { return m_rows; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<Row> m_rows;
};

} // namespace fairkv::views
