#pragma once
#include "report.h"

#include <QByteArray>

namespace fairkv::views {

// The report as PDF bytes: the same HTML laid out by QTextDocument on A4 pages by QPdfWriter, with
// the SVG charts rendered to images (QTextDocument draws no SVG). Needs a QGuiApplication. Written
// to a file by the caller (writeTextFile(), a checked QSaveFile): QPdfWriter writing to a file
// itself does not report a failed write.
QByteArray reportPdf(const profiler::Report& report);

} // namespace fairkv::views
