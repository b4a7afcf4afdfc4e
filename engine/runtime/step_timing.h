#pragma once
#include <string>
#include <vector>

namespace fairkv {

// Times of one forward pass (prefill or a decode step). Emulated ranks run one after another, each
// timed on its own; the pass time is composed as if they ran in parallel: per layer the slowest
// rank's attention and MLP plus the collectives, plus the replicated work. Ranks on their own
// devices also measure the whole pass.
struct StepTiming
{
    std::vector<std::vector<double>> attentionMs; // [layer][rank]
    std::vector<std::vector<double>> mlpMs;       // [layer][rank]
    std::vector<double> collectiveMs;             // [layer]
    std::vector<double> skewMs; // [layer] sequential parts: sum of each part's slowest rank minus the slowest sum
    double replicatedMs = 0.0; // embedding, norms, compression selection, lm_head
    double measuredMs = -1.0;  // the whole pass, when ranks ran in parallel on their own devices
    std::string note;          // what the user must know about this pass's time (empty: nothing)

    void reset(int layers, int ranks);
    // Adds a part of the pass that ran after what is here (a group of prompts in a prefill): per
    // layer its slowest rank adds to the critical path, whichever rank that is.
    void addSequential(const StepTiming& part);
    // The pass's time: measured when it was, else composed from the parts.
    double stepMs() const { return measuredMs >= 0 ? measuredMs : composedMs(); }
    double composedMs() const;
    // sum over layers of the slowest rank's attention time
    double attentionCriticalMs() const;
};

} // namespace fairkv
