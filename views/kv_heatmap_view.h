#pragma once
#include "studio_run.h"

#include <QWidget>

#include <optional>

class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QCPItemRect;
class QComboBox;
class QSpinBox;
class QCheckBox;
class QLabel;

namespace fairkv::views {

// Layers x units of one run: how much KV each unit kept. Metric, linear/log scale, hover tooltip
// (layer, unit, ranks holding it, value), click to select a unit, overlay of the placement.
class KvHeatmapView : public QWidget
{
    Q_OBJECT
public:
    enum class Metric { MeanTokens, RequestTokens, LayerShare, AttentionMass };

    explicit KvHeatmapView(QWidget* parent = nullptr);
    void setRun(const StudioRun& run);
    void clear();

    void setMetric(Metric metric, int request = 0);
    void setLogScale(bool on);
    void setOverlay(bool on);
    void selectCell(int layer, int unit);

    Metric metric() const { return m_metric; }
    // The value shown at (layer, unit) under the current metric; NaN outside the data.
    double cellValue(int layer, int unit) const;
    std::optional<std::pair<int, int>> selectedCell() const { return m_selected; }
    QString selectionDetails() const;
    // A cell's value as the tooltip shows it, in the current metric's unit and decimals.
    QString formattedValue(double v) const;
    QString tooltipAt(const QPoint& plotPixel) const;
    QCustomPlot* plot() const { return m_plot; }
    // Rank labels drawn on cells, and what the map says about those left out (too small, too many).
    int overlayLabels() const { return m_overlayLabels; }
    QString overlayNote() const;

Q_SIGNALS:
    void unitSelected(int layer, int unit);

protected:
    bool event(QEvent* e) override;
    bool eventFilter(QObject* watched, QEvent* e) override;

private:
    void rebuild();
    void updateTicks();
    // `force`: rebuild the labels even where the same ones would be drawn (the data changed).
    void updateOverlay(bool force = true);
    std::optional<std::pair<int, int>> cellAt(const QPoint& pixel) const;
    QStringList ranksOf(int layer, int unit) const;

    StudioRun m_run;
    Metric m_metric = Metric::MeanTokens;
    int m_request = 0;
    bool m_log = false;
    bool m_overlay = true;
    std::optional<std::pair<int, int>> m_selected;
    std::vector<std::vector<double>> m_values; // [layer][unit]

    QCustomPlot* m_plot;
    QCPColorMap* m_map;
    QCPColorScale* m_scale;
    QCPItemRect* m_selection;
    QComboBox* m_metricBox;
    QSpinBox* m_requestBox;
    QCheckBox* m_logBox;
    QCheckBox* m_overlayBox;
    QLabel* m_runLabel; // which run the map shows (one of those selected)
    QLabel* m_details;
    QLabel* m_overlayNote;
    int m_overlayLabels = 0;
    std::vector<QString> m_overlayTexts; // [layer * units + unit]: each cell's label, empty for none
};

} // namespace fairkv::views
