// QCustomPlot first: its header needs foreach, which the first Qt include of a file decides.
#include "qcustomplot_include.h"

#include "gpu_load_view.h"
#include "report.h"
#include "plot_export.h"

#include "theme.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QSplitter>
#include <QVBoxLayout>

namespace fairkv::views {

GpuLoadView::GpuLoadView(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
{
    addExportAction(m_plot, m_plot);
    m_modeBox = new QComboBox(this);
    m_modeBox->addItem(tr("Summed over layers"));
    m_modeBox->addItem(tr("Attention per layer"));
    m_summary = new QLabel(this);
    m_summary->setWordWrap(true);
    m_summary->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Show:"), this));
    top->addWidget(m_modeBox);
    top->addStretch(1);
    // The plot keeps a readable height however many runs the summary lists: the summary scrolls,
    // and the splitter lets the user trade one for the other (24 runs had left the plot 40 px).
    m_plot->setMinimumHeight(240);
    auto* summaryArea = new QScrollArea(this);
    summaryArea->setWidget(m_summary);
    summaryArea->setWidgetResizable(true);
    summaryArea->setFrameShape(QFrame::NoFrame);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_plot);
    split->addWidget(summaryArea);
    split->setStretchFactor(0, 4);
    split->setStretchFactor(1, 1);
    split->setChildrenCollapsible(false);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(split, 1);
    m_plot->legend->setVisible(true);
    // The legend sits under the plot, so it never hides a bar.
    auto* legendRect = new QCPLayoutGrid;
    m_plot->plotLayout()->addElement(1, 0, legendRect);
    legendRect->addElement(0, 0, m_plot->legend);
    m_plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
    m_plot->legend->setWrap(3);
    m_plot->plotLayout()->setRowStretchFactor(1, 0.001);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    connect(m_modeBox, &QComboBox::currentIndexChanged, this, [this](int i) { setMode(Mode(i)); });
    theme::stylePlot(m_plot, palette());
    rebuild(); // the empty state: no axes, a hint where the bars will be
}

void GpuLoadView::setRuns(std::vector<StudioRun> runs)
{
    m_runs = std::move(runs);
    rebuild();
}

void GpuLoadView::setMode(Mode mode)
{
    m_mode = mode;
    const QSignalBlocker b(m_modeBox);
    m_modeBox->setCurrentIndex(int(mode));
    rebuild();
}

int GpuLoadView::barCount() const
{
    return m_plot->plottableCount() - m_legendOnly;
}

QString GpuLoadView::summaryText() const
{
    return m_summary->text();
}

namespace {
enum class Part { Attention, Mlp, Collectives };

// Attention solid, MLP hatched, collectives a darker shade of the run's colour. A lighter shade
// for the MLP had turned the palette's pale colours (pink, sand) into white bars.
void stylePart(QCPBars* bars, const QColor& base, Part part, bool dark, bool outline)
{
    switch (part) {
    case Part::Attention:
        bars->setBrush(base);
        break;
    case Part::Mlp:
        bars->setBrush(QBrush(base, Qt::BDiagPattern));
        break;
    case Part::Collectives:
        bars->setBrush(base.darker(160));
        break;
    }
    // On dark themes the darkest shade gets a light outline, or it sinks into the background.
    const QColor edge = part == Part::Collectives && dark ? base.lighter(130) : base.darker(130);
    bars->setPen(outline || part == Part::Mlp ? QPen(edge) : QPen(Qt::NoPen));
}

Qt::PenStyle runLineStyle(int run)
{
    static const Qt::PenStyle styles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine, Qt::DashDotDotLine};
    return styles[run % 5];
}
} // namespace

