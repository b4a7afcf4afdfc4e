#include "runtime/step_timing.h"

#include <algorithm>

namespace fairkv {

void StepTiming::reset(int layers, int ranks)
{
    attentionMs.assign(size_t(layers), std::vector<double>(size_t(ranks), 0.0));
    mlpMs.assign(size_t(layers), std::vector<double>(size_t(ranks), 0.0));
    collectiveMs.assign(size_t(layers), 0.0);
    replicatedMs = 0.0;
    measuredMs = -1.0;
}

double StepTiming::attentionCriticalMs() const
{
    double t = 0.0;
    for (const auto& layer : attentionMs)
        t += layer.empty() ? 0.0 : *std::max_element(layer.begin(), layer.end());
    return t;
}

double StepTiming::composedMs() const
{
    double t = attentionCriticalMs() + replicatedMs;
    for (size_t l = 0; l < mlpMs.size(); ++l)
        t += (mlpMs[l].empty() ? 0.0 : *std::max_element(mlpMs[l].begin(), mlpMs[l].end())) + collectiveMs[l];
    return t;
}

} // namespace fairkv
