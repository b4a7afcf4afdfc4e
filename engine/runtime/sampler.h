#pragma once
#include "common/rng.h"

#include <string>
#include <vector>

namespace fairkv {

// Throws an Error naming `what` and the first token id whose logit is NaN or infinite.
void checkFiniteLogits(const std::vector<float>& logits, const std::string& what);

// Where a request's logits come from, named when they are not finite.
struct LogitsAt
{
    int request = 0, position = 0, token = 0; // the input token at that position
};

// Greedy (temperature <= 0: the first maximum) or seeded sampling from softmax(logits / temperature).
int sampleToken(const std::vector<float>& logits, double temperature, Rng& rng, const LogitsAt& at);

} // namespace fairkv
