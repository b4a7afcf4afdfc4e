#include "runtime/sampler.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>

namespace fairkv {

void checkFiniteLogits(const std::vector<float>& logits, const std::string& what)
{
    const auto bad = std::find_if(logits.begin(), logits.end(), [](float x) { return !std::isfinite(x); });
    if (bad != logits.end())
        throw Error(what + " are not finite (" + (std::isnan(*bad) ? std::string("NaN") : *bad > 0 ? "infinity" : "minus infinity")
                    + " for vocabulary entry " + std::to_string(bad - logits.begin())
                    + "): the checkpoint's weights or config overflow (check-model reads headers only, not the values)");
}

int sampleToken(const std::vector<float>& logits, double temperature, Rng& rng, const LogitsAt& at)
{
    // One pass finds the first maximum and any value that is not finite (a NaN compares false,
    // so max_element alone would pick token 0 or skip it silently).
    auto best = logits.begin();
    bool finite = true;
    for (auto it = logits.begin(); it != logits.end(); ++it) {
        finite &= std::isfinite(*it);
        if (*it > *best)
            best = it;
    }
    if (!finite)
        checkFiniteLogits(logits, "request " + std::to_string(at.request) + ", position " + std::to_string(at.position) + " (input token "
                                      + std::to_string(at.token) + "): the next token's logits");
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
