#pragma once
#include "cpu_tracer.h"
#include "runtime/trace_sink.h"
#include "trace_record.h"

#include <memory>

namespace fairkv::profiler {

class CuptiTracer;

// What a run records: the engine's timed events (as CpuTracer) and, when asked and built with
// CUDA, every kernel through CUPTI, tagged with the rank, step, layer and phase that launched it.
// With kernels traced, device-timed engine events (CUDA events around a rank's work) become
// display-only ranges, so per-rank sums come from the kernels and nothing counts twice.
class EngineTracer final : public fairkv::TraceSink
{
public:
    // `kernels`: trace kernels with CUPTI; throws fairkv::Error when this build or machine cannot.
    explicit EngineTracer(bool kernels);
    ~EngineTracer() override;
    EngineTracer(const EngineTracer&) = delete;
    EngineTracer& operator=(const EngineTracer&) = delete;

    // Whether CUPTI kernel tracing can be used in this build (a GPU may still be missing).
    static bool kernelTracingBuilt();

    void event(const fairkv::TraceEvent& e) override;
    void pushDevice(int rank, int step, int layer, fairkv::TracePhase phase) override;
    void popDevice() override;
    void flushDevice() override;

    bool tracesKernels() const override { return bool(m_kernels); }
    void setEnabled(bool on) { m_host.setEnabled(on); }
    // The records so far, with every kernel that has finished (CUPTI is flushed first).
    TraceBuffer& buffer();

    // Decode steps between two CUPTI flushes. A forced flush after every step stalled the next
    // step's first kernel by 0.3-0.6 ms on the H100 (8B shape, 8 layers, batch 16: 9-31% of the
    // step); kernels reach buffer() anyway, which flushes.
    static constexpr int kStepsPerFlush = 16;

private:
    CpuTracer m_host;
    std::unique_ptr<CuptiTracer> m_kernels;
    int m_unflushedSteps = 0;
};

} // namespace fairkv::profiler
