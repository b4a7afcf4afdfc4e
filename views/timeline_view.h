#pragma once
#include "time_axis.h"
#include "trace_record.h"

#include <QWidget>

#include <memory>
#include <vector>

namespace fairkv::views {

// One lane per rank (and one for work of all ranks) with the run's trace records. Wheel zooms
// around the cursor, dragging pans, Shift+drag selects a range. Records narrower than a pixel are
// folded into one mark per pixel column, so a million records stay smooth.
class TimelineView : public QWidget
{
    Q_OBJECT
public:
    explicit TimelineView(QWidget* parent = nullptr);
    void setTrace(std::shared_ptr<const profiler::TraceBuffer> trace, int ranks);
    void clear();

    const TimeAxis& axis() const { return m_axis; }
    void setWindow(int64_t start, int64_t end);
    void zoomAt(double factor, double x);
    void panBy(double dx);
    void selectRange(int64_t start, int64_t end);
    std::pair<int64_t, int64_t> selection() const { return {m_selStart, m_selEnd}; }
    int64_t traceStart() const { return m_lo; }
    int64_t traceEnd() const { return m_hi; }
    int lanes() const { return int(m_lanes.size()); }
    // Rectangles drawn in the last paint (after folding): for tests and the benchmark.
    int lastDrawnMarks() const { return m_lastMarks; }
    // Renders into an image of the widget's size (benchmarks, screenshots).
    void renderTo(QImage& image);
    // A ruler label at `ns` from the trace's start, in the unit of the tick spacing.
    static QString tickLabel(double ns, double stepNs);
    // Where a profile opens, given its decode steps' first records in step order: at the first
    // step of the steady run, after the last pause between steps that is over five times their
    // median distance (the first steps warm kernels, capture graphs or move a new placement's
    // shards, and a pause of seconds would squeeze the steady steps into the last pixels).
    static int64_t steadyDecodeStart(const std::vector<int64_t>& stepStarts);

Q_SIGNALS:
    void rangeSelected(qint64 start, qint64 end);

protected:
    void paintEvent(QPaintEvent* e) override;
    void wheelEvent(QWheelEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mouseReleaseEvent(QMouseEvent* e) override;
    void mouseDoubleClickEvent(QMouseEvent* e) override;
    void resizeEvent(QResizeEvent* e) override;

private:
    // What painting needs of a record, packed so a lane is one linear walk through memory.
    struct Mark
    {
        int64_t start, end;
        uint32_t nameId;
        uint8_t phase;
        bool detail; // a Range record: drawn in the thinner lower row
    };
    struct Lane
    {
        int rank = -1;
        std::vector<Mark> marks; // sorted by start
        int64_t longest = 0;     // longest record: how far back a visible one can start
    };
    void paint(QPainter& p, const QRect& area);
    static constexpr int kLabelWidth = 80;
    static constexpr int kLaneHeight = 34;
    static constexpr int kRulerHeight = 22;
    static constexpr int kLegendHeight = 18; // the phase colours, under the lanes
    int lanesBottom() const { return kRulerHeight + int(m_lanes.size()) * kLaneHeight; }

    std::shared_ptr<const profiler::TraceBuffer> m_trace;
    std::vector<Lane> m_lanes;
    TimeAxis m_axis;
    int64_t m_lo = 0, m_hi = 1;
    int64_t m_selStart = 0, m_selEnd = 0;
    QPoint m_pressPos;
    bool m_selecting = false, m_panning = false;
    int m_lastMarks = 0;
};

} // namespace fairkv::views
