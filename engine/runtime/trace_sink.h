#pragma once
#include <chrono>
#include <cstdint>

namespace fairkv {

enum class TracePhase : uint8_t {
    Prefill,     // a whole prefill pass
    Compression, // KV selection after a prefill layer
    Decode,      // a whole decode step
    Attention,   // one rank's attention of a layer (or one unit's, with unit >= 0)
    Mlp,         // one rank's MLP slice of a layer
    Collective,  // an all-reduce
    Replicated,  // work every rank repeats: embedding, norms, lm_head
    Other,
};
const char* tracePhaseName(TracePhase phase);

// One timed piece of work as the engine sees it. rank -1: all ranks (collectives, passes).
struct TraceEvent
{
    TracePhase phase = TracePhase::Other;
    const char* name = "";
    int rank = -1;
    int step = -1; // decode step, -1 for prefill
    int layer = -1;
    int unit = -1;
    int64_t startNs = 0;
    int64_t endNs = 0;
    // Times from device events around the work (CUDA backend), not the host's clock. A sink that
    // traces the kernels themselves keeps such events for display only, so nothing counts twice.
    bool deviceTimed = false;
};

// Receives the engine's timed events (the profiler's CPU tracer implements it). Called from the
// thread that runs the engine; implementations need no locking for the CPU backend.
class TraceSink
{
public:
    virtual ~TraceSink() = default;
    virtual void event(const TraceEvent& e) = 0;
    // Device work that the calling thread launches until the matching popDevice() belongs to
    // (rank, step, layer, phase); a sink that traces kernels (CUPTI) tags them with it. Any thread
    // may call these (one per GPU in NCCL runs); each thread's pushes nest.
    virtual void pushDevice(int /*rank*/, int /*step*/, int /*layer*/, TracePhase /*phase*/) {}
    virtual void popDevice() {}
    // After a pass's device work has completed: a kernel-tracing sink collects its records now.
    virtual void flushDevice() {}
    // Whether this sink traces kernels (CUPTI): their tracing adds to the times a run reports.
    virtual bool tracesKernels() const { return false; }
};

// Tags the device work launched in a scope (see TraceSink::pushDevice); no-op without a sink.
class DeviceScope
{
public:
    DeviceScope(TraceSink* sink, int rank, int step, int layer, TracePhase phase)
        : m_sink(sink)
    {
        if (m_sink)
            m_sink->pushDevice(rank, step, layer, phase);
    }
    ~DeviceScope()
    {
        if (m_sink)
            m_sink->popDevice();
    }
    DeviceScope(const DeviceScope&) = delete;
    DeviceScope& operator=(const DeviceScope&) = delete;

private:
    TraceSink* m_sink;
};

// The clock every host-side record uses (nanoseconds, steady).
inline int64_t traceClockNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One measurement of one piece of work: the same interval feeds StepTiming and, when a sink is
// attached, the trace, so the profiler's numbers and the run's numbers cannot disagree.
class Span
{
public:
    Span(TraceSink* sink, TracePhase phase, const char* name, int rank, int step, int layer)
        : m_sink(sink)
    {
        m_event.phase = phase;
        m_event.name = name;
        m_event.rank = rank;
        m_event.step = step;
        m_event.layer = layer;
        m_event.startNs = traceClockNs();
    }
    // Milliseconds since construction; emits the event.
    double end()
    {
        m_event.endNs = traceClockNs();
        if (m_sink)
            m_sink->event(m_event);
        return double(m_event.endNs - m_event.startNs) / 1e6;
    }

private:
    TraceSink* m_sink;
    TraceEvent m_event;
};

} // namespace fairkv
