#pragma once
#include "report.h"

#include <QString>

namespace fairkv::views {

// The report as PDF: the same HTML laid out by QTextDocument on A4 pages by QPdfWriter, with the
// SVG charts rendered to images (QTextDocument draws no SVG). Needs a QGuiApplication. Throws
// fairkv::Error naming the file when it cannot be written.
void writeReportPdf(const profiler::Report& report, const QString& path);

} // namespace fairkv::views
