#pragma once
#include "kv/compression.h"
#include "kv/layer_compressor.h"
#include "model/model_weights.h"
#include "parallel/communicator.h"
#include "parallel/rank.h"
#include "parallel/rank_factory.h"
#include "parallel/step_executor.h"
#include "placement/placement.h"
#include "placement/unit_layout.h"
#include "runtime/step_timing.h"
#include "runtime/trace_sink.h"

#include <memory>
#include <vector>

namespace fairkv {

// Batched decoding over N tensor-parallel ranks with per-unit compressed KV. Prefill runs the
// prompts under a placement, compresses each layer's KV with the chosen policy (the scores of all
// units are gathered, as the per-layer budget is global), then decode steps append to the ragged
// caches. The placement can change between steps: shards and KV blocks move between ranks.
class InferenceEngine
{
public:
    // `backend`: "cpu", or another registered with registerRankBackend ("cuda").
    InferenceEngine(std::shared_ptr<const ModelWeights> weights, int ranks, UnitMode mode, const std::string& backend = "cpu",
                    const BackendOptions& options = {});
    ~InferenceEngine();

    const ModelConfig& config() const { return m_weights->config; }
    const UnitLayout& units() const { return m_units; }
    int numRanks() const { return int(m_ranks.size()); }
    int batch() const { return int(m_positions.size()); }
    const Placement& placement() const { return m_placement; }
    // "measured" when decode steps run on one device per rank with real collectives, else "emulated".
    // On the CPU, ranks run one after another and the step is composed: emulated, except for a
    // single rank, whose composed step is what ran.
    std::string timingKind() const
    {
        return m_executor ? m_executor->timingKind() : m_ranks.size() == 1 ? "measured" : "emulated";
    }
    // Where prefill's compression selection runs ("host", "GPU 0").
    std::string compressionWhere() const { return m_compressor->where(); }
    // How collective times were obtained.
    std::string collectiveSource() const;
    // The backend's decode GEMM routines (StepExecutor::gemmRoutines); "" for the CPU backend.
    std::string gemmRoutines() const;
    // Timed events go to `sink` from now on (nullptr: none). Not owned.
    void setTraceSink(TraceSink* sink) { m_sink = sink; }

    struct PrefillOutput
    {
        std::vector<std::vector<float>> lastLogits;             // [request][vocab]
        std::vector<std::vector<std::vector<float>>> allLogits; // [request][position][vocab] when asked
        StepTiming timing;
        double wallMs = 0.0; // the pass on the host clock, from the embedding to the logits (shard uploads excluded)
    };
    PrefillOutput prefill(const std::vector<std::vector<int>>& prompts, const CompressionOptions& compression,
                          const Placement& placement, bool allLogits = false);

    // One token per request; returns next-token logits [request][vocab].
    std::vector<std::vector<float>> decodeStep(const std::vector<int>& tokens, StepTiming* timing = nullptr);

    // The decode state (every rank's KV, positions, retained mass), e.g. right after prefill, and
    // its restoration under the current placement: decoding the same steps again from there gives
    // the same tokens whatever placement is installed in between (the placement invariant).
    struct DecodeState
    {
        KvStore kv;
        std::vector<long> positions;
        std::vector<std::vector<std::vector<double>>> mass;
    };
    DecodeState saveState() const;
    void restoreState(const DecodeState& state);

    // Moves shards and KV to a new placement (validated first; on error nothing changes).
    // Returns the KV bytes that changed rank.
    size_t setPlacement(const Placement& placement);

    std::vector<std::vector<std::vector<int>>> kvLengths() const;                          // [request][layer][unit]
    const std::vector<std::vector<std::vector<double>>>& attentionMass() const { return m_mass; } // [request][layer][unit]
    std::vector<size_t> rankWeightBytes() const;
    int bytesPerWeight() const { return fairkv::bytesPerWeight(m_backend); }
    std::vector<size_t> rankKvBytes() const;

private:
    // The engine's own prefill loop (backends without a step executor): logits [request][row][vocab],
    // every row's or the last one's.
    std::vector<std::vector<std::vector<float>>> prefillOnHost(const std::vector<std::vector<int>>& prompts,
                                                               const CompressionOptions& compression, bool allLogits,
                                                               StepTiming& timing);
    void runLayers(const RowBatch& rows, std::vector<float>& x, StepTiming& timing, const CompressionOptions* compression);
    // Selects the positions `requests` keep in `layer` from their window scores and applies it to every rank.
    // The ranks' partial outputs of one layer's attention or MLP summed (the all-reduce, timed as
    // the collective where there are ranks to reduce over) and added to the residual stream x.
    void reduceInto(std::vector<float>& x, std::vector<std::vector<float>>& partial, bool attention, int layer,
                    StepTiming& timing);
    void compressLayer(int layer, const CompressionOptions& compression, const std::vector<int>& requests,
                       WindowCapture& capture, StepTiming& timing);
    void checkPositions(long extra) const;
    std::vector<std::vector<float>> logitsForRows(const std::vector<float>& x, const std::vector<size_t>& rows,
                                                  StepTiming& timing) const;

    std::shared_ptr<const ModelWeights> m_weights;
    UnitLayout m_units;
    std::vector<std::unique_ptr<Rank>> m_ranks;
    std::unique_ptr<Communicator> m_comm;
    std::string m_backend;
    std::unique_ptr<StepExecutor> m_executor; // device-resident decode steps, when the backend has them
    CpuLayerCompressor m_hostCompressor;
    LayerCompressor* m_compressor = &m_hostCompressor; // the executor's, when it has one
    Placement m_placement;
    std::vector<long> m_positions; // tokens processed per request
    std::vector<std::vector<std::vector<double>>> m_mass;
    TraceSink* m_sink = nullptr;
    int m_step = -1; // decode steps since prefill, -1 during prefill
};

} // namespace fairkv
