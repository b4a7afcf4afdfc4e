#include "report.h"

#include "common/error.h"
#include "common/json_file.h"
#include "common/quantile.h"
#include "runtime/run.h"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string_view>

namespace fairkv::profiler {

using nlohmann::json;

std::string fmt(double v, int decimals)
{
    if (!std::isfinite(v))
        return "n/a"; // not timed (a run without decode steps): read as missing by CSV readers too
    std::ostringstream o;
    o.imbue(std::locale::classic());
    o.setf(std::ios::fixed);
    o.precision(decimals);
    o << v;
    return o.str();
}

const char* seriesColour(size_t index)
{
    // Tableau-like qualitative colours: distinguishable on light and dark backgrounds.
    static const char* const colours[]
        = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
    return colours[index % (sizeof colours / sizeof colours[0])];
}

namespace {

// XML-safe text: markup characters as entities, control characters (not allowed in XML) as '?'.
std::string esc(const std::string& text)
{
    std::string out;
    for (char c : withoutControls(text, '?')) { // no control bytes, bidi overrides or bytes that are not UTF-8 (the page says UTF-8)
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string csvField(const std::string& text)
{
    std::string s = withoutControls(text, '?'); // as esc(): a spreadsheet or terminal shows it as written
    // A label such as "=cmd|..." would be a formula to a spreadsheet: a leading quote keeps it text
    // (numbers, negative ones too, stay numbers).
    const bool number = s.size() > 1 && s[0] == '-' && (std::isdigit(static_cast<unsigned char>(s[1])) || s[1] == '.');
    if (!s.empty() && std::string_view("=+-@").find(s[0]) != std::string_view::npos && !number && s != "-")
        s.insert(0, 1, '\'');
    if (s.find_first_of(",\"\n\r") == std::string::npos)
        return s;
    std::string out = "\"";
    for (char c : s)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}


// A value axis from 0 with round ticks (1, 2, 2.5 or 5 times a power of ten, at most 6 intervals)
// reaching at least `highest` plus a little headroom: ticks at a quarter of 110% of the highest
// bar had read 0, 426, 852, 1278, 1705.
struct ValueAxis
{
    double top = 1.0, step = 0.25;
    int decimals = 2;
};

ValueAxis valueAxis(double highest)
{
    if (!(highest > 0) || !std::isfinite(highest))
        return {};
    const double need = highest * 1.05;
    const double magnitude = std::pow(10.0, std::floor(std::log10(need / 6))); // need / 6 < 10 x magnitude
    double m = 10.0; // always fits
    for (double candidate : {1.0, 2.0, 2.5, 5.0})
        if (std::ceil(need / (candidate * magnitude) - 1e-9) <= 6) {
            m = candidate;
            break;
        }
    const double step = m * magnitude;
    // As many decimals as the step has (2.5 x 10^k has one more than 10^k).
    const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)) + (m == 2.5 ? 1 : 0));
    return {std::ceil(need / step - 1e-9) * step, step, decimals};
}

// Grouped bars: groups along x, one bar per series in each group.
std::string barChart(const std::string& title, const std::string& unit, const std::vector<std::string>& groups,
                     const std::vector<std::string>& series,
                     const std::vector<std::vector<double>>& values /*[series][group]*/)
{
    // The legend below the plot: three columns, as many rows as the series need; a name longer
    // than its column is cut (the bar's tooltip keeps it whole). Long labels had run into the
    // next column and past the picture's bottom.
    const size_t legendRows = (series.size() + 2) / 3;
    const double W = 640, left = 60, right = 10, top = 30, legendTop = 270, rowH = 14;
    const double H = legendTop + double(std::max<size_t>(legendRows, 1)) * rowH + 8, bottom = H - legendTop + 30;
    const double columnW = (W - left - right) / 3;
    const size_t maxBytes = size_t((columnW - 26) / 6.2); // 11 px sans: about 6 px a character (wide ones take 3 bytes)
    double highest = 0;
    for (const auto& s : values)
        for (double v : s)
            if (std::isfinite(v))
                highest = std::max(highest, v);
    const ValueAxis axis = valueAxis(highest);
    const double peak = axis.top;
    std::ostringstream o;
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
      << ' ' << H << "\" font-family=\"sans-serif\" font-size=\"11\">";
    o << "<text x=\"" << W / 2 << "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">" << esc(title) << "</text>";
    const double plotW = W - left - right, plotH = H - top - bottom;
    const int ticks = int(std::lround(axis.top / axis.step));
    for (int t = 0; t <= ticks; ++t) {
        const double y = top + plotH * (1 - double(t) / ticks);
        o << "<line x1=\"" << left << "\" y1=\"" << y << "\" x2=\"" << W - right << "\" y2=\"" << y
          << "\" stroke=\"#ddd\"/><text x=\"" << left - 4 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">"
          << esc(fmt(axis.step * t, axis.decimals)) << "</text>";
    }
    o << "<text x=\"12\" y=\"" << top + plotH / 2 << "\" transform=\"rotate(-90 12 " << top + plotH / 2
      << ")\" text-anchor=\"middle\">" << esc(unit) << "</text>";
    const double groupW = plotW / double(std::max<size_t>(groups.size(), 1));
    const double barW = groupW * 0.8 / double(std::max<size_t>(series.size(), 1));
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        for (size_t si = 0; si < series.size(); ++si) {
            if (gi >= values[si].size()) // a run with fewer ranks than the group's: no bar, not one of 0
                continue;
            const double v = values[si][gi];
            const double h = std::isfinite(v) ? plotH * v / peak : 0.0; // not timed: no bar, its title says n/a
            o << "<rect x=\"" << left + gi * groupW + groupW * 0.1 + si * barW << "\" y=\"" << top + plotH - h
              << "\" width=\"" << barW * 0.95 << "\" height=\"" << h << "\" fill=\"" << seriesColour(si) << "\"><title>"
              << esc(series[si]) << ": " << esc(fmt(v, 3)) << "</title></rect>";
        }
        o << "<text x=\"" << left + gi * groupW + groupW / 2 << "\" y=\"" << top + plotH + 14
          << "\" text-anchor=\"middle\">" << esc(groups[gi]) << "</text>";
    }
    for (size_t si = 0; si < series.size(); ++si) {
        const double x = left + double(si % 3) * columnW, y = legendTop + 10 + double(si / 3) * rowH;
        // The title beside the text, not in it: Qt's SVG renderer draws a <text>'s title as text.
        o << "<g><title>" << esc(series[si]) << "</title><rect x=\"" << x << "\" y=\"" << y - 9
          << "\" width=\"10\" height=\"10\" fill=\"" << seriesColour(si) << "\"/><text x=\"" << x + 14 << "\" y=\"" << y
          << "\">" << esc(cutUtf8(series[si], maxBytes, "…")) << "</text></g>";
    }
    o << "</svg>";
    return o.str();
}

