#include "report_pdf.h"

#include "common/error.h"

#include <QBuffer>
#include <QImage>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSvgRenderer>
#include <QTextDocument>
#include <QUrl>

namespace fairkv::views {

QByteArray reportPdf(const profiler::Report& report)
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
    // Into memory: QPdfWriter does not report a write that failed (a full disk left a PDF cut off,
    // and success), so the bytes are written to the file by the caller, whose writes are checked.
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    QPdfWriter pdf(&buffer);
    pdf.setPageSize(QPageSize(QPageSize::A4));
    pdf.setResolution(96);
    pdf.setTitle(QStringLiteral("FairKV Studio comparison report"));
    pdf.setCreator(QStringLiteral("FairKV Studio"));
    QPainter painter;
    if (!painter.begin(&pdf))
        throw fairkv::Error("cannot start the PDF");
    const QRectF page = pdf.pageLayout().paintRectPixels(pdf.resolution());
    doc.setPageSize(page.size());
    const int pages = doc.pageCount();
    for (int i = 0; i < pages; ++i) {
        if (i > 0)
            pdf.newPage();
        painter.save();
        painter.translate(0, -page.height() * i);
        doc.drawContents(&painter, QRectF(0, page.height() * i, page.width(), page.height()));
        painter.restore();
    }
    painter.end();
    return bytes;
}

} // namespace fairkv::views
