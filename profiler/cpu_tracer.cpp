#include "cpu_tracer.h"

namespace fairkv::profiler {

void CpuTracer::event(const fairkv::TraceEvent& e)
{
    if (!m_enabled)
        return;
    TraceRecord r;
    r.rank = e.rank;
    r.device = -1;
    r.stream = 0;
    r.nameId = m_buffer.intern(e.name);
    r.startNs = e.startNs;
    r.endNs = e.endNs;
    r.step = e.step;
    r.layer = e.layer;
    r.unit = e.unit;
    r.phase = Phase(uint8_t(e.phase));
    const bool pass = e.phase == fairkv::TracePhase::Prefill || e.phase == fairkv::TracePhase::Decode;
    r.kind = (pass || e.unit >= 0 || (e.deviceTimed && m_deviceRanges)) ? RecordKind::Range : RecordKind::Op;
    m_buffer.records.push_back(r);
}

} // namespace fairkv::profiler