// "llama · 4 layers · hidden 256 · 16/8 heads · head_dim 32 · vocab 4096" (and "· synthetic weights"
// for a built-in shape; runs stored before sessions recorded it do not say)
std::string shape(const json& m)
{
    auto num = [&](const char* key) { return m.contains(key) ? m[key].dump(-1, ' ', false, json::error_handler_t::replace) : std::string("?"); };
    return m.value("name", std::string("model")) + " · " + num("layers") + " layers · hidden " + num("hidden") + " · "
        + num("heads") + "/" + num("kv_heads") + " heads · head_dim " + num("head_dim") + " · vocab " + num("vocab")
        + (m.value("weights", json()) == "synthetic" ? " · synthetic weights" : "");
}

// A label as the report shows it: a session edited by hand may hold one of megabytes, which the
// PDF's text layout takes minutes over (a run saved by FairKV has at most kMaxLabelBytes).
std::string shortLabel(const std::string& label)
{
    return cutUtf8(label, SessionStore::kMaxLabelBytes, "…");
}

std::string runName(const StoredRun& r)
{
    return "run " + std::to_string(r.summary.id) + " · " + r.summary.placement
        + (r.summary.label.empty() ? std::string() : " · " + shortLabel(r.summary.label));
}

} // namespace

std::vector<std::string> Report::csvColumns()
{
    return {"run",       "label",        "parent",         "model",  "placement",    "compress", "budget",
            "batch",     "ranks",        "backend",        "timing", "tokens_per_s", "speedup",  "step_ms",
            "imbalance", "attention_ms", "lower_bound_ms", "differs_from_baseline", "gpu", "driver", "cuda", "nccl"};
}

