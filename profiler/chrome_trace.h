#pragma once
#include "trace_record.h"

#include <string>

namespace fairkv::profiler {

// Chrome/Perfetto trace-event JSON: one process, one track (thread) per rank plus one for the
// work of all ranks (passes, collectives, replicated work); durations in microseconds.
std::string chromeTraceJson(const TraceBuffer& trace, int ranks, const std::string& title);

} // namespace fairkv::profiler
