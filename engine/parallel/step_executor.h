#pragma once
#include "runtime/step_timing.h"

#include <functional>
#include <string>
#include <vector>

namespace fairkv {

class LayerCompressor;
class TraceSink;
struct WindowCapture;

// A backend that runs whole decode steps and prefills itself, with the residual stream resident on
// its devices (embedding, norms, residual adds, collectives and lm_head included), instead of the
// engine's host-driven loop. The engine still chooses what compression keeps (through a hook
// called between layers) and moves placements through its ranks.
class StepExecutor
{
public:
    virtual ~StepExecutor() = default;
    // "measured" when every rank has its own device and real collectives, else "emulated".
    virtual const char* timingKind() const = 0;
    // How the collectives' time was obtained, for results.
    virtual std::string collectiveSource() const = 0;
    // Which routines ran the decode products, when the backend chooses them ("" when it has nothing to say).
    virtual std::string gemmRoutines() const { return {}; }
    virtual void setTraceSink(TraceSink* sink, int step) = 0;
    // One token per request at `positions` (tokens already processed); next-token logits [request][vocab].
    virtual std::vector<std::vector<float>> decodeStep(const std::vector<int>& tokens, const std::vector<long>& positions,
                                                       StepTiming& timing) = 0;
    // Called by prefill() after each layer's attention with the window scores of `requests`
    // (capture.window > 0 only when compressing): selects and applies the positions to keep.
    using CompressHook = std::function<void(int layer, const std::vector<int>& requests, WindowCapture& capture)>;
    // Prefill of fresh prompts with the residual stream on the devices, instead of the engine's host
    // loop: every layer, `compress` after each attention, then the final norm and lm_head. Fills
    // `logits[request]` with the last row's logits, or every row's when `allLogits`, and `timing`.
    virtual void prefill(const std::vector<std::vector<int>>& prompts, bool allLogits, int window,
                         const CompressHook& compress, StepTiming& timing,
                         std::vector<std::vector<std::vector<float>>>& logits) = 0;
    // The backend's own compression selection for prefill, when it has one (owned by the executor).
    virtual LayerCompressor* compressor() { return nullptr; }
};

} // namespace fairkv
