#pragma once
#include "kv/compression.h"

#include <string>
#include <vector>

namespace fairkv {

// Compression of one layer for a whole batch: which prompt positions each (request, unit) keeps.
// The CPU one runs compressLayer per request on all cores; a backend may bring its own (the CUDA
// backend pools and selects on the GPU) as long as it returns the same selections.
class LayerCompressor
{
public:
    virtual ~LayerCompressor() = default;
    // Where the selection runs, for traces and results ("host", "GPU 0", ...).
    virtual std::string where() const = 0;
    // `scores[request][unit]`: that request's window scores (see compressLayer), one per prompt position.
    virtual std::vector<LayerSelection> compress(const CompressionOptions& options, int layer, int numLayers,
                                                 const std::vector<std::vector<std::vector<float>>>& scores) = 0;
};

class CpuLayerCompressor final : public LayerCompressor
{
public:
    std::string where() const override { return "host"; }
    std::vector<LayerSelection> compress(const CompressionOptions& options, int layer, int numLayers,
                                         const std::vector<std::vector<std::vector<float>>>& scores) override;
};

} // namespace fairkv
