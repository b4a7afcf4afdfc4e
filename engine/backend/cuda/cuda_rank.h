#pragma once
#include "backend/cpu/cpu_rank.h"
#include "parallel/rank.h"
#include "placement/unit_layout.h"

#include <map>
#include <memory>
#include <vector>

namespace fairkv::cuda {

class RaggedDecodeAttention;

// A rank whose passes run on the GPU: bf16 weight shards, cuBLAS GEMMs with fp32 accumulation,
// causal prefill attention with the SnapKV window scores, RoPE + KV append, and the ragged
// split-KV decode attention over its (request, unit) pairs. The host KV store stays authoritative
// (prefill K/V and each decoded row are mirrored back), so compression, placement changes and the
// engine's bookkeeping work as on the CPU, and the device blocks are a cache re-filled after them.
// The inner CPU rank serves only a prompt that continues cached KV.
class CudaRank final : public Rank
{
public:
    CudaRank(int index, const ModelConfig& config, UnitMode mode);
    ~CudaRank() override;

    int index() const override { return m_index; }
    void assign(const ModelWeights& weights, const Placement& placement, KvStore& pool) override;
    void releaseKv(KvStore& pool) override;
    void attention(int layer, const RowBatch& in, float* out, WindowCapture* capture) override;
    void compress(int layer, const std::map<UnitRequest, std::vector<int>>& kept) override;
    void mlp(int layer, const float* x, size_t rows, float* out) override;
    void setTraceContext(TraceSink* sink, int step) override;
    const KvStore& kv() const override { return m_host.kv(); }
    size_t weightBytes() const override;
    double lastDeviceMs() const override { return m_lastDeviceMs; }

    // Registers "cuda" with the engine's rank factory; throws when no GPU can be used.
    static void registerBackend();

private:
    struct DeviceLayer;
    struct DeviceBlock
    {
        uint16_t* keys = nullptr; // bf16 [capacity][d]
        uint16_t* values = nullptr;
        int length = 0, capacity = 0;
    };
    void uploadLayer(int layer);
    bool continuesPrompt(int layer, const RowBatch& in) const;
    void prefillAttention(int layer, const RowBatch& in, float* out, WindowCapture* capture);
    void mlpRows(int layer, const float* x, size_t rows, float* out);
    double elapsedSinceStart(); // ms since m_events[0] was recorded, waiting for the GPU
    unsigned char* scratch(size_t bytes); // grow-only device scratch for one call
    DeviceBlock& deviceBlock(int layer, int unit, int request);

    int m_index;
    ModelConfig m_config;
    UnitLayout m_units;
    CpuRank m_host;
    const ModelWeights* m_weights = nullptr;
    const Placement* m_placement = nullptr;
    int m_step = -1;
    void* m_cublas = nullptr;
    float* m_invFreq = nullptr;
    std::vector<std::unique_ptr<DeviceLayer>> m_layers;
    std::map<KvKey, DeviceBlock> m_blocks;
    std::unique_ptr<RaggedDecodeAttention> m_attention;
    // scratch
    void* m_scratch = nullptr;
    size_t m_scratchBytes = 0;
    void* m_events[2] = {nullptr, nullptr}; // cudaEvent_t around the kernels of a call
    double m_lastDeviceMs = -1.0;
};

} // namespace fairkv::cuda
