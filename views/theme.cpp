// QCustomPlot first: its header needs foreach, which the first Qt include of a file decides.
#include "qcustomplot_include.h"

#include "theme.h"

#include "report.h"
#include "trace_record.h"

#include <QApplication>
#include <QStyleFactory>

#include <algorithm>
#include <cmath>

namespace fairkv::views::theme {

namespace {
QPalette darkPalette()
{
    QPalette p;
    const QColor window(0x2b, 0x2d, 0x31), base(0x1f, 0x21, 0x24), text(0xe6, 0xe6, 0xe6), accent(0x3d, 0x8e, 0xe0);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, window);
    p.setColor(QPalette::ToolTipBase, base);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, Qt::red);
    p.setColor(QPalette::Highlight, accent);
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, accent);
    p.setColor(QPalette::PlaceholderText, QColor(0x90, 0x90, 0x90));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x80, 0x80, 0x80));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(0x80, 0x80, 0x80));
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(0x80, 0x80, 0x80));
    return p;
}
} // namespace

void apply(QApplication& app, ThemeChoice choice)
{
    app.setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    if (choice == ThemeChoice::Dark)
        app.setPalette(darkPalette());
    else
        app.setPalette(app.style()->standardPalette());
}

ThemeChoice fromString(const QString& s)
{
    if (s == QLatin1String("dark"))
        return ThemeChoice::Dark;
    if (s == QLatin1String("light"))
        return ThemeChoice::Light;
    return ThemeChoice::System;
}

QString toString(ThemeChoice c)
{
    switch (c) {
    case ThemeChoice::Dark:
        return QStringLiteral("dark");
    case ThemeChoice::Light:
        return QStringLiteral("light");
    case ThemeChoice::System:
        break;
    }
    return QStringLiteral("system");
}

QColor series(int index)
{
    return QColor::fromString(QLatin1String(profiler::seriesColour(size_t(std::max(index, 0)))));
}

QColor phaseColor(int phase)
{
    switch (profiler::Phase(phase)) {
    case profiler::Phase::Attention:
        return series(0);
    case profiler::Phase::Mlp:
        return series(1);
    case profiler::Phase::Collective:
        return series(3);
    case profiler::Phase::Compression:
        return series(5);
    case profiler::Phase::Replicated:
        return series(9);
    default:
        return series(4);
    }
}

void stylePlot(QCustomPlot* plot, const QPalette& pal)
{
    const QColor bg = pal.color(QPalette::Base), fg = pal.color(QPalette::Text);
    QColor grid = fg;
    grid.setAlpha(40);
    plot->setBackground(bg);
    const auto styleAxis = [&](QCPAxis* axis) {
        axis->setBasePen(QPen(fg));
        axis->setTickPen(QPen(fg));
        axis->setSubTickPen(QPen(fg));
        axis->setTickLabelColor(fg);
        axis->setLabelColor(fg);
        axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
        axis->grid()->setZeroLinePen(Qt::NoPen); // a solid line at 0 reads as a mark on the first bar
    };
    for (QCPAxisRect* rect : plot->axisRects())
        for (QCPAxis* axis : rect->axes())
            styleAxis(axis);
    // Colour scales keep their axis in an axis rect of their own, which axisRects() leaves out.
    for (QCPLayoutElement* element : plot->plotLayout()->elements(true))
        if (auto* scale = qobject_cast<QCPColorScale*>(element))
            styleAxis(scale->axis());
    if (plot->legend) {
        plot->legend->setBrush(bg);
        plot->legend->setTextColor(fg);
        plot->legend->setBorderPen(QPen(grid));
    }
    for (int i = 0; i < plot->itemCount(); ++i)
        if (auto* text = qobject_cast<QCPItemText*>(plot->item(i)); text && !text->property("overlay").toBool())
            text->setColor(fg);
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
        if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i)))
            title->setTextColor(fg);
    // Crisp plots on HiDPI screens.
    plot->setBufferDevicePixelRatio(plot->devicePixelRatioF());
    plot->replot(QCustomPlot::rpQueuedReplot);
}

void fitLegendColumns(QCustomPlot* plot)
{
    QCPLegend* legend = plot->legend;
    if (!legend || legend->itemCount() == 0)
        return;
    const QFontMetrics fm(legend->font());
    int widest = 0;
    for (int i = 0; i < legend->itemCount(); ++i)
        if (auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->item(i)))
            widest = std::max(widest, fm.horizontalAdvance(item->plottable()->name()));
    const QMargins pad = legend->item(0)->margins();
    const int entry = widest + legend->iconSize().width() + legend->iconTextPadding() + pad.left() + pad.right()
                      + legend->columnSpacing();
    const int room = plot->width() - legend->margins().left() - legend->margins().right() - 8;
    const int columns = std::clamp(room / std::max(entry, 1), 1, legend->itemCount());
    if (columns != legend->wrap()) {
        legend->setWrap(columns);
        legend->setFillOrder(legend->fillOrder(), true);
        plot->replot(QCustomPlot::rpQueuedReplot);
    }
}

QSize cellArea(const QCustomPlot* plot)
{
    return QSize(plot->width() - 140, plot->height() - 60);
}

void cellTicks(QCustomPlot* plot, int columns, int rows)
{
    const auto set = [](QCPAxis* axis, int cells, int pixels) {
        QSharedPointer<QCPAxisTickerFixed> ticks(new QCPAxisTickerFixed);
        const int fit = std::max(1, pixels / 28);
        cells = std::max(1, cells);
        ticks->setTickStep(cells <= fit ? 1.0 : std::ceil(double(cells) / fit));
        ticks->setScaleStrategy(QCPAxisTickerFixed::ssNone);
        axis->setTicker(ticks);
        axis->setSubTicks(false); // nothing sits between two cells
    };
    const QSize area = cellArea(plot);
    set(plot->xAxis, columns, area.width());
    set(plot->yAxis, rows, area.height());
}

} // namespace fairkv::views::theme
