#include "qcustomplot_include.h" // first: QCustomPlot needs foreach

#include "compare_view.h"

#include "plot_export.h"
#include "report.h"
#include "theme.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace fairkv::views {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Blue (run below the baseline) - neutral - red (above), symmetric around zero.
QCPColorGradient diverging(const QPalette& palette)
{
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.0, QColor(33, 102, 172));
    g.setColorStopAt(0.25, QColor(103, 169, 207));
    g.setColorStopAt(0.5, palette.color(QPalette::Base));
    g.setColorStopAt(0.75, QColor(239, 138, 98));
    g.setColorStopAt(1.0, QColor(178, 24, 43));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setNanHandling(QCPColorGradient::nhTransparent);
    return g;
}

} // namespace

CompareView::CompareView(QWidget* parent)
    : QWidget(parent)
    , m_baselineBox(new QComboBox(this))
    , m_comparedBox(new QComboBox(this))
    , m_metricBox(new QComboBox(this))
    , m_thresholdBox(new QDoubleSpinBox(this))
    , m_table(new QTableWidget(this))
    , m_plot(new QCustomPlot(this))
    , m_map(new QCPColorMap(m_plot->xAxis, m_plot->yAxis))
    , m_scale(new QCPColorScale(m_plot))
    , m_note(new QLabel(this))
{
    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Baseline:"), this));
    controls->addWidget(m_baselineBox);
    controls->addWidget(new QLabel(tr("Compared:"), this));
    controls->addWidget(m_comparedBox);
    controls->addStretch(1);
    auto* controls2 = new QHBoxLayout;
    controls2->addWidget(new QLabel(tr("Difference in:"), this));
    m_metricBox->addItem(tr("KV tokens per unit (sum over requests)"), int(Metric::KvTokens));
    m_metricBox->addItem(tr("attention mass retained per unit"), int(Metric::AttentionMass));
    m_metricBox->addItem(tr("attention ms per rank"), int(Metric::RankAttentionMs));
    controls2->addWidget(m_metricBox);
    controls2->addWidget(new QLabel(tr("Hide |difference| below:"), this));
    m_thresholdBox->setDecimals(3);
    m_thresholdBox->setRange(0.0, 1e9);
    controls2->addWidget(m_thresholdBox);
    controls2->addStretch(1);

    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    for (QComboBox* box : {m_baselineBox, m_comparedBox, m_metricBox})
        box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_baselineBox->setMinimumContentsLength(14);
    m_comparedBox->setMinimumContentsLength(14);
    m_metricBox->setMinimumContentsLength(20);
    m_table->verticalHeader()->setDefaultSectionSize(22);
    m_plot->plotLayout()->addElement(0, 1, m_scale);
    m_map->setColorScale(m_scale);
    m_map->setInterpolate(false);
    auto* group = new QCPMarginGroup(m_plot);
    m_plot->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    m_scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    m_plot->yAxis->setLabel(tr("layer"));
    m_plot->yAxis->setRangeReversed(true);
    m_note->setWordWrap(true);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_table);
    auto* lower = new QWidget(this);
    auto* lowerLayout = new QVBoxLayout(lower);
    lowerLayout->setContentsMargins(0, 0, 0, 0);
    lowerLayout->addWidget(m_plot, 1);
    lowerLayout->addWidget(m_note);
    split->addWidget(lower);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addLayout(controls2);
    layout->addWidget(split, 1);

    connect(m_baselineBox, &QComboBox::currentIndexChanged, this, [this](int i) { setBaseline(i); });
    connect(m_comparedBox, &QComboBox::currentIndexChanged, this, [this](int i) { setCompared(i); });
    connect(m_metricBox, &QComboBox::currentIndexChanged, this,
            [this] { setMetric(Metric(m_metricBox->currentData().toInt())); });
    connect(m_thresholdBox, &QDoubleSpinBox::valueChanged, this, [this](double t) { setThreshold(t); });
    addExportAction(m_plot, m_plot);
    m_plot->installEventFilter(this);
    theme::stylePlot(m_plot, palette());
    m_note->setText(tr("Select two or more runs to compare them."));
}

