#pragma once
#include "studio_run.h"

#include <QWidget>

#include <vector>

class QCustomPlot;
class QComboBox;
class QLabel;

namespace fairkv::views {

// Per-rank load of one run or several side by side: attention, MLP and collective time per decode
// step, summed over layers or per layer, with imbalance and the speedup over the first run, each
// labelled with how it was obtained (measured, emulated, modelled).
class GpuLoadView : public QWidget
{
    Q_OBJECT
public:
    enum class Mode { Summed, PerLayer };
    explicit GpuLoadView(QWidget* parent = nullptr);
    void setRuns(std::vector<StudioRun> runs);
    void setMode(Mode mode);
    QString summaryText() const;
    QCustomPlot* plot() const { return m_plot; }
    int barCount() const; // bars or graphs currently drawn (for tests)
    int runCount() const { return int(m_runs.size()); }
    // What the plot says about runs without a timed decode step (empty when every run has one).
    QString untimedNote() const { return m_untimedNote; }

protected:
    bool event(QEvent* e) override;
    void resizeEvent(QResizeEvent* e) override;

private:
    void rebuild();

    std::vector<StudioRun> m_runs;
    Mode m_mode = Mode::Summed;
    QCustomPlot* m_plot;
    int m_legendOnly = 0; // graphs without data that only label the legend
    QComboBox* m_modeBox;
    QLabel* m_summary;
    QString m_untimedNote;
};

} // namespace fairkv::views
