#pragma once
#include "parallel/rank_factory.h"
#include "parallel/step_executor.h"

#include <atomic>
#include <memory>
#include <vector>

namespace fairkv {
struct ModelWeights;
}

namespace fairkv::cuda {

class CudaRank;
class DeviceLayerCompressor;

// Decode steps and prefill with the residual stream on the GPU: embedding, RMSNorm, residual adds
// and lm_head are own kernels and cuBLAS on the device, the ranks' attention and MLP run through
// their launch*() calls, and nothing crosses PCIe inside a step but the logits. Prefill also sends
// each prompt's K/V and window scores to the host (the KV store and the compression read them)
// and runs the ranks one after another from the calling thread; its time is composed from the
// ranks' device times like an emulated step's, with measured NCCL all-reduces when there are any.
//
// - One device per rank (ranks <= GPUs, not emulating): one host thread per GPU with its own
//   stream, cuBLAS handle and NCCL communicator (ncclCommInitAll); the all-reduces are real and the
//   step time is measured on the device ("measured").
// - Fewer GPUs: the ranks run one after another on the first GPU, each timed by CUDA events; the
//   sum of their partials stands in for the all-reduce, whose time is the alpha-beta model
//   (AllReduceModel), and the step is composed as the per-layer max over ranks ("emulated").
class CudaStepExecutor final : public StepExecutor
{
public:
    CudaStepExecutor(const ModelWeights& weights, std::vector<CudaRank*> ranks, const BackendOptions& options);
    ~CudaStepExecutor() override;

    const char* timingKind() const override { return m_nccl ? "measured" : "emulated"; }
    std::string collectiveSource() const override;
    std::string gemmRoutines() const override;
    void setTraceSink(TraceSink* sink, int step) override;
    std::vector<std::vector<float>> decodeStep(const std::vector<int>& tokens, const std::vector<long>& positions,
                                               StepTiming& timing) override;
    void prefill(const std::vector<std::vector<int>>& prompts, bool allLogits, int window, const CompressHook& compress,
                 StepTiming& timing, std::vector<std::vector<std::vector<float>>>& logits) override;
    LayerCompressor* compressor() override;

private:
    struct Replica; // replicated weights and activations on one device
    class RankWorkers; // one persistent host thread per rank (NCCL runs)
    void ensureBatch(Replica& r, int batch);
    // warm: the step's kernels are loaded (an earlier pass ran the same shapes), so it may wait
    // behind the launch gate until its first layer is queued.
    void runOnce(const std::vector<int>& tokens, bool warm);
    void runEmulated(const std::vector<int>& tokens, bool warm);
    void launchEmbedding(Replica& r, int batch, int rank);
    void launchNorm(Replica& r, int batch, int layer, int half, int rank);
    void launchHead(Replica& r, int batch, int rank, bool logits);
    // `rank`'s attention (half 0) or MLP (half 1) of `layer`, from where r's last timed piece ended.
    void launchRankPiece(Replica& r, CudaRank& rank, int layer, int half, int batch, float* out);
    void runRank(size_t g, const std::vector<int>& tokens, const std::atomic<bool>& failed, bool warm);
    struct PrefillGroup; // cuda_prefill.cu
    void prefillGroup(const std::vector<std::vector<int>>& prompts, size_t first, size_t end, bool allLogits, int window,
                      const CompressHook& compress, StepTiming& timing, std::vector<std::vector<std::vector<float>>>& logits);
    void reduceGroup(PrefillGroup& group, int layer, int half, StepTiming& timing);
    bool abortComms(); // every communicator; only while no rank thread uses them, or to release a stuck one
    // After a failed collective: aborts the communicators (unless `aborted` already), forgets them and
    // lets every device finish what the abort ended.
    void retireComms(bool aborted);
    void waitReplicas(); // every replica's stream is done

    const ModelWeights& m_weights;
    std::vector<CudaRank*> m_ranks;
    BackendOptions m_options;
    bool m_nccl = false;
    std::vector<std::unique_ptr<Replica>> m_replicas; // one per rank (NCCL) or one (emulated)
    std::vector<void*> m_partials;                     // emulated: each rank's partial sums (device 0)
    std::vector<void*> m_comms;                        // ncclComm_t per rank
    std::string m_broken;                              // set when a collective was aborted
    TraceSink* m_sink = nullptr;
    TraceSink* m_deviceSink = nullptr; // m_sink while the step's kept pass launches, for kernel tags
    int m_step = 0;
    int m_batch = 0;
    size_t m_warmGeneration = 0; // the ranks' assignments() when the step shapes were last warmed
    int m_warmBatch = 0;         // and the batch size
    std::unique_ptr<DeviceLayerCompressor> m_compressor; // prefill's selection, on rank 0's device
    std::unique_ptr<RankWorkers> m_workers;              // created by the first NCCL step
};

} // namespace fairkv::cuda
