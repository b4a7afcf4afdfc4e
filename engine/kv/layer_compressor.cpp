#include "kv/layer_compressor.h"

#include "common/parallel.h"

namespace fairkv {

std::vector<LayerSelection> CpuLayerCompressor::compress(const CompressionOptions& options, int layer, int numLayers,
                                                         const std::vector<std::vector<std::vector<float>>>& scores)
{
    // Requests are independent: their selections run on all cores (milliseconds each for large
    // layers and long prompts).
    std::vector<LayerSelection> selections(scores.size());
    parallelFor(scores.size(), [&](size_t r) { selections[r] = compressLayer(options, layer, numLayers, scores[r]); });
    return selections;
}

} // namespace fairkv
