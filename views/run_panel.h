#pragma once
#include "runtime/run.h"

#include <QElapsedTimer>
#include <QWidget>

class QComboBox;
class QLineEdit;
class QSpinBox;
class QPushButton;
class QProgressBar;
class QLabel;

namespace fairkv::views {

// Everything a run needs, a Run / Cancel pair and the progress of the running job.
class RunPanel : public QWidget
{
    Q_OBJECT
public:
    explicit RunPanel(QWidget* parent = nullptr);
    fairkv::RunConfig config() const;
    void setConfig(const fairkv::RunConfig& config);
    void setRunning(bool running);
    void setProgress(const QString& phase, int done, int total);
    // The run finished and was saved: a full bar (a run without decode steps never reports one).
    void setDone();
    void setStatus(const QString& text);
    QString statusText() const;
    // The HeadKV score file the panel names (read when a headkv run starts; empty: none chosen).
    QString headScoresFile() const;
    void setHeadScoresFile(const QString& file);
    QPushButton* runButton() const { return m_run; }
    QPushButton* cancelButton() const { return m_cancel; }

Q_SIGNALS:
    void runRequested(const fairkv::RunConfig& config);
    void cancelRequested();

private:
    void browseModel();
    void browsePlacement();
    void browseHeadScores();

    QComboBox* m_model;
    QSpinBox* m_layers;
    QSpinBox* m_ranks;
    QComboBox* m_backend;
    QComboBox* m_units;
    QComboBox* m_compress;
    QWidget* m_headScoresRow;
    QLineEdit* m_headScores;
    QSpinBox* m_budget;
    QSpinBox* m_batch;
    QSpinBox* m_promptLen;
    QSpinBox* m_decode;
    QComboBox* m_placement;
    QSpinBox* m_seed;
    QPushButton* m_run;
    QPushButton* m_cancel;
    QProgressBar* m_progress;
    QLabel* m_status;
    QElapsedTimer m_clock;
};

} // namespace fairkv::views

Q_DECLARE_METATYPE(fairkv::RunConfig)
