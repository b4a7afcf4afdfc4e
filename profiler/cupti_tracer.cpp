#include "cupti_tracer.h"

#include "common/error.h"
#include "runtime/trace_sink.h"

#include <cupti.h>

#include <cstdlib>

namespace fairkv::profiler {

namespace {

CuptiTracer* g_tracer = nullptr;
constexpr size_t kBufferBytes = 8u << 20;

void check(CUptiResult rc, const char* call)
{
    if (rc == CUPTI_SUCCESS)
        return;
    const char* text = nullptr;
    cuptiGetResultString(rc, &text);
    throw fairkv::Error(std::string("CUPTI call ") + call + " failed: " + (text ? text : "unknown error"));
}

#define FAIRKV_CUPTI(call) check((call), #call)

void CUPTIAPI onBufferRequested(uint8_t** buffer, size_t* size, size_t* maxRecords)
{
    *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
    *size = *buffer ? kBufferBytes : 0;
    *maxRecords = 0;
}

void CUPTIAPI onBufferCompleted(CUcontext context, uint32_t streamId, uint8_t* buffer, size_t /*size*/, size_t valid)
{
    if (g_tracer && buffer)
        g_tracer->consume(context, streamId, buffer, valid);
    std::free(buffer);
}

} // namespace

const char* CuptiTracer::kernelRecordType()
{
    return "CUpti_ActivityKernel10";
}

namespace {

CUpti_ActivityKind workKind(CuptiTracer::Level level)
{
    return level == CuptiTracer::Level::Graphs ? CUPTI_ACTIVITY_KIND_GRAPH_TRACE : CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL;
}

} // namespace

CuptiTracer::CuptiTracer(TraceBuffer* out, Level level)
    : m_out(out)
    , m_level(level)
{
    if (g_tracer)
        throw fairkv::Error("only one CUPTI tracer can run in a process");
    g_tracer = this;
    try {
        FAIRKV_CUPTI(cuptiActivityRegisterCallbacks(onBufferRequested, onBufferCompleted));
        FAIRKV_CUPTI(cuptiActivityEnable(workKind(level)));
        FAIRKV_CUPTI(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION));
        // External correlation records link an external id to the correlation id of a runtime or
        // driver API record, and CUPTI emits them only while API activity is traced (seen on the
        // H100 with CUDA 13.0: kernels came, correlations did not). cuBLAS launches through the
        // driver API, our kernels through the runtime: both are needed; their records are skipped.
        // Tracing only the launch calls (all API activity enabled, the rest switched off per call)
        // was measured slower: 41% on an engine decode step against 14% with everything traced.
        FAIRKV_CUPTI(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_RUNTIME));
        FAIRKV_CUPTI(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_DRIVER));
        uint64_t now = 0;
        FAIRKV_CUPTI(cuptiGetTimestamp(&now));
        m_clockOffset = int64_t(now) - fairkv::traceClockNs();
    } catch (...) {
        g_tracer = nullptr;
        throw;
    }
}

CuptiTracer::~CuptiTracer()
{
    try {
        flush();
    } catch (...) {
    }
    cuptiActivityDisable(workKind(m_level));
    cuptiActivityDisable(CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION);
    cuptiActivityDisable(CUPTI_ACTIVITY_KIND_RUNTIME);
    cuptiActivityDisable(CUPTI_ACTIVITY_KIND_DRIVER);
    g_tracer = nullptr;
}

CuptiTracer::Counts CuptiTracer::counts() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_counts;
}

void CuptiTracer::push(int rank, int step, int layer, int unit, Phase phase)
{
    uint64_t id;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        id = m_nextId++;
        m_tags[id] = Tag{rank, step, layer, unit, phase};
    }
    FAIRKV_CUPTI(cuptiActivityPushExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, id));
}

void CuptiTracer::pop()
{
    // Called from destructors (DeviceScope), also while unwinding: never throws; a failure is
    // counted and reported at the next flush().
    uint64_t id = 0;
    if (cuptiActivityPopExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, &id) != CUPTI_SUCCESS)
        ++m_failedPops;
}

const std::string& CuptiTracer::name(const char* mangled)
{
    const std::string key = mangled ? mangled : "";
    auto it = m_names.find(key);
    if (it == m_names.end())
        it = m_names.emplace(key, readableKernelName(key)).first;
    return it->second;
}