void CompareView::setRuns(std::vector<StudioRun> runs)
{
    m_runs = std::move(runs);
    m_baseline = 0;
    m_compared = m_runs.empty() ? 0 : int(m_runs.size()) - 1;
    for (QComboBox* box : {m_baselineBox, m_comparedBox}) {
        box->blockSignals(true);
        box->clear();
        for (const StudioRun& r : m_runs)
            box->addItem(r.title());
        box->blockSignals(false);
    }
    m_baselineBox->setCurrentIndex(m_baseline);
    m_comparedBox->setCurrentIndex(m_compared);
    rebuildTable();
    rebuildDelta();
}

void CompareView::setBaseline(int index)
{
    if (index < 0 || index >= int(m_runs.size()))
        return;
    m_baseline = index;
    if (m_baselineBox->currentIndex() != index)
        m_baselineBox->setCurrentIndex(index);
    rebuildTable();
    rebuildDelta();
}

void CompareView::setCompared(int index)
{
    if (index < 0 || index >= int(m_runs.size()))
        return;
    m_compared = index;
    if (m_comparedBox->currentIndex() != index)
        m_comparedBox->setCurrentIndex(index);
    rebuildDelta();
}

void CompareView::setMetric(Metric m)
{
    m_metric = m;
    const int i = m_metricBox->findData(int(m));
    if (m_metricBox->currentIndex() != i)
        m_metricBox->setCurrentIndex(i);
    rebuildDelta();
}

void CompareView::setThreshold(double t)
{
    m_threshold = t;
    if (m_thresholdBox->value() != t)
        m_thresholdBox->setValue(t);
    rebuildDelta();
}

double CompareView::speedup(int run) const
{
    const double base = m_runs.empty() ? 0.0 : m_runs[size_t(m_baseline)].summary.tokensPerS;
    if (run < 0 || run >= int(m_runs.size()))
        return kNaN;
    return profiler::speedupOver(m_runs[size_t(run)].summary.tokensPerS, base).value_or(kNaN);
}

double CompareView::deltaCell(int row, int column) const
{
    if (row < 0 || row >= int(m_delta.size()) || column < 0 || column >= int(m_delta[size_t(row)].size()))
        return kNaN;
    return m_delta[size_t(row)][size_t(column)];
}

std::vector<std::vector<double>> CompareView::metricGrid(const StudioRun& run, Metric m)
{
    std::vector<std::vector<double>> grid;
    if (m == Metric::RankAttentionMs) {
        for (const auto& layer : run.result.value("rank_attention_ms", nlohmann::json::array()))
            grid.push_back(layer.get<std::vector<double>>());
        return grid;
    }
    const auto& table = run.result.value(m == Metric::KvTokens ? "kv_len" : "attention_mass", nlohmann::json::array());
    const int batch = int(table.size());
    for (int r = 0; r < batch; ++r)
        for (size_t l = 0; l < table[size_t(r)].size(); ++l) {
            if (grid.size() <= l)
                grid.emplace_back(table[size_t(r)][l].size(), 0.0);
            for (size_t u = 0; u < table[size_t(r)][l].size(); ++u)
                grid[l][u] += table[size_t(r)][l][u].get<double>() / (m == Metric::KvTokens ? 1.0 : double(batch));
        }
    return grid;
}

