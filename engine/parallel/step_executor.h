#pragma once
#include "runtime/step_timing.h"

#include <string>
#include <vector>

namespace fairkv {

class LayerCompressor;
class TraceSink;

// A backend that runs whole decode steps itself, with the residual stream resident on its devices
// (embedding, norms, residual adds, collectives and lm_head included), instead of the engine's
// host-driven loop. The engine still prefills, compresses and moves placements through its ranks.
class StepExecutor
{
public:
    virtual ~StepExecutor() = default;
    // "measured" when every rank has its own device and real collectives, else "emulated".
    virtual const char* timingKind() const = 0;
    // How the collectives' time was obtained, for results.
    virtual std::string collectiveSource() const = 0;
    virtual void setTraceSink(TraceSink* sink, int step) = 0;
    // One token per request at `positions` (tokens already processed); next-token logits [request][vocab].
    virtual std::vector<std::vector<float>> decodeStep(const std::vector<int>& tokens, const std::vector<long>& positions,
                                                       StepTiming& timing) = 0;
    // The backend's own compression selection for prefill, when it has one (owned by the executor).
    virtual LayerCompressor* compressor() { return nullptr; }
};

} // namespace fairkv
