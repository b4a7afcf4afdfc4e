#pragma once
#include <QColor>
#include <QPalette>
#include <QSize>
#include <QString>

class QCustomPlot;
class QApplication;

namespace fairkv::views {

enum class ThemeChoice { System, Light, Dark };

// Palettes for the whole application and the colours plots derive from them. Plots call
// stylePlot() again on QEvent::PaletteChange, so switching themes repaints everything.
namespace theme {
void apply(QApplication& app, ThemeChoice choice);
ThemeChoice fromString(const QString& s);
QString toString(ThemeChoice c);
// A distinct colour per rank (or per run), readable on both palettes.
QColor series(int index);
QColor phaseColor(int phase);
// Colours from `palette` (the hosting view's: a child plot may not have seen a palette change yet).
void stylePlot(QCustomPlot* plot, const QPalette& palette);

// As many legend columns as the plot's width holds with every entry's whole name.
void fitLegendColumns(QCustomPlot* plot);

// Ticks for a heatmap of `columns` x `rows` cells on whole numbers (the plot's x and y axes): on
// every cell while the plot's size holds them, else on every n-th; never between two cells (2
// layers had read 0, 0.5, 1).
void cellTicks(QCustomPlot* plot, int columns, int rows);
// The pixels a heatmap's cells take in `plot` (its size less a colour scale and the axes' labels),
// known before the next replot lays out the axis rect.
QSize cellArea(const QCustomPlot* plot);
} // namespace theme

} // namespace fairkv::views
