#include "backend/cuda/cuda_step.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_rank.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/kv_selection.h"
#include "backend/cuda/step_replica.h"
#include "common/dtype.h"
#include "model/model_weights.h"

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace fairkv::cuda {

namespace {

// Waits for a stream when a step is abandoned by an exception: kernels already queued must not race
// with the legacy-stream uploads of whatever comes next.
struct DrainOnThrow
{
    cudaStream_t stream;
    int exceptions = std::uncaught_exceptions();
    ~DrainOnThrow()
    {
        if (std::uncaught_exceptions() > exceptions)
            cudaStreamSynchronize(stream);
    }
};

constexpr const char* kStopped = "stopped:";

} // namespace

namespace {
double elapsedMs(cudaEvent_t a, cudaEvent_t b)
{
    float ms = 0;
    FAIRKV_CUDA(cudaEventElapsedTime(&ms, a, b));
    return double(ms);
}
} // namespace

// One host thread per rank for the whole run: each waits for a step's job, runs it for its rank and
// waits again. Starting threads every step put their start-up skew into the measured step (rank 0's
// events wait in the first all-reduce for the last rank to start).
class CudaStepExecutor::RankWorkers
{
public:
    explicit RankWorkers(size_t n)
    {
        try {
            for (size_t g = 0; g < n; ++g)
                m_threads.emplace_back([this, g] { loop(g); });
        } catch (const std::exception& e) { // no thread left running behind a failed start
            stop();
            throw fairkv::Error(std::string("cannot start a host thread per NCCL rank: ") + e.what());
        }
    }
    ~RankWorkers() { stop(); }
    // Runs job(g) on every worker; returns at once.
    void post(std::function<void(size_t)> job)
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_job = std::move(job);
            m_busy = m_threads.size();
            ++m_generation;
        }
        m_wake.notify_all();
    }
    void waitIdle()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_idle.wait(lock, [this] { return m_busy == 0; });
    }

private:
    void stop()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_all();
        for (auto& t : m_threads)
            t.join();
        m_threads.clear();
    }
    void loop(size_t g)
    {
        uint64_t seen = 0;
        for (;;) {
            std::function<void(size_t)> job;
            {
                std::unique_lock<std::mutex> lock(m_mutex);
                m_wake.wait(lock, [&] { return m_stop || m_generation != seen; });
                if (m_stop)
                    return;
                seen = m_generation;
                job = m_job;
            }
            job(g); // catches everything itself
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                --m_busy;
            }
            m_idle.notify_all();
        }
    }

    std::vector<std::thread> m_threads;
    std::mutex m_mutex;
    std::condition_variable m_wake, m_idle;
    std::function<void(size_t)> m_job;
    uint64_t m_generation = 0;
    size_t m_busy = 0;
    bool m_stop = false;
};

