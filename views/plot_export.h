#pragma once
#include <QString>

class QCustomPlot;
class QWidget;

namespace fairkv::views {

// Every plot exports as PNG or SVG (by the file's suffix). Returns an empty string on success,
// else the message for the user.
QString exportPlot(QCustomPlot* plot, const QString& path);
// The same for a widget that paints itself (the timeline).
QString exportWidget(QWidget* widget, const QString& path);
// "Export plot…" in the context menu of `target`: a save dialog, then exportPlot or exportWidget.
void addExportAction(QWidget* target, QCustomPlot* plot);
void addExportAction(QWidget* target);

} // namespace fairkv::views
