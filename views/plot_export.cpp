#include "qcustomplot_include.h" // first: QCustomPlot needs foreach

#include "plot_export.h"

#include <QAction>
#include <QCoreApplication>
#include <QFileDialog>
#include <QMessageBox>
#include <QPainter>
#include <QSvgGenerator>

namespace fairkv::views {

namespace {
bool isSvg(const QString& path)
{
    return path.endsWith(QLatin1String(".svg"), Qt::CaseInsensitive);
}

bool isPng(const QString& path)
{
    return path.endsWith(QLatin1String(".png"), Qt::CaseInsensitive);
}

QString wrongSuffix(const QString& path)
{
    return QCoreApplication::translate("PlotExport", "%1: plots export as .png or .svg").arg(path);
}

QString cannotWrite(const QString& path)
{
    return QCoreApplication::translate("PlotExport", "%1: cannot write the file").arg(path);
}

void configure(QSvgGenerator& svg, const QString& path, const QSize& size)
{
    svg.setFileName(path);
    svg.setSize(size);
    svg.setViewBox(QRect(QPoint(0, 0), size));
    svg.setTitle(QStringLiteral("FairKV Studio"));
}

void addAction(QWidget* target, const std::function<QString(const QString&)>& exporter)
{
    auto* action = new QAction(QCoreApplication::translate("PlotExport", "Export plot…"), target);
    QObject::connect(action, &QAction::triggered, target, [target, exporter] {
        const QString path = QFileDialog::getSaveFileName(
            target, QCoreApplication::translate("PlotExport", "Export plot"), QStringLiteral("plot.svg"),
            QCoreApplication::translate("PlotExport", "SVG (*.svg);;PNG (*.png)"));
        if (path.isEmpty())
            return;
        const QString error = exporter(path);
        if (!error.isEmpty())
            QMessageBox::warning(target, QCoreApplication::translate("PlotExport", "Export plot"), error);
    });
    target->addAction(action);
    target->setContextMenuPolicy(Qt::ActionsContextMenu);
}
} // namespace

QString exportPlot(QCustomPlot* plot, const QString& path)
{
    if (!isSvg(path) && !isPng(path))
        return wrongSuffix(path);
    plot->replot();
    bool ok = false;
    if (isSvg(path)) {
        QSvgGenerator svg;
        configure(svg, path, plot->size());
        QCPPainter painter(&svg);
        plot->toPainter(&painter, plot->width(), plot->height());
        ok = painter.end();
    } else {
        ok = plot->savePng(path);
    }
    return ok ? QString() : cannotWrite(path);
}

QString exportWidget(QWidget* widget, const QString& path)
{
    if (!isSvg(path) && !isPng(path))
        return wrongSuffix(path);
    bool ok = false;
    if (isSvg(path)) {
        QSvgGenerator svg;
        configure(svg, path, widget->size());
        QPainter painter(&svg);
        widget->render(&painter);
        ok = painter.end();
    } else {
        ok = widget->grab().save(path);
    }
    return ok ? QString() : cannotWrite(path);
}

void addExportAction(QWidget* target, QCustomPlot* plot)
{
    addAction(target, [plot](const QString& path) { return exportPlot(plot, path); });
}

void addExportAction(QWidget* target)
{
    addAction(target, [target](const QString& path) { return exportWidget(target, path); });
}

} // namespace fairkv::views
