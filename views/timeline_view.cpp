#include "timeline_view.h"
#include "plot_export.h"

#include "theme.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>
#include <map>

namespace fairkv::views {

TimelineView::TimelineView(QWidget* parent)
    : QWidget(parent)
{
    addExportAction(this);
    setMouseTracking(true);
    setMinimumHeight(kRulerHeight + 2 * kLaneHeight);
    setFocusPolicy(Qt::StrongFocus);
    setToolTip(tr("Wheel: zoom · drag: pan · Shift+drag: select a range · double-click: the whole run"));
}

void TimelineView::clear()
{
    setTrace(nullptr, 0);
}

void TimelineView::setTrace(std::shared_ptr<const profiler::TraceBuffer> trace, int ranks)
{
    m_trace = std::move(trace);
    m_lanes.clear();
    m_selStart = m_selEnd = 0;
    if (!m_trace || m_trace->records.empty()) {
        m_lo = 0;
        m_hi = 1;
        m_axis = TimeAxis{0, 1, double(std::max(1, width() - kLabelWidth))};
        update();
        return;
    }
    m_lanes.resize(size_t(ranks) + 1);
    for (int g = 0; g < ranks; ++g)
        m_lanes[size_t(g)].rank = g;
    m_lanes.back().rank = -1;
    m_lo = INT64_MAX;
    m_hi = INT64_MIN;
    std::map<int, int64_t> stepStart; // each decode step's first record
    for (const auto& r : m_trace->records) {
        if (r.step >= 0) {
            const auto [it, fresh] = stepStart.emplace(r.step, r.startNs);
            if (!fresh)
                it->second = std::min(it->second, r.startNs);
        }
        Lane& lane = r.rank >= 0 && r.rank < ranks ? m_lanes[size_t(r.rank)] : m_lanes.back();
        lane.marks.push_back({r.startNs, r.endNs, r.nameId, uint8_t(r.phase), r.kind == profiler::RecordKind::Range});
        lane.longest = std::max(lane.longest, r.durationNs());
        m_lo = std::min(m_lo, r.startNs);
        m_hi = std::max(m_hi, r.endNs);
    }
    for (Lane& lane : m_lanes)
        std::sort(lane.marks.begin(), lane.marks.end(), [](const Mark& a, const Mark& b) { return a.start < b.start; });
    m_hi = std::max(m_hi, m_lo + 1);
    setMinimumHeight(lanesBottom() + kLegendHeight);
    m_axis = TimeAxis{m_lo, m_hi, double(std::max(1, width() - kLabelWidth))};
    // A profile opens on its steady decode steps: where prefill (and compression) take most of the
    // run, they would squeeze the steps into the last pixels. Double-click shows the whole run.
    std::vector<int64_t> starts;
    for (const auto& [step, start] : stepStart)
        starts.push_back(start);
    const int64_t decodeStart = steadyDecodeStart(starts);
    if (decodeStart < m_hi && decodeStart - m_lo > (m_hi - m_lo) / 2)
        m_axis.start = std::max(m_lo, decodeStart - (m_hi - decodeStart) / 50);
    update();
}

int64_t TimelineView::steadyDecodeStart(const std::vector<int64_t>& stepStarts)
{
    if (stepStarts.empty())
        return INT64_MAX;
    std::vector<int64_t> gaps;
    for (size_t i = 1; i < stepStarts.size(); ++i)
        gaps.push_back(stepStarts[i] - stepStarts[i - 1]);
    if (gaps.size() < 2) // no steady run to tell a pause from
        return stepStarts.front();
    std::vector<int64_t> sorted = gaps;
    std::nth_element(sorted.begin(), sorted.begin() + long(sorted.size() / 2), sorted.end());
    const int64_t median = sorted[sorted.size() / 2];
    size_t first = 0;
    for (size_t i = 0; i < gaps.size(); ++i)
        if (gaps[i] > 5 * median)
            first = i + 1;
    return stepStarts[first];
}

void TimelineView::setWindow(int64_t start, int64_t end)
{
    m_axis.start = std::max(start, m_lo);
    m_axis.end = std::max(std::min(end, m_hi), m_axis.start + 1);
    update();
}

void TimelineView::zoomAt(double factor, double x)
{
    m_axis = m_axis.zoomed(factor, x, m_lo, m_hi);
    update();
}

void TimelineView::panBy(double dx)
{
    m_axis = m_axis.panned(dx, m_lo, m_hi);
    update();
}

void TimelineView::selectRange(int64_t start, int64_t end)
{
    m_selStart = std::min(start, end);
    m_selEnd = std::max(start, end);
    update();
    Q_EMIT rangeSelected(m_selStart, m_selEnd);
}

void TimelineView::resizeEvent(QResizeEvent* e)
{
    m_axis.width = double(std::max(1, width() - kLabelWidth));
    QWidget::resizeEvent(e);
}

void TimelineView::renderTo(QImage& image)
{
    QPainter p(&image);
    paint(p, image.rect());
}

void TimelineView::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    paint(p, rect());
}

