#include "chrome_trace.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace fairkv::profiler {

std::string chromeTraceJson(const TraceBuffer& trace, int ranks, const std::string& title)
{
    using nlohmann::json;
    json events = json::array();
    const int allTrack = ranks; // after the rank tracks
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"tid", 0}, {"args", {{"name", title}}}});
    for (int g = 0; g <= ranks; ++g) {
        const std::string name = g < ranks ? "rank " + std::to_string(g) : std::string("all ranks");
        events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", g}, {"args", {{"name", name}}}});
        events.push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", 1}, {"tid", g}, {"args", {{"sort_index", g}}}});
    }
    int64_t origin = 0;
    if (!trace.records.empty())
        origin = std::min_element(trace.records.begin(), trace.records.end(), [](const auto& a, const auto& b) {
                     return a.startNs < b.startNs;
                 })->startNs;
    for (const TraceRecord& r : trace.records) {
        json args = {{"phase", phaseName(r.phase)}, {"step", r.step}, {"layer", r.layer}};
        if (r.unit >= 0)
            args["unit"] = r.unit;
        if (r.device >= 0)
            args["device"] = r.device, args["stream"] = r.stream;
        events.push_back({{"name", trace.name(r.nameId)},
                          {"cat", phaseName(r.phase)},
                          {"ph", "X"},
                          {"pid", 1},
                          {"tid", r.rank >= 0 ? r.rank : allTrack},
                          {"ts", double(r.startNs - origin) / 1000.0},
                          {"dur", double(r.durationNs()) / 1000.0},
                          {"args", args}});
    }
    json doc = {{"traceEvents", events}, {"displayTimeUnit", "ns"}};
    if (trace.dropped)
        doc["otherData"] = {{"dropped_records", trace.dropped}};
    return doc.dump(-1, ' ', false, json::error_handler_t::replace); // names from a damaged session may not be UTF-8
}

} // namespace fairkv::profiler