void CompareView::rebuildTable()
{
    m_table->clear();
    if (m_runs.empty()) {
        m_table->setRowCount(0);
        m_table->setColumnCount(0);
        return;
    }
    QStringList headers;
    for (const StudioRun& r : m_runs)
        headers << r.title();
    QStringList rows;
    std::vector<std::vector<QString>> cells; // [row][run]
    auto addRow = [&](const QString& name, const std::function<QString(const StudioRun&, int)>& value) {
        rows << name;
        std::vector<QString> line;
        for (int i = 0; i < int(m_runs.size()); ++i)
            line.push_back(value(m_runs[size_t(i)], i));
        cells.push_back(std::move(line));
    };
    const QLocale loc;
    addRow(tr("Timing"), [](const StudioRun& r, int) -> QString { return r.timingLabel(); });
    addRow(tr("Placement"),
           [](const StudioRun& r, int) -> QString { return QString::fromStdString(r.summary.placement); });
    addRow(tr("Tokens/s"),
           [&](const StudioRun& r, int) -> QString { return runFigure(r.summary.tokensPerS, 1); });
    addRow(tr("Speedup over the baseline"),
           [&](const StudioRun&, int i) -> QString {
               const double x = speedup(i);
               return std::isnan(x) ? QStringLiteral("–") : loc.toString(x, 'f', 3) + QStringLiteral("×");
           });
    addRow(tr("Decode step (ms)"),
           [&](const StudioRun& r, int) -> QString { return runFigure(r.summary.stepMs, 3); });
    addRow(tr("Attention imbalance (max / mean)"),
           [&](const StudioRun& r, int) -> QString { return runFigure(r.summary.imbalance, 3); });
    addRow(tr("Attention, sum of per-layer max (ms)"), [&](const StudioRun& r, int) -> QString {
        return runFigure(profiler::attentionCriticalMs(r.result), 3);
    });
    addRow(tr("Lower bound (ms, modelled)"),
           [&](const StudioRun& r, int) -> QString { return runFigure(r.summary.lowerBoundMs, 3); });
    // What each run did: a speedup between unlike work (another batch, budget, prompt) is no
    // placement's doing, so the table says where a run differs from the baseline.
    addRow(tr("Model"), [](const StudioRun& r, int) -> QString { return QString::fromStdString(r.summary.model); });
    addRow(tr("Backend"), [](const StudioRun& r, int) -> QString { return QString::fromStdString(r.summary.backend); });
    addRow(tr("Ranks"), [&](const StudioRun& r, int) -> QString { return loc.toString(r.summary.ranks); });
    addRow(tr("Batch"), [&](const StudioRun& r, int) -> QString { return loc.toString(r.summary.batch); });
    addRow(tr("Compression (budget)"), [&](const StudioRun& r, int) -> QString {
        return tr("%1 (%2)").arg(QString::fromStdString(r.summary.compress), loc.toString(r.summary.budget));
    });
    addRow(tr("Prompt length, decode steps"), [&](const StudioRun& r, int) -> QString {
        return tr("%1, %2").arg(loc.toString(r.summary.promptLen), loc.toString(r.summary.decode));
    });
    const StudioRun& baseRun = m_runs[size_t(m_baseline)];
    addRow(tr("Differs from the baseline in"), [&](const StudioRun& r, int i) -> QString {
        if (i == m_baseline)
            return QStringLiteral("–");
        const QString unlike = unlikeSettings(baseRun, r);
        return unlike.isEmpty() ? tr("nothing: the same workload") : unlike;
    });
    int ranks = 0, layers = 0;
    for (const StudioRun& r : m_runs) {
        ranks = std::max(ranks, r.ranks());
        layers = std::max(layers, r.layers());
    }
    std::vector<std::vector<double>> rankSums, layerMax; // [run]
    for (const StudioRun& r : m_runs) {
        rankSums.push_back(profiler::rankTotals(r.result, "rank_attention_ms"));
        layerMax.push_back(profiler::layerMaxima(r.result, "rank_attention_ms"));
    }
    auto cell = [&](const std::vector<double>& values, int i) -> QString {
        return i < int(values.size()) ? runFigure(values[size_t(i)], 3) : QStringLiteral("–");
    };
    for (int g = 0; g < ranks; ++g)
        addRow(tr("Rank %1 attention (ms, summed over layers)").arg(g),
               [&, g](const StudioRun&, int i) -> QString { return cell(rankSums[size_t(i)], g); });
    for (int l = 0; l < layers; ++l)
        addRow(tr("Layer %1 slowest rank (ms)").arg(l),
               [&, l](const StudioRun&, int i) -> QString { return cell(layerMax[size_t(i)], l); });
    m_table->setRowCount(int(rows.size()));
    m_table->setColumnCount(int(m_runs.size()));
    m_table->setHorizontalHeaderLabels(headers);
    m_table->setVerticalHeaderLabels(rows);
    for (int row = 0; row < int(rows.size()); ++row)
        for (int c = 0; c < int(m_runs.size()); ++c) {
            auto* item = new QTableWidgetItem(cells[size_t(row)][size_t(c)]);
            item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            if (c == m_baseline) {
                QFont f = item->font();
                f.setBold(true);
                item->setFont(f);
            }
            m_table->setItem(row, c, item);
        }
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
}