std::vector<Report::Chart> Report::charts() const
{
    std::vector<std::string> names;
    std::vector<double> tps;
    for (const auto& r : runs) {
        names.push_back(runName(r));
        tps.push_back(r.summary.tokensPerS);
    }
    std::vector<Chart> out;
    std::vector<std::vector<double>> perRun;
    for (double v : tps)
        perRun.push_back({v});
    out.push_back(
        {"throughput", "Decode throughput", barChart("Decode throughput (tokens/s)", "tokens/s", {""}, names, perRun)});
    size_t ranks = 0;
    std::vector<std::vector<double>> sums;
    for (const auto& r : runs) {
        sums.push_back(rankTotals(r.result, "rank_attention_ms"));
        ranks = std::max(ranks, sums.back().size());
    }
    std::vector<std::string> groups;
    for (size_t g = 0; g < ranks; ++g)
        groups.push_back("rank " + std::to_string(g));
    out.push_back({"ranks", "Attention per rank",
                   barChart("Attention per rank, summed over layers (ms per decode step)", "ms", groups, names, sums)});
    return out;
}

std::string Report::html(bool inlineCharts) const
{
    if (runs.empty())
        throw Error("a report needs at least one run");
    const StoredRun& base = runs[baseline];
    std::ostringstream o;
    o << "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><meta charset=\"utf-8\"/>"
      << "<title>FairKV Studio comparison report</title><style>"
      << "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 18px}"
      << "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f0f0f0}td.l,th.l{text-align:left}"
      << ".kind{color:#666;font-size:90%}</style></head><body>";
    o << "<h1>FairKV Studio comparison report</h1>";
    o << "<p>" << runs.size() << " run(s); speedups are over " << esc(runName(base))
      << (base.summary.tokensPerS > 0 ? std::string()
                                      : std::string(", which timed no decode step: no speedup can be computed over it (choose a "
                                                    "timed run as the baseline)"))
      << ". Kinds: <b>measured</b> (timed on one device per rank), <b>emulated</b> (ranks timed one after another, "
         "step composed as the per-layer maximum plus the collective: modelled by the alpha-beta model on a GPU, the host's "
         "measured in-process sum on the CPU backend), <b>modelled</b> (cost model, design §2), "
         "<b>computed</b> (from the run's data).</p>";

    // Tables with a column per run are cut into blocks of a few runs each: a PDF page does not
    // scroll, and 24 runs side by side had run off its edge.
    std::vector<std::pair<size_t, size_t>> blocks; // [first, end) runs
    for (size_t first = 0; first < runs.size(); first += kRunsPerTable)
        blocks.emplace_back(first, std::min(runs.size(), first + kRunsPerTable));
    using Cell = std::function<std::string(const StoredRun&)>;
    struct Row
    {
        std::string name, kind;
        Cell value;
    };
    const auto table = [&](const std::string& firstHeader, bool withKind, const std::vector<Row>& rows) {
        for (const auto& [first, end] : blocks) {
            o << "<table><tr><th class=\"l\">" << esc(firstHeader) << "</th>";
            if (withKind)
                o << "<th class=\"l\">kind</th>";
            for (size_t i = first; i < end; ++i)
                o << "<th>" << esc(runName(runs[i])) << "</th>";
            o << "</tr>";
            for (const Row& row : rows) {
                o << "<tr><td class=\"l\">" << esc(row.name) << "</td>";
                if (withKind)
                    o << "<td class=\"l kind\">" << esc(row.kind) << "</td>";
                for (size_t i = first; i < end; ++i)
                    o << "<td>" << esc(row.value(runs[i])) << "</td>";
                o << "</tr>";
            }
            o << "</table>";
        }
    };

    o << "<h2>Summary</h2>";
    table("metric", true,
          {{"tokens/s", "as timed", [](const StoredRun& r) { return fmt(r.summary.tokensPerS, 1); }},
           {"speedup over the baseline", "computed",
            [&](const StoredRun& r) {
                const auto x = speedupOver(r.summary.tokensPerS, base.summary.tokensPerS);
                return x ? fmt(*x, 3) + "×" : std::string("–");
            }},
           {"differs from the baseline in", "computed",
            [&](const StoredRun& r) { return &r == &base ? std::string("–") : differsFromBaseline(r); }},
           {"timing", "", [](const StoredRun& r) { return r.summary.timing; }},
           {"decode step (ms)", "as timed", [](const StoredRun& r) { return fmt(r.summary.stepMs, 3); }},
           {"attention imbalance (max / mean)", "as timed",
            [](const StoredRun& r) { return fmt(r.summary.imbalance, 3); }},
           {"attention, sum of per-layer max (ms)", "as timed",
            [](const StoredRun& r) { return fmt(attentionCriticalMs(r.result), 3); }},
           {"lower bound (ms)", "modelled", [](const StoredRun& r) { return fmt(r.summary.lowerBoundMs, 3); }},
           {"collectives", "", [](const StoredRun& r) { return r.result.value("collective", std::string("in-process sum")); }},
           {"decode GEMMs", "",
            [](const StoredRun& r) {
                const std::string g = r.result.value("gemm", std::string());
                return g.empty() ? std::string("–") : g;
            }},
           {"compression selection on", "",
            [](const StoredRun& r) { return r.result.value("compression_on", std::string("host")); }},
           {"kernel tracing (CUPTI, adds to step times)", "",
            [](const StoredRun& r) { return std::string(r.result.value("kernel_tracing", false) ? "on" : "off"); }}});

    o << "<h2>Charts</h2>";
    for (const Chart& c : charts()) {
        if (inlineCharts)
            o << "<div>" << c.svg << "</div>";
        else
            o << "<p><img src=\"" << c.id << ".png\" alt=\"" << esc(c.title) << "\"/></p>";
    }

    o << "<h2>Settings</h2>";
    std::vector<std::string> keys;
    for (const auto& r : runs)
        for (const auto& [k, v] : r.config.items())
            if (std::find(keys.begin(), keys.end(), k) == keys.end())
                keys.push_back(k);
    std::vector<Row> settings;
    for (const auto& k : keys)
        settings.push_back({k, "", [k](const StoredRun& r) {
                                if (!r.config.contains(k))
                                    return std::string("–");
                                const nlohmann::json& v = r.config[k];
                                // The settings' own words for "everything" and "not used" (a bare 0 or null
                                // read as none).
                                if (k == "layers" && v == 0)
                                    return "all (" + r.result.value("model", nlohmann::json::object()).value("layers", nlohmann::json(nullptr)).dump() + ")";
                                if (k == "memory_budget" && v.is_null())
                                    return std::string("unlimited");
                                if (k.rfind("allreduce_", 0) == 0 && r.summary.backend == "cpu")
                                    return std::string("not used (cpu)");
                                return v.is_string() ? v.get<std::string>()
                                                     : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
                            }});
    settings.push_back({"model shape", "", [](const StoredRun& r) { return shape(r.result.value("model", json::object())); }});
    table("setting", false, settings);

    o << "<h2>Environment</h2><table><tr><th class=\"l\">run</th><th class=\"l\">host</th><th class=\"l\">CPU</th>"
      << "<th class=\"l\">GPU</th><th class=\"l\">driver</th><th class=\"l\">CUDA</th><th class=\"l\">NCCL</th></tr>";
    for (const auto& r : runs) {
        const Environment& e = r.environment;
        o << "<tr><td class=\"l\">" << esc(runName(r)) << "</td><td class=\"l\">" << esc(e.host)
          << "</td><td class=\"l\">" << esc(e.cpu) << "</td><td class=\"l\">" << esc(e.gpu) << "</td><td class=\"l\">"
          << esc(e.driver) << "</td><td class=\"l\">" << esc(e.cuda) << "</td><td class=\"l\">" << esc(e.nccl)
          << "</td></tr>";
    }
    o << "</table>";

    o << "<h2>Placements</h2>";
    for (const auto& r : runs) {
        o << "<h3>" << esc(runName(r))
          << "</h3><table><tr><th class=\"l\">layer</th><th class=\"l\">units by rank</th></tr>";
        const auto& layers = r.result.value("placement", json::object()).value("layers", json::array());
        for (size_t l = 0; l < layers.size(); ++l) {
            std::map<int, std::string> byRank;
            for (const auto& up : layers[l])
                for (const auto& rep : up.value("replicas", json::array())) {
                    std::string& s = byRank[rep.value("rank", 0)];
                    s += (s.empty() ? "" : ", ") + std::to_string(up.value("unit", 0));
                    const auto reqs = rep.value("requests", json::array());
                    if (up.value("replicas", json::array()).size() > 1)
                        s += " (requests " + reqs.dump(-1, ' ', false, json::error_handler_t::replace) + ")";
                }
            std::string line;
            for (const auto& [g, s] : byRank)
                line += (line.empty() ? "" : " | ") + ("rank " + std::to_string(g) + ": " + s);
            o << "<tr><td class=\"l\">" << l << "</td><td class=\"l\">" << esc(line) << "</td></tr>";
        }
        o << "</table>";
    }
    o << "<p class=\"kind\">Written by FairKV Studio from the session's stored runs.</p></body></html>\n";
    return o.str();
}

