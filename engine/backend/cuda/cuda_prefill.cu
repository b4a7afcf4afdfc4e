// CudaStepExecutor::prefill: fresh prompts through every layer with the residual stream on the
// devices. Requests go in groups whose activations fit a fixed budget (prompts are independent),
// so a batch of long prompts never needs its whole residual stream on a GPU at once.
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_rank.h"
#include "backend/cuda/cuda_step.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/step_replica.h"
#include "model/model_weights.h"
#include "parallel/rank.h"

#include <algorithm>

namespace fairkv::cuda {

namespace {

// Bytes of residual stream, normalised rows and partial sums one group of requests may take per
// device, unless BackendOptions says otherwise.
constexpr size_t kGroupBytes = size_t(1) << 30;
// Rows whose logits are computed at once (vocab-wide fp32 rows).
constexpr size_t kHeadRows = 256;

// Device buffers of one group on one device, freed on every way out.
struct GroupBuffers
{
    int device = 0;
    int* tokens = nullptr;
    int* rowIndex = nullptr; // rows the head reads
    float* x = nullptr;
    __nv_bfloat16* normed = nullptr;
    std::vector<float*> partials;
    float** table = nullptr; // partials, for the emulated sum
    float* logits = nullptr;
    ~GroupBuffers()
    {
        cudaSetDevice(device);
        for (void* p : {static_cast<void*>(tokens), static_cast<void*>(rowIndex), static_cast<void*>(x),
                        static_cast<void*>(normed), static_cast<void*>(table), static_cast<void*>(logits)})
            cudaFree(p);
        for (float* p : partials)
            cudaFree(p);
    }
};

} // namespace

struct CudaStepExecutor::PrefillGroup
{
    std::vector<int> requests;
    std::vector<size_t> rowStart{0};
    std::vector<std::unique_ptr<GroupBuffers>> buffers; // per replica
    size_t rows() const { return rowStart.back(); }
};

void CudaStepExecutor::prefill(const std::vector<std::vector<int>>& prompts, bool allLogits, int window,
                               const CompressHook& compress, StepTiming& timing,
                               std::vector<std::vector<std::vector<float>>>& logits)
{
    if (!m_broken.empty())
        throw fairkv::Error("the NCCL communicators were aborted after an earlier error (" + m_broken
                            + "); start a new run");
    const size_t perDevice = m_nccl ? 1 : m_ranks.size();
    const size_t rowBytes = size_t(m_weights.config.hiddenSize) * (4 + 2 + 4 * perDevice);
    const size_t groupBytes = m_options.prefillGroupBytes > 0 ? m_options.prefillGroupBytes : kGroupBytes;
    const size_t budgetRows = std::max<size_t>(1, groupBytes / rowBytes);
    logits.assign(prompts.size(), {});
    for (size_t first = 0; first < prompts.size();) {
        size_t end = first, rows = 0; // at least one request, however long
        while (end < prompts.size() && (end == first || rows + prompts[end].size() <= budgetRows))
            rows += prompts[end++].size();
        prefillGroup(prompts, first, end, allLogits, window, compress, timing, logits);
        first = end;
    }
}

void CudaStepExecutor::prefillGroup(const std::vector<std::vector<int>>& prompts, size_t first, size_t end,
                                    bool allLogits, int window, const CompressHook& compress, StepTiming& timing,
                                    std::vector<std::vector<std::vector<float>>>& logits)
{
    const ModelConfig& c = m_weights.config;
    const int H = c.hiddenSize, N = int(m_ranks.size());
    const float eps = float(c.rmsNormEps);
    PrefillGroup group;
    std::vector<int> tokens;
    for (size_t r = first; r < end; ++r) {
        group.requests.push_back(int(r));
        tokens.insert(tokens.end(), prompts[r].begin(), prompts[r].end());
        group.rowStart.push_back(tokens.size());
    }
    const size_t rows = group.rows(), count = rows * size_t(H);
    for (auto& rep : m_replicas) {
        FAIRKV_CUDA(cudaSetDevice(rep->device));
        group.buffers.push_back(std::make_unique<GroupBuffers>());
        GroupBuffers& g = *group.buffers.back();
        g.device = rep->device;
        g.tokens = deviceAlloc<int>(rows, "prompt tokens");
        g.x = deviceAlloc<float>(count, "the prefill residual stream");
        g.normed = deviceAlloc<__nv_bfloat16>(count, "normalised prefill activations");
        for (size_t p = 0; p < (m_nccl ? size_t(1) : size_t(N)); ++p)
            g.partials.push_back(deviceAlloc<float>(count, "prefill partial sums"));
        if (!m_nccl) {
            g.table = deviceAlloc<float*>(g.partials.size(), "partial-sum table");
            FAIRKV_CUDA(cudaMemcpyAsync(g.table, g.partials.data(), g.partials.size() * sizeof(float*), cudaMemcpyHostToDevice,
                                        rep->stream));
        }
        // On the stream the embedding reads them from (a legacy-stream copy of pageable memory may
        // return before it lands); both sources outlive the group.
        FAIRKV_CUDA(cudaMemcpyAsync(g.tokens, tokens.data(), rows * sizeof(int), cudaMemcpyHostToDevice, rep->stream));
    }
    // Work on every replica's stream, then wait for all of them: the host-clock span of each piece
    // is its device time plus a launch, and the ranks' calls below run on the legacy stream.
    auto onReplicas = [&](const auto& work) {
        for (size_t i = 0; i < m_replicas.size(); ++i) {
            FAIRKV_CUDA(cudaSetDevice(m_replicas[i]->device));
            work(*m_replicas[i], *group.buffers[i]);
        }
        waitReplicas();
    };
    auto timed = [&](TracePhase phase, const char* name, int rank, int layer, const auto& work) {
        Span span(m_sink, phase, name, rank, -1, layer);
        work();
        return span.end();
    };
    // Each group's layers wait for their slowest rank: per-rank times are kept per group and folded
    // into `timing` at the end (StepTiming::addSequential).
    StepTiming own;
    own.reset(c.numLayers, N);
    timing.replicatedMs += timed(TracePhase::Replicated, "embedding", -1, -1, [&] {
        onReplicas([&](Replica& r, GroupBuffers& g) { launchEmbedRows(g.tokens, r.embed, int(rows), H, g.x, r.stream); });
    });
    for (int l = 0; l < c.numLayers; ++l) {
        WindowCapture capture;
        capture.window = window;
        for (int half = 0; half < 2; ++half) {
            timing.replicatedMs += timed(TracePhase::Replicated, half ? "post_attention_norm" : "input_norm", -1, l, [&] {
                onReplicas([&](Replica& r, GroupBuffers& g) {
                    launchRmsNorm(g.x, nullptr, r.norms + size_t(2 * l + half) * H, int(rows), H, eps, g.normed, r.stream);
                });
            });
            for (int g = 0; g < N; ++g) {
                const size_t i = m_nccl ? size_t(g) : 0;
                Replica& r = *m_replicas[i];
                GroupBuffers& b = *group.buffers[i];
                float* out = b.partials[m_nccl ? 0 : size_t(g)];
                CudaRank& rank = *m_ranks[size_t(g)];
                if (half == 0) {
                    double ms = 0.0;
                    timed(TracePhase::Attention, "attention", g, l, [&] {
                        ms = rank.prefillAttentionRows(l, group.requests, group.rowStart, b.normed, out,
                                                       window > 0 ? &capture : nullptr);
                    });
                    own.attentionMs[size_t(l)][size_t(g)] = ms;
                } else {
                    double ms = 0.0;
                    timed(TracePhase::Mlp, "mlp", g, l, [&] { ms = rank.prefillMlp(l, b.normed, rows, out, r.stream); });
                    own.mlpMs[size_t(l)][size_t(g)] = ms;
                }
            }
            reduceGroup(group, l, half, timing);
            if (half == 0 && window > 0)
                compress(l, group.requests, capture);
        }
    }
    timing.addSequential(own);
    // Final norm and lm_head on the first replica (every one holds the whole residual stream).
    std::vector<int> wanted; // group rows whose logits are kept
    for (size_t k = 0; k < group.requests.size(); ++k)
        for (size_t row = allLogits ? group.rowStart[k] : group.rowStart[k + 1] - 1; row < group.rowStart[k + 1]; ++row)
            wanted.push_back(int(row));
    Replica& r = *m_replicas[0];
    GroupBuffers& b = *group.buffers[0];
    FAIRKV_CUDA(cudaSetDevice(r.device));
    const size_t chunk = std::min(kHeadRows, wanted.size());
    b.rowIndex = deviceAlloc<int>(chunk, "lm_head rows");
    b.logits = deviceAlloc<float>(chunk * size_t(c.vocabSize), "logits");
    std::vector<float> flat(chunk * size_t(c.vocabSize));
    size_t k = 0; // request of the group whose rows come next
    timing.replicatedMs += timed(TracePhase::Replicated, "lm_head", -1, -1, [&] {
        for (size_t at = 0; at < wanted.size(); at += chunk) {
            const size_t n = std::min(chunk, wanted.size() - at);
            FAIRKV_CUDA(cudaMemcpyAsync(b.rowIndex, wanted.data() + at, n * sizeof(int), cudaMemcpyHostToDevice, r.stream));
            launchRmsNorm(b.x, b.rowIndex, r.norms + size_t(2 * c.numLayers) * H, int(n), H, eps, b.normed, r.stream);
            gemmBf16(r.blas, b.normed, r.head, b.logits, int(n), c.vocabSize, H, r.stream);
            FAIRKV_CUDA(cudaMemcpyAsync(flat.data(), b.logits, n * size_t(c.vocabSize) * 4, cudaMemcpyDeviceToHost, r.stream));
            FAIRKV_CUDA(cudaStreamSynchronize(r.stream));
            for (size_t i = 0; i < n; ++i) {
                while (size_t(wanted[at + i]) >= group.rowStart[k + 1])
                    ++k;
                logits[group.requests[k]].emplace_back(flat.begin() + long(i * c.vocabSize),
                                                       flat.begin() + long((i + 1) * c.vocabSize));
            }
        }
    });
}

// The all-reduce of the ranks' partial sums and the residual add: NCCL across the devices, or the
// in-order sum on one device standing in for it (its time then comes from the alpha-beta model).
void CudaStepExecutor::reduceGroup(PrefillGroup& group, int layer, int half, StepTiming& timing)
{
    const size_t count = group.rows() * size_t(m_weights.config.hiddenSize);
    const char* name = half ? "all_reduce mlp" : "all_reduce attention";
    Span span(m_sink, TracePhase::Collective, name, -1, -1, layer);
    if (m_nccl) {
#ifdef FAIRKV_HAVE_NCCL
        // One thread drives every device: the collectives of all ranks go in one NCCL group. A
        // failure leaves the communicators unusable: they are aborted and the executor refuses
        // further work, as after a failed decode step.
        bool open = false;
        try {
            FAIRKV_NCCL(ncclGroupStart());
            open = true;
            for (size_t g = 0; g < m_replicas.size(); ++g) {
                float* p = group.buffers[g]->partials[0];
                FAIRKV_NCCL(ncclAllReduce(p, p, count, ncclFloat, ncclSum, static_cast<ncclComm_t>(m_comms[g]),
                                          m_replicas[g]->stream));
            }
            open = false;
            FAIRKV_NCCL(ncclGroupEnd());
        } catch (const std::exception& e) {
            if (open)
                ncclGroupEnd();
            retireComms(false);
            m_broken = std::string("prefill: ") + e.what();
            throw;
        }
#endif
        for (size_t g = 0; g < m_replicas.size(); ++g) {
            FAIRKV_CUDA(cudaSetDevice(m_replicas[g]->device));
            launchAddInto(group.buffers[g]->x, group.buffers[g]->partials[0], count, m_replicas[g]->stream);
        }
    } else {
        GroupBuffers& b = *group.buffers[0];
        FAIRKV_CUDA(cudaSetDevice(m_replicas[0]->device));
        launchAddPartials(b.x, b.table, int(b.partials.size()), count, m_replicas[0]->stream);
    }
    waitReplicas();
    const double ms = span.end();
    if (m_nccl)
        timing.collectiveMs[size_t(layer)] += ms;
    else
        timing.collectiveMs[size_t(layer)] += m_options.allReduce.ms(double(count) * 4, int(m_ranks.size()));
}

} // namespace fairkv::cuda
