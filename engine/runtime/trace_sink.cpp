#include "runtime/trace_sink.h"

namespace fairkv {

const char* tracePhaseName(TracePhase phase)
{
    switch (phase) {
    case TracePhase::Prefill:
        return "prefill";
    case TracePhase::Compression:
        return "compression";
    case TracePhase::Decode:
        return "decode";
    case TracePhase::Attention:
        return "attention";
    case TracePhase::Mlp:
        return "mlp";
    case TracePhase::Collective:
        return "collective";
    case TracePhase::Replicated:
        return "replicated";
    case TracePhase::Other:
        break;
    }
    return "other";
}

} // namespace fairkv