std::string Report::differsFromBaseline(const StoredRun& run) const
{
    if (runs.empty() || &run == &runs[baseline])
        return {};
    std::string names;
    for (const std::string& d : unlikeWork(runs[baseline].summary, runs[baseline].result, run.summary, run.result))
        names += (names.empty() ? "" : ", ") + d;
    return names.empty() ? std::string("nothing: the same workload") : names;
}

std::string Report::csv() const
{
    std::ostringstream o;
    const auto cols = csvColumns();
    for (size_t i = 0; i < cols.size(); ++i)
        o << (i ? "," : "") << cols[i];
    o << "\n";
    const double baseTps = runs.empty() ? 0.0 : runs[baseline].summary.tokensPerS;
    for (const auto& r : runs) {
        const RunSummary& s = r.summary;
        const auto speedup = speedupOver(s.tokensPerS, baseTps);
        const std::vector<std::string> fields = {std::to_string(s.id),
                                                 s.label,
                                                 s.parent ? std::to_string(*s.parent) : "",
                                                 s.model,
                                                 s.placement,
                                                 s.compress,
                                                 std::to_string(s.budget),
                                                 std::to_string(s.batch),
                                                 std::to_string(s.ranks),
                                                 s.backend,
                                                 s.timing,
                                                 fmt(s.tokensPerS, 3),
                                                 speedup ? fmt(*speedup, 4) : fmt(RunResult::kNotTimed), // n/a, as the other times
                                                 fmt(s.stepMs, 4),
                                                 fmt(s.imbalance, 4),
                                                 fmt(attentionCriticalMs(r.result), 4),
                                                 fmt(s.lowerBoundMs, 4),
                                                 differsFromBaseline(r),
                                                 r.environment.gpu,
                                                 r.environment.driver,
                                                 r.environment.cuda,
                                                 r.environment.nccl};
        for (size_t i = 0; i < fields.size(); ++i)
            o << (i ? "," : "") << csvField(fields[i]);
        o << "\n";
    }
    return o.str();
}

