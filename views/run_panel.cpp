#include "run_panel.h"

#include "model/model_config.h"

#include "parallel/rank_factory.h"

#include <QComboBox>
#include <QFileDialog>
#include <QLineEdit>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

namespace fairkv::views {

namespace {
// The engine reports its phases in English words; these are what the user reads.
QString phaseName(const QString& phase)
{
    if (phase == QLatin1String("loading model"))
        return RunPanel::tr("Loading the model…");
    if (phase == QLatin1String("prefill"))
        return RunPanel::tr("Prefilling the prompts…");
    if (phase == QLatin1String("calibrating"))
        return RunPanel::tr("Calibrating the cost model on one decode step…");
    if (phase == QLatin1String("moving shards and KV"))
        return RunPanel::tr("Moving shards and KV to the new placement…");
    return RunPanel::tr("%1…").arg(phase);
}
} // namespace

namespace {
QSpinBox* spin(QWidget* parent, int lo, int hi, int value, const QString& tip)
{
    auto* s = new QSpinBox(parent);
    s->setRange(lo, hi);
    s->setValue(value);
    s->setToolTip(tip);
    return s;
}
} // namespace

RunPanel::RunPanel(QWidget* parent)
    : QWidget(parent)
{
    qRegisterMetaType<fairkv::RunConfig>();
    m_model = new QComboBox(this);
    m_model->setEditable(true);
    for (const auto& name : ModelConfig::builtinNames())
        m_model->addItem(QString::fromStdString(name));
    m_model->setToolTip(tr("A built-in shape (synthetic weights) or an HF checkpoint folder"));
    auto* browse = new QPushButton(tr("Folder…"), this);
    connect(browse, &QPushButton::clicked, this, &RunPanel::browseModel);
    auto* modelRow = new QHBoxLayout;
    modelRow->addWidget(m_model, 1);
    modelRow->addWidget(browse);

    m_layers = spin(this, 0, 1024, 0, tr("Use only the first N layers (0: all)"));
    m_layers->setSpecialValueText(tr("all"));
    m_ranks = spin(this, 1, 64, 4, tr("Tensor-parallel ranks"));
    m_backend = new QComboBox(this);
    m_backend->addItem(tr("CPU"), QStringLiteral("cpu"));
    if (fairkv::hasRankBackend("cuda")) {
        m_backend->addItem(tr("CUDA (GPU)"), QStringLiteral("cuda"));
    } else {
        m_backend->addItem(tr("CUDA (not in this build)"), QStringLiteral("cuda"));
        m_backend->setItemData(1, false, Qt::UserRole - 1); // disabled entry
    }
    const int preferred = m_backend->findData(QSettings().value(QStringLiteral("defaultBackend"), QStringLiteral("cpu")));
    const QVariant enabled = m_backend->itemData(std::max(preferred, 0), Qt::UserRole - 1); // invalid: enabled
    if (preferred >= 0 && (!enabled.isValid() || enabled.toBool()))
        m_backend->setCurrentIndex(preferred);
    m_units = new QComboBox(this);
    m_units->addItem(tr("KV head with its query group (GQA)"), QStringLiteral("gqa"));
    m_units->addItem(tr("Query head (per-query-head)"), QStringLiteral("per-query-head"));
    m_compress = new QComboBox(this);
    for (const char* p : {"none", "snapkv", "ada-snapkv", "pyramidkv", "headkv"})
        m_compress->addItem(QString::fromUtf8(p), QString::fromUtf8(p));
    m_compress->setCurrentIndex(2);
    // HeadKV's static per-head budgets come from a score file, read when the run starts.
    m_headScores = new QLineEdit(this);
    m_headScores->setPlaceholderText(tr("HeadKV score file (JSON)"));
    m_headScores->setToolTip(tr("Per-head importance scores: {\"scores\": [[each unit's score], ...]} per layer, or the "
                                "{\"layer-head\": [...]} files of HeadKV's head detection"));
    auto* browseScores = new QPushButton(tr("File…"), this);
    connect(browseScores, &QPushButton::clicked, this, &RunPanel::browseHeadScores);
    m_headScoresRow = new QWidget(this);
    auto* scoresRow = new QHBoxLayout(m_headScoresRow);
    scoresRow->setContentsMargins(0, 0, 0, 0);
    scoresRow->addWidget(m_headScores, 1);
    scoresRow->addWidget(browseScores);
    const auto showScores = [this] { m_headScoresRow->setEnabled(m_compress->currentData().toString() == QLatin1String("headkv")); };
    connect(m_compress, &QComboBox::currentIndexChanged, this, showScores);
    showScores();
    m_budget = spin(this, 2, 1 << 20, 64, tr("KV tokens kept per unit, observation window included"));
    m_batch = spin(this, 1, 4096, 4, tr("Requests decoded together"));
    m_promptLen = spin(this, 1, 1 << 20, 512, tr("Prompt tokens per request (seeded random ids)"));
    m_decode = spin(this, 0, 1 << 16, 16, tr("Decode steps"));
    m_placement = new QComboBox(this);
    m_placement->addItem(tr("uniform (standard TP)"), QStringLiteral("uniform"));
    m_placement->addItem(tr("FairKV assign"), QStringLiteral("fairkv-assign"));
    m_placement->addItem(tr("FairKV copy"), QStringLiteral("fairkv-copy"));
    m_placement->addItem(tr("From file…"), QString());
    connect(m_placement, &QComboBox::activated, this, [this](int i) {
        if (m_placement->itemData(i).toString().isEmpty())
            browsePlacement();
    });
    m_seed = spin(this, 0, 1 << 30, 0, tr("Seed of weights, prompts and sampling"));

    auto* form = new QFormLayout;
    form->addRow(tr("Model"), modelRow);
    form->addRow(tr("Layers"), m_layers);
    form->addRow(tr("Ranks"), m_ranks);
    form->addRow(tr("Backend"), m_backend);
    form->addRow(tr("Units"), m_units);
    form->addRow(tr("Compression"), m_compress);
    form->addRow(tr("Head scores"), m_headScoresRow);
    form->addRow(tr("Budget"), m_budget);
    form->addRow(tr("Batch"), m_batch);
    form->addRow(tr("Prompt length"), m_promptLen);
    form->addRow(tr("Decode steps"), m_decode);
    form->addRow(tr("Placement"), m_placement);
    form->addRow(tr("Seed"), m_seed);

    m_run = new QPushButton(QIcon(QStringLiteral(":/icons/run.svg")), tr("Run"), this);
    m_run->setDefault(true);
    m_cancel = new QPushButton(QIcon(QStringLiteral(":/icons/cancel.svg")), tr("Cancel"), this);
    m_cancel->setEnabled(false);
    connect(m_run, &QPushButton::clicked, this, [this] { Q_EMIT runRequested(config()); });
    connect(m_cancel, &QPushButton::clicked, this, &RunPanel::cancelRequested);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_run);
    buttons->addWidget(m_cancel);
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 100);
    m_progress->setValue(0);
    m_status = new QLabel(tr("Ready."), this);
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addLayout(buttons);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addStretch(1);
}

