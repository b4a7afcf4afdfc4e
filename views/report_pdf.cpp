#include "report_pdf.h"

#include "common/error.h"

#include <QFile>
#include <QImage>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSvgRenderer>
#include <QTextDocument>
#include <QUrl>

namespace fairkv::views {

void writeReportPdf(const profiler::Report& report, const QString& path)
{
    QTextDocument doc;
    for (const auto& chart : report.charts()) {
        QSvgRenderer svg(QByteArray::fromStdString(chart.svg));
        QImage image(svg.defaultSize() * 2, QImage::Format_ARGB32);
        image.fill(Qt::white);
        QPainter p(&image);
        svg.render(&p);
        p.end();
        doc.addResource(QTextDocument::ImageResource, QUrl(QString::fromStdString(chart.id) + QStringLiteral(".png")),
                        image.scaledToWidth(svg.defaultSize().width(), Qt::SmoothTransformation));
    }
    doc.setHtml(QString::fromStdString(report.html(false)));
    QPdfWriter pdf(path);
    if (!QFile(path).exists() && !QFile(path).open(QIODevice::WriteOnly))
        throw fairkv::Error(path.toStdString() + ": cannot write the PDF");
    pdf.setPageSize(QPageSize(QPageSize::A4));
    pdf.setResolution(120);
    pdf.setTitle(QStringLiteral("FairKV Studio comparison report"));
    pdf.setCreator(QStringLiteral("FairKV Studio"));
    doc.setPageSize(QSizeF(pdf.width(), pdf.height()));
    doc.print(&pdf);
    if (QFile(path).size() == 0)
        throw fairkv::Error(path.toStdString() + ": the PDF could not be written");
}

} // namespace fairkv::views
