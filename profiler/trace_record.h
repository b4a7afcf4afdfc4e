#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace fairkv::profiler {

// What a record is. Kernel (CUPTI) and Op (CPU tracer) records are the work the aggregation sums;
// Range records frame them (passes, per-unit detail on the CPU) and are shown, not summed.
enum class RecordKind : uint8_t { Kernel = 0, Op = 1, Range = 2 };

// Phases share their numbering with fairkv::TracePhase.
enum class Phase : uint8_t { Prefill = 0, Compression, Decode, Attention, Mlp, Collective, Replicated, Other };
const char* phaseName(Phase p);

// One schema for CPU and GPU records. Times are nanoseconds on one clock per run.
struct TraceRecord
{
    int32_t rank = -1;   // -1: all ranks (collectives, passes)
    int32_t device = -1; // GPU ordinal, -1 for the host
    int32_t stream = 0;
    uint32_t nameId = 0; // index into TraceBuffer::names
    int64_t startNs = 0;
    int64_t endNs = 0;
    int32_t step = -1; // decode step, -1 for prefill
    int32_t layer = -1;
    int32_t unit = -1;
    Phase phase = Phase::Other;
    RecordKind kind = RecordKind::Op;

    int64_t durationNs() const { return endNs - startNs; }
};

struct CounterRecord
{
    std::string name;
    int64_t timeNs = 0;
    double value = 0.0;
};

// A kernel's name as users read it: C++ symbols demangled ("fairkv::cuda::(anonymous
// namespace)::embedRows(int const*, ...)"), other names (cuBLAS's "nvjet_...") as they are.
std::string readableKernelName(const std::string& name);

// Records of one run with their interned names.
class TraceBuffer
{
public:
    uint32_t intern(const std::string& name);
    const std::string& name(uint32_t id) const { return m_names[id]; }
    const std::vector<std::string>& names() const { return m_names; }
    void setNames(std::vector<std::string> names);

    std::vector<TraceRecord> records;
    std::vector<CounterRecord> counters;
    uint64_t dropped = 0;              // records the tracer lost (CUPTI buffer overflow)
    std::vector<std::string> warnings; // shown to the user, never silent

private:
    std::vector<std::string> m_names;
    std::unordered_map<std::string, uint32_t> m_index;
};

} // namespace fairkv::profiler
