#pragma once
#include "studio_run.h"

#include <QWidget>

#include <vector>

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QDoubleSpinBox;
class QLabel;
class QTableWidget;

namespace fairkv::views {

// Any set of runs side by side (issue 7): a table of tokens/s, step time, imbalance, attention
// time, lower bound, per-rank attention and per-layer maximum, with the speedup over a chosen
// baseline; and a diverging heatmap of one run minus the baseline, per layer and unit (KV tokens,
// attention mass) or per layer and rank (attention ms), hiding differences below a threshold.
class CompareView : public QWidget
{
    Q_OBJECT
public:
    enum class Metric { KvTokens, AttentionMass, RankAttentionMs };

    explicit CompareView(QWidget* parent = nullptr);

    void setRuns(std::vector<StudioRun> runs);
    int baseline() const { return m_baseline; }
    void setBaseline(int index);
    void setCompared(int index);
    void setMetric(Metric m);
    void setThreshold(double t);

    // For tests and reports: the table as text, one value, the delta heatmap's cells.
    QTableWidget* table() const { return m_table; }
    double speedup(int run) const; // tokens/s of run over the baseline's
    double deltaCell(int row, int column) const; // NaN where hidden or absent
    int deltaRows() const { return int(m_delta.size()); }
    QCustomPlot* plot() const { return m_plot; }
    // PNG or SVG by the file's suffix; false with a message in lastError() otherwise.
    bool exportPlot(const QString& path);
    QString lastError() const { return m_error; }

    // metric values [layer][unit or rank] of one run, as the heatmap compares them
    static std::vector<std::vector<double>> metricGrid(const StudioRun& run, Metric m);

protected:
    void changeEvent(QEvent* e) override;
    bool eventFilter(QObject* watched, QEvent* e) override;

private:
    void updateTicks();
    void rebuildTable();
    void rebuildDelta();

    std::vector<StudioRun> m_runs;
    std::vector<std::vector<double>> m_delta; // shown cells, NaN when hidden
    int m_baseline = 0, m_compared = 0;
    Metric m_metric = Metric::KvTokens;
    double m_threshold = 0.0;
    QString m_error;
    QComboBox* m_baselineBox;
    QComboBox* m_comparedBox;
    QComboBox* m_metricBox;
    QDoubleSpinBox* m_thresholdBox;
    QTableWidget* m_table;
    QCustomPlot* m_plot;
    QCPColorMap* m_map;
    QCPColorScale* m_scale;
    QLabel* m_note;
};

} // namespace fairkv::views
