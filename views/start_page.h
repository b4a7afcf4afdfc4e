#pragma once
#include <QWidget>

class QListWidget;

namespace fairkv::views {

// What the window shows before anything is loaded: run the demo, open a session, recent sessions.
class StartPage : public QWidget
{
    Q_OBJECT
public:
    explicit StartPage(QWidget* parent = nullptr);
    void setRecent(const QStringList& files);

Q_SIGNALS:
    void runDemoRequested();
    void openRequested();
    void openRecentRequested(const QString& file);

private:
    QListWidget* m_recent;
};

} // namespace fairkv::views
