#pragma once
#include "placement/placement.h"
#include "placement/planner.h"
#include "placement/placement_stats.h"
#include "studio_run.h"

#include <QPointer>
#include <QWidget>

#include <functional>
#include <optional>

class QCheckBox;
class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QThread;
class QUndoStack;
class QHBoxLayout;

namespace fairkv::views {

class RankColumn;

// Hand-editing of a run's placement (issue 7): ranks as columns, the units of one layer as cards
// with their KV load; drag a card to another rank, add or remove replicas and choose the requests
// each serves from the card's menu, copy a layer to all layers, start from any planner's plan,
// undo/redo, save and load placement JSON. Every edit is validated and the modelled per-rank
// attention time (the run's cost model, design §2) with the gap to the lower bound updates at once.
class PlacementEditor : public QWidget
{
    Q_OBJECT
public:
    explicit PlacementEditor(QWidget* parent = nullptr);
    ~PlacementEditor() override; // waits for a plan still being made

    // Edits `run`'s placement against its KV lengths and cost constants. `live`: whether this
    // run's engine is loaded, so that "Re-run" can apply the edit to it.
    void setRun(const StudioRun& run, bool live);
    void setLive(bool live);
    const Placement& placement() const { return m_placement; }
    // The name a re-run stores: the run's own placement name while the placement is unchanged,
    // else "edited".
    QString rerunName() const;
    int layer() const;
    QUndoStack* undoStack() const { return m_undo; }
    void setEditAllLayers(bool all);

    // The edits, as the menu and drag-and-drop perform them (also for tests). False when refused;
    // the reason is shown and returned through lastError().
    bool moveReplica(int unit, int replica, int toRank);
    bool addReplica(int unit, int rank, const std::vector<int>& requests);
    bool removeReplica(int unit, int replica);
    bool setRequests(int unit, int replica, const std::vector<int>& requests);
    bool copyLayerToAll();
    bool startFrom(const QString& planner); // "run", "uniform", "fairkv-assign", "fairkv-copy"
    // What the Use button does: as startFrom(), but the planners that plan from the run's stats
    // run on a worker thread (seconds for many layers and ranks), so the window stays responsive;
    // the plan is applied when it comes, as one undo step, unless another run was chosen or another
    // plan asked for meanwhile. planFinished() tells when.
    void startFromInBackground(const QString& planner);
    bool planning() const { return m_planning; }
    bool loadFile(const QString& path);
    bool saveFile(const QString& path);
    QString lastError() const { return m_error; }
    int64_t runId() const { return m_run.summary.id; }
    const StudioRun& run() const { return m_run; }

    // Modelled attention time of each rank in the shown layer, and the layer's lower bound (ms).
    std::vector<double> rankMs() const;
    double lowerBoundMs() const;

Q_SIGNALS:
    void rerunRequested(const fairkv::Placement& placement, const QString& name);
    // The newest background plan ended: applied, or refused (lastError()) or dropped (another run).
    void planFinished(bool applied);

private:
    friend class PlacementEditCommand;
    void install(const Placement& p); // without undo (the undo stack's commands call it)
    bool apply(const Placement& edited, const QString& description);
    // Start from: the planner's options for this run, and its plan applied under the planner's name.
    PlanOptions planOptions(const QString& planner) const;
    bool applyStart(Placement p, const QString& planner);
    // Runs `edit` on the shown layer, or on every layer when "Edit all layers" is checked.
    bool attempt(const std::function<Placement(const Placement&, int layer)>& edit, const QString& description);
    int replicaIn(const Placement& p, int layer, int unit, int replica) const;
    bool refuse(const QString& why);
    void rebuild();
    void showMenu(int unit, int replica, const QPoint& globalPos);
    // Asks for a request list (`suggested` filled in); nothing when cancelled, refused as not a
    // list (the user is told why), or when the editor got another run (`generation`) meanwhile.
    std::optional<std::vector<int>> askRequests(const QString& title, const QString& label, const std::vector<int>& suggested,
                                                int generation);
    double replicaTokens(int layer, int unit, const Replica& r) const;

    StudioRun m_run;
    Placement m_placement;
    Placement m_original; // the run's own, to tell an edit from a re-run as it was
    PlacementStats m_stats;
    bool m_hasCosts = false;
    bool m_tokenFree = false; // the fitted cost model has no per-token cost
    bool m_live = false;
    int m_generation = 0;
    int m_planJob = 0; // the newest background plan; older ones are dropped when they end
    bool m_planning = false;
    std::vector<QPointer<QThread>> m_planThreads; // delete themselves once finished
    QString m_error;
    QUndoStack* m_undo;
    QSpinBox* m_layer;
    QComboBox* m_startFrom;
    QPushButton* m_use;
    QCheckBox* m_allLayers;
    QLabel* m_summary;
    QLabel* m_validity;
    QPushButton* m_rerun;
    QHBoxLayout* m_columnsLayout;
    std::vector<RankColumn*> m_columns;
};

} // namespace fairkv::views