void TimelineView::paint(QPainter& p, const QRect& area)
{
    const QPalette pal = palette();
    p.fillRect(area, pal.color(QPalette::Base));
    p.setPen(pal.color(QPalette::Text));
    m_lastMarks = 0;
    if (!m_trace || m_lanes.empty()) {
        // A run is shown but has no records: saved with --no-trace, or every record was unusable.
        QString text = !m_trace ? tr("No trace: run something or open a session.")
                                : tr("This run has no trace records (saved with --no-trace, or its records were left out as damaged).");
        if (m_trace && !m_trace->warnings.empty())
            text += QLatin1Char('\n') + QString::fromStdString(m_trace->warnings.front());
        p.drawText(area, Qt::AlignCenter | Qt::TextWordWrap, text);
        return;
    }
    const double plotWidth = m_axis.width;
    // Ruler with round tick spacing.
    const double span = double(m_axis.end - m_axis.start);
    double step = std::pow(10.0, std::floor(std::log10(std::max(span / 8.0, 1.0))));
    for (double m : {2.0, 5.0})
        if (span / step > 10)
            step *= m;
    const int64_t firstTick = int64_t(std::ceil(double(m_axis.start - m_lo) / step) * step) + m_lo;
    QColor gridColor = pal.color(QPalette::Text);
    gridColor.setAlpha(40);
    for (double t = double(firstTick); t <= double(m_axis.end); t += step) {
        const double x = kLabelWidth + m_axis.toX(int64_t(t));
        p.setPen(gridColor);
        p.drawLine(QPointF(x, kRulerHeight), QPointF(x, std::min(area.height(), lanesBottom())));
        p.setPen(pal.color(QPalette::Text));
        const QString label = tickLabel(t - double(m_lo), step);
        if (x + 2 + p.fontMetrics().horizontalAdvance(label) <= area.width()) // no label cut at the edge
            p.drawText(QPointF(x + 2, kRulerHeight - 6), label);
    }
    // Per row, the phase (+1) of sub-pixel work in each pixel column: folded into one mark.
    std::vector<uint8_t> occupied[2];
    for (size_t li = 0; li < m_lanes.size(); ++li) {
        const Lane& lane = m_lanes[li];
        const int top = kRulerHeight + int(li) * kLaneHeight;
        p.setPen(pal.color(QPalette::Text));
        p.drawText(QRect(4, top, kLabelWidth - 8, kLaneHeight), Qt::AlignVCenter | Qt::AlignLeft,
                   lane.rank >= 0 ? tr("rank %1").arg(lane.rank) : tr("all ranks"));
        p.setPen(gridColor);
        p.drawLine(0, top + kLaneHeight - 1, area.width(), top + kLaneHeight - 1);
        // Two rows per lane: summed work (ops, kernels) on top, detail ranges below; one walk.
        const int rowY[2] = {top + 3, top + 18};
        const int rowH[2] = {14, 10};
        occupied[0].assign(size_t(plotWidth) + 2, 0);
        occupied[1].assign(size_t(plotWidth) + 2, 0);
        const int64_t from = m_axis.start - lane.longest;
        auto it = std::lower_bound(lane.marks.begin(), lane.marks.end(), from, [](const Mark& m, int64_t t) { return m.start < t; });
        const double scale = plotWidth / double(m_axis.end - m_axis.start);
        for (; it != lane.marks.end() && it->start <= m_axis.end; ++it) {
            if (it->end < m_axis.start)
                continue;
            const int row = it->detail ? 1 : 0;
            const double x0 = std::max(0.0, double(it->start - m_axis.start) * scale);
            const double x1 = std::min(plotWidth, double(it->end - m_axis.start) * scale);
            if (x1 - x0 < 1.0) {
                occupied[row][size_t(x0)] = uint8_t(it->phase + 1);
                continue;
            }
            p.fillRect(QRectF(kLabelWidth + x0, rowY[row], x1 - x0, rowH[row]), theme::phaseColor(it->phase));
            ++m_lastMarks;
            if (x1 - x0 > 60) { // a name cut short says so with an ellipsis rather than mid-word
                p.setPen(Qt::white);
                const QString name = p.fontMetrics().elidedText(QString::fromStdString(m_trace->name(it->nameId)),
                                                                Qt::ElideRight, int(x1 - x0 - 4));
                p.drawText(QRectF(kLabelWidth + x0 + 2, rowY[row], x1 - x0 - 4, rowH[row]), Qt::AlignVCenter | Qt::AlignLeft, name);
            }
        }
        for (int row = 0; row < 2; ++row)
            for (size_t x = 0; x < occupied[row].size(); ++x)
                if (occupied[row][x]) {
                    p.fillRect(QRectF(kLabelWidth + double(x), rowY[row], 1.0, rowH[row]), theme::phaseColor(occupied[row][x] - 1));
                    ++m_lastMarks;
                }
    }
    // What the colours mean, under the lanes.
    const int legendTop = lanesBottom() + 2;
    if (legendTop + kLegendHeight - 2 <= area.height()) {
        using profiler::Phase;
        const std::pair<Phase, QString> entries[] = {{Phase::Attention, tr("attention")},
                                                     {Phase::Mlp, tr("MLP")},
                                                     {Phase::Collective, tr("collective")},
                                                     {Phase::Compression, tr("compression")},
                                                     {Phase::Replicated, tr("replicated work")},
                                                     {Phase::Other, tr("prefill, steps, other")}};
        int x = kLabelWidth;
        p.setPen(pal.color(QPalette::Text));
        for (const auto& [phase, name] : entries) {
            p.fillRect(QRect(x, legendTop + 3, 10, 10), theme::phaseColor(int(phase)));
            p.drawText(QPoint(x + 14, legendTop + 12), name);
            x += 14 + p.fontMetrics().horizontalAdvance(name) + 16;
        }
    }
    if (m_selEnd > m_selStart) {
        QColor sel = pal.color(QPalette::Highlight);
        sel.setAlpha(60);
        const double x0 = kLabelWidth + m_axis.toX(m_selStart), x1 = kLabelWidth + m_axis.toX(m_selEnd);
        p.fillRect(QRectF(x0, kRulerHeight, std::max(1.0, x1 - x0), area.height() - kRulerHeight), sel);
    }
}

