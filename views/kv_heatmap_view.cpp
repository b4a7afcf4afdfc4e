// QCustomPlot first: its header needs foreach, which the first Qt include of a file decides.
#include "qcustomplot_include.h"

#include "kv_heatmap_view.h"
#include "plot_export.h"

#include "theme.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QSpinBox>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fairkv::views {

namespace {
// Viridis stops (Debian's QCustomPlot 2.1 has no viridis preset).
QCPColorGradient viridis()
{
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.00, QColor(68, 1, 84));
    g.setColorStopAt(0.25, QColor(59, 82, 139));
    g.setColorStopAt(0.50, QColor(33, 145, 140));
    g.setColorStopAt(0.75, QColor(94, 201, 98));
    g.setColorStopAt(1.00, QColor(253, 231, 37));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    return g;
}
constexpr int kOverlayCellLimit = 1024; // beyond this many cells rank labels would be unreadable
} // namespace

KvHeatmapView::KvHeatmapView(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
{
    addExportAction(m_plot, m_plot);
    auto* controls = new QHBoxLayout;
    m_metricBox = new QComboBox(this);
    m_metricBox->addItem(tr("Retained KV tokens (mean over requests)"));
    m_metricBox->addItem(tr("Retained KV tokens (one request)"));
    m_metricBox->addItem(tr("Share of the layer's KV"));
    m_metricBox->addItem(tr("Attention mass retained"));
    // The metric's long names must not set the window's minimum width (German ones less so).
    m_metricBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_metricBox->setMinimumContentsLength(14);
    m_requestBox = new QSpinBox(this);
    m_requestBox->setPrefix(tr("request "));
    m_requestBox->setEnabled(false);
    m_logBox = new QCheckBox(tr("Log scale"), this);
    m_overlayBox = new QCheckBox(tr("Show placement"), this);
    m_overlayBox->setChecked(true);
    m_overlayNote = new QLabel(this);
    m_overlayNote->setVisible(false);
    m_runLabel = new QLabel(this);
    m_runLabel->setToolTip(tr("The map shows one run: the last one selected in the run list"));
    QFont bold = m_runLabel->font();
    bold.setBold(true);
    m_runLabel->setFont(bold);
    // Two rows, so the controls (wider in German) do not set the window's minimum width.
    auto* title = new QHBoxLayout;
    title->addWidget(m_runLabel, 1);
    title->addWidget(m_logBox);
    title->addWidget(m_overlayBox);
    controls->addWidget(new QLabel(tr("Metric:"), this));
    controls->addWidget(m_metricBox, 1);
    controls->addWidget(m_requestBox);
    m_details = new QLabel(tr("Click a cell to see the unit's details."), this);
    m_details->setWordWrap(true);
    m_details->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(title);
    layout->addLayout(controls);
    layout->addWidget(m_plot, 1);
    layout->addWidget(m_overlayNote);
    layout->addWidget(m_details);

    m_plot->xAxis->setLabel(tr("unit"));
    m_plot->yAxis->setLabel(tr("layer"));
    m_plot->yAxis->setRangeReversed(true);
    // Ticks point out of the cells: drawn inward they cut into the rank labels of the first
    // column and the top row (32 units: "-r0").
    for (QCPAxis* axis : {m_plot->xAxis, m_plot->yAxis}) {
        axis->setTickLength(0, 4);
        axis->setSubTickLength(0, 2);
    }
    m_map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    m_scale = new QCPColorScale(m_plot);
    m_plot->plotLayout()->addElement(0, 1, m_scale);
    m_map->setColorScale(m_scale);
    m_map->setGradient(viridis());
    auto* margins = new QCPMarginGroup(m_plot);
    m_plot->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    m_scale->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    m_selection = new QCPItemRect(m_plot);
    m_selection->setPen(QPen(Qt::red, 2));
    m_selection->setBrush(Qt::NoBrush);
    m_selection->setVisible(false);
    m_plot->setMouseTracking(true);
    m_plot->installEventFilter(this);

    connect(m_metricBox, &QComboBox::currentIndexChanged, this, [this](int i) { setMetric(Metric(i), m_requestBox->value()); });
    connect(m_requestBox, &QSpinBox::valueChanged, this, [this](int r) {
        if (m_metric == Metric::RequestTokens)
            setMetric(m_metric, r);
    });
    connect(m_logBox, &QCheckBox::toggled, this, &KvHeatmapView::setLogScale);
    connect(m_overlayBox, &QCheckBox::toggled, this, &KvHeatmapView::setOverlay);
    theme::stylePlot(m_plot, palette());
}

void KvHeatmapView::setRun(const StudioRun& run)
{
    m_run = run;
    m_selected.reset();
    m_requestBox->setRange(0, std::max(0, run.batch() - 1));
    m_runLabel->setText(run.result.empty() ? QString() : run.title());
    rebuild();
    m_details->setText(tr("Click a cell to see the unit's details."));
}

void KvHeatmapView::clear()
{
    setRun(StudioRun{});
}

void KvHeatmapView::setMetric(Metric metric, int request)
{
    m_metric = metric;
    m_request = std::clamp(request, 0, std::max(0, m_run.batch() - 1));
    const QSignalBlocker b1(m_metricBox), b2(m_requestBox);
    m_metricBox->setCurrentIndex(int(metric));
    m_requestBox->setValue(m_request);
    m_requestBox->setEnabled(metric == Metric::RequestTokens);
    rebuild();
    if (m_selected)
        m_details->setText(selectionDetails());
}

void KvHeatmapView::setLogScale(bool on)
{
    m_log = on;
    const QSignalBlocker b(m_logBox);
    m_logBox->setChecked(on);
    rebuild();
}

void KvHeatmapView::setOverlay(bool on)
{
    m_overlay = on;
    const QSignalBlocker b(m_overlayBox);
    m_overlayBox->setChecked(on);
    updateOverlay();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

double KvHeatmapView::cellValue(int layer, int unit) const
{
    if (layer < 0 || layer >= int(m_values.size()) || unit < 0 || unit >= int(m_values[size_t(layer)].size()))
        return std::nan("");
    return m_values[size_t(layer)][size_t(unit)];
}

void KvHeatmapView::rebuild()
{
    const int layers = m_run.layers(), units = m_run.units(), batch = m_run.batch();
    m_values.assign(size_t(layers), std::vector<double>(size_t(units), 0.0));
    const auto& kv = m_run.result.value("kv_len", nlohmann::json::array());
    const auto& mass = m_run.result.value("attention_mass", nlohmann::json::array());
    for (int l = 0; l < layers; ++l) {
        double layerTotal = 0.0;
        for (int r = 0; r < batch; ++r)
            for (int u = 0; u < units; ++u)
                layerTotal += kv[size_t(r)][size_t(l)][size_t(u)].get<double>();
        for (int u = 0; u < units; ++u) {
            double v = 0.0;
            switch (m_metric) {
            case Metric::MeanTokens:
                for (int r = 0; r < batch; ++r)
                    v += kv[size_t(r)][size_t(l)][size_t(u)].get<double>() / batch;
                break;
            case Metric::RequestTokens:
                v = kv[size_t(m_request)][size_t(l)][size_t(u)].get<double>();
                break;
            case Metric::LayerShare:
                for (int r = 0; r < batch; ++r)
                    v += kv[size_t(r)][size_t(l)][size_t(u)].get<double>();
                v = layerTotal > 0 ? 100.0 * v / layerTotal : 0.0;
                break;
            case Metric::AttentionMass:
                for (int r = 0; r < batch; ++r)
                    v += mass[size_t(r)][size_t(l)][size_t(u)].get<double>() / batch;
                break;
            }
            m_values[size_t(l)][size_t(u)] = v;
        }
    }
    m_map->data()->setSize(std::max(units, 1), std::max(layers, 1));
    // A single row or column gets the cell's width: QCPColorMap draws a zero-width range as nothing.
    m_map->data()->setRange(units > 1 ? QCPRange(0, units - 1) : QCPRange(-0.5, 0.5),
                            layers > 1 ? QCPRange(0, layers - 1) : QCPRange(-0.5, 0.5));
    double lo = 1e300, hi = -1e300;
    for (int l = 0; l < layers; ++l)
        for (int u = 0; u < units; ++u) {
            const double v = m_values[size_t(l)][size_t(u)];
            m_map->data()->setCell(u, l, v);
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    static const char* const units_[] = {QT_TR_NOOP("retained KV tokens"), QT_TR_NOOP("retained KV tokens"),
                                          QT_TR_NOOP("share of the layer's KV (%)"), QT_TR_NOOP("attention mass retained")};
    m_scale->axis()->setLabel(tr(units_[int(m_metric)]));
    const bool log = m_log && lo > 0;
    m_scale->setDataScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    // Token counts get whole-number ticks (a flat map, every unit keeping its whole prompt, had
    // ticks at 132.2, 132.4, ...); a flat map puts its one value in the middle of the scale.
    const bool counts = m_metric == Metric::MeanTokens || m_metric == Metric::RequestTokens;
    if (counts && !log) {
        auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
        ticker->setTickStep(1.0);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        m_scale->axis()->setTicker(ticker);
    } else {
        m_scale->axis()->setTicker(QSharedPointer<QCPAxisTicker>::create());
    }
    if (layers > 0 && units > 0)
        m_map->setDataRange(hi > lo ? QCPRange(lo, hi) : log ? QCPRange(lo / 2, lo * 2) : QCPRange(lo - 1, lo + 1));
    m_plot->xAxis->setRange(-0.5, std::max(units, 1) - 0.5);
    m_plot->yAxis->setRange(-0.5, std::max(layers, 1) - 0.5);
    updateTicks();
    updateOverlay();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

QString KvHeatmapView::overlayNote() const
{
    return m_overlayNote->isHidden() ? QString() : m_overlayNote->text();
}

QStringList KvHeatmapView::ranksOf(int layer, int unit) const
{
    const auto& layers = m_run.result.value("placement", nlohmann::json::object()).value("layers", nlohmann::json::array());
    QStringList ranks;
    if (layer >= int(layers.size()))
        return ranks;
    for (const auto& up : layers[size_t(layer)])
        if (up.value("unit", -1) == unit) {
            for (const auto& rep : up["replicas"])
                ranks << QString::number(rep.value("rank", -1));
            break;
        }
    return ranks;
}

void KvHeatmapView::updateOverlay(bool force)
{
    const int layers = m_run.layers(), units = m_run.units();
    const bool tooMany = layers * units > kOverlayCellLimit;
    // What each cell shows: "r12+13+14+15" where it fits, else the rank alone or the copy count
    // ("×4"), else nothing (64 ranks' labels had run across their neighbours).
    std::vector<QString> texts;
    int hidden = 0;
    QFont f = font();
    f.setPointSizeF(f.pointSizeF() * 0.8);
    if (m_overlay && !tooMany) {
        const QFontMetrics fm(f);
        // A cell's size on screen; before the plot is laid out there is nothing to measure, and
        // every label is placed.
        const bool measured = m_plot->isVisible();
        const QSize area = theme::cellArea(m_plot);
        const double cellW = double(area.width()) / units, cellH = double(area.height()) / layers;
        const auto fits = [&](const QString& text) {
            return !measured || (fm.horizontalAdvance(text) <= cellW - 2 && fm.height() <= cellH);
        };
        texts.resize(size_t(layers * units));
        for (int l = 0; l < layers; ++l)
            for (int u = 0; u < units; ++u) {
                const QStringList ranks = ranksOf(l, u);
                if (ranks.isEmpty())
                    continue; // no placement record for the unit: nothing to label
                QString text = tr("r%1").arg(ranks.join(QLatin1Char('+')));
                if (!fits(text))
                    text = ranks.size() == 1 ? ranks.front() : tr("×%1").arg(ranks.size());
                if (fits(text))
                    texts[size_t(l * units + u)] = text;
                else
                    ++hidden;
            }
    }
    QString note;
    if (m_overlay && tooMany)
        note = tr("%L1 cells: too many for rank labels; hover a cell for its ranks").arg(layers * units);
    else if (hidden > 0)
        note = tr("%n cell(s) too small for their rank labels; hover a cell or enlarge the map", nullptr, hidden);
    m_overlayNote->setText(note);
    m_overlayNote->setVisible(!note.isEmpty());
    // A resize that changes no label keeps the items (labels sit on cell coordinates and move
    // with the axes): rebuilding a thousand of them on every step of a drag would stutter.
    if (!force && texts == m_overlayTexts)
        return;
    m_overlayTexts = texts;
    for (int i = m_plot->itemCount() - 1; i >= 0; --i)
        if (m_plot->item(i)->property("overlay").toBool())
            m_plot->removeItem(i);
    m_overlayLabels = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        if (texts[i].isEmpty())
            continue;
        const int l = int(i) / units, u = int(i) % units;
        auto* t = new QCPItemText(m_plot);
        t->setProperty("overlay", true);
        t->position->setCoords(u, l);
        t->setText(texts[i]);
        // Readable on every cell: dark text on light cells, light on dark ones, judged by the
        // colour the cell is drawn in (on a log scale too).
        const QColor cellColour = QColor::fromRgb(m_map->gradient().color(
            m_values[size_t(l)][size_t(u)], m_map->dataRange(), m_map->dataScaleType() == QCPAxis::stLogarithmic));
        const double luma = 0.2126 * cellColour.redF() + 0.7152 * cellColour.greenF() + 0.0722 * cellColour.blueF();
        t->setColor(luma > 0.45 ? QColor(20, 20, 20) : QColor(245, 245, 245));
        t->setFont(f);
        t->setClipToAxisRect(true);
        ++m_overlayLabels;
    }
}

std::optional<std::pair<int, int>> KvHeatmapView::cellAt(const QPoint& pixel) const
{
    if (!m_plot->axisRect()->rect().contains(pixel))
        return std::nullopt;
    double x = 0, y = 0;
    m_map->pixelsToCoords(pixel, x, y);
    const int u = int(std::lround(x)), l = int(std::lround(y));
    if (l < 0 || l >= m_run.layers() || u < 0 || u >= m_run.units())
        return std::nullopt;
    return std::make_pair(l, u);
}

QString KvHeatmapView::tooltipAt(const QPoint& pixel) const
{
    const auto cell = cellAt(pixel);
    if (!cell)
        return {};
    return tr("layer %1, unit %2\nrank %3\n%4: %5")
        .arg(cell->first)
        .arg(cell->second)
        .arg(ranksOf(cell->first, cell->second).join(QLatin1Char('+')))
        .arg(m_metricBox->currentText())
        .arg(formattedValue(cellValue(cell->first, cell->second)));
}

QString KvHeatmapView::formattedValue(double v) const
{
    // The decimals of the details line below the map: whole tokens of one request, means to a
    // tenth, masses to a thousandth; locale-formatted like every number in the window.
    const QLocale loc;
    switch (m_metric) {
    case Metric::MeanTokens:
        return loc.toString(v, 'f', 1);
    case Metric::RequestTokens:
        return loc.toString(v, 'f', 0);
    case Metric::LayerShare:
        return tr("%1 %").arg(loc.toString(v, 'f', 1));
    case Metric::AttentionMass:
        return loc.toString(v, 'f', 3);
    }
    return loc.toString(v);
}

void KvHeatmapView::selectCell(int layer, int unit)
{
    if (layer < 0 || layer >= m_run.layers() || unit < 0 || unit >= m_run.units())
        return;
    m_selected = std::make_pair(layer, unit);
    m_selection->topLeft->setCoords(unit - 0.5, layer - 0.5);
    m_selection->bottomRight->setCoords(unit + 0.5, layer + 0.5);
    m_selection->setVisible(true);
    m_details->setText(selectionDetails());
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    Q_EMIT unitSelected(layer, unit);
}

namespace {
// Up to eight values as a list, more as their mean and range, so the line stays short.
QString valuesOf(const std::vector<double>& v, int decimals)
{
    const QLocale loc;
    if (v.size() <= 8) {
        QStringList items;
        for (double x : v)
            items << loc.toString(x, 'f', decimals);
        return items.join(QLatin1String(", "));
    }
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    return KvHeatmapView::tr("mean %1, %2–%3 over %n request(s)", nullptr, int(v.size()))
        .arg(loc.toString(mean, 'f', decimals), loc.toString(*lo, 'f', decimals), loc.toString(*hi, 'f', decimals));
}
} // namespace

QString KvHeatmapView::selectionDetails() const
{
    if (!m_selected)
        return {};
    const auto [l, u] = *m_selected;
    std::vector<double> tokens, mass;
    const auto& kv = m_run.result["kv_len"];
    const auto& m = m_run.result["attention_mass"];
    for (int r = 0; r < m_run.batch(); ++r) {
        tokens.push_back(kv[size_t(r)][size_t(l)][size_t(u)].get<int>());
        mass.push_back(m[size_t(r)][size_t(l)][size_t(u)].get<double>());
    }
    QString replicas;
    const auto& layers = m_run.result["placement"]["layers"];
    for (const auto& up : layers[size_t(l)])
        if (up.value("unit", -1) == u)
            for (const auto& rep : up["replicas"]) {
                std::vector<int> reqs;
                for (const auto& q : rep["requests"])
                    reqs.push_back(q.get<int>());
                std::sort(reqs.begin(), reqs.end());
                replicas += tr(" rank %1 serves requests %2;").arg(rep.value("rank", -1)).arg(requestRanges(reqs));
            }
    return tr("Layer %1, unit %2 —%3 retained tokens per request: %4; attention mass retained: %5")
        .arg(l)
        .arg(u)
        .arg(replicas)
        .arg(valuesOf(tokens, 0))
        .arg(valuesOf(mass, 3));
}

void KvHeatmapView::updateTicks()
{
    theme::cellTicks(m_plot, m_run.units(), m_run.layers());
}

bool KvHeatmapView::eventFilter(QObject* watched, QEvent* e)
{
    if (watched == m_plot) {
        if (e->type() == QEvent::Resize || e->type() == QEvent::Show) {
            updateTicks();
            updateOverlay(false); // which rank labels fit depends on the cells' size on screen
            m_plot->replot(QCustomPlot::rpQueuedReplot);
        } else if (e->type() == QEvent::MouseMove) {
            const auto* me = static_cast<QMouseEvent*>(e);
            const QString tip = tooltipAt(me->pos());
            if (tip.isEmpty())
                QToolTip::hideText();
            else
                QToolTip::showText(me->globalPosition().toPoint(), tip, m_plot);
        } else if (e->type() == QEvent::MouseButtonPress) {
            const auto* me = static_cast<QMouseEvent*>(e);
            if (const auto cell = cellAt(me->pos()))
                selectCell(cell->first, cell->second);
        }
    }
    return QWidget::eventFilter(watched, e);
}

bool KvHeatmapView::event(QEvent* e)
{
    if (e->type() == QEvent::PaletteChange || e->type() == QEvent::Show)
        theme::stylePlot(m_plot, palette());
    return QWidget::event(e);
}

} // namespace fairkv::views
