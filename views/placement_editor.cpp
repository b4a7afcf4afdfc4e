#include "placement_editor.h"

#include "common/error.h"
#include "placement/layer_planner.h"
#include "placement/placement_edit.h"
#include "placement/planner.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFrame>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QThread>
#include <QToolButton>
#include <QUndoCommand>
#include <QUndoStack>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <numeric>

namespace fairkv::views {

namespace {
constexpr int UnitRole = Qt::UserRole;
constexpr int ReplicaRole = Qt::UserRole + 1;

// "0, 2, 5-7" -> {0, 2, 5, 6, 7}; nullopt when it does not parse or names a request outside the batch.
std::optional<std::vector<int>> parseRequests(const QString& text, int batch)
{
    std::vector<int> out;
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const QString t = part.trimmed();
        bool ok1 = false, ok2 = false;
        const int dash = t.indexOf(QLatin1Char('-'));
        if (dash > 0) {
            const int a = t.left(dash).trimmed().toInt(&ok1), b = t.mid(dash + 1).trimmed().toInt(&ok2);
            if (!ok1 || !ok2 || b < a || a < 0 || b >= batch)
                return std::nullopt;
            for (int i = a; i <= b; ++i)
                out.push_back(i);
        } else {
            out.push_back(t.toInt(&ok1));
            if (!ok1 || out.back() < 0 || out.back() >= batch)
                return std::nullopt;
        }
    }
    return out;
}

} // namespace

// One rank's cards; a card dropped here from another rank asks the editor to move it.
class CardList : public QListWidget {
    Q_OBJECT
public:
    CardList(int rank, QWidget* parent)
        : QListWidget(parent)
        , m_rank(rank)
    {
        setDragDropMode(QAbstractItemView::DragDrop);
        setDefaultDropAction(Qt::MoveAction);
        setSelectionMode(QAbstractItemView::SingleSelection);
        setContextMenuPolicy(Qt::CustomContextMenu);
        setSpacing(3);
        setWordWrap(true);
    }
Q_SIGNALS:
    void dropped(int unit, int replica, int toRank);

protected:
    void dragEnterEvent(QDragEnterEvent* e) override
    {
        e->setAccepted(qobject_cast<CardList*>(e->source()) != nullptr);
    }
    void dragMoveEvent(QDragMoveEvent* e) override { e->setAccepted(qobject_cast<CardList*>(e->source()) != nullptr); }
    void dropEvent(QDropEvent* e) override
    {
        auto* from = qobject_cast<CardList*>(e->source());
        const QListWidgetItem* item = from ? from->currentItem() : nullptr;
        // The editor rebuilds the columns from the placement; Qt must not move the item itself.
        e->setDropAction(Qt::IgnoreAction);
        e->accept();
        if (item && from != this)
            Q_EMIT dropped(item->data(UnitRole).toInt(), item->data(ReplicaRole).toInt(), m_rank);
    }

private:
    int m_rank;
};

class RankColumn : public QFrame {
public:
    RankColumn(int rank, QWidget* parent)
        : QFrame(parent)
        , header(new QLabel(this))
        , cards(new CardList(rank, this))
    {
        setFrameShape(QFrame::StyledPanel);
        auto* layout = new QVBoxLayout(this);
        layout->setContentsMargins(4, 4, 4, 4);
        header->setWordWrap(true);
        header->setAlignment(Qt::AlignHCenter);
        layout->addWidget(header);
        layout->addWidget(cards, 1);
        setMinimumWidth(150);
    }
    QLabel* header;
    CardList* cards;
};

class PlacementEditCommand : public QUndoCommand {
public:
    PlacementEditCommand(PlacementEditor* editor, Placement before, Placement after, const QString& text)
        : QUndoCommand(text)
        , m_editor(editor)
        , m_before(std::move(before))
        , m_after(std::move(after))
    {
    }
    void undo() override { m_editor->install(m_before); }
    void redo() override { m_editor->install(m_after); }

private:
    PlacementEditor* m_editor;
    Placement m_before, m_after;
};