CudaStepExecutor::CudaStepExecutor(const ModelWeights& weights, std::vector<CudaRank*> ranks, const BackendOptions& options)
    : m_weights(weights)
    , m_ranks(std::move(ranks))
    , m_options(options)
{
    std::vector<int> devices;
    for (CudaRank* r : m_ranks)
        devices.push_back(r->device());
    bool distinct = m_ranks.size() >= 1;
    for (size_t i = 0; i < devices.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            distinct = distinct && devices[i] != devices[j];
#ifdef FAIRKV_HAVE_NCCL
    m_nccl = distinct && !options.emulate;
#else
    m_nccl = false;
    distinct = false;
#endif
    if (!m_nccl)
        for (CudaRank* r : m_ranks)
            if (r->device() != m_ranks[0]->device())
                throw fairkv::Error("emulated CUDA ranks must share one device");
    const auto embed = toBf16(weights.embed.data.data(), weights.embed.data.size());
    const bool tied = &weights.outputHead() == &weights.embed;
    const auto head = tied ? std::vector<uint16_t>()
                           : toBf16(weights.outputHead().data.data(), weights.outputHead().data.size());
    std::vector<float> norms;
    for (const LayerWeights& lw : weights.layers) {
        norms.insert(norms.end(), lw.inputNorm.data.begin(), lw.inputNorm.data.end());
        norms.insert(norms.end(), lw.postNorm.data.begin(), lw.postNorm.data.end());
    }
    norms.insert(norms.end(), weights.finalNorm.data.begin(), weights.finalNorm.data.end());
    const size_t replicas = m_nccl ? m_ranks.size() : 1;
    for (size_t i = 0; i < replicas; ++i) {
        auto r = std::make_unique<Replica>();
        r->device = m_ranks[i]->device();
        FAIRKV_CUDA(cudaSetDevice(r->device));
        FAIRKV_CUDA(cudaStreamCreateWithFlags(&r->stream, cudaStreamNonBlocking));
        r->gate = std::make_unique<LaunchGate>();
        if (cublasCreate(&r->blas) != CUBLAS_STATUS_SUCCESS)
            throw fairkv::Error("cuBLAS call cublasCreate failed on device " + std::to_string(r->device));
        r->gemms = std::make_unique<GemmChoice>(r->blas);
        r->embed = uploadBf16(embed, "the embedding table");
        r->head = r->embed;
        if (!tied) {
            r->head = uploadBf16(head, "lm_head");
        }
        r->norms = deviceAlloc<float>(norms.size(), "norm weights");
        FAIRKV_CUDA(cudaMemcpy(r->norms, norms.data(), norms.size() * 4, cudaMemcpyHostToDevice));
        m_replicas.push_back(std::move(r));
    }
#ifdef FAIRKV_HAVE_NCCL
    if (m_nccl) {
        std::vector<ncclComm_t> comms(m_ranks.size());
        FAIRKV_NCCL(ncclCommInitAll(comms.data(), int(comms.size()), devices.data()));
        for (ncclComm_t comm : comms)
            m_comms.push_back(comm);
    }
#endif
}

LayerCompressor* CudaStepExecutor::compressor()
{
    if (!m_compressor)
        m_compressor = std::make_unique<DeviceLayerCompressor>(m_ranks.front()->device());
    return m_compressor.get();
}

CudaStepExecutor::~CudaStepExecutor()
{
#ifdef FAIRKV_HAVE_NCCL
    for (void* comm : m_comms)
        ncclCommDestroy(static_cast<ncclComm_t>(comm));
#endif
    if (!m_replicas.empty()) {
        cudaSetDevice(m_replicas[0]->device);
        for (void* p : m_partials)
            cudaFree(p);
    }
}

std::string CudaStepExecutor::gemmRoutines() const
{
    if (!m_options.chooseGemms)
        return "cublasGemmEx (--gemm cublas)";
    // Each product shape's choice, counted per device (the ranks' products and lm_head): how many
    // went to cuBLASLt and what the choosing timed them at against cublasGemmEx over the same weights.
    int shapes = 0, lt = 0;
    double gemmEx = 0, chosen = 0, wallMs = 0;
    for (const auto& rep : m_replicas)
        for (const GemmChoice::Chosen& c : rep->gemms->chosen()) {
            ++shapes;
            lt += c.onCublasLt();
            gemmEx += c.gemmExMs;
            chosen += c.chosenMs;
            wallMs += c.chooseWallMs;
        }
    if (shapes == 0)
        return "cublasGemmEx (no decode step chose)";
    char saved[96];
    std::snprintf(saved, sizeof saved, "%.1f%% less GEMM time than cublasGemmEx; choosing took %.2f s",
                  gemmEx > 0 ? 100.0 * (gemmEx - chosen) / gemmEx : 0.0, wallMs / 1000.0);
    return "chosen per shape (--gemm auto): " + std::to_string(lt) + " of " + std::to_string(shapes)
           + " product shapes on cuBLASLt, the rest cublasGemmEx; measured over each shape's weights while choosing, " + saved;
}

std::string CudaStepExecutor::collectiveSource() const
{
    if (m_nccl)
        return "measured: NCCL all-reduce, one GPU per rank";
    return m_options.allReduce.describe();
}

void CudaStepExecutor::setTraceSink(TraceSink* sink, int step)
{
    m_sink = sink;
    m_step = step;
}

void CudaStepExecutor::ensureBatch(Replica& r, int batch)
{
    if (r.batch == batch)
        return;
    const ModelConfig& c = m_weights.config;
    FAIRKV_CUDA(cudaSetDevice(r.device));
    for (void* p : {static_cast<void*>(r.tokens), static_cast<void*>(r.x), static_cast<void*>(r.normed),
                    static_cast<void*>(r.partial), static_cast<void*>(r.logits)})
        cudaFree(p);
    r.tokens = nullptr;
    r.x = r.partial = r.logits = nullptr;
    r.normed = nullptr;
    r.batch = 0;
    r.tokens = deviceAlloc<int>(size_t(batch), "tokens");
    r.x = deviceAlloc<float>(size_t(batch) * c.hiddenSize, "the residual stream");
    r.normed = deviceAlloc<__nv_bfloat16>(size_t(batch) * c.hiddenSize, "normalised activations");
    r.partial = deviceAlloc<float>(size_t(batch) * c.hiddenSize, "partial sums");
    r.logits = deviceAlloc<float>(size_t(batch) * c.vocabSize, "logits");
    r.batch = batch;
}

std::vector<std::vector<float>> CudaStepExecutor::decodeStep(const std::vector<int>& tokens, const std::vector<long>& positions,
                                                             StepTiming& timing)
{
    if (!m_broken.empty())
        throw fairkv::Error("the NCCL communicators were aborted after an earlier error (" + m_broken
                            + "); start a new run");
    const ModelConfig& c = m_weights.config;
    const int b = int(tokens.size()), L = c.numLayers, N = int(m_ranks.size());
    RowBatch rows;
    rows.rowStart.resize(size_t(b) + 1);
    for (int r = 0; r <= b; ++r)
        rows.rowStart[size_t(r)] = size_t(r);
    rows.position = positions;
    for (CudaRank* rank : m_ranks)
        rank->prepareDecode(rows); // host planning and uploads, before any kernel of the step
    for (auto& rep : m_replicas) {
        ensureBatch(*rep, b);
        FAIRKV_CUDA(cudaSetDevice(rep->device));
        FAIRKV_CUDA(cudaMemcpy(rep->tokens, tokens.data(), size_t(b) * sizeof(int), cudaMemcpyHostToDevice));
        // The uploads above ran on the legacy stream and may still be in flight; the step's
        // streams do not wait for it.
        FAIRKV_CUDA(cudaDeviceSynchronize());
    }
    // The first step of a process, and the first after a placement change or a new batch size (new
    // GEMM shapes), pays for loading kernels and choosing cuBLAS algorithms. Run it twice and keep
    // the second: the first writes the same K/V rows to the same slots and nothing else, since
    // lengths advance only in finishDecode().
    size_t generation = 0;
    for (CudaRank* rank : m_ranks)
        generation += rank->assignments();
    // A new batch size means new GEMM shapes too. The kept pass follows a warm one, or steps of
    // the same shapes, so its kernels are loaded: only it waits behind the launch gate.
    const bool newShapes = generation != m_warmGeneration || b != m_warmBatch;
    // New shapes: each decode product's routine is chosen first, by timing (GemmChoice), so that
    // the warm pass and the kept one both run the chosen routines.
    if (newShapes && m_options.chooseGemms) {
        for (size_t g = 0; g < m_ranks.size(); ++g) { // emulated: every rank shares the one replica's choice
            Replica& rep = *m_replicas[m_nccl ? g : 0];
            m_ranks[g]->chooseGemms(*rep.gemms, rep.stream);
        }
        Replica& first = *m_replicas[0]; // the one replica that computes logits (launchHead)
        FAIRKV_CUDA(cudaSetDevice(first.device));
        first.gemms->choose(b, c.vocabSize, c.hiddenSize, {first.head}, first.stream);
    }
    for (int pass = newShapes ? 0 : 1; pass < 2; ++pass) {
        m_deviceSink = pass == 1 ? m_sink : nullptr; // the discarded pass's kernels stay untagged
        runOnce(tokens, pass == 1);
    }
    m_deviceSink = nullptr;
    m_warmGeneration = generation;
    m_warmBatch = b;
    // Read the device times of the step (every stream is done).
    Replica& r0 = *m_replicas[0];
    FAIRKV_CUDA(cudaSetDevice(r0.device));
    timing.reset(L, N);
    int expired = 0;
    for (auto& rep : m_replicas)
        expired += rep->gate->takeExpired();
    if (expired > 0)
        timing.note = "the launch gate's watchdog started this step after "
                      + std::to_string(LaunchGate::kMaxHold.count())
                      + " ms (a host call waited for the GPU while the step was held); its time includes that wait";
    for (CudaRank* rank : m_ranks)
        rank->finishDecode();
    for (int l = 0; l < L; ++l)
        for (int g = 0; g < N; ++g) {
            timing.attentionMs[size_t(l)][size_t(g)] = m_ranks[size_t(g)]->attentionDeviceMs(l);
            timing.mlpMs[size_t(l)][size_t(g)] = m_ranks[size_t(g)]->mlpDeviceMs(l);
        }
    FAIRKV_CUDA(cudaSetDevice(r0.device));
    for (const Replica::Mark& m : r0.marks) {
        const double ms = elapsedMs(m.a, m.b);
        if (m.phase == TracePhase::Collective)
            timing.collectiveMs[size_t(m.layer)] += ms;
        else
            timing.replicatedMs += ms;
    }
    if (m_nccl) {
        timing.measuredMs = elapsedMs(r0.begin, r0.end);
    } else {
        const double bytes = double(b) * c.hiddenSize * sizeof(float);
        for (int l = 0; l < L; ++l)
            timing.collectiveMs[size_t(l)] = 2.0 * m_options.allReduce.ms(bytes, N);
    }
    if (m_sink) {
        for (auto& rep : m_replicas) {
            FAIRKV_CUDA(cudaSetDevice(rep->device));
            auto at = [&](cudaEvent_t e) { return rep->hostBeginNs + int64_t(elapsedMs(rep->begin, e) * 1e6); };
            const int rank = m_nccl ? int(&rep - &m_replicas[0]) : -1;
            m_sink->event({TracePhase::Decode, "decode step", -1, m_step, -1, -1, rep->hostBeginNs, at(rep->end)});
            for (const Replica::Mark& m : rep->marks)
                m_sink->event({m.phase, m.name, m.phase == TracePhase::Collective ? rank : -1, m_step, m.layer, -1, at(m.a), at(m.b),
                               true});
            for (size_t g = 0; g < m_ranks.size(); ++g) {
                if (m_ranks[g]->device() != rep->device)
                    continue;
                for (int l = 0; l < L; ++l) {
                    auto ev = [&](int which) { return static_cast<cudaEvent_t>(m_ranks[g]->decodeEvent(l, which)); };
                    m_sink->event({TracePhase::Attention, "attention", int(g), m_step, l, -1, at(ev(0)), at(ev(1)), true});
                    m_sink->event({TracePhase::Mlp, "mlp", int(g), m_step, l, -1, at(ev(2)), at(ev(3)), true});
                }
            }
            if (!m_nccl)
                break;
        }
    }
    std::vector<float> flat(size_t(b) * c.vocabSize);
    FAIRKV_CUDA(cudaSetDevice(r0.device));
    FAIRKV_CUDA(cudaMemcpy(flat.data(), r0.logits, flat.size() * 4, cudaMemcpyDeviceToHost));
    std::vector<std::vector<float>> logits(static_cast<size_t>(b));
    for (int r = 0; r < b; ++r)
        logits[size_t(r)].assign(flat.begin() + long(r) * c.vocabSize, flat.begin() + long(r + 1) * c.vocabSize);
    return logits;
}

void CudaStepExecutor::runOnce(const std::vector<int>& tokens, bool warm)
{
    if (m_nccl) {
        // One thread per GPU. A rank that fails sets `failed`; the others stop at their next
        // collective or while waiting for their stream. A rank stuck inside NCCL (its peer never
        // arrives) is released by aborting the communicators from here, never from a rank thread.
        const size_t n = m_ranks.size();
        std::vector<std::exception_ptr> errors(n);
        std::vector<std::string> messages(n);
        std::atomic<bool> failed{false};
        std::atomic<size_t> done{0};
        if (!m_workers)
            m_workers = std::make_unique<RankWorkers>(n);
        m_workers->post([&](size_t g) {
            try {
                runRank(g, tokens, failed, warm);
            } catch (const std::exception& e) {
                errors[g] = std::current_exception();
                messages[g] = e.what();
                failed = true;
            } catch (...) {
                errors[g] = std::current_exception();
                messages[g] = "unknown error";
                failed = true;
            }
            ++done; // last: after this the job's references may go out of scope
        });
        bool aborted = false;
        auto failedSince = std::chrono::steady_clock::time_point();
        while (done.load() < n) {
            if (failed.load() && !aborted) {
                const auto now = std::chrono::steady_clock::now();
                if (failedSince == std::chrono::steady_clock::time_point())
                    failedSince = now;
                else if (now - failedSince > std::chrono::seconds(2))
                    aborted = abortComms();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        m_workers->waitIdle(); // every worker is back to waiting before the job's locals go
        if (failed.load()) {
            retireComms(aborted);
            size_t culprit = 0; // the rank that failed first-hand, not one that stopped because of it
            while (culprit < n && (!errors[culprit] || messages[culprit].rfind(kStopped, 0) == 0))
                ++culprit;
            if (culprit == n)
                culprit = size_t(std::find_if(errors.begin(), errors.end(), [](const auto& e) { return bool(e); }) - errors.begin());
            m_broken = "rank " + std::to_string(culprit) + ": " + messages[culprit];
            std::rethrow_exception(errors[culprit]);
        }
    } else {
        runEmulated(tokens, warm);
    }
}

void CudaStepExecutor::retireComms(bool aborted)
{
    if (!aborted)
        abortComms();
    m_comms.clear(); // aborted: the destructor must not destroy them again
    for (auto& rep : m_replicas) { // the aborted collectives' kernels end now
        cudaSetDevice(rep->device);
        cudaDeviceSynchronize();
        cudaGetLastError();
    }
}

void CudaStepExecutor::waitReplicas()
{
    for (auto& rep : m_replicas) {
        FAIRKV_CUDA(cudaSetDevice(rep->device));
        FAIRKV_CUDA(cudaStreamSynchronize(rep->stream));
    }
}

bool CudaStepExecutor::abortComms()
{
#ifdef FAIRKV_HAVE_NCCL
    for (void* comm : m_comms)
        ncclCommAbort(static_cast<ncclComm_t>(comm));
#endif
    return true; // the list is cleared once no rank thread can read it any more
}

// The work every rank repeats on its replica `r`, each piece timed by events and, for a
// kernel-tracing sink, tagged as `rank` (-1: on behalf of all ranks).
void CudaStepExecutor::launchEmbedding(Replica& r, int batch, int rank)
{
    const int H = m_weights.config.hiddenSize;
    cudaEvent_t e = r.open();
    {
        DeviceScope tag(m_deviceSink, rank, m_step, -1, TracePhase::Replicated);
        launchEmbedRows(r.tokens, r.embed, batch, H, r.x, r.stream);
    }
    r.close(e, TracePhase::Replicated, "embedding", -1);
}

void CudaStepExecutor::launchNorm(Replica& r, int batch, int layer, int half, int rank)
{
    const ModelConfig& c = m_weights.config;
    const int H = c.hiddenSize;
    cudaEvent_t e = r.open();
    {
        DeviceScope tag(m_deviceSink, rank, m_step, layer, TracePhase::Replicated);
        launchRmsNorm(r.x, nullptr, r.norms + size_t(2 * layer + half) * H, batch, H, float(c.rmsNormEps), r.normed, r.stream);
    }
    r.close(e, TracePhase::Replicated, half ? "post_attention_norm" : "input_norm", layer);
}

void CudaStepExecutor::launchRankPiece(Replica& r, CudaRank& rank, int layer, int half, int batch, float* out)
{
    if (half == 0)
        rank.launchAttention(layer, r.normed, out, *r.gemms, r.stream, r.open());
    else
        rank.launchMlp(layer, r.normed, size_t(batch), out, *r.gemms, r.stream, r.open());
    r.follow(rank.decodeEvent(layer, half ? 3 : 1));
}

void CudaStepExecutor::launchHead(Replica& r, int batch, int rank, bool logits)
{
    const ModelConfig& c = m_weights.config;
    const int H = c.hiddenSize;
    cudaEvent_t e = r.open();
    {
        DeviceScope tag(m_deviceSink, rank, m_step, -1, TracePhase::Replicated);
        launchRmsNorm(r.x, nullptr, r.norms + size_t(2 * c.numLayers) * H, batch, H, float(c.rmsNormEps), r.normed, r.stream);
        if (logits)
            r.gemms->run(r.normed, r.head, r.logits, batch, c.vocabSize, H, r.stream);
    }
    r.close(e, TracePhase::Replicated, "lm_head", -1);
}

void CudaStepExecutor::runEmulated(const std::vector<int>& tokens, bool warm)
{
    const ModelConfig& c = m_weights.config;
    Replica& r = *m_replicas[0];
    const int b = int(tokens.size()), H = c.hiddenSize, N = int(m_ranks.size());
    const size_t count = size_t(b) * H;
    FAIRKV_CUDA(cudaSetDevice(r.device));
    if (m_partials.size() != size_t(N) + 1 || m_batch != b) {
        for (void* p : m_partials)
            cudaFree(p);
        m_partials.clear();
        for (int g = 0; g < N; ++g)
            m_partials.push_back(deviceAlloc<float>(count, "partial sums"));
        auto** table = deviceAlloc<float*>(size_t(N), "partial-sum table");
        // on the step's stream: a legacy-stream copy would not be ordered before addPartials
        FAIRKV_CUDA(cudaMemcpyAsync(table, m_partials.data(), size_t(N) * sizeof(void*), cudaMemcpyHostToDevice, r.stream));
        FAIRKV_CUDA(cudaStreamSynchronize(r.stream)); // m_partials may change before a pageable copy is staged
        m_partials.push_back(table);
        m_batch = b;
    }
    auto* const* parts = static_cast<const float* const*>(m_partials.back());
    DrainOnThrow drain{r.stream};
    LaunchGate::Release open{r.gate.get()}; // before the drain, also when a launch throws
    r.holdGate(warm);
    r.startStep();
    // Kernels are tagged for a kernel-tracing sink: each rank's attention and MLP with its rank, the
    // replicated work (embedding, norms, the sums standing in for the all-reduce, lm_head) with none.
    launchEmbedding(r, b, -1);
    for (int l = 0; l < c.numLayers; ++l) {
        for (int half = 0; half < 2; ++half) {
            launchNorm(r, b, l, half, -1);
            for (int g = 0; g < N; ++g) {
                auto* out = static_cast<float*>(m_partials[size_t(g)]);
                DeviceScope tag(m_deviceSink, g, m_step, l, half ? TracePhase::Mlp : TracePhase::Attention);
                launchRankPiece(r, *m_ranks[size_t(g)], l, half, b, out);
            }
            DeviceScope tag(m_deviceSink, -1, m_step, l, TracePhase::Replicated);
            // Stands in for the all-reduce (modelled) and the residual add; its time counts in the
            // next replicated piece, so with N ranks the N - 1 extra partials it reads are counted
            // beside the modelled all-reduce (0.25 MB each at batch 16 of the 8B shape).
            launchAddPartials(r.x, parts, N, count, r.stream);
        }
        r.releaseGate(); // a layer queued: the host stays ahead of the GPU from here
    }
    launchHead(r, b, -1, true);
    r.releaseGate();
    r.end = r.last; // lm_head's end
    FAIRKV_CUDA(cudaStreamSynchronize(r.stream));
}

void CudaStepExecutor::runRank(size_t g, const std::vector<int>& tokens, const std::atomic<bool>& failed, bool warm)
{
#ifdef FAIRKV_HAVE_NCCL
    const ModelConfig& c = m_weights.config;
    Replica& r = *m_replicas[g];
    CudaRank& rank = *m_ranks[g];
    auto comm = static_cast<ncclComm_t>(m_comms[g]);
    const int b = int(tokens.size()), H = c.hiddenSize;
    const size_t count = size_t(b) * H;
    FAIRKV_CUDA(cudaSetDevice(r.device));
    LaunchGate::Release open{r.gate.get()}; // also when a launch throws: a held stream never drains
    r.holdGate(warm);
    r.startStep();
    // This thread's kernels are tagged with its rank for a kernel-tracing sink (CUPTI keeps one
    // correlation stack per thread).
    const int gi = int(g);
    auto tagged = [&](int layer, TracePhase phase) { return DeviceScope(m_deviceSink, gi, m_step, layer, phase); };
    launchEmbedding(r, b, gi);
    for (int l = 0; l < c.numLayers; ++l) {
        for (int half = 0; half < 2; ++half) {
            launchNorm(r, b, l, half, gi);
            {
                auto tag = tagged(l, half ? TracePhase::Mlp : TracePhase::Attention);
                launchRankPiece(r, rank, l, half, b, r.partial);
            }
            if (failed.load())
                throw fairkv::Error(std::string(kStopped) + " another rank failed");
            cudaEvent_t e = r.open();
            {
                auto tag = tagged(l, TracePhase::Collective);
                FAIRKV_NCCL(ncclAllReduce(r.partial, r.partial, count, ncclFloat, ncclSum, comm, r.stream));
            }
            r.close(e, TracePhase::Collective, half ? "all_reduce mlp" : "all_reduce attention", l);
            auto tag = tagged(l, TracePhase::Replicated);
            launchAddInto(r.x, r.partial, count, r.stream); // residual add of the reduced sums (timed with the next piece)
        }
        r.releaseGate(); // a layer queued: the host stays ahead of the GPU from here
    }
    launchHead(r, b, gi, g == 0); // every rank holds the full residual stream; one computes the logits
    r.releaseGate();
    r.end = r.last; // lm_head's end
    // Wait for the stream, but not forever: NCCL's asynchronous errors and a failed peer end the wait.
    for (;;) {
        const cudaError_t q = cudaStreamQuery(r.stream);
        if (q == cudaSuccess)
            break;
        if (q != cudaErrorNotReady)
            check(q, "cudaStreamQuery");
        ncclResult_t async = ncclSuccess;
        FAIRKV_NCCL(ncclCommGetAsyncError(comm, &async));
        if (async != ncclSuccess && async != ncclInProgress)
            throw fairkv::Error(std::string("NCCL reported an asynchronous error: ") + ncclGetErrorString(async));
        if (failed.load())
            throw fairkv::Error(std::string(kStopped) + " another rank failed");
        std::this_thread::yield();
    }
#else
    (void)g;
    (void)tokens;
    (void)failed;
#endif
}

std::unique_ptr<StepExecutor> makeCudaStepExecutor(const ModelWeights& weights, const std::vector<Rank*>& ranks,
                                                   const BackendOptions& options)
{
    std::vector<CudaRank*> cuda;
    for (Rank* r : ranks) {
        auto* c = dynamic_cast<CudaRank*>(r);
        if (!c)
            return nullptr;
        cuda.push_back(c);
    }
    return std::make_unique<CudaStepExecutor>(weights, std::move(cuda), options);
}

} // namespace fairkv::cuda