json Report::json() const
{
    nlohmann::json out;
    out["baseline"] = runs.empty() ? 0 : runs[baseline].summary.id;
    out["kinds"] = {{"tokens_per_s", "as the run's timing says (measured or emulated)"},
                    {"lower_bound_ms", "modelled"},
                    {"speedup", "computed from tokens_per_s"}};
    out["runs"] = nlohmann::json::array();
    const double baseTps = runs.empty() ? 0.0 : runs[baseline].summary.tokensPerS;
    for (const auto& r : runs) {
        const auto speedup = speedupOver(r.summary.tokensPerS, baseTps);
        out["runs"].push_back(
            {{"id", r.summary.id},
             {"parent", r.summary.parent ? nlohmann::json(*r.summary.parent) : nlohmann::json(nullptr)},
             {"label", r.summary.label},
             {"timing", r.summary.timing},
             {"tokens_per_s", r.summary.tokensPerS},
             {"speedup", speedup ? nlohmann::json(*speedup) : nlohmann::json(nullptr)},
             {"step_ms", r.summary.stepMs},
             {"imbalance", r.summary.imbalance},
             {"attention_ms", attentionCriticalMs(r.result)},
             {"lower_bound_ms", r.summary.lowerBoundMs},
             {"differs_from_baseline",
              &r == &runs[baseline] ? nlohmann::json(nullptr)
                                    : nlohmann::json(unlikeWork(runs[baseline].summary, runs[baseline].result, r.summary, r.result))},
             {"config", r.config},
             {"placement", r.result.value("placement", nlohmann::json::object())},
             {"rank_attention_ms", timedSteps(r.result) ? r.result.value("rank_attention_ms", nlohmann::json::array())
                                                        : nlohmann::json(nullptr)}, // zeros: not timed
             {"environment", r.environment.toJson()}});
    }
    return out;
}