PlacementEditor::PlacementEditor(QWidget* parent)
    : QWidget(parent)
    , m_undo(new QUndoStack(this))
    , m_layer(new QSpinBox(this))
    , m_startFrom(new QComboBox(this))
    , m_use(new QPushButton(tr("Use"), this))
    , m_allLayers(new QCheckBox(tr("Edit all layers"), this))
    , m_summary(new QLabel(this))
    , m_validity(new QLabel(this))
    , m_rerun(new QPushButton(tr("Re-run with this placement"), this))
    , m_columnsLayout(new QHBoxLayout)
{
    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Layer:"), this));
    m_layer->setToolTip(tr("The layer whose units are shown"));
    top->addWidget(m_layer);
    m_allLayers->setToolTip(tr("Apply every edit to all layers (replicas matched by rank)"));
    top->addWidget(m_allLayers);
    auto* toAll = new QPushButton(tr("Apply to all layers"), this);
    toAll->setToolTip(tr("Every layer takes this layer's placement"));
    top->addWidget(toAll);
    top->addSpacing(12);
    top->addWidget(new QLabel(tr("Start from:"), this));
    m_startFrom->addItem(tr("the run's placement"), QStringLiteral("run"));
    m_startFrom->addItem(tr("uniform split"), QStringLiteral("uniform"));
    m_startFrom->addItem(tr("FairKV assign"), QStringLiteral("fairkv-assign"));
    m_startFrom->addItem(tr("FairKV copy"), QStringLiteral("fairkv-copy"));
    top->addWidget(m_startFrom);
    m_use->setToolTip(tr("Replace the placement with the chosen one (one undo step)"));
    top->addWidget(m_use);
    top->addStretch(1);
    auto* undo = new QToolButton(this);
    undo->setDefaultAction(m_undo->createUndoAction(this, tr("Undo")));
    undo->defaultAction()->setShortcut(QKeySequence::Undo);
    auto* redo = new QToolButton(this);
    redo->setDefaultAction(m_undo->createRedoAction(this, tr("Redo")));
    redo->defaultAction()->setShortcut(QKeySequence::Redo);
    top->addWidget(undo);
    top->addWidget(redo);
    auto* load = new QPushButton(tr("Load…"), this);
    auto* save = new QPushButton(tr("Save…"), this);
    top->addWidget(load);
    top->addWidget(save);

    auto* columns = new QWidget(this);
    columns->setLayout(m_columnsLayout);
    auto* scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    scroll->setWidget(columns);

    auto* bottom = new QHBoxLayout;
    m_summary->setWordWrap(true);
    m_validity->setWordWrap(true);
    auto* texts = new QVBoxLayout;
    texts->addWidget(m_summary);
    texts->addWidget(m_validity);
    bottom->addLayout(texts, 1);
    bottom->addWidget(m_rerun);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(scroll, 1);
    layout->addLayout(bottom);

    connect(m_layer, &QSpinBox::valueChanged, this, [this] {
        m_error.clear();
        rebuild();
    });
    connect(toAll, &QPushButton::clicked, this, [this] { copyLayerToAll(); });
    connect(m_use, &QPushButton::clicked, this, [this] { startFromInBackground(m_startFrom->currentData().toString()); });
    connect(load, &QPushButton::clicked, this, [this] {
        const QString path
            = QFileDialog::getOpenFileName(this, tr("Load placement"), QString(), tr("Placement JSON (*.json)"));
        if (!path.isEmpty() && !loadFile(path))
            QMessageBox::warning(this, tr("Load placement"), m_error);
    });
    connect(save, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save placement"), QStringLiteral("placement.json"),
                                                          tr("Placement JSON (*.json)"));
        if (!path.isEmpty() && !saveFile(path))
            QMessageBox::warning(this, tr("Save placement"), m_error);
    });
    connect(m_rerun, &QPushButton::clicked, this, [this] { Q_EMIT rerunRequested(m_placement, rerunName()); });
    setEnabled(false);
    m_summary->setText(tr("Run something or select a run to edit its placement."));
}

