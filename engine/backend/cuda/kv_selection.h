#pragma once
#include "kv/layer_compressor.h"

#include <cuda_runtime.h>

namespace fairkv::cuda {

// Prefill's compression selection on one GPU: pooling of the window scores, the per-layer global
// top-k of Ada-SnapKV (a stable radix sort of every request's pooled scores, ties to the lower
// unit as on the host), each unit's top positions (a stable radix sort per (request, unit) row,
// ties to the earlier position), the kept positions in ascending order and the attention mass they hold.
// Only the per-unit counts (to the host, which rounds them into caps) and the kept positions
// cross PCIe besides the scores. Selections equal compressLayer's for the same scores (tested);
// the mass may differ in its last bits (another summation order).
//
// With several ranks on several GPUs the window scores of a layer are spread over them; they are
// gathered through the host onto this one GPU (a few MB per layer in prefill).
class DeviceLayerCompressor final : public LayerCompressor
{
public:
    explicit DeviceLayerCompressor(int device);
    ~DeviceLayerCompressor() override;
    DeviceLayerCompressor(const DeviceLayerCompressor&) = delete;
    DeviceLayerCompressor& operator=(const DeviceLayerCompressor&) = delete;

    std::string where() const override;
    std::vector<LayerSelection> compress(const CompressionOptions& options, int layer, int numLayers,
                                         const std::vector<std::vector<std::vector<float>>>& scores) override;

private:
    struct Buffer
    {
        void* ptr = nullptr;
        size_t capacity = 0;
    };
    void* grow(Buffer& b, size_t bytes, const char* what);

    int m_device;
    cudaStream_t m_stream = nullptr;
    Buffer m_raw, m_keys, m_sortedKeys, m_ids, m_sortedIds, m_rows, m_offsets, m_counts, m_flags, m_kept, m_mass,
        m_temp;
    void* m_staging = nullptr; // pinned host copy of the window scores
    size_t m_stagingBytes = 0;
};

} // namespace fairkv::cuda