void CompareView::rebuildDelta()
{
    m_delta.clear();
    m_map->data()->clear();
    // Without a difference to draw, no empty axes either.
    m_plot->setVisible(false);
    if (m_runs.size() < 2) {
        m_note->setText(tr("Select two or more runs to compare them."));
        return;
    }
    const auto base = metricGrid(m_runs[size_t(m_baseline)], m_metric);
    const auto other = metricGrid(m_runs[size_t(m_compared)], m_metric);
    bool sameShape = !base.empty() && base.size() == other.size();
    for (size_t l = 0; sameShape && l < base.size(); ++l)
        sameShape = base[l].size() == other[l].size() && base[l].size() == base[0].size();
    if (!sameShape || base[0].empty()) {
        m_note->setText(tr("These runs have different shapes (layers, units or ranks): no cell-by-cell difference."));
        return;
    }
    const int rows = int(base.size()), cols = int(base[0].size());
    double extent = 0;
    int hidden = 0;
    m_delta.assign(size_t(rows), std::vector<double>(size_t(cols), kNaN));
    for (int l = 0; l < rows; ++l)
        for (int c = 0; c < cols; ++c) {
            const double d = other[size_t(l)][size_t(c)] - base[size_t(l)][size_t(c)];
            if (std::abs(d) < m_threshold || d == 0.0) {
                ++hidden;
                continue;
            }
            m_delta[size_t(l)][size_t(c)] = d;
            extent = std::max(extent, std::abs(d));
        }
    m_map->data()->setSize(cols, rows);
    // One cell: QCPColorMap draws a range of width zero as nothing, so give it the cell's width.
    m_map->data()->setRange(cols > 1 ? QCPRange(0, cols - 1) : QCPRange(-0.5, 0.5),
                            rows > 1 ? QCPRange(0, rows - 1) : QCPRange(-0.5, 0.5));
    for (int l = 0; l < rows; ++l)
        for (int c = 0; c < cols; ++c)
            m_map->data()->setCell(c, l, m_delta[size_t(l)][size_t(c)]);
    m_map->setGradient(diverging(palette()));
    const double range = extent > 0 ? extent : 1.0; // all equal: a neutral scale, not ±1e-12
    m_map->setDataRange(QCPRange(-range, range));
    m_plot->xAxis->setLabel(m_metric == Metric::RankAttentionMs ? tr("rank") : tr("unit"));
    // Short: the scale's title runs along the plot's height and was cut off on a short plot; the
    // note below says which run is subtracted from which.
    m_scale->axis()->setLabel(m_metric == Metric::RankAttentionMs ? tr("difference (ms)")
                              : m_metric == Metric::KvTokens      ? tr("difference (tokens)")
                                                                  : tr("difference (mass)"));
    m_plot->xAxis->setRange(-0.5, cols - 0.5);
    m_plot->yAxis->setRange(-0.5, rows - 0.5);
    updateTicks();
    const QString kind
        = m_metric == Metric::RankAttentionMs ? m_runs[size_t(m_compared)].timingLabel() : tr("computed");
    m_note->setText(tr("Colour: %1 minus the baseline; red: higher, blue: lower (%2). %3 of %4 cells hidden (equal, or below "
                       "the threshold).")
                        .arg(m_runs[size_t(m_compared)].title(), kind, QString::number(hidden),
                             QString::number(rows * cols))); // one arg(): a '%' in a title stays text
    m_plot->setVisible(true);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

bool CompareView::exportPlot(const QString& path)
{
    m_error = views::exportPlot(m_plot, path);
    return m_error.isEmpty();
}

void CompareView::updateTicks()
{
    if (m_delta.empty())
        return;
    theme::cellTicks(m_plot, int(m_delta[0].size()), int(m_delta.size()));
}

bool CompareView::eventFilter(QObject* watched, QEvent* e)
{
    if (watched == m_plot && e->type() == QEvent::Resize) // the splitter too moves the plot's size
        updateTicks();
    return QWidget::eventFilter(watched, e);
}

void CompareView::changeEvent(QEvent* e)
{
    QWidget::changeEvent(e);
    if (e->type() == QEvent::PaletteChange) {
        theme::stylePlot(m_plot, palette());
        rebuildDelta();
    }
}

} // namespace fairkv::views
