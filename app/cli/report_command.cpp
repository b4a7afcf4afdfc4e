#include "cli_args.h"
#include "commands.h"
#include "common/error.h"
#include "common/output_path.h"
#include "report.h"
#include "session_store.h"
#ifdef FAIRKV_HAVE_PDF_REPORT
#include "report_pdf.h"

#include <QGuiApplication>
#endif

#include <algorithm>
#include <iostream>

namespace fairkv::cli {

namespace {

std::vector<int64_t> runList(const std::string& text)
{
    std::vector<int64_t> ids;
    for (const std::string& part : splitCommas(text)) // "1,2," is refused: its last item is empty
        ids.push_back(runId(part, "--runs"));
    if (ids.empty())
        throw UsageError("--runs expects run numbers separated by commas, e.g. --runs 1,2");
    return ids;
}

#ifdef FAIRKV_HAVE_PDF_REPORT
void writePdf(const profiler::Report& report, const std::string& path)
{
    // QPdfWriter needs a QGuiApplication (fonts); headless servers have no display.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    // Qt's notes about the missing session (XDG runtime folder, fonts) are not the user's problem.
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext&, const QString& message) {
        if (type == QtCriticalMsg || type == QtFatalMsg)
            std::cerr << message.toStdString() << "\n";
    });
    int argc = 1;
    char name[] = "fairkv";
    char* argv[] = {name, nullptr};
    QGuiApplication app(argc, argv);
    const QByteArray pdf = views::reportPdf(report);
    writeTextFile(path, std::string(pdf.constData(), size_t(pdf.size()))); // the path's bytes as given
}
#endif

} // namespace

int reportCommand(const std::vector<std::string>& argv)
{
    Args args("report",
              {{"runs", "A,B,...", "the runs to compare, in this order", ""},
               {"baseline", "RUN", "speedups are over this run (default: the first of --runs)", ""},
               {"out", "FILE", "report.html, .pdf, .csv or .json (the suffix picks the format)", "report.html"}},
              {"FILE.fkv"});
    args.parse(argv);
    if (args.helpRequested()) {
        std::cout << args.help("Write a comparison report of stored runs: HTML (tables and charts in one file), PDF, or "
                               "CSV/JSON tables, with the model, settings, placements, environment and which numbers are "
                               "measured, emulated or modelled.");
        return 0;
    }
    if (!args.has("runs"))
        throw UsageError("--runs is required, e.g. --runs 1,2");
    const auto ids = runList(args.str("runs"));
    const int64_t baseline = args.has("baseline") ? runId(args.str("baseline"), "--baseline") : ids.front();
    if (std::find(ids.begin(), ids.end(), baseline) == ids.end())
        throw UsageError("--baseline " + std::to_string(baseline) + " is not one of the runs in --runs");
    for (size_t i = 0; i < ids.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (ids[i] == ids[j])
                throw UsageError("--runs names run " + std::to_string(ids[i]) + " twice");
    const std::string out = args.outputPath("out");
    const std::string kind = profiler::reportFormat(out);
    if (kind.empty())
        throw UsageError("--out '" + out + "': the file must end in .html, .pdf, .csv or .json");
    const auto store = profiler::SessionStore::open(args.positional()[0], profiler::SessionStore::Mode::ReadOnly);
    const profiler::Report report = profiler::makeReport(*store, ids, baseline);
    if (kind != "pdf")
        writeTextFile(out, report.text(kind));
    else {
#ifdef FAIRKV_HAVE_PDF_REPORT
        writePdf(report, out);
#else
        throw Error("--out " + out + ": this fairkv was built without Qt, which writes the PDF; write .html instead");
#endif
    }
    std::cout << "wrote " << out << " (" << ids.size() << " runs, baseline run " << baseline << ")\n";
    if (!(report.runs[report.baseline].summary.tokensPerS > 0)) // the report says it too; a script reads stderr
        std::cerr << "fairkv report: note: baseline run " << baseline
                  << " timed no decode step, so no speedup is computed over it (choose a timed run with --baseline)\n";
    return 0;
}

} // namespace fairkv::cli
