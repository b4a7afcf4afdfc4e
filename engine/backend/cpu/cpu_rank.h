#pragma once
#include "parallel/rank.h"
#include "placement/unit_layout.h"
#include "runtime/trace_sink.h"

#include <vector>

namespace fairkv {

// fp32 rank on the host.
class CpuRank final : public Rank
{
public:
    CpuRank(int index, const ModelConfig& config, UnitMode mode);

    int index() const override { return m_index; }
    void assign(const ModelWeights& weights, const Placement& placement, KvStore& pool) override;
    void releaseKv(KvStore& pool) override;
    void attention(int layer, const RowBatch& in, float* out, WindowCapture* capture) override;
    void compress(int layer, const std::map<UnitRequest, std::vector<int>>& kept) override;
    void mlp(int layer, const float* x, size_t rows, float* out) override;
    void setTraceContext(TraceSink* sink, int step) override
    {
        m_sink = sink;
        m_step = step;
    }
    const KvStore& kv() const override { return m_kv; }
    // Copies of the weight shards only when attention() or mlp() first needs them (each its own
    // part): for a rank that
    // computes elsewhere (the CUDA rank keeps bf16 shards on its GPU) and uses this one for its KV
    // store and, rarely, a prompt on top of cached KV. Saves the model's fp32 size in host memory.
    void setWeightsOnDemand(bool on) { m_onDemand = on; }
    // For a rank that decodes elsewhere (the CUDA rank) and mirrors new rows back here.
    KvStore& mutableKv() { return m_kv; }
    size_t weightBytes() const override;

private:
    struct UnitShard
    {
        int unit = 0;
        std::vector<int> requests;
        std::vector<float> wq, wk, wv; // rows of the unit, x hidden
        std::vector<float> wo;         // hidden x (query heads * head_dim)
    };
    struct MlpShard
    {
        size_t rows = 0;
        std::vector<float> gate, up; // rows x hidden
        std::vector<float> down;     // hidden x rows
    };
    void unitAttention(int layer, const UnitShard& s, const RowBatch& in, float* out, WindowCapture* capture);
    // The shards' weights from m_source, once per assign() each.
    void copyAttentionWeights();
    void copyMlpWeights();

    int m_index;
    ModelConfig m_config;
    UnitLayout m_units;
    std::vector<float> m_invFreq;
    std::vector<std::vector<UnitShard>> m_shards; // [layer]
    std::vector<MlpShard> m_mlp;                   // [layer]
    KvStore m_kv;
    int m_ranks = 1;
    const ModelWeights* m_source = nullptr; // the weights of the last assign()
    bool m_onDemand = false, m_attentionCopied = false, m_mlpCopied = false;
    TraceSink* m_sink = nullptr;
    int m_step = -1;
};

} // namespace fairkv
