#include "engine_tracer.h"

#include "common/error.h"
#ifdef FAIRKV_HAVE_CUPTI
#include "cupti_tracer.h"
#endif

namespace fairkv::profiler {

EngineTracer::EngineTracer(bool kernels)
{
    if (!kernels)
        return;
#ifdef FAIRKV_HAVE_CUPTI
    m_kernels = std::make_unique<CuptiTracer>(&m_host.buffer());
    m_host.setDeviceEventsAreRanges(true);
#else
    throw fairkv::Error("kernel tracing needs a build with CUDA and CUPTI");
#endif
}

EngineTracer::~EngineTracer() = default;

bool EngineTracer::kernelTracingBuilt()
{
#ifdef FAIRKV_HAVE_CUPTI
    return true;
#else
    return false;
#endif
}

void EngineTracer::event(const fairkv::TraceEvent& e)
{
    m_host.event(e);
}

void EngineTracer::pushDevice(int rank, int step, int layer, fairkv::TracePhase phase)
{
#ifdef FAIRKV_HAVE_CUPTI
    if (m_kernels)
        m_kernels->push(rank, step, layer, -1, Phase(uint8_t(phase)));
#else
    (void)rank, (void)step, (void)layer, (void)phase;
#endif
}

void EngineTracer::popDevice()
{
#ifdef FAIRKV_HAVE_CUPTI
    if (m_kernels)
        m_kernels->pop();
#endif
}

void EngineTracer::flushDevice()
{
#ifdef FAIRKV_HAVE_CUPTI
    if (m_kernels && ++m_unflushedSteps >= kStepsPerFlush) {
        m_unflushedSteps = 0;
        m_kernels->flush();
    }
#endif
}

TraceBuffer& EngineTracer::buffer()
{
#ifdef FAIRKV_HAVE_CUPTI
    if (m_kernels && m_unflushedSteps > 0) {
        m_unflushedSteps = 0;
        try {
            m_kernels->flush();
        } catch (const std::exception& e) { // the run itself succeeded: keep what was recorded
            m_host.buffer().warnings.push_back(std::string("the last kernel records could not be collected: ") + e.what());
        }
    }
#endif
    return m_host.buffer();
}

} // namespace fairkv::profiler
