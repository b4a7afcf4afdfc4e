#pragma once
#include "common/rng.h"

#include <string>
#include <vector>

namespace fairkv {

// Throws an Error naming `what` and the first token id whose logit is NaN or infinite.
void checkFiniteLogits(const std::vector<float>& logits, const std::string& what);

// Greedy (temperature <= 0: the first maximum) or seeded sampling from softmax(logits / temperature).
int sampleToken(const std::vector<float>& logits, double temperature, Rng& rng);

} // namespace fairkv
