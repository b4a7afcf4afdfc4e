#include "runtime/step_timing.h"

#include <algorithm>

namespace fairkv {

void StepTiming::reset(int layers, int ranks)
{
    attentionMs.assign(size_t(layers), std::vector<double>(size_t(ranks), 0.0));
    mlpMs.assign(size_t(layers), std::vector<double>(size_t(ranks), 0.0));
    collectiveMs.assign(size_t(layers), 0.0);
    skewMs.assign(size_t(layers), 0.0);
    replicatedMs = 0.0;
    measuredMs = -1.0;
    note.clear();
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
        t += (mlpMs[l].empty() ? 0.0 : *std::max_element(mlpMs[l].begin(), mlpMs[l].end())) + collectiveMs[l]
            + (l < skewMs.size() ? skewMs[l] : 0.0);
    return t;
}

void StepTiming::addSequential(const StepTiming& part)
{
    auto slowest = [](const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); };
    for (size_t l = 0; l < attentionMs.size(); ++l) {
        const double before = slowest(attentionMs[l]) + slowest(mlpMs[l]);
        for (size_t g = 0; g < attentionMs[l].size(); ++g) {
            attentionMs[l][g] += part.attentionMs[l][g];
            mlpMs[l][g] += part.mlpMs[l][g];
        }
        const double critical = before + slowest(part.attentionMs[l]) + slowest(part.mlpMs[l]);
        skewMs[l] += critical - (slowest(attentionMs[l]) + slowest(mlpMs[l]));
        collectiveMs[l] += part.collectiveMs[l];
    }
    replicatedMs += part.replicatedMs;
}

} // namespace fairkv