bool timedSteps(const json& result)
{
    const auto steps = result.find("step_ms");
    return steps != result.end() && steps->is_array() && !steps->empty();
}


std::vector<double> rankTotals(const json& result, const char* key)
{
    std::vector<double> totals;
    for (const auto& layer : result.value(key, json::array()))
        for (size_t g = 0; g < layer.size(); ++g) {
            if (totals.size() <= g)
                totals.resize(g + 1, 0.0);
            totals[g] += layer[g].get<double>();
        }
    if (!timedSteps(result)) // the tables of a run without steps hold zeros: nothing was timed
        std::fill(totals.begin(), totals.end(), RunResult::kNotTimed);
    return totals;
}

std::vector<double> layerMaxima(const json& result, const char* key)
{
    std::vector<double> maxima;
    const bool timed = timedSteps(result);
    for (const auto& layer : result.value(key, json::array())) {
        double m = 0;
        for (const auto& v : layer)
            m = std::max(m, v.get<double>());
        maxima.push_back(timed ? m : RunResult::kNotTimed);
    }
    return maxima;
}

double attentionWaitMs(const json& result)
{
    if (!timedSteps(result))
        return RunResult::kNotTimed;
    double wait = 0;
    for (const auto& layer : result.value("rank_attention_ms", json::array())) {
        if (layer.empty())
            continue;
        double sum = 0, most = 0;
        for (const auto& v : layer) {
            sum += v.get<double>();
            most = std::max(most, v.get<double>());
        }
        wait += most - sum / double(layer.size());
    }
    return wait;
}

int extraReplicas(const json& result)
{
    int extra = 0;
    const json none = json::array();
    const json& layers = result.contains("placement") ? result["placement"].value("layers", none) : none;
    for (const auto& layer : layers)
        for (const auto& unit : layer)
            extra += std::max(0, int(unit.value("replicas", none).size()) - 1);
    return extra;
}

