#pragma once
#include "studio_run.h"

#include <QAbstractTableModel>

#include <vector>

namespace fairkv::views {

// The runs of the open session, one row each, with the settings that tell them apart.
class RunsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Id, Parent, Label, Model, Placement, Compression, Budget, Batch, Decode, Ranks, Backend, TokensPerS, StepMs, Imbalance, Timing, ColumnCount };
    enum Role { RunIdRole = Qt::UserRole + 1 };

    explicit RunsModel(QObject* parent = nullptr);
    void setRuns(std::vector<profiler::RunSummary> runs);
    const profiler::RunSummary* run(int row) const;
    int rowOf(int64_t id) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<profiler::RunSummary> m_runs;
};

} // namespace fairkv::views
