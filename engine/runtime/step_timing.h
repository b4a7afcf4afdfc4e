#pragma once
#include <vector>

namespace fairkv {

// Times of one forward pass (prefill or a decode step). Ranks run one after another on this host,
// each timed on its own; the pass time is composed as if they ran in parallel: per layer the
// slowest rank's attention and MLP plus the collectives, plus the replicated work.
struct StepTiming
{
    std::vector<std::vector<double>> attentionMs; // [layer][rank]
    std::vector<std::vector<double>> mlpMs;       // [layer][rank]
    std::vector<double> collectiveMs;             // [layer]
    double replicatedMs = 0.0; // embedding, norms, compression selection, lm_head

    void reset(int layers, int ranks);
    double composedMs() const;
    // sum over layers of the slowest rank's attention time
    double attentionCriticalMs() const;
};

} // namespace fairkv
