#include "settings_dialog.h"

#include "parallel/rank_factory.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QSettings>

namespace fairkv::views {

SettingsDialog::SettingsDialog(QWidget* parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Settings"));
    QSettings s;
    m_backend = new QComboBox(this);
    m_backend->addItem(tr("CPU"), QStringLiteral("cpu"));
    m_backend->addItem(fairkv::hasRankBackend("cuda") ? tr("CUDA (GPU)") : tr("CUDA (not in this build)"), QStringLiteral("cuda"));
    if (!fairkv::hasRankBackend("cuda"))
        m_backend->setItemData(1, false, Qt::UserRole - 1);
    m_backend->setCurrentIndex(std::max(0, m_backend->findData(s.value(QStringLiteral("defaultBackend"), QStringLiteral("cpu")))));
    m_theme = new QComboBox(this);
    m_theme->addItem(tr("Follow the system"), QStringLiteral("system"));
    m_theme->addItem(tr("Light"), QStringLiteral("light"));
    m_theme->addItem(tr("Dark"), QStringLiteral("dark"));
    m_theme->setCurrentIndex(std::max(0, m_theme->findData(s.value(QStringLiteral("theme"), QStringLiteral("system")))));
    m_language = new QComboBox(this);
    m_language->addItem(tr("System language"), QString());
    m_language->addItem(QStringLiteral("English"), QStringLiteral("en"));
    m_language->addItem(QStringLiteral("Deutsch"), QStringLiteral("de"));
    m_language->addItem(QStringLiteral("简体中文"), QStringLiteral("zh_CN"));
    m_language->setCurrentIndex(std::max(0, m_language->findData(s.value(QStringLiteral("language"), QString()))));
    auto* form = new QFormLayout(this);
    form->addRow(tr("Default backend"), m_backend);
    form->addRow(tr("Theme"), m_theme);
    form->addRow(tr("Language"), m_language);
    form->addRow(new QLabel(tr("A new language takes effect at the next start."), this));
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &SettingsDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &SettingsDialog::reject);
}

void SettingsDialog::accept()
{
    QSettings s;
    s.setValue(QStringLiteral("defaultBackend"), m_backend->currentData());
    s.setValue(QStringLiteral("theme"), m_theme->currentData());
    s.setValue(QStringLiteral("language"), m_language->currentData());
    QDialog::accept();
}

} // namespace fairkv::views
