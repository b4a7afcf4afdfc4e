#pragma once
#include "common/rng.h"

#include <vector>

namespace fairkv {

// Greedy (temperature <= 0: the first maximum) or seeded sampling from softmax(logits / temperature).
int sampleToken(const std::vector<float>& logits, double temperature, Rng& rng);

} // namespace fairkv