PlacementEditor::~PlacementEditor()
{
    for (const QPointer<QThread>& thread : m_planThreads)
        if (thread)
            thread->wait();
}

void PlacementEditor::setRun(const StudioRun& run, bool live)
{
    m_run = run;
    m_live = live;
    ++m_generation;
    m_undo->clear();
    m_error.clear();
    m_tokenFree = false;
    const int batch = run.batch();
    try {
        m_placement = Placement::fromJson(run.result.at("placement"), batch, "the run");
        m_original = m_placement;
        const auto& bound = run.result.value("lower_bound", nlohmann::json::object());
        const double cUnit = bound.value("c_unit_ms", 0.0), cTok = bound.value("c_tok_ms", 0.0);
        m_hasCosts = cUnit > 0 || cTok > 0;
        // The stats reader checks the shapes; without a cost model, loads are counted in tokens.
        m_stats = PlacementStats::fromJson({{"layers", run.layers()},
                                            {"units", run.units()},
                                            {"batch", batch},
                                            {"kv_len", run.result.at("kv_len")},
                                            {"c_unit_ms", m_hasCosts ? cUnit : 0.0},
                                            {"c_tok_ms", m_hasCosts ? cTok : 1.0},
                                            {"cost_source", bound.value("source", std::string())}},
                                           "the run");
        m_placement.validate(m_stats.layers, m_stats.units, m_placement.ranks, batch);
        // Token-free: a unit's mean KV costs under 1% of its fixed cost in the fitted model.
        double tokens = 0;
        for (const auto& request : m_stats.kvLen)
            for (const auto& layer : request)
                tokens += std::accumulate(layer.begin(), layer.end(), 0.0);
        const double perUnit = tokens / std::max(1.0, double(m_stats.layers) * m_stats.units);
        m_tokenFree = m_hasCosts && cTok * perUnit < 0.01 * cUnit;
    } catch (const std::exception& e) {
        m_placement = Placement();
        m_original = Placement();
        m_run = StudioRun();
        setEnabled(false);
        m_summary->setText(tr("This run's placement cannot be edited: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    m_layer->blockSignals(true);
    m_layer->setRange(0, std::max(0, m_stats.layers - 1));
    m_layer->blockSignals(false);
    setEnabled(true);
    rebuild();
}

QString PlacementEditor::rerunName() const
{
    // Stored with the run as its placement's name (data, not UI text). A placement edited back to
    // where it started, or re-run untouched, is still the run's own: calling it "edited" had hidden
    // that two runs used one placement.
    // A planner's plan made here (Start from) is "edited" too: planner names are kept for what the
    // run's planner made from its calibration step with its options (engine/runtime/run.cpp).
    if (m_placement.ranks == m_original.ranks && m_placement.toJson().at("layers") == m_original.toJson().at("layers")
        && !m_run.summary.placement.empty())
        return QString::fromStdString(m_run.summary.placement);
    return QStringLiteral("edited");
}

void PlacementEditor::setEditAllLayers(bool all)
{
    m_allLayers->setChecked(all);
}

void PlacementEditor::setLive(bool live)
{
    m_live = live;
    rebuild();
}

int PlacementEditor::layer() const
{
    return m_layer->value();
}

void PlacementEditor::install(const Placement& p)
{
    m_error.clear();
    m_placement = p;
    rebuild();
}

bool PlacementEditor::apply(const Placement& edited, const QString& description)
{
    m_error.clear();
    if (edited.toJson() == m_placement.toJson()) { // nothing changed: no undo step
        rebuild();
        return true;
    }
    m_undo->push(new PlacementEditCommand(this, m_placement, edited, description));
    return true;
}

bool PlacementEditor::refuse(const QString& why)
{
    m_error = why;
    m_validity->setText(tr("Refused: %1").arg(why));
    return false;
}

bool PlacementEditor::attempt(const std::function<Placement(const Placement&, int)>& edit, const QString& description)
{
    try {
        if (!m_allLayers->isChecked())
            return apply(edit(m_placement, layer()), description);
        Placement p = m_placement;
        for (int l = 0; l < int(p.layers.size()); ++l) {
            try {
                p = edit(p, l);
            } catch (const std::exception& e) {
                throw Error("layer " + std::to_string(l) + ": " + e.what());
            }
        }
        return apply(p, tr("%1 (all layers)").arg(description));
    } catch (const std::exception& e) {
        return refuse(QString::fromUtf8(e.what()));
    }
}

int PlacementEditor::replicaIn(const Placement& p, int l, int unit, int replica) const
{
    // In the shown layer the index is the replica; in the others, the replica on the same rank.
    if (l == layer())
        return replica;
    const int rank = m_placement.layers[size_t(layer())][size_t(unit)].replicas.at(size_t(replica)).rank;
    const auto& replicas = p.layers[size_t(l)][size_t(unit)].replicas;
    for (size_t i = 0; i < replicas.size(); ++i)
        if (replicas[i].rank == rank)
            return int(i);
    throw Error("unit " + std::to_string(unit) + " has no replica on rank " + std::to_string(rank));
}

bool PlacementEditor::moveReplica(int unit, int replica, int toRank)
{
    return attempt([&](const Placement& p, int l) { return edit::moveReplica(p, l, unit, replicaIn(p, l, unit, replica), toRank); },
                   tr("Move unit %1 to rank %2").arg(unit).arg(toRank));
}

bool PlacementEditor::addReplica(int unit, int rank, const std::vector<int>& requests)
{
    return attempt([&](const Placement& p, int l) { return edit::addReplica(p, l, unit, rank, requests); },
                   tr("Replicate unit %1 on rank %2").arg(unit).arg(rank));
}

bool PlacementEditor::removeReplica(int unit, int replica)
{
    return attempt([&](const Placement& p, int l) { return edit::removeReplica(p, l, unit, replicaIn(p, l, unit, replica)); },
                   tr("Remove a replica of unit %1").arg(unit));
}

bool PlacementEditor::setRequests(int unit, int replica, const std::vector<int>& requests)
{
    return attempt(
        [&](const Placement& p, int l) { return edit::setRequests(p, l, unit, replicaIn(p, l, unit, replica), requests); },
        tr("Requests of unit %1").arg(unit));
}

bool PlacementEditor::copyLayerToAll()
{
    try {
        return apply(edit::copyLayerToAll(m_placement, layer()), tr("Layer %1 to all layers").arg(layer()));
    } catch (const std::exception& e) {
        return refuse(QString::fromUtf8(e.what()));
    }
}

bool PlacementEditor::startFrom(const QString& planner)
{
    try {
        Placement p;
        if (planner == QLatin1String("run")) {
            p = Placement::fromJson(m_run.result.at("placement"), m_stats.batch, "the run");
        } else if (planner == QLatin1String("uniform")) {
            p = Placement::uniform(m_stats.layers, m_stats.units, m_placement.ranks, m_stats.batch);
        } else {
            if (!m_hasCosts)
                return refuse(tr("the planners need the run's cost model, and this run measured no decode step"));
            p = planPlacement(m_stats, planOptions(planner)).placement;
        }
        return applyStart(std::move(p), planner);
    } catch (const std::exception& e) {
        return refuse(QString::fromUtf8(e.what()));
    }
}

PlanOptions PlacementEditor::planOptions(const QString& planner) const
{
    PlanOptions o;
    o.planner = planner.toStdString();
    o.ranks = m_placement.ranks;
    return o;
}

bool PlacementEditor::applyStart(Placement p, const QString& planner)
{
    p.name = planner.toStdString();
    return apply(p, tr("Start from %1").arg(planner));
}

void PlacementEditor::startFromInBackground(const QString& planner)
{
    if (!m_hasCosts || !plansFromStats(planner.toStdString())) { // nothing to wait for, or refused at once
        startFrom(planner);
        return;
    }
    struct Outcome
    {
        std::optional<Placement> placement;
        QString error;
    };
    auto outcome = std::make_shared<Outcome>();
    QThread* thread = QThread::create([outcome, stats = m_stats, o = planOptions(planner)] {
        try {
            outcome->placement = planPlacement(stats, o).placement;
        } catch (const std::exception& e) {
            outcome->error = QString::fromUtf8(e.what());
        }
    });
    const int job = ++m_planJob, generation = m_generation;
    // `finished` comes from the worker; with this editor as context it is handled on the GUI thread.
    connect(thread, &QThread::finished, this, [this, outcome, job, generation, planner] {
        if (job != m_planJob)
            return; // a newer plan was asked for
        m_planning = false;
        m_use->setEnabled(true);
        m_use->setText(tr("Use"));
        bool applied = false;
        if (generation != m_generation) {
            // another run is shown: the plan was for the one before
        } else if (!outcome->placement) {
            refuse(outcome->error);
        } else {
            applied = applyStart(std::move(*outcome->placement), planner);
        }
        Q_EMIT planFinished(applied);
    });
    connect(thread, &QThread::finished, thread, &QObject::deleteLater);
    m_planThreads.erase(std::remove_if(m_planThreads.begin(), m_planThreads.end(), [](const QPointer<QThread>& t) { return t.isNull(); }),
                        m_planThreads.end());
    m_planThreads.emplace_back(thread);
    m_planning = true;
    m_use->setEnabled(false);
    m_use->setText(tr("Planning…"));
    thread->start();
}

bool PlacementEditor::loadFile(const QString& path)
{
    try {
        Placement p = Placement::fromFileFor(path.toStdString(), m_stats.layers, m_stats.units, m_placement.ranks, m_stats.batch);
        return apply(p, tr("Load %1").arg(path));
    } catch (const std::exception& e) {
        return refuse(QString::fromUtf8(e.what()));
    }
}

bool PlacementEditor::saveFile(const QString& path)
{
    try {
        m_placement.saveFile(path.toStdString());
        return true;
    } catch (const std::exception& e) {
        m_error = QString::fromUtf8(e.what());
        return false;
    }
}

double PlacementEditor::replicaTokens(int l, int unit, const Replica& r) const
{
    double tokens = 0;
    for (int q : r.requests)
        tokens += m_stats.kvLen[size_t(q)][size_t(l)][size_t(unit)];
    return tokens;
}

std::vector<double> PlacementEditor::rankMs() const
{
    if (!m_hasCosts || m_placement.layers.empty())
        return {};
    return rankLoads(layerInstance(m_stats, layer(), m_placement.ranks), m_placement.layers[size_t(layer())]);
}

double PlacementEditor::lowerBoundMs() const
{
    return m_hasCosts ? lowerBoundWithCopies(layerInstance(m_stats, layer(), m_placement.ranks)) : 0.0;
}

void PlacementEditor::rebuild()
{
    if (m_placement.layers.empty())
        return;
    const int l = std::clamp(layer(), 0, int(m_placement.layers.size()) - 1);
    while (int(m_columns.size()) > m_placement.ranks) { // a column's menu may be on the stack
        m_columns.back()->hide();
        m_columns.back()->deleteLater();
        m_columns.pop_back();
    }
    while (int(m_columns.size()) < m_placement.ranks) {
        const int rank = int(m_columns.size());
        auto* column = new RankColumn(rank, this);
        connect(column->cards, &CardList::dropped, this, [this](int unit, int replica, int toRank) {
            if (!moveReplica(unit, replica, toRank))
                rebuild();
        });
        connect(column->cards, &QListWidget::customContextMenuRequested, this, [this, column](const QPoint& pos) {
            if (const QListWidgetItem* item = column->cards->itemAt(pos))
                showMenu(item->data(UnitRole).toInt(), item->data(ReplicaRole).toInt(),
                         column->cards->mapToGlobal(pos));
        });
        m_columnsLayout->addWidget(column);
        m_columns.push_back(column);
    }
    double heaviest = 1.0;
    for (const UnitPlacement& up : m_placement.layers[size_t(l)])
        for (const Replica& r : up.replicas)
            heaviest = std::max(heaviest, replicaTokens(l, up.unit, r));
    const auto ms = rankMs();
    const double worst = ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end());
    const QColor base = palette().color(QPalette::Base), hot = palette().color(QPalette::Highlight);
    for (int g = 0; g < m_placement.ranks; ++g) {
        RankColumn* column = m_columns[size_t(g)];
        column->cards->clear();
        double tokens = 0;
        int count = 0;
        for (const UnitPlacement& up : m_placement.layers[size_t(l)])
            for (size_t i = 0; i < up.replicas.size(); ++i) {
                const Replica& r = up.replicas[i];
                if (r.rank != g)
                    continue;
                const double t = replicaTokens(l, up.unit, r);
                tokens += t;
                ++count;
                const bool all = int(r.requests.size()) == m_stats.batch;
                auto* item = new QListWidgetItem(
                    tr("Unit %1 · %L2 KV tokens\n%3")
                        .arg(up.unit)
                        .arg(t, 0, 'f', 0)
                        .arg(all ? tr("all requests") : tr("requests %1").arg(requestRanges(r.requests))),
                    column->cards);
                item->setData(UnitRole, up.unit);
                item->setData(ReplicaRole, int(i));
                const double share = t / heaviest;
                QColor fill = base;
                fill.setRedF(base.redF() + (hot.redF() - base.redF()) * share * 0.6);
                fill.setGreenF(base.greenF() + (hot.greenF() - base.greenF()) * share * 0.6);
                fill.setBlueF(base.blueF() + (hot.blueF() - base.blueF()) * share * 0.6);
                item->setBackground(fill);
                item->setToolTip(up.replicas.size() > 1 ? tr("Unit %1 has %2 replicas; this one serves requests %3")
                                                              .arg(up.unit)
                                                              .arg(up.replicas.size())
                                                              .arg(requestRanges(r.requests))
                                                        : tr("Drag to another rank to move; right-click for replicas"));
            }
        QString header = tr("Rank %1\n%n unit(s), %L2 KV tokens (all requests)", nullptr, count).arg(g).arg(tokens, 0, 'f', 0);
        if (!ms.empty())
            header += tr("\n%L1 ms modelled").arg(ms[size_t(g)], 0, 'f', 3);
        column->header->setText(header);
        QFont f = column->header->font();
        const bool allEqual = !ms.empty() && *std::min_element(ms.begin(), ms.end()) >= worst;
        f.setBold(!ms.empty() && ms[size_t(g)] >= worst && worst > 0 && !allEqual);
        column->header->setFont(f);
    }

    // Totals over layers and the validity of the whole placement.
    if (m_hasCosts) {
        double total = 0, bound = 0;
        for (int k = 0; k < int(m_placement.layers.size()); ++k) {
            const LayerInstance inst = layerInstance(m_stats, k, m_placement.ranks);
            const auto loads = rankLoads(inst, m_placement.layers[size_t(k)]);
            total += *std::max_element(loads.begin(), loads.end());
            bound += lowerBoundWithCopies(inst);
        }
        const double lb = lowerBoundMs();
        m_summary->setText(tr("Layer %1: slowest rank %L2 ms, lower bound %L3 ms (gap %L4%). All layers: %L5 ms, "
                              "bound %L6 ms (gap %L7%). Attention time modelled from the run's cost model.")
                               .arg(l)
                               .arg(worst, 0, 'f', 3)
                               .arg(lb, 0, 'f', 3)
                               .arg(100.0 * gapAbove(worst, lb), 0, 'f', 1)
                               .arg(total, 0, 'f', 3)
                               .arg(bound, 0, 'f', 3)
                               .arg(100.0 * gapAbove(total, bound), 0, 'f', 1));
        if (m_tokenFree)
            m_summary->setText(m_summary->text() + QLatin1Char(' ')
                               + tr("Its measured attention times barely grew with the retained KV (fitted per-token cost "
                                    "under 1% of a unit's fixed cost), so the model prices every unit alike and cannot "
                                    "tell these placements apart."));
    } else {
        m_summary->setText(
            tr("This run measured no decode step, so there is no cost model: loads are shown in KV tokens."));
    }
    // Which run this is: next to a re-run, the editor holds its parent, not the run the heatmap shows.
    m_summary->setText(tr("Editing %1. %2").arg(m_run.title(), m_summary->text()));
    bool valid = false;
    try {
        m_placement.validate(m_stats.layers, m_stats.units, m_placement.ranks, m_stats.batch);
        valid = true;
        if (m_error.isEmpty())
            m_validity->setText(tr("Valid placement: every unit's replicas serve each request exactly once."));
    } catch (const std::exception& e) {
        m_validity->setText(tr("Invalid: %1").arg(QString::fromUtf8(e.what())));
    }
    m_rerun->setEnabled(valid && (m_live || m_run.summary.id > 0));
    m_rerun->setToolTip(m_live ? tr("Move shards and KV of the loaded run to this placement and decode its steps again")
                               : tr("This run's engine is not loaded: the re-run prefills its prompts again, then "
                                    "decodes its steps under this placement"));
}

std::optional<std::vector<int>> PlacementEditor::askRequests(const QString& title, const QString& label,
                                                             const std::vector<int>& suggested, int generation)
{
    bool ok = false;
    const QString text = QInputDialog::getText(this, title, label, QLineEdit::Normal, requestRanges(suggested), &ok);
    if (!ok || generation != m_generation) // cancelled, or the placement changed under the dialog
        return std::nullopt;
    auto parsed = parseRequests(text, m_stats.batch);
    if (!parsed)
        refuse(tr("'%1' is not a list of request numbers between 0 and %2").arg(text).arg(m_stats.batch - 1));
    return parsed;
}

void PlacementEditor::showMenu(int unit, int replica, const QPoint& globalPos)
{
    const int generation = m_generation; // dialogs run an event loop: a new run may arrive meanwhile
    const int l = layer();
    const UnitPlacement& up = m_placement.layers[size_t(l)][size_t(unit)];
    const Replica current = up.replicas[size_t(replica)];
    QMenu menu(this);
    QMenu* moveTo = menu.addMenu(tr("Move to rank"));
    QMenu* addOn = menu.addMenu(tr("Add replica on rank"));
    for (int g = 0; g < m_placement.ranks; ++g) {
        const bool taken
            = std::any_of(up.replicas.begin(), up.replicas.end(), [g](const Replica& r) { return r.rank == g; });
        moveTo->addAction(tr("Rank %1").arg(g), this, [this, unit, replica, g] { moveReplica(unit, replica, g); })
            ->setEnabled(!taken);
        addOn
            ->addAction(tr("Rank %1").arg(g), this,
                        [this, unit, g, current, generation] {
                            // Suggest the second half of this replica's requests.
                            const std::vector<int> half(current.requests.begin() + long(current.requests.size() / 2),
                                                        current.requests.end());
                            const auto requests = askRequests(
                                tr("Add replica"), tr("Requests the new replica serves (e.g. 0, 2, 4-7):"), half, generation);
                            if (requests)
                                addReplica(unit, g, *requests);
                        })
            ->setEnabled(!taken);
    }
    menu.addAction(tr("Serve requests…"), this, [this, unit, replica, current, generation] {
        const auto requests = askRequests(tr("Serve requests"), tr("Requests this replica serves (e.g. 0, 2, 4-7):"),
                                          current.requests, generation);
        if (requests)
            setRequests(unit, replica, *requests);
    });
    menu.addAction(tr("Remove this replica"), this, [this, unit, replica] { removeReplica(unit, replica); })
        ->setEnabled(up.replicas.size() > 1);
    menu.exec(globalPos);
}

} // namespace fairkv::views

#include "placement_editor.moc"
