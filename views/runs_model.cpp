#include "runs_model.h"

#include "studio_run.h"

#include <QLocale>

namespace fairkv::views {

RunsModel::RunsModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void RunsModel::setRuns(std::vector<profiler::RunSummary> runs)
{
    beginResetModel();
    m_runs = std::move(runs);
    endResetModel();
}

const profiler::RunSummary* RunsModel::run(int row) const
{
    return row >= 0 && row < int(m_runs.size()) ? &m_runs[size_t(row)] : nullptr;
}

int RunsModel::rowOf(int64_t id) const
{
    for (size_t i = 0; i < m_runs.size(); ++i)
        if (m_runs[i].id == id)
            return int(i);
    return -1;
}

int RunsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_runs.size());
}

int RunsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RunsModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_runs.size()))
        return {};
    const auto& r = m_runs[size_t(index.row())];
    if (role == RunIdRole)
        return qlonglong(r.id);
    if (role == Qt::TextAlignmentRole)
        return index.column() >= Budget && index.column() <= Imbalance && index.column() != Backend
                   ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                   : QVariant();
    if (role == Qt::ToolTipRole && index.column() == TokensPerS)
        return tr("Decode throughput (%1)").arg(timingName(r.timing));
    if (role == Qt::ToolTipRole && index.column() == Label && (r.settingsDamaged || r.resultDamaged))
        return tr("This run's stored record cannot be read (edited or corrupted outside FairKV Studio): %1").arg(QString::fromStdString(r.damage));
    if (role != Qt::DisplayRole)
        return {};
    // Damaged settings show "?" rather than blanks and zeros that read as settings.
    const QVariant unknown = QStringLiteral("?");
    switch (Column(index.column())) {
    case Id:
        return qlonglong(r.id);
    case Parent:
        return r.parent ? QVariant(qlonglong(*r.parent)) : QVariant(QStringLiteral("–"));
    case Label:
        if (r.settingsDamaged || r.resultDamaged) {
            const QString damage = r.settingsDamaged && r.resultDamaged ? tr("settings and result damaged")
                                   : r.settingsDamaged                  ? tr("settings damaged")
                                                                        : tr("result damaged");
            return tr("[%1] %2").arg(damage, QString::fromStdString(r.label));
        }
        return QString::fromStdString(r.label);
    case Model:
        return QString::fromStdString(r.model);
    case Placement:
        return QString::fromStdString(r.placement);
    case Compression:
        return r.settingsDamaged ? unknown : QString::fromStdString(r.compress);
    case Budget:
        return r.settingsDamaged ? unknown : QVariant(r.budget);
    case Batch: // settings without a batch (edited by hand) say so rather than "0"
        return r.settingsDamaged ? unknown : r.batch > 0 ? QVariant(r.batch) : QVariant(QStringLiteral("–"));
    case Decode:
        return r.settingsDamaged ? unknown : QVariant(r.decode);
    case Ranks: // a damaged count reads 0
        return r.ranks > 0 ? QVariant(r.ranks) : unknown;
    case Backend:
        return QString::fromStdString(r.backend);
    case TokensPerS:
        return runFigure(r.tokensPerS, 1);
    case StepMs:
        return runFigure(r.stepMs, 3);
    case Imbalance:
        return runFigure(r.imbalance, 3);
    case Timing:
        return timingName(r.timing);
    case ColumnCount:
        break;
    }
    return {};
}

QVariant RunsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (Column(section)) {
    case Id:
        return tr("Run");
    case Parent:
        return tr("Parent");
    case Label:
        return tr("Label");
    case Model:
        return tr("Model");
    case Placement:
        return tr("Placement");
    case Compression:
        return tr("Compression");
    case Budget:
        return tr("Budget");
    case Batch:
        return tr("Batch");
    case Decode:
        return tr("Steps");
    case Ranks:
        return tr("Ranks");
    case Backend:
        return tr("Backend");
    case TokensPerS:
        return tr("Tokens/s");
    case StepMs:
        return tr("Step ms");
    case Imbalance:
        return tr("Imbalance");
    case Timing:
        return tr("Timing");
    case ColumnCount:
        break;
    }
    return {};
}

} // namespace fairkv::views