QString TimelineView::tickLabel(double ns, double stepNs)
{
    // The unit of the tick spacing, so a 24 s run reads 10 s, 20 s rather than 10000 ms.
    if (stepNs >= 1e9)
        return tr("%L1 s").arg(ns / 1e9, 0, 'g', 6);
    if (stepNs >= 1e6)
        return tr("%L1 ms").arg(ns / 1e6, 0, 'g', 6);
    if (stepNs >= 1e3)
        return tr("%L1 µs").arg(ns / 1e3, 0, 'g', 6);
    return tr("%L1 ns").arg(ns, 0, 'g', 6);
}

void TimelineView::mouseDoubleClickEvent(QMouseEvent* e)
{
    setWindow(m_lo, m_hi);
    e->accept();
}

void TimelineView::wheelEvent(QWheelEvent* e)
{
    const double steps = e->angleDelta().y() / 120.0;
    zoomAt(std::pow(1.25, steps), e->position().x() - kLabelWidth);
    e->accept();
}

void TimelineView::mousePressEvent(QMouseEvent* e)
{
    m_pressPos = e->pos();
    m_selecting = e->modifiers() & Qt::ShiftModifier;
    m_panning = !m_selecting;
}

void TimelineView::mouseMoveEvent(QMouseEvent* e)
{
    if (m_panning && (e->buttons() & Qt::LeftButton)) {
        panBy(e->pos().x() - m_pressPos.x());
        m_pressPos = e->pos();
    } else if (m_selecting && (e->buttons() & Qt::LeftButton)) {
        m_selStart = m_axis.toTime(std::min(m_pressPos.x(), e->pos().x()) - kLabelWidth);
        m_selEnd = m_axis.toTime(std::max(m_pressPos.x(), e->pos().x()) - kLabelWidth);
        update();
    }
}

void TimelineView::mouseReleaseEvent(QMouseEvent* e)
{
    if (m_selecting)
        selectRange(m_axis.toTime(m_pressPos.x() - kLabelWidth), m_axis.toTime(e->pos().x() - kLabelWidth));
    m_selecting = m_panning = false;
}

} // namespace fairkv::views
