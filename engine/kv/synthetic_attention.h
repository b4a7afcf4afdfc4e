#pragma once
#include "kv/compression.h"
#include "model/model_config.h"

#include <cstdint>
#include <vector>

namespace fairkv {

// The per-head attention sharpness of the synthetic weights ([layer][query head]): log-uniform in
// [0.25, 6], drawn from `seed` exactly as ModelWeights::synthetic draws it.
std::vector<std::vector<float>> syntheticHeadSharpness(const ModelConfig& config, uint64_t seed);

// Retained KV lengths [request][layer][unit] that `compression` produces on synthetic attention,
// without running the model. In the synthetic models the logits of query head h are close to
// i.i.d. N(0, s_h^2) over positions and independent between queries and heads (random weights:
// q is scaled by s_h, keys have unit variance). The generator draws exactly that for every window
// query, takes each query's causal softmax, averages over the window (and the unit's query heads)
// and lets the real compression code select. Cost: heads x window x prompt per request and layer,
// instead of the model's full prefill.
std::vector<std::vector<std::vector<double>>> syntheticKvLengths(const ModelConfig& config, UnitMode mode,
                                                                 const CompressionOptions& compression, int batch,
                                                                 int promptLen, uint64_t seed);

} // namespace fairkv
