#pragma once
#include "model/model_config.h"

#include <vector>

namespace fairkv {

// Inverse frequencies (head_dim/2 values) as HF computes them, including llama3 and linear scaling.
std::vector<float> ropeInverseFrequencies(const ModelConfig& config);

} // namespace fairkv
