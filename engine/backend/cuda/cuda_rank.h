#pragma once
#include "backend/cpu/cpu_rank.h"
#include "backend/cuda/gemm_choice.h"
#include "parallel/rank.h"
#include "parallel/rank_factory.h"
#include "placement/unit_layout.h"

#include <cuda_runtime.h>

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
// The inner CPU rank holds the KV store; it copies fp32 weight shards only when a prompt continues
// cached KV (its fallback path), so host memory holds the model once.
class CudaRank final : public Rank
{
public:
    // `device`: the CUDA device this rank's shards and KV live on.
    CudaRank(int index, const ModelConfig& config, UnitMode mode, int device);
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

    // Device-resident decode, driven by the step executor on `stream`: first prepareDecode() for
    // the step (host planning and uploads, every layer), then per layer launchAttention() and
    // launchMlp() (asynchronous; `xb` bf16 normalised rows on this rank's device, `y` fp32
    // [rows][hidden] overwritten with this rank's partial sums), then finishDecode() after the
    // stream is done: mirrors the new K/V rows to the host store and reads the device times.
    int device() const { return m_device; }
    size_t assignments() const { return m_assignments; } // placements installed so far
    void prepareDecode(const RowBatch& rows);
    // `gemms`: the routine of each product (the step executor keeps one choice per device, which
    // every rank on it shares). startedAt: an event the caller recorded on `stream` where this
    // piece begins (the end of the piece before it), so back-to-back pieces share one event; null:
    // the rank records its own.
    void launchAttention(int layer, const void* xb, float* y, const GemmChoice& gemms, cudaStream_t stream,
                         void* startedAt = nullptr);
    void launchMlp(int layer, const void* xb, size_t rows, float* y, const GemmChoice& gemms, cudaStream_t stream,
                   void* startedAt = nullptr);
    void finishDecode();
    // After prepareDecode(), off the timed path: has `gemms` choose cublasGemmEx or a cuBLASLt
    // configuration for each of this step's product shapes it has not chosen before, timing them
    // over this rank's weights on `stream`; waits for it. A rank of the same device that meets a
    // shape another chose runs that choice, so emulated ranks of one shape run the same routines.
    void chooseGemms(GemmChoice& gemms, cudaStream_t stream) const;
    // Device-resident prefill, driven by the step executor: the rows of `requests` (engine request
    // indices; request k's rows are [rowStart[k], rowStart[k + 1]) of `xb`, bf16 normalised, on this
    // rank's device) through this rank's attention units; `y` (fp32 [rows][hidden]) is overwritten
    // with the o_proj partial sums. The prompts' K/V go to the host store and the window scores to
    // `capture`. Synchronous; returns the device time in ms.
    double prefillAttentionRows(int layer, const std::vector<int>& requests, const std::vector<size_t>& rowStart,
                                const void* xb, float* y, WindowCapture* capture);
    // This rank's MLP slice over `rows` device rows (bf16 in, fp32 partial sums out), on `stream`;
    // waits for it and returns the device time in ms.
    double prefillMlp(int layer, const void* xb, size_t rows, float* y, cudaStream_t stream);
    double attentionDeviceMs(int layer) const { return m_decode[size_t(layer)].attentionMs; }
    double mlpDeviceMs(int layer) const { return m_decode[size_t(layer)].mlpMs; }
    // Device events around the rank's work in `layer` (0/1 attention, 2/3 MLP), for trace times.
    void* decodeEvent(int layer, int which) const
    {
        const DecodeLayer& st = m_decode[size_t(layer)];
        return which % 2 == 0 ? st.starts[which / 2] : st.events[which];
    }

private:
    struct DeviceLayer;
    // One layer's part of the current decode step.
    struct DecodeLayer
    {
        int rows = 0;
        std::vector<KvKey> keys;            // pair order
        void* pairs = nullptr;              // PairDesc[pairs] on the device
        size_t pairsCapacity = 0;
        float* newKv = nullptr;             // [pairs][2][headDim] fp32: the rows appended this step
        size_t newKvCapacity = 0;
        std::unique_ptr<RaggedDecodeAttention> attention;
        void* events[4] = {nullptr, nullptr, nullptr, nullptr};
        void* starts[2] = {nullptr, nullptr}; // where attention and MLP began: events[0] and [2], or the caller's
        double attentionMs = 0.0, mlpMs = 0.0;
        bool attentionRan = false, mlpRan = false;
    };
    void setDevice() const;
    void releaseDecode();
    void prepareDecodeLayer(int layer, const RowBatch& rows);
    void finishDecodeLayer(int layer);
    void hostIo(size_t rows, float** x, void** xb, float** y); // device buffers of the host-pointer attention() and mlp()
    struct DeviceBlock
    {
        uint16_t* keys = nullptr; // bf16 [capacity][d]
        uint16_t* values = nullptr;
        int length = 0, capacity = 0;
    };
    void uploadLayer(int layer);
    bool continuesPrompt(int layer, const RowBatch& in) const;
    void prefillAttention(int layer, const RowBatch& in, float* out, WindowCapture* capture);
    bool serves(int layer, int request) const; // some unit replica of `layer` on this rank serves `request`
    double elapsedSinceStart(); // ms since m_events[0] was recorded, waiting for the GPU
    unsigned char* scratch(size_t bytes); // grow-only device scratch for one call
    DeviceBlock& deviceBlock(int layer, int unit, int request);

    int m_index;
    int m_device = 0;
    size_t m_assignments = 0;
    ModelConfig m_config;
    UnitLayout m_units;
    CpuRank m_host;
    const ModelWeights* m_weights = nullptr;
    const Placement* m_placement = nullptr;
    int m_step = -1;
    void* m_cublas = nullptr;
    std::unique_ptr<GemmChoice> m_prefillGemms; // prefill's MLP products: never chosen, so cublasGemmEx
    float* m_invFreq = nullptr;
    std::vector<std::unique_ptr<DeviceLayer>> m_layers;
    std::map<KvKey, DeviceBlock> m_blocks;
    std::vector<DecodeLayer> m_decode;
    size_t m_decodeScratch = 0; // bytes one layer's launches need
    // scratch
    void* m_scratch = nullptr;
    size_t m_scratchBytes = 0;
    void* m_io = nullptr;
    size_t m_ioBytes = 0;
    void* m_pinned = nullptr; // page-locked staging of prefill's K/V and window scores
    size_t m_pinnedBytes = 0;
    void* m_events[2] = {nullptr, nullptr}; // cudaEvent_t around the kernels of a call
    double m_lastDeviceMs = -1.0;
};

// The "cuda" backend's step executor over `ranks` (CudaRanks): see cuda_step.h.
std::unique_ptr<StepExecutor> makeCudaStepExecutor(const ModelWeights& weights, const std::vector<Rank*>& ranks,
                                                   const BackendOptions& options);

} // namespace fairkv::cuda