fairkv::RunConfig RunPanel::config() const
{
    fairkv::RunConfig c;
    c.model = m_model->currentText().trimmed().toStdString();
    c.layers = m_layers->value();
    c.ranks = m_ranks->value();
    c.backend = m_backend->currentData().toString().toStdString();
    c.unitMode = unitModeFromName(m_units->currentData().toString().toStdString());
    c.compression.policy = compressionFromName(m_compress->currentData().toString().toStdString());
    c.compression.budget = m_budget->value();
    c.batch = m_batch->value();
    c.promptLen = m_promptLen->value();
    c.decode = m_decode->value();
    const QString placement = m_placement->currentData().toString();
    c.placement = placement.isEmpty() ? m_placement->currentText().toStdString() : placement.toStdString();
    c.seed = uint64_t(m_seed->value());
    return c;
}

void RunPanel::setConfig(const fairkv::RunConfig& c)
{
    m_model->setCurrentText(QString::fromStdString(c.model));
    m_layers->setValue(c.layers);
    m_ranks->setValue(c.ranks);
    m_backend->setCurrentIndex(std::max(0, m_backend->findData(QString::fromStdString(c.backend))));
    m_units->setCurrentIndex(std::max(0, m_units->findData(QString::fromUtf8(unitModeName(c.unitMode)))));
    m_compress->setCurrentIndex(std::max(0, m_compress->findData(QString::fromUtf8(compressionName(c.compression.policy)))));
    m_budget->setValue(c.compression.budget);
    m_batch->setValue(c.batch);
    m_promptLen->setValue(c.promptLen);
    m_decode->setValue(c.decode);
    int i = m_placement->findData(QString::fromStdString(c.placement));
    if (i < 0) {
        m_placement->insertItem(m_placement->count() - 1, QString::fromStdString(c.placement), QString::fromStdString(c.placement));
        i = m_placement->count() - 2;
    }
    m_placement->setCurrentIndex(i);
    m_seed->setValue(int(c.seed));
}

void RunPanel::setRunning(bool running)
{
    m_run->setEnabled(!running);
    m_cancel->setEnabled(running);
    if (running) {
        m_clock.start();
        m_progress->setValue(0);
    }
}

void RunPanel::setProgress(const QString& phase, int done, int total)
{
    // Loading and prefill are one step each; decode fills the bar.
    const bool decoding = phase == QLatin1String("decode");
    const int percent = decoding && total > 0 ? 10 + 90 * done / total : (phase == QLatin1String("prefill") ? 5 : 1);
    m_progress->setValue(percent);
    QString eta;
    if (decoding && done > 0 && total > done) {
        const double perStep = double(m_clock.elapsed()) / done;
        eta = tr(", about %L1 s left").arg(perStep * (total - done) / 1000.0, 0, 'f', 1);
    }
    m_status->setText(decoding ? tr("Decoding step %1 of %2%3").arg(done).arg(total).arg(eta) : phaseName(phase));
}

void RunPanel::setDone()
{
    m_progress->setValue(100);
}

void RunPanel::setStatus(const QString& text)
{
    m_status->setText(text);
    if (!m_cancel->isEnabled())
        m_progress->setValue(text.isEmpty() ? 0 : m_progress->value());
}

QString RunPanel::statusText() const
{
    return m_status->text();
}

void RunPanel::browseModel()
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("HF checkpoint folder"));
    if (!dir.isEmpty())
        m_model->setCurrentText(dir);
}

QString RunPanel::headScoresFile() const
{
    return m_headScores->text().trimmed();
}

void RunPanel::setHeadScoresFile(const QString& file)
{
    m_headScores->setText(file);
}

void RunPanel::browseHeadScores()
{
    const QString file = QFileDialog::getOpenFileName(this, tr("Head score file"), QString(), tr("Head scores (*.json)"));
    if (!file.isEmpty())
        m_headScores->setText(file);
}

void RunPanel::browsePlacement()
{
    const QString file = QFileDialog::getOpenFileName(this, tr("Placement file"), QString(), tr("Placement JSON (*.json)"));
    if (file.isEmpty()) {
        m_placement->setCurrentIndex(0);
        return;
    }
    m_placement->insertItem(m_placement->count() - 1, file, file);
    m_placement->setCurrentIndex(m_placement->count() - 2);
}

} // namespace fairkv::views
