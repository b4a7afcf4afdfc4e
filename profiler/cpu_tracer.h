#pragma once
#include "runtime/trace_sink.h"
#include "trace_record.h"

namespace fairkv::profiler {

// Steady-clock records per rank for the CPU backend: the engine's timed events as trace records.
// Rank-level attention and MLP and the collectives are Op records (what aggregation sums);
// per-unit detail and whole passes are Range records.
class CpuTracer final : public fairkv::TraceSink
{
public:
    void event(const fairkv::TraceEvent& e) override;
    void setEnabled(bool on) { m_enabled = on; }
    // Device-timed events become ranges (display only): used when the kernels themselves are traced.
    void setDeviceEventsAreRanges(bool on) { m_deviceRanges = on; }
    TraceBuffer& buffer() { return m_buffer; }
    const TraceBuffer& buffer() const { return m_buffer; }

private:
    TraceBuffer m_buffer;
    bool m_enabled = true;
    bool m_deviceRanges = false;
};

} // namespace fairkv::profiler
