#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

namespace fairkv {

int sampleToken(const std::vector<float>& logits, double temperature, Rng& rng)
{
    const auto best = std::max_element(logits.begin(), logits.end());
    if (temperature <= 0.0)
        return int(best - logits.begin());
    std::vector<double> p(logits.size());
    double sum = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
        p[i] = std::exp((double(logits[i]) - double(*best)) / temperature);
        sum += p[i];
    }
    double u = rng.uniform() * sum;
    for (size_t i = 0; i < p.size(); ++i) {
        u -= p[i];
        if (u < 0.0)
            return int(i);
    }
    return int(best - logits.begin());
}

} // namespace fairkv
