#pragma once
#include <QDialog>

class QComboBox;

namespace fairkv::views {

// Default backend, theme and language, kept in QSettings.
class SettingsDialog : public QDialog
{
    Q_OBJECT
public:
    explicit SettingsDialog(QWidget* parent = nullptr);
    void accept() override;

private:
    QComboBox* m_backend;
    QComboBox* m_theme;
    QComboBox* m_language;
};

} // namespace fairkv::views
