#pragma once
#include "trace_record.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace fairkv::profiler {

// Kernel activity tracing through CUPTI (CUDA builds only). Every kernel a host thread launches
// between push() and pop() carries that push's rank, step, layer, unit and phase, through CUPTI's
// external correlation ids. Records are built on flush(): call it after the traced work completed,
// every few steps and at the end (a kernel's tag and correlation are kept three flushes). Their times are on the host's steady clock (traceClockNs), as the engine's own
// records. Records CUPTI dropped are counted and reported in TraceBuffer::dropped and a warning,
// never silently; kernels launched outside any push() are dropped (counts().untagged).
// One tracer per process (CUPTI's activity callbacks are global).
class CuptiTracer
{
public:
    // What one record stands for. Kernels: every kernel (on the H100 about 0.1 us of GPU time
    // apiece, and host time on every launch, which a stream queued ahead hides). Graphs: every CUDA graph launch as one record from its first node's start to its
    // last node's end, named "CUDA graph N", its nodes not instrumented; kernels launched outside
    // graphs are then not traced at all. Only graphs instantiated while a Graphs tracer exists may
    // be launched: one instantiated before crashed inside CUPTI 13.0 at cudaGraphLaunch (H100).
    enum class Level { Kernels, Graphs };
    // Enables kernel (or graph) and external-correlation activity; throws fairkv::Error naming the
    // CUPTI call.
    explicit CuptiTracer(TraceBuffer* out, Level level = Level::Kernels);
    ~CuptiTracer();
    CuptiTracer(const CuptiTracer&) = delete;
    CuptiTracer& operator=(const CuptiTracer&) = delete;

    void push(int rank, int step, int layer, int unit, Phase phase);
    void pop();
    // Waits for CUPTI to hand over every completed buffer and turns kernels into records.
    void flush();

    struct Counts
    {
        uint64_t buffers = 0, kernels = 0, correlations = 0, unmatched = 0;
        uint64_t untagged = 0; // kernels launched outside any push(), dropped
    };
    // What CUPTI handed over so far (for diagnostics and tests).
    Counts counts() const;

    // CUPTI's activity-record struct this build reads (CUDA 13.0: CUpti_ActivityKernel10).
    static const char* kernelRecordType();

private:
    struct Tag
    {
        int rank, step, layer, unit;
        Phase phase;
    };
    struct PendingKernel
    {
        uint32_t correlationId;
        uint32_t deviceId, streamId;
        uint64_t start, end;
        std::string name;
        int flushes; // forced flushes it waited through for its correlation record
    };
public:
    // Called by CUPTI's buffer-completed callback (any thread).
    void consume(void* context, uint32_t streamId, uint8_t* buffer, size_t valid);

private:
    TraceBuffer* m_out;
    Level m_level;
    mutable std::mutex m_mutex; // CUPTI completes buffers on its own threads
    std::vector<PendingKernel> m_pending;
    struct External
    {
        uint64_t id;    // the push's external id
        uint64_t flush; // m_flushes when it arrived
    };
    std::unordered_map<uint32_t, External> m_external; // correlation id -> external id
    uint64_t m_flushes = 0;
    std::deque<uint64_t> m_tagMarks; // m_nextId at the last flushes: older tags are dropped
    std::atomic<uint64_t> m_failedPops{0};
    uint64_t m_reportedPops = 0;
    std::unordered_map<std::string, std::string> m_names; // mangled -> readable kernel names
    const std::string& name(const char* mangled);        // under m_mutex
    std::unordered_map<uint64_t, Tag> m_tags;          // external id -> tag
    uint64_t m_nextId = 1;
    uint64_t m_dropped = 0;
    Counts m_counts;
    int64_t m_clockOffset = 0; // CUPTI's clock minus the host's steady clock
};

} // namespace fairkv::profiler
