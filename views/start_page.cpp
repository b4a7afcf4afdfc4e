#include "start_page.h"

#include <QFileInfo>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

namespace fairkv::views {

StartPage::StartPage(QWidget* parent)
    : QWidget(parent)
{
    auto* title = new QLabel(tr("<h2>FairKV Studio</h2><p>Profile tensor-parallel decoding with compressed KV caches: "
                                "how much KV each head keeps, how evenly the ranks are loaded, and what FairKV "
                                "placements gain over the uniform split.</p>"),
                             this);
    title->setWordWrap(true);
    auto* demo = new QPushButton(QIcon(QStringLiteral(":/icons/run.svg")), tr("Run the demo"), this);
    demo->setToolTip(tr("tiny model, 4 ranks, Ada-SnapKV, on this machine's CPU"));
    auto* open = new QPushButton(QIcon(QStringLiteral(":/icons/open.svg")), tr("Open a session…"), this);
    m_recent = new QListWidget(this);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(title);
    layout->addWidget(demo);
    layout->addWidget(open);
    layout->addWidget(new QLabel(tr("Recent sessions:"), this));
    layout->addWidget(m_recent, 1);
    layout->setContentsMargins(40, 30, 40, 30);
    connect(demo, &QPushButton::clicked, this, &StartPage::runDemoRequested);
    connect(open, &QPushButton::clicked, this, &StartPage::openRequested);
    connect(m_recent, &QListWidget::itemActivated, this,
            [this](QListWidgetItem* item) { Q_EMIT openRecentRequested(item->data(Qt::UserRole).toString()); });
}

void StartPage::setRecent(const QStringList& files)
{
    m_recent->clear();
    for (const QString& f : files) {
        auto* item = new QListWidgetItem(tr("%1 — %2").arg(QFileInfo(f).fileName(), QFileInfo(f).absolutePath()), m_recent);
        item->setData(Qt::UserRole, f);
    }
    if (files.isEmpty())
        new QListWidgetItem(tr("(none yet)"), m_recent);
}

} // namespace fairkv::views