void CuptiTracer::consume(void* context, uint32_t streamId, uint8_t* buffer, size_t valid)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    ++m_counts.buffers;
    CUpti_Activity* record = nullptr;
    while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
        if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || record->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
            const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
            if (k->start == 0 && k->end == 0) // CUPTI could not time this kernel
                continue;
            ++m_counts.kernels;
            m_pending.push_back({k->correlationId, k->deviceId, k->streamId, k->start, k->end, name(k->name), 0});
        } else if (record->kind == CUPTI_ACTIVITY_KIND_GRAPH_TRACE) {
            const auto* g = reinterpret_cast<const CUpti_ActivityGraphTrace2*>(record);
            if (g->start == 0 && g->end == 0) // CUPTI could not time this launch
                continue;
            ++m_counts.kernels;
            m_pending.push_back({g->correlationId, g->deviceId, g->streamId, g->start, g->end,
                                 name(("CUDA graph " + std::to_string(g->graphId)).c_str()), 0});
        } else if (record->kind == CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION) {
            const auto* e = reinterpret_cast<const CUpti_ActivityExternalCorrelation*>(record);
            ++m_counts.correlations;
            if (e->externalKind == CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0)
                m_external[e->correlationId] = External{e->externalId, m_flushes};
        }
    }
    size_t dropped = 0;
    if (cuptiActivityGetNumDroppedRecords(static_cast<CUcontext>(context), streamId, &dropped) == CUPTI_SUCCESS)
        m_dropped += dropped;
}

void CuptiTracer::flush()
{
    FAIRKV_CUPTI(cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED));
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<PendingKernel> waiting;
    for (PendingKernel& k : m_pending) {
        auto ext = m_external.find(k.correlationId);
        if (ext == m_external.end()) {
            // Its correlation record may come in a later buffer; after two forced flushes it never
            // will: the kernel was launched outside any push() (prefill, library set-up).
            if (++k.flushes < 3)
                waiting.push_back(k);
            else
                ++m_counts.untagged;
            continue;
        }
        auto tagIt = m_tags.find(ext->second.id);
        if (tagIt == m_tags.end()) { // its tag aged out (see below): cannot happen within three flushes
            ++m_counts.untagged;
            continue;
        }
        const Tag& tag = tagIt->second;
        TraceRecord r;
        r.rank = tag.rank;
        r.device = int32_t(k.deviceId);
        r.stream = int32_t(k.streamId);
        r.nameId = m_out->intern(k.name);
        r.startNs = int64_t(k.start) - m_clockOffset; // the host's steady clock, as every other record
        r.endNs = int64_t(k.end) - m_clockOffset;
        r.step = tag.step;
        r.layer = tag.layer;
        r.unit = tag.unit;
        r.phase = tag.phase;
        r.kind = RecordKind::Kernel;
        m_out->records.push_back(r);
    }
    m_pending = std::move(waiting);
    m_counts.unmatched = m_pending.size();
    // Age out what no kernel can need any more, or a long run grows without bound (a tag per
    // push, a correlation per API call in a pushed region). A correlation stays three flushes:
    // every kernel of one launch shares it (all nodes of a graph launch do) and stragglers may come
    // a buffer late; a kernel waits at most three flushes for it. Tags go with the same delay.
    ++m_flushes;
    for (auto it = m_external.begin(); it != m_external.end();)
        it = m_flushes - it->second.flush >= 3 ? m_external.erase(it) : std::next(it);
    m_tagMarks.push_back(m_nextId);
    if (m_tagMarks.size() > 3) {
        const uint64_t oldest = m_tagMarks.front();
        m_tagMarks.pop_front();
        for (auto it = m_tags.begin(); it != m_tags.end();)
            it = it->first < oldest ? m_tags.erase(it) : std::next(it);
    }
    if (m_failedPops > m_reportedPops) {
        m_out->warnings.push_back("CUPTI could not pop " + std::to_string(m_failedPops - m_reportedPops)
                                  + " kernel tags; some kernels may carry the wrong rank or layer");
        m_reportedPops = m_failedPops;
    }
    if (m_dropped > m_out->dropped) {
        m_out->warnings.push_back("CUPTI dropped " + std::to_string(m_dropped - m_out->dropped)
                                  + " kernel records (activity buffers full); per-rank times undercount");
        m_out->dropped = m_dropped;
    }
}

} // namespace fairkv::profiler