void GpuLoadView::rebuild()
{
    m_plot->clearPlottables();
    m_plot->clearItems();
    m_legendOnly = 0;
    m_untimedNote.clear();
    m_plot->setVisible(!m_runs.empty()); // no empty axes before the first run
    if (m_runs.empty()) {
        m_summary->setText(tr("Run something or select runs in the list to see per-GPU load."));
        m_plot->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    QStringList lines;
    const double baseTps = m_runs.front().summary.tokensPerS;
    if (m_mode == Mode::Summed) {
        // One group of bars per run, rank by rank; each bar stacks attention, MLP, collectives.
        const int runs = int(m_runs.size());
        const double width = 0.8 / runs;
        const bool dark = palette().color(QPalette::Base).lightness() < 128;
        QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
        std::vector<std::vector<double>> attentionOf; // [run][rank]
        int maxRanks = 0;
        for (const StudioRun& run : m_runs) {
            attentionOf.push_back(profiler::rankTotals(run.result, "rank_attention_ms"));
            maxRanks = std::max(maxRanks, int(attentionOf.back().size()));
        }
        // Many thin bars: outlines of neighbours ran together into one dark band (64 ranks).
        const bool outline = maxRanks * runs <= 48;
        for (int k = 0; k < runs; ++k) {
            const StudioRun& run = m_runs[size_t(k)];
            const std::vector<double>& attention = attentionOf[size_t(k)];
            const auto mlp = profiler::rankTotals(run.result, "rank_mlp_ms");
            double collective = 0;
            for (const auto& c : run.result.value("collective_ms", nlohmann::json::array()))
                collective += c.get<double>();
            QVector<double> keys, a, m, c;
            for (size_t g = 0; g < attention.size(); ++g) {
                keys << double(g) - 0.4 + width * (k + 0.5);
                a << attention[g];
                m << (g < mlp.size() ? mlp[g] : 0.0);
                c << collective;
            }
            const QColor base = theme::series(k);
            auto makeBars = [&](const QVector<double>& values, const QString& name, Part part) {
                auto* bars = new QCPBars(m_plot->xAxis, m_plot->yAxis);
                bars->setWidth(width * 0.9);
                bars->setData(keys, values);
                bars->setName(name);
                stylePart(bars, base, part, dark, outline);
                bars->removeFromLegend(); // the legend names runs and parts once each
                return bars;
            };
            QCPBars* ba = makeBars(a, tr("%1: attention").arg(run.title()), Part::Attention);
            QCPBars* bm = makeBars(m, tr("%1: MLP").arg(run.title()), Part::Mlp);
            QCPBars* bc = makeBars(c, tr("%1: collectives").arg(run.title()), Part::Collectives);
            bm->moveAbove(ba);
            bc->moveAbove(bm);
        }
        // The legend: one entry per run in its colour (when there are several), then what each
        // shade of a bar stands for; three entries per run had filled the window from 8 runs on.
        const auto legendEntry = [&](const QString& name, const QColor& colour, Part part) {
            auto* entry = new QCPBars(m_plot->xAxis, m_plot->yAxis);
            entry->setName(name);
            stylePart(entry, colour, part, dark, true);
            ++m_legendOnly;
        };
        if (runs > 1)
            for (int k = 0; k < runs; ++k)
                legendEntry(m_runs[size_t(k)].title(), theme::series(k), Part::Attention);
        const QColor neutral = runs > 1 ? palette().color(QPalette::Mid) : theme::series(0);
        legendEntry(tr("attention"), neutral, Part::Attention);
        legendEntry(tr("MLP"), neutral, Part::Mlp);
        legendEntry(tr("collectives"), neutral, Part::Collectives);
        // Labels that fit: "rank 3" for a few ranks, the bare number for more, and only every
        // n-th past what the axis holds (64 ranks had run together into one line).
        const int every = std::max(1, (maxRanks + 15) / 16);
        for (int g = 0; g < maxRanks; g += every)
            ticker->addTick(g, maxRanks <= 8 ? tr("rank %1").arg(g) : QString::number(g));
        m_plot->xAxis->setLabel(maxRanks <= 8 ? QString() : tr("rank"));
        m_plot->xAxis->setTicker(ticker);
        m_plot->xAxis->setRange(-0.6, maxRanks - 0.4);
        m_plot->yAxis->setLabel(tr("ms/step (%1)").arg(m_runs.front().timingLabel()));
    } else {
        // Attention time per layer, one line per rank of each run: where the slowest rank sits.
        // Layers are whole numbers; the legend names colours (ranks) and line styles (runs) once
        // each rather than every run x rank line, whose names no legend width holds.
        QSharedPointer<QCPAxisTickerFixed> layerTicks(new QCPAxisTickerFixed);
        layerTicks->setTickStep(1.0);
        layerTicks->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        m_plot->xAxis->setTicker(layerTicks);
        int graph = 0, maxRanks = 0;
        for (size_t k = 0; k < m_runs.size(); ++k) {
            const auto& layers = m_runs[k].result.value("rank_attention_ms", nlohmann::json::array());
            const int ranks = layers.empty() ? 0 : int(layers[0].size());
            const bool timed = profiler::timedSteps(m_runs[k].result); // else the table's zeros were never timed
            for (int g = 0; g < ranks; ++g) {
                auto* gr = m_plot->addGraph();
                QVector<double> x, y;
                for (size_t l = 0; l < layers.size(); ++l) {
                    x << double(l);
                    y << (timed ? layers[l][size_t(g)].get<double>() : RunResult::kNotTimed);
                }
                gr->setData(x, y);
                QPen pen(theme::series(g), 1.5, runLineStyle(int(k)));
                gr->setPen(pen);
                gr->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
                gr->setName(tr("%1, rank %2").arg(m_runs[k].title()).arg(g));
                gr->removeFromLegend();
                ++graph;
            }
            maxRanks = std::max(maxRanks, ranks);
        }
        const auto legendEntry = [&](const QString& name, const QPen& pen) {
            auto* entry = m_plot->addGraph();
            entry->setPen(pen);
            entry->setName(name);
            ++m_legendOnly;
        };
        for (int g = 0; g < maxRanks; ++g)
            legendEntry(tr("rank %1").arg(g), QPen(theme::series(g), 2));
        if (m_runs.size() > 1)
            for (size_t k = 0; k < m_runs.size(); ++k)
                legendEntry(m_runs[k].title(), QPen(palette().color(QPalette::Text), 1.5, runLineStyle(int(k))));
        m_plot->xAxis->setLabel(tr("layer"));
        m_plot->yAxis->setLabel(tr("attention ms/step (%1)").arg(m_runs.front().timingLabel()));
        m_plot->xAxis->rescale();
    }
    // A run that timed no decode step (prefill only) has no bars: the plot says so, above the
    // others' bars, rather than leaving empty axes to be read as zero load.
    QStringList untimed;
    for (const StudioRun& run : m_runs)
        if (!profiler::timedSteps(run.result))
            untimed << run.title();
    m_plot->yAxis->rescale();
    m_plot->yAxis->setRangeLower(0);
    m_plot->yAxis->setRangeUpper(m_plot->yAxis->range().upper * (untimed.isEmpty() ? 1.1 : 1.3));
    if (!untimed.isEmpty()) {
        auto* note = new QCPItemText(m_plot);
        note->position->setType(QCPItemPosition::ptAxisRectRatio);
        note->position->setCoords(0.5, 0.02);
        note->setPositionAlignment(Qt::AlignHCenter | Qt::AlignTop);
        note->setText(tr("%1: no decode step timed (prefill only), so no per-rank times").arg(untimed.join(QStringLiteral(", "))));
        QColor back = palette().color(QPalette::Base);
        back.setAlpha(230);
        note->setBrush(back);
        note->setPadding(QMargins(6, 3, 6, 3));
        note->setClipToAxisRect(true);
        m_untimedNote = note->text();
    }
    for (const StudioRun& run : m_runs) {
        const QString timing = run.timingLabel();
        QString line = tr("%1: %L2 tokens/s (%3), decode step %L4 ms (%3), attention imbalance %L5 (%3), attention lower bound %L6 ms (modelled)")
                           .arg(run.title())
                           .arg(runFigure(run.summary.tokensPerS, 1))
                           .arg(timing)
                           .arg(runFigure(run.summary.stepMs, 3))
                           .arg(runFigure(run.summary.imbalance, 3))
                           .arg(runFigure(run.summary.lowerBoundMs, 3));
        // What the imbalance costs: the mean rank's wait for each layer's slowest attention, and
        // the copies a placement pays to shorten it.
        line += tr("; the mean rank waits %L1 ms per step for each layer's slowest attention (%2)")
                    .arg(runFigure(profiler::attentionWaitMs(run.result), 3))
                    .arg(timing);
        if (const int extra = profiler::extraReplicas(run.result); extra > 0)
            line += tr(", %n unit copies", nullptr, extra);
        const auto speedup = profiler::speedupOver(run.summary.tokensPerS, baseTps);
        if (&run != &m_runs.front() && speedup) {
            line += tr("; speedup over %1: %L2× (%3)").arg(m_runs.front().title()).arg(*speedup, 0, 'f', 3).arg(timing);
            const auto a = profiler::stepSpread(run.result), b = profiler::stepSpread(m_runs.front().result);
            if (a && b)
                line += (profiler::withinSpread(*speedup, *a, *b)
                             ? tr(", within what the runs' steps vary by (±%L1% in %2, ±%L3% in %4): it may be noise")
                             : tr(" (steps vary by ±%L1% in %2, ±%L3% in %4)"))
                            .arg(100 * *b, 0, 'f', 1)
                            .arg(m_runs.front().title())
                            .arg(100 * *a, 0, 'f', 1)
                            .arg(run.title());
        }
        if (const QString unlike = &run != &m_runs.front() ? unlikeSettings(m_runs.front(), run) : QString(); !unlike.isEmpty())
            line += tr("; unlike work: it differs from %1 in %2").arg(m_runs.front().title(), unlike);
        lines << line;
    }
    m_summary->setText(lines.join(QLatin1Char('\n')));
    theme::fitLegendColumns(m_plot);
    theme::stylePlot(m_plot, palette());
}

bool GpuLoadView::event(QEvent* e)
{
    if (e->type() == QEvent::PaletteChange)
        rebuild(); // the bars' shades depend on the theme
    else if (e->type() == QEvent::Show)
        theme::stylePlot(m_plot, palette());
    return QWidget::event(e);
}

void GpuLoadView::resizeEvent(QResizeEvent* e)
{
    QWidget::resizeEvent(e);
    theme::fitLegendColumns(m_plot);
}

} // namespace fairkv::views