std::optional<double> speedupOver(double tokensPerS, double baselineTokensPerS)
{
    // Both measured: positive and finite (a damaged +inf baseline gave 0.000x).
    if (!(tokensPerS > 0) || !(baselineTokensPerS > 0) || !std::isfinite(tokensPerS) || !std::isfinite(baselineTokensPerS))
        return std::nullopt;
    return tokensPerS / baselineTokensPerS;
}

std::optional<double> stepSpread(const json& result)
{
    std::vector<double> steps;
    for (const auto& v : result.value("step_ms", json::array()))
        if (v.is_number())
            steps.push_back(v.get<double>());
    if (steps.size() < 4)
        return std::nullopt;
    std::sort(steps.begin(), steps.end());
    const double median = quantileOfSorted(steps, 0.5);
    return median > 0 ? std::optional<double>((quantileOfSorted(steps, 0.75) - quantileOfSorted(steps, 0.25)) / (2 * median))
                      : std::nullopt;
}

std::vector<std::string> unlikeWork(const RunSummary& a, const json& resultA, const RunSummary& b, const json& resultB)
{
    const auto shape = [](const json& result, size_t depth) -> size_t {
        const auto kv = result.find("kv_len");
        if (kv == result.end())
            return 0;
        const json* t = &*kv;
        for (size_t d = 0; d < depth && t->is_array() && !t->empty(); ++d)
            t = &t->at(0);
        return t->is_array() ? t->size() : 0;
    };
    const auto units = [](const json& result) { return result.value("config", json::object()).value("units", std::string()); };
    std::vector<std::string> out;
    const auto differ = [&](bool d, const char* what) {
        if (d)
            out.push_back(what);
    };
    differ(a.model != b.model, "model");
    differ(shape(resultA, 0) != shape(resultB, 0), "batch");
    differ(shape(resultA, 1) != shape(resultB, 1), "layers");
    differ(shape(resultA, 2) != shape(resultB, 2) || units(resultA) != units(resultB), "units");
    differ(a.compress != b.compress, "compression");
    // A budget is work only where something is compressed to it.
    differ(a.budget != b.budget && (a.compress != "none" || b.compress != "none"), "budget");
    differ(a.promptLen != b.promptLen, "prompt length");
    differ(a.decode != b.decode, "decode steps");
    return out;
}

bool withinSpread(double speedup, double spread, double baselineSpread)
{
    return std::abs(speedup - 1.0) <= spread + baselineSpread;
}

double attentionCriticalMs(const json& result)
{
    if (!timedSteps(result))
        return RunResult::kNotTimed;
    if (result.contains("attention_ms") && result.at("attention_ms").is_number())
        return result.at("attention_ms").get<double>();
    double sum = 0;
    for (double m : layerMaxima(result, "rank_attention_ms"))
        sum += m;
    return sum;
}

std::string Report::text(const std::string& format) const
{
    if (format == "html")
        return html();
    if (format == "csv")
        return csv();
    if (format == "json")
        return json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    throw Error("a report is written as html, csv or json here, not '" + format + "'");
}

std::string reportFormat(const std::string& path)
{
    const auto dot = path.rfind('.');
    std::string s = dot == std::string::npos ? std::string() : path.substr(dot + 1);
    for (char& c : s)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return s == "html" || s == "pdf" || s == "csv" || s == "json" ? s : std::string();
}

Report makeReport(const SessionStore& store, const std::vector<int64_t>& ids, int64_t baselineId)
{
    if (ids.empty())
        throw Error("--runs: name at least one run");
    Report r;
    for (int64_t id : ids)
        r.runs.push_back(store.loadRun(id));
    const auto it = std::find(ids.begin(), ids.end(), baselineId);
    if (it == ids.end())
        throw Error("--baseline " + std::to_string(baselineId) + " is not one of the runs in --runs");
    r.baseline = size_t(it - ids.begin());
    return r;
}

} // namespace fairkv::profiler
