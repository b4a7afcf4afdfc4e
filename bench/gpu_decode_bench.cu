// Emulated tensor-parallel decode on one GPU (issue 6): llama-3.3-70b (TP = 8) and
// mistral-small-24b (TP = 4) shapes, truncated to a few layers, batch 16 and 64, budgets 512 and
// 2048, GQA and per-query-head units, placements from the uniform, fairkv-assign and fairkv-copy
// planners. Each rank's per-step work runs alone on the GPU and is timed with CUDA events: cuBLAS
// bf16 GEMMs for its q/k/v rows and o_proj columns and its MLP slice, RoPE + KV append, the ragged
// decode attention over its (request, unit) pairs. A step is composed as the per-layer maximum over
// ranks plus a modelled ring all-reduce (alpha-beta). This is a timing harness: weights, KV and
// activations are random (not zero) and the outputs are not used.
//   fairkv-bench-gpu-decode [--layers N] [--sections 8b,tp,cupti,prefetch,tuned,overlap] [--kernel-log FILE.csv] [--out FILE.md]
//   (default: 8b,tp,cupti, as many layers as fit the GPU; prefetch compares L2 prefetch variants of the 8B step,
//   tuned the step with cuBLASLt configurations chosen by timing it, overlap the step with and without early
//   starts, on cublasGemmEx and on the engine's GEMM choice)
#include "backend/cuda/cublas_check.h"
#include "backend/cuda/cuda_check.h"
#include "aggregation.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/decode_attention.h"
#include "backend/cuda/dependent_launch.cuh"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/gemm_choice.h"
#include "backend/cuda/launch_gate.h"
#include "gpu_bench_util.cuh"
#include "backend/cuda/lt_product.h"
#include "cupti_tracer.h"
#include "kv/synthetic_attention.h"
#include "model/model_config.h"
#include "placement/planner.h"
#include "placement/unit_layout.h"

#include <chrono>
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace fairkv;
using fairkv::cuda::KvView;
using namespace fairkv::bench;
using fairkv::cuda::LtProduct;
using fairkv::cuda::describe;

namespace {

// NCCL ring all-reduce on 8 NVLink-connected H100s, modelled: alpha per all-reduce, beta from the
// bus bandwidth NCCL's all_reduce_perf typically reports for such a node. Modelled, not measured.
constexpr double kAllReduceAlphaUs = 10.0;
constexpr double kBusGBs = 360.0;

struct PairDesc
{
    int replica;    // column block in the rank's qkv output
    int request;    // row
    __nv_bfloat16* k;
    __nv_bfloat16* v;
    int position;   // where the new token's K/V go (current length)
};

// q of each pair (RoPE'd, fp32) out of the qkv GEMM output; RoPE'd k and v appended to the KV blocks.
// Started early, and the attention after it too, as the engine's prepDecode.
template <int D>
__global__ void prepPairs(const float* qkv, int qkvCols, const PairDesc* pairs, int group, float* qOut, float theta)
{
    cuda::launchDependents();
    cuda::waitForPrerequisites();
    const PairDesc p = pairs[blockIdx.x];
    const float* row = qkv + size_t(p.request) * qkvCols + size_t(p.replica) * (group + 2) * D;
    for (int idx = threadIdx.x; idx < (group + 1) * (D / 2); idx += blockDim.x) {
        const int h = idx / (D / 2), i = idx % (D / 2);
        const float freq = __powf(theta, -2.0f * i / D);
        float s, c;
        __sincosf(float(p.position) * freq, &s, &c);
        const float* src = row + h * D;
        const float a = src[i], b = src[i + D / 2];
        const float ra = a * c - b * s, rb = b * c + a * s;
        if (h < group) {
            qOut[(size_t(blockIdx.x) * group + h) * D + i] = ra;
            qOut[(size_t(blockIdx.x) * group + h) * D + i + D / 2] = rb;
        } else {
            p.k[size_t(p.position) * D + i] = __float2bfloat16(ra);
            p.k[size_t(p.position) * D + i + D / 2] = __float2bfloat16(rb);
        }
    }
    const float* vsrc = row + (group + 1) * D;
    for (int i = threadIdx.x; i < D; i += blockDim.x)
        p.v[size_t(p.position) * D + i] = __float2bfloat16(vsrc[i]);
}

// The engine's allocation (its out-of-memory message says how much is needed and free).
template <typename T>
T* deviceAlloc(size_t n)
{
    return cuda::deviceAlloc<T>(n, "benchmark buffers");
}

// One rank's shard of one layer and the KV of the pairs it serves.
struct RankLayer
{
    int replicas = 0, inter = 0;
    __nv_bfloat16 *wqkv = nullptr, *wo = nullptr, *wgu = nullptr, *wdown = nullptr, *kvPool = nullptr;
    std::vector<PairDesc> pairs;
    std::vector<int> lengths;
    PairDesc* devPairs = nullptr;
};

void launchPrepPairs(const RankLayer& rl, const float* qkv, int qkvCols, int group, float* q, float theta, cudaStream_t stream)
{
    cuda::launchDependent(prepPairs<128>, dim3(unsigned(rl.pairs.size())), dim3(128), 0, stream, true, qkv, qkvCols,
                          static_cast<const PairDesc*>(rl.devPairs), group, q, theta);
}

struct Shape
{
    ModelConfig c;
    UnitLayout units;
};

struct Result
{
    double stepMs = 0, attnMs = 0, mlpMs = 0, commMs = 0, tokensPerS = 0, kvMiB = 0;
    double eventStepMs = 0; // the same step composed from CUDA-event times of each rank's graphs
    int extraReplicas = 0;
};

// Every rank's shards of every layer, random bf16 weights, and the KV blocks of the pairs it
// serves (room for `steps` more tokens each). Returns the KV bytes the ranks read per step.
std::vector<std::vector<RankLayer>> buildRanks(const Shape& s, const Placement& p,
                                               const std::vector<std::vector<std::vector<double>>>& kvLen, int steps,
                                               size_t* kvBytesOut)
{
    const ModelConfig& c = s.c;
    const int d = c.headDim, G = s.units.queryHeads(), H = c.hiddenSize, N = p.ranks, L = int(p.layers.size());
    std::vector<std::vector<RankLayer>> ranks(static_cast<size_t>(N), std::vector<RankLayer>(static_cast<size_t>(L)));
    size_t kvBytes = 0;
    uint32_t seed = 1;
    for (int l = 0; l < L; ++l)
        for (int g = 0; g < N; ++g) {
            RankLayer& rl = ranks[size_t(g)][size_t(l)];
            size_t kvElems = 0;
            for (const auto& up : p.layers[size_t(l)])
                for (const auto& rep : up.replicas)
                    if (rep.rank == g) {
                        for (int r : rep.requests)
                            kvElems += 2 * size_t(kvLen[size_t(r)][size_t(l)][size_t(up.unit)] + steps) * d;
                        ++rl.replicas;
                    }
            rl.inter = int(int64_t(c.intermediateSize) * (g + 1) / N - int64_t(c.intermediateSize) * g / N);
            const size_t qkvRows = size_t(rl.replicas) * (G + 2) * d;
            rl.wqkv = deviceAlloc<__nv_bfloat16>(qkvRows * H);
            rl.wo = deviceAlloc<__nv_bfloat16>(size_t(H) * rl.replicas * G * d);
            rl.wgu = deviceAlloc<__nv_bfloat16>(size_t(2) * rl.inter * H);
            rl.wdown = deviceAlloc<__nv_bfloat16>(size_t(H) * rl.inter);
            rl.kvPool = deviceAlloc<__nv_bfloat16>(kvElems);
            for (auto [ptr, n] : {std::pair{rl.wqkv, qkvRows * H}, std::pair{rl.wo, size_t(H) * rl.replicas * G * d},
                                  std::pair{rl.wgu, size_t(2) * rl.inter * H}, std::pair{rl.wdown, size_t(H) * rl.inter},
                                  std::pair{rl.kvPool, kvElems}})
                fillBf16<<<1024, 256>>>(ptr, n, seed++, 0.1f);
            FAIRKV_CUDA(cudaGetLastError());
            size_t at = 0;
            int replica = 0;
            for (const auto& up : p.layers[size_t(l)])
                for (const auto& rep : up.replicas)
                    if (rep.rank == g) {
                        for (int r : rep.requests) {
                            const int len = int(kvLen[size_t(r)][size_t(l)][size_t(up.unit)]);
                            PairDesc pd{replica, r, rl.kvPool + at, rl.kvPool + at + size_t(len + steps) * d, len};
                            at += 2 * size_t(len + steps) * d;
                            rl.pairs.push_back(pd);
                            rl.lengths.push_back(len);
                            kvBytes += size_t(len) * d * 2 * 2;
                        }
                        ++replica;
                    }
            rl.devPairs = deviceAlloc<PairDesc>(rl.pairs.size());
        }
    *kvBytesOut = kvBytes;
    return ranks;
}

// Where the attention writes each pair's heads: o_proj's input [batch][replicas][group][dim] (bf16).
std::vector<int64_t> outputOffsets(const RankLayer& rl, int group, int dim)
{
    std::vector<int64_t> at;
    for (const PairDesc& p : rl.pairs)
        at.push_back(cuda::oProjInputOffset(size_t(p.request), rl.replicas, p.replica, group, dim));
    return at;
}

void freeRanks(std::vector<std::vector<RankLayer>>& ranks)
{
    for (auto& rank : ranks)
        for (auto& rl : rank)
            for (void* ptr : {static_cast<void*>(rl.wqkv), static_cast<void*>(rl.wo), static_cast<void*>(rl.wgu),
                              static_cast<void*>(rl.wdown), static_cast<void*>(rl.kvPool), static_cast<void*>(rl.devPairs)})
                cudaFree(ptr);
    ranks.clear();
}

// Queues e0, the graph and e1 on `stream`, behind `gate` when one is given, so that the GPU starts
// them only once all three are queued: the window between the events is then the GPU's time for
// the graph, without the host's submission of it.
void queueTimed(cuda::LaunchGate* gate, cudaStream_t stream, cudaGraphExec_t exec, cudaEvent_t e0, cudaEvent_t e1)
{
    if (gate)
        gate->hold(stream);
    cuda::LaunchGate::Release open{gate}; // also when a launch throws: a held stream never drains
    FAIRKV_CUDA(cudaEventRecord(e0, stream));
    FAIRKV_CUDA(cudaGraphLaunch(exec, stream));
    FAIRKV_CUDA(cudaEventRecord(e1, stream));
}

double elapsedMs(cudaEvent_t e0, cudaEvent_t e1)
{
    FAIRKV_CUDA(cudaEventSynchronize(e1));
    float ms = 0;
    FAIRKV_CUDA(cudaEventElapsedTime(&ms, e0, e1));
    return double(ms);
}

int g_tpGateExpired = 0; // over every runPlacement() of this process, reported under the tables

// `tracer`, when given, tags every kernel with its rank, step and layer; the step is then composed
// from CUPTI kernel times (what each rank's GPU would be busy for), else from CUDA events. The
// events time each graph behind a LaunchGate (the GPU's time for it), or with `fromIdle` as it is
// launched onto the idle GPU (the host's submission inside the window).
Result runPlacement(cublasHandle_t h, const Shape& s, const Placement& p, const std::vector<std::vector<std::vector<double>>>& kvLen,
                    int batch, int steps, profiler::CuptiTracer* tracer, profiler::TraceBuffer* trace, bool fromIdle = false)
{
    const ModelConfig& c = s.c;
    const int d = c.headDim, G = s.units.queryHeads(), H = c.hiddenSize, N = p.ranks, L = int(p.layers.size());
    size_t kvBytes = 0;
    std::vector<std::vector<RankLayer>> ranks = buildRanks(s, p, kvLen, steps, &kvBytes);
    // Shared scratch, sized for the largest rank.
    int maxRep = 0, maxPairs = 0, maxInter = 0;
    for (const auto& rank : ranks)
        for (const auto& rl : rank) {
            maxRep = std::max(maxRep, rl.replicas);
            maxPairs = std::max(maxPairs, int(rl.pairs.size()));
            maxInter = std::max(maxInter, rl.inter);
        }
    auto* x = deviceAlloc<__nv_bfloat16>(size_t(batch) * H);
    fillBf16<<<256, 256>>>(x, size_t(batch) * H, 77);
    auto* qkv = deviceAlloc<float>(size_t(batch) * maxRep * (G + 2) * d);
    auto* q = deviceAlloc<float>(size_t(maxPairs) * G * d);
    auto* attnB = deviceAlloc<__nv_bfloat16>(size_t(batch) * maxRep * G * d);
    auto* out = deviceAlloc<float>(size_t(batch) * H);
    auto* gu = deviceAlloc<float>(size_t(batch) * 2 * maxInter);
    auto* act = deviceAlloc<__nv_bfloat16>(size_t(batch) * maxInter);
    cuda::RaggedDecodeAttention kernel;
    // Each rank's attention and MLP of a layer run as one CUDA graph each, as a serving loop
    // would launch them: one API call per rank and layer, so neither host launch gaps nor
    // per-launch tracing costs stand in for GPU time. The attention graph is captured again every
    // step (its split-KV plan follows the lengths); the MLP graph once per rank and layer.
    cudaStream_t st;
    FAIRKV_CUDA(cudaStreamCreate(&st));
    void* blasWorkspace = nullptr;
    const size_t blasWorkspaceBytes = size_t(32) << 20;
    FAIRKV_CUDA(cudaMalloc(&blasWorkspace, blasWorkspaceBytes));
    FAIRKV_CUBLAS(cublasSetStream(h, st));
    FAIRKV_CUBLAS(cublasSetWorkspace(h, blasWorkspace, blasWorkspaceBytes)); // no allocation inside a capture
    auto capture = [&](auto&& body) { return captureGraph(st, body); };
    std::vector<std::vector<cudaGraphExec_t>> mlpGraphs(static_cast<size_t>(N), std::vector<cudaGraphExec_t>(static_cast<size_t>(L), nullptr));
    cudaEvent_t e0, e1;
    FAIRKV_CUDA(cudaEventCreate(&e0));
    FAIRKV_CUDA(cudaEventCreate(&e1));
    cuda::LaunchGate gate;
    auto timed = [&](cudaGraphExec_t exec) {
        queueTimed(fromIdle ? nullptr : &gate, st, exec, e0, e1);
        return elapsedMs(e0, e1);
    };
    const float scale = 1.0f / std::sqrt(float(d));
    const double commMs = 2.0 * (2.0 * (N - 1) / N * double(batch) * H * 2 / (kBusGBs * 1e6) + kAllReduceAlphaUs / 1000.0);
    Result res;
    std::vector<double> stepTimes, eventSteps;
    for (int step = -1; step < steps; ++step) { // step -1 warms up
        double stepMs = 0, attnMs = 0, mlpMs = 0;
        for (int l = 0; l < L; ++l) {
            double worstAttn = 0, worstMlp = 0;
            for (int g = 0; g < N; ++g) {
                RankLayer& rl = ranks[size_t(g)][size_t(l)];
                std::vector<KvView> views;
                for (size_t i = 0; i < rl.pairs.size(); ++i) {
                    rl.pairs[i].position = rl.lengths[i] + std::max(step, 0);
                    views.push_back({reinterpret_cast<const uint16_t*>(rl.pairs[i].k), reinterpret_cast<const uint16_t*>(rl.pairs[i].v),
                                     rl.pairs[i].position + 1});
                }
                if (!rl.pairs.empty()) {
                    FAIRKV_CUDA(cudaMemcpy(rl.devPairs, rl.pairs.data(), rl.pairs.size() * sizeof(PairDesc), cudaMemcpyHostToDevice));
                    kernel.prepare(views, G, d, st, outputOffsets(rl, G, d)); // host planning: not the rank's GPU time
                }
                const int qkvCols = rl.replicas * (G + 2) * d;
                cudaGraphExec_t attention = nullptr;
                if (rl.replicas > 0)
                    attention = capture([&] {
                        cuda::gemmBf16(h, x, rl.wqkv, qkv, batch, qkvCols, H, st);
                        launchPrepPairs(rl, qkv, qkvCols, G, q, float(c.rope.theta), st);
                        kernel.launchIntoOprojInput(q, attnB, size_t(batch), rl.replicas, scale, st, true); // as the engine does
                        cuda::gemmBf16(h, attnB, rl.wo, out, batch, H, rl.replicas * G * d, st);
                    });
                cudaGraphExec_t& mlp = mlpGraphs[size_t(g)][size_t(l)];
                if (!mlp)
                    mlp = capture([&] {
                        cuda::gemmBf16(h, x, rl.wgu, gu, batch, 2 * rl.inter, H, st);
                        cuda::launchSwiglu(gu, rl.inter, batch, act, st);
                        cuda::gemmBf16(h, act, rl.wdown, out, batch, H, rl.inter, st);
                    });
                if (tracer)
                    tracer->push(g, step, l, -1, profiler::Phase::Attention);
                const double a = attention ? timed(attention) : 0.0;
                if (attention)
                    FAIRKV_CUDA(cudaGraphExecDestroy(attention));
                if (tracer) {
                    tracer->pop();
                    tracer->push(g, step, l, -1, profiler::Phase::Mlp);
                }
                const double m = timed(mlp);
                if (tracer)
                    tracer->pop();
                FAIRKV_CUDA(cudaGetLastError());
                worstAttn = std::max(worstAttn, a);
                worstMlp = std::max(worstMlp, m);
            }
            attnMs += worstAttn;
            mlpMs += worstMlp;
            stepMs += worstAttn + worstMlp + commMs;
        }
        if (tracer) {
            // Recompose the step from kernel time per rank: per layer, the slowest rank's
            // attention and MLP (as the profiler aggregates any CUPTI trace) plus the collectives.
            tracer->flush();
            const profiler::RunAggregate agg = profiler::aggregate(*trace, N);
            if (trace->records.empty()) {
                const auto n = tracer->counts();
                throw Error("CUPTI recorded no tagged kernels for step " + std::to_string(step) + " (" + std::to_string(n.buffers)
                            + " buffers, " + std::to_string(n.kernels) + " kernels, " + std::to_string(n.correlations)
                            + " correlations, " + std::to_string(n.unmatched) + " waiting, " + std::to_string(n.untagged)
                            + " untagged)");
            }
            trace->records.clear();
            eventSteps.push_back(stepMs);
            stepMs = attnMs = mlpMs = 0;
            for (const auto& la : agg.layers) {
                if (la.step != step)
                    continue;
                const double wa = *std::max_element(la.attentionMs.begin(), la.attentionMs.end());
                const double wm = *std::max_element(la.mlpMs.begin(), la.mlpMs.end());
                attnMs += wa;
                mlpMs += wm;
                stepMs += wa + wm + commMs;
            }
        }
        if (step >= 0) {
            stepTimes.push_back(stepMs);
            res.attnMs += attnMs / steps;
            res.mlpMs += mlpMs / steps;
        }
    }
    std::sort(stepTimes.begin(), stepTimes.end());
    res.stepMs = stepTimes[stepTimes.size() / 2];
    if (!eventSteps.empty()) {
        std::sort(eventSteps.begin(), eventSteps.end());
        res.eventStepMs = eventSteps[eventSteps.size() / 2];
    }
    res.commMs = commMs * L;
    g_tpGateExpired += gate.takeExpired(); // graphs the watchdog started: their event times hold host time
    res.tokensPerS = batch / (res.stepMs / 1000.0);
    res.kvMiB = double(kvBytes) / (1 << 20);
    for (auto& rank : mlpGraphs)
        for (cudaGraphExec_t exec : rank)
            if (exec)
                cudaGraphExecDestroy(exec);
    FAIRKV_CUBLAS(cublasSetStream(h, nullptr));
    FAIRKV_CUBLAS(cublasSetWorkspace(h, nullptr, 0));
    cudaStreamDestroy(st);
    freeRanks(ranks);
    for (void* ptr : {static_cast<void*>(x), static_cast<void*>(qkv), static_cast<void*>(q),
                      static_cast<void*>(attnB), static_cast<void*>(out), static_cast<void*>(gu), static_cast<void*>(act),
                      blasWorkspace})
        cudaFree(ptr);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return res;
}

// One rank holding the whole model (llama-3.1-8b shape, all 32 layers): the decode step captured
// in a CUDA graph (per layer: qkv GEMM, RoPE + KV append, attention, o_proj GEMM, MLP GEMMs; then
// lm_head), replayed, and compared with the floor (bytes of weights + KV read) / read bandwidth.
struct FullStep
{
    double stepMs = 0, floorMs = 0, weightGiB = 0, kvGiB = 0;
    double tracedStepMs = 0; // the same replays with CUPTI kernel tracing on
    double graphTracedStepMs = 0; // and with CUPTI graph-level tracing (one record per replay)
    // The same three, each replay launched onto an idle GPU: the window then also holds the host's
    // submission of the graph (and CUPTI's host work on it), which a loop that queues ahead hides.
    double idleStepMs = 0, idleTracedStepMs = 0, idleGraphTracedStepMs = 0;
    int gateExpired = 0; // replays the gate's watchdog had to start (the host took over 50 ms to queue one)
    // One replay traced with CUPTI: kernel time by kind (GEMMs, attention, the rest) and counts.
    double gemmMs = 0, attentionMs = 0, otherMs = 0;
    int gemmKernels = 0, attentionKernels = 0, otherKernels = 0;
    int ltShapes = 0; // product shapes the engine's GEMM choice gave to cuBLASLt (of kProducts)
};

// Asks L2 to fetch the first `headBytes` of each of `rows` rows `pitchBytes` apart at p (a weight
// matrix's leading columns, or with one row a contiguous range) ahead of the kernel that reads
// them, while the kernels queued before it leave HBM idle. A hint: nothing waits for the lines,
// and the result of no kernel depends on it. Bulk: one TMA prefetch (sm_90) per piece of up to
// 16 KiB, a few per block over many SMs, else a prefetch instruction per 128-byte line; evictLast:
// the lines are kept before others (the hint's policy; the kernel that reads them does not change
// it). The first run (session 12) took 64 KiB pieces on blocks of 32 threads: 16 MiB went to the
// TMA units of 8 SMs, and each prefetch kernel lasted until they had issued it (about 8 us).
struct L2Prefetch
{
    bool bulk = true;
    bool evictLast = false;
};
// Piece i of the rows' heads: rows x pieces per row, each at most `piece` bytes (a multiple of 16
// at 16-byte aligned addresses for the bulk form, which needs both).
__global__ void l2PrefetchKernel(const char* p, size_t rows, size_t pitch, size_t head, uint32_t piece, bool bulk,
                                 bool evictLast)
{
    const size_t perRow = (head + piece - 1) / piece, total = rows * perRow;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    uint64_t policy = 0;
    if (bulk && evictLast)
        asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(policy));
#endif
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < total; i += size_t(gridDim.x) * blockDim.x) {
        const size_t row = i / perRow, at = (i % perRow) * piece;
        const char* a = p + row * pitch + at;
        const uint32_t n = uint32_t(head - at < piece ? head - at : piece);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
        if (bulk) {
            if (evictLast)
                asm volatile("cp.async.bulk.prefetch.L2.global.L2::cache_hint [%0], %1, %2;" ::"l"(a), "r"(n), "l"(policy)
                             : "memory");
            else
                asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(a), "r"(n) : "memory");
            continue;
        }
#endif
        (void)n;
        if (evictLast)
            asm volatile("prefetch.global.L2::evict_last [%0];" ::"l"(a) : "memory");
        else
            asm volatile("prefetch.global.L2::evict_normal [%0];" ::"l"(a) : "memory");
    }
}

void launchL2Prefetch(const void* p, size_t rows, size_t pitchBytes, size_t headBytes, L2Prefetch how, cudaStream_t stream)
{
    if (!p || rows == 0 || headBytes == 0)
        return;
    headBytes = std::min(headBytes, rows == 1 ? headBytes : pitchBytes);
    // The bulk form takes 16-byte aligned addresses and sizes; a head that is not gets the lines.
    const bool bulk = how.bulk && reinterpret_cast<uintptr_t>(p) % 16 == 0 && pitchBytes % 16 == 0 && headBytes % 16 == 0;
    const uint32_t piece = bulk ? 16u << 10 : 128u;
    const size_t pieces = rows * ((headBytes + piece - 1) / piece);
    // Bulk: eight pieces per block over many SMs (each SM's TMA unit issues its own); lines: a wave.
    const int threads = bulk ? 8 : 256;
    const int blocks = int(std::clamp<size_t>((pieces + threads - 1) / threads, 1, 1056));
    l2PrefetchKernel<<<blocks, threads, 0, stream>>>(static_cast<const char*>(p), rows, pitchBytes, headBytes, piece, bulk,
                                                     how.evictLast);
    FAIRKV_CUDA(cudaGetLastError());
}

// What the 8B step asks L2 to fetch ahead of its GEMMs, in the windows where HBM idles: RoPE + KV
// append and the attention before o_proj (W_o, and with guBytes the head of W_gu too), SwiGLU
// before the down projection (W_down). Zero bytes: nothing.
struct StepPrefetch
{
    std::string name = "none";
    size_t oBytes = 0, guBytes = 0, downBytes = 0;
    bool columns = false; // the leading columns of every row (where each GEMM block starts) instead of leading rows
    bool side = false;    // from a second stream, joined at the layer's end, instead of queued in line
    L2Prefetch how;
};

// The 8B step's five products, in the order the tuning section tries them (the shortest first:
// where cuBLAS's choice reads furthest below the ceiling, docs/gemm-benchmark.md).
enum Product { kO, kQkv, kDown, kGu, kLmHead, kProducts };
constexpr const char* kProductNames[kProducts] = {"o_proj", "q/k/v", "down", "gate/up", "lm_head"};

// Which cuBLASLt configuration runs each product of the step; null: cublasGemmEx (the engine's with --gemm cublas).
struct StepGemms
{
    const cuda::GemmChoice* choice = nullptr; // the engine's per-shape choice (--gemm auto), else:
    const LtProduct* product[kProducts] = {};
    const cublasLtMatmulAlgo_t* algo[kProducts] = {};
    void* workspace = nullptr;
};

// The llama-3.1-8b shape on one rank with every layer's weights and KV, ready to capture its step.
class EightBStep
{
public:
    EightBStep(cublasHandle_t h, int batch, int budget)
        : m_h(h), m_batch(batch), m_s{ModelConfig::builtin("llama-3.1-8b"), {}}
    {
        m_s.units = UnitLayout(m_s.c, UnitMode::Gqa);
        const ModelConfig& c = m_s.c;
        const int d = c.headDim, G = m_s.units.queryHeads(), H = c.hiddenSize, L = c.numLayers;
        CompressionOptions comp;
        comp.policy = CompressionPolicy::AdaSnapKV;
        comp.budget = budget;
        const auto len = syntheticKvLengths(c, m_s.units.mode, comp, batch, std::clamp(2 * budget, 1024, 4096), 9);
        const Placement p = Placement::uniform(L, m_s.units.numUnits, 1, batch);
        m_ranks = buildRanks(m_s, p, len, 1, &kvBytes);
        auto& rankLayers = layers();
        m_lmHead = deviceAlloc<__nv_bfloat16>(size_t(c.vocabSize) * H);
        fillBf16<<<1024, 256>>>(m_lmHead, size_t(c.vocabSize) * H, 4242);
        const int reps = rankLayers[0].replicas;
        m_x = deviceAlloc<__nv_bfloat16>(size_t(batch) * H);
        fillBf16<<<256, 256>>>(m_x, size_t(batch) * H, 78);
        m_qkv = deviceAlloc<float>(size_t(batch) * reps * (G + 2) * d);
        m_q = deviceAlloc<float>(rankLayers[0].pairs.size() * G * d);
        m_attnB = deviceAlloc<__nv_bfloat16>(size_t(batch) * reps * G * d);
        m_out = deviceAlloc<float>(size_t(batch) * H);
        m_gu = deviceAlloc<float>(size_t(batch) * 2 * rankLayers[0].inter);
        m_act = deviceAlloc<__nv_bfloat16>(size_t(batch) * rankLayers[0].inter);
        m_logits = deviceAlloc<float>(size_t(batch) * c.vocabSize);
        for (auto& rl : rankLayers) {
            std::vector<KvView> views;
            for (const PairDesc& pd : rl.pairs)
                views.push_back({reinterpret_cast<const uint16_t*>(pd.k), reinterpret_cast<const uint16_t*>(pd.v), pd.position + 1});
            FAIRKV_CUDA(cudaMemcpy(rl.devPairs, rl.pairs.data(), rl.pairs.size() * sizeof(PairDesc), cudaMemcpyHostToDevice));
            m_kernels.push_back(std::make_unique<cuda::RaggedDecodeAttention>());
            m_kernels.back()->prepare(views, G, d, nullptr, outputOffsets(rl, G, d));
        }
        const size_t workspaceBytes = size_t(32) << 20;
        FAIRKV_CUDA(cudaMalloc(&m_workspace, workspaceBytes));
        FAIRKV_CUDA(cudaStreamCreate(&stream));
        FAIRKV_CUDA(cudaStreamCreate(&m_side));
        FAIRKV_CUDA(cudaEventCreateWithFlags(&m_fork, cudaEventDisableTiming));
        FAIRKV_CUDA(cudaEventCreateWithFlags(&m_join, cudaEventDisableTiming));
        FAIRKV_CUBLAS(cublasSetStream(h, stream));
        FAIRKV_CUBLAS(cublasSetWorkspace(h, m_workspace, workspaceBytes)); // no allocation inside the capture
        double bytes = double(c.vocabSize) * H * 2;
        for (const auto& rl : rankLayers)
            bytes += 2.0 * (double(rl.replicas) * (G + 2) * d * H + double(H) * rl.replicas * G * d + 3.0 * rl.inter * H);
        weightBytes = bytes;
        launch(StepPrefetch{}); // warm-up outside any capture (cuBLAS picks its kernels)
        for (bool bulk : {true, false}) // and the prefetch kernel's module is loaded before a capture
            launchL2Prefetch(m_x, 1, 256, 256, {bulk, false}, stream);
        FAIRKV_CUDA(cudaStreamSynchronize(stream));
    }
    ~EightBStep()
    {
        cublasSetStream(m_h, nullptr);
        cublasSetWorkspace(m_h, nullptr, 0);
        cudaStreamDestroy(stream);
        cudaStreamDestroy(m_side);
        cudaEventDestroy(m_fork);
        cudaEventDestroy(m_join);
        freeRanks(m_ranks);
        for (void* ptr : {static_cast<void*>(m_lmHead), static_cast<void*>(m_x), static_cast<void*>(m_qkv), static_cast<void*>(m_q),
                          static_cast<void*>(m_attnB), static_cast<void*>(m_out), static_cast<void*>(m_gu),
                          static_cast<void*>(m_act), static_cast<void*>(m_logits), m_workspace})
            cudaFree(ptr);
    }
    EightBStep(const EightBStep&) = delete;
    EightBStep& operator=(const EightBStep&) = delete;

    // The whole step queued on `stream` (or captured from it).
    void launch(const StepPrefetch& pf, const StepGemms& g = {})
    {
        const ModelConfig& c = m_s.c;
        const int d = c.headDim, G = m_s.units.queryHeads(), H = c.hiddenSize, L = c.numLayers;
        const float scale = 1.0f / std::sqrt(float(d));
        for (int l = 0; l < L; ++l) {
            RankLayer& rl = layers()[size_t(l)];
            const int qkvCols = rl.replicas * (G + 2) * d, oK = rl.replicas * G * d;
            gemm(g, kQkv, m_x, rl.wqkv, m_qkv, qkvCols, H);
            const bool any = pf.oBytes + pf.guBytes + pf.downBytes > 0;
            if (pf.side && any) {
                FAIRKV_CUDA(cudaEventRecord(m_fork, stream));
                FAIRKV_CUDA(cudaStreamWaitEvent(m_side, m_fork));
            }
            prefetch(pf, rl.wo, H, size_t(oK) * 2, pf.oBytes);
            prefetch(pf, rl.wgu, 2 * rl.inter, size_t(H) * 2, pf.guBytes);
            launchPrepPairs(rl, m_qkv, qkvCols, G, m_q, float(c.rope.theta), stream);
            m_kernels[size_t(l)]->launchIntoOprojInput(m_q, m_attnB, size_t(m_batch), rl.replicas, scale, stream, true);
            gemm(g, kO, m_attnB, rl.wo, m_out, H, oK);
            gemm(g, kGu, m_x, rl.wgu, m_gu, 2 * rl.inter, H);
            if (pf.side && pf.downBytes > 0) {
                FAIRKV_CUDA(cudaEventRecord(m_fork, stream));
                FAIRKV_CUDA(cudaStreamWaitEvent(m_side, m_fork));
            }
            prefetch(pf, rl.wdown, H, size_t(rl.inter) * 2, pf.downBytes);
            cuda::launchSwiglu(m_gu, rl.inter, m_batch, m_act, stream);
            gemm(g, kDown, m_act, rl.wdown, m_out, H, rl.inter);
            if (pf.side && any) {
                FAIRKV_CUDA(cudaEventRecord(m_join, m_side));
                FAIRKV_CUDA(cudaStreamWaitEvent(stream, m_join));
            }
        }
        gemm(g, kLmHead, m_x, m_lmHead, m_logits, c.vocabSize, H);
    }
    cudaGraphExec_t capture(const StepPrefetch& pf, const StepGemms& g = {})
    {
        return captureGraph(stream, [&] { launch(pf, g); });
    }
    // Product p's output columns (n) and inner dimension (k), and layer 0's weight of it.
    std::pair<int, int> shape(Product p)
    {
        const ModelConfig& c = m_s.c;
        const RankLayer& rl = layers()[0];
        const int d = c.headDim, G = m_s.units.queryHeads(), H = c.hiddenSize;
        switch (p) {
        case kQkv: return {rl.replicas * (G + 2) * d, H};
        case kO: return {H, rl.replicas * G * d};
        case kGu: return {2 * rl.inter, H};
        case kDown: return {H, rl.inter};
        default: return {c.vocabSize, H};
        }
    }
    // Every layer's weight of product p, in step order (what GemmChoice::choose() times).
    std::vector<const void*> weights(Product p)
    {
        std::vector<const void*> all;
        for (const RankLayer& rl : layers())
            all.push_back(p == kQkv ? rl.wqkv : p == kO ? rl.wo : p == kGu ? rl.wgu : p == kDown ? static_cast<const void*>(rl.wdown) : m_lmHead);
        if (p == kLmHead)
            all.resize(1);
        return all;
    }
    // What a replay leaves: the last layer's attention output (o_proj's input, bf16) and the logits.
    std::pair<std::vector<uint16_t>, std::vector<float>> results()
    {
        const RankLayer& rl = layers().back();
        std::vector<uint16_t> attn(size_t(m_batch) * rl.replicas * m_s.units.queryHeads() * m_s.c.headDim);
        std::vector<float> logits(size_t(m_batch) * m_s.c.vocabSize);
        FAIRKV_CUDA(cudaMemcpyAsync(attn.data(), m_attnB, attn.size() * 2, cudaMemcpyDeviceToHost, stream));
        FAIRKV_CUDA(cudaMemcpyAsync(logits.data(), m_logits, logits.size() * 4, cudaMemcpyDeviceToHost, stream));
        FAIRKV_CUDA(cudaStreamSynchronize(stream));
        return {std::move(attn), std::move(logits)};
    }
    const void* weight(Product p) { return weights(p)[0]; } // layer 0's

    cudaStream_t stream = nullptr;
    size_t kvBytes = 0;
    double weightBytes = 0;

private:
    void gemm(const StepGemms& g, Product p, const void* x, const void* w, float* y, int n, int k)
    {
        if (g.choice)
            g.choice->run(x, w, y, m_batch, n, k, stream);
        else if (g.algo[p]) {
            const LtProduct& lt = *g.product[p]; // described for layer 0's shape, which every layer shares
            if (lt.rows != m_batch || lt.n != n || lt.k != k)
                throw Error(std::string(kProductNames[p]) + ": a layer of another shape than the tuned one");
            lt.run(*g.algo[p], x, w, y, g.workspace, stream);
        }
        else
            cuda::gemmBf16(m_h, x, w, y, m_batch, n, k, stream);
    }
    // `bytes` of a row-major weight of `rows` rows `pitch` bytes long: its leading rows, or the
    // leading bytes of every row.
    void prefetch(const StepPrefetch& pf, const void* w, size_t rows, size_t pitch, size_t bytes)
    {
        if (bytes == 0)
            return;
        bytes = std::min(bytes, rows * pitch);
        if (pf.columns)
            launchL2Prefetch(w, rows, pitch, bytes / rows / 16 * 16, pf.how, pf.side ? m_side : stream);
        else
            launchL2Prefetch(w, 1, bytes, bytes, pf.how, pf.side ? m_side : stream);
    }
    std::vector<RankLayer>& layers() { return m_ranks[0]; }

    cublasHandle_t m_h;
    int m_batch;
    Shape m_s;
    std::vector<std::vector<RankLayer>> m_ranks; // the one rank's layers
    __nv_bfloat16 *m_lmHead = nullptr, *m_x = nullptr, *m_attnB = nullptr, *m_act = nullptr;
    float *m_qkv = nullptr, *m_q = nullptr, *m_out = nullptr, *m_gu = nullptr, *m_logits = nullptr;
    void* m_workspace = nullptr;
    std::vector<std::unique_ptr<cuda::RaggedDecodeAttention>> m_kernels;
    cudaStream_t m_side = nullptr;
    cudaEvent_t m_fork = nullptr, m_join = nullptr;
};

// Median of `replays` replays of `exec` (after one), each queued behind `gate` unless fromIdle; with a
// tracer, tags pushed around every replay and its records flushed (as the engine does per step).
double replayMs(EightBStep& s, cudaGraphExec_t exec, cuda::LaunchGate& gate, int& gateExpired, profiler::CuptiTracer* tracer,
                bool fromIdle, int replays = 20)
{
    cudaEvent_t e0, e1;
    FAIRKV_CUDA(cudaEventCreate(&e0));
    FAIRKV_CUDA(cudaEventCreate(&e1));
    std::vector<double> times;
    for (int i = 0; i <= replays; ++i) {
        if (tracer)
            tracer->push(0, i, 0, -1, profiler::Phase::Other);
        queueTimed(fromIdle ? nullptr : &gate, s.stream, exec, e0, e1);
        if (tracer)
            tracer->pop();
        const double ms = elapsedMs(e0, e1);
        if (tracer && i < replays)
            tracer->flush();
        if (i > 0)
            times.push_back(ms);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    gateExpired += gate.takeExpired();
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

// The engine's default GEMM routines (--gemm auto): each of the step's product shapes chosen over
// its weights, as CudaRank::chooseGemms() does. Returns how many shapes went to cuBLASLt.
int chooseGemms(EightBStep& step, cuda::GemmChoice& choice, int batch)
{
    for (int p = 0; p < kProducts; ++p) {
        const auto [n, k] = step.shape(Product(p));
        choice.choose(batch, n, k, step.weights(Product(p)), step.stream);
    }
    int onLt = 0;
    for (const auto& c : choice.chosen())
        onLt += c.onCublasLt();
    return onLt;
}

// Without CUPTI (no tracer may be alive), then again with kernel tracing on (tags pushed around
// every replay, flushed every replay as the engine does per step) for the split by kernel kind.
// kernelLog, when given, receives the traced replay's kernels (batch, budget, name, start and end
// ns from the replay's first kernel): where the step's idle time sits.
FullStep measureFullStep(cublasHandle_t h, int batch, int budget, double readGBs, std::ostream* kernelLog,
                         const StepPrefetch& pf = {})
{
    EightBStep s(h, batch, budget);
    cuda::GemmChoice choice(h);
    StepGemms gemms;
    gemms.choice = &choice;
    FullStep r;
    r.ltShapes = chooseGemms(s, choice, batch);
    cudaGraphExec_t exec = s.capture(pf, gemms);
    // A serving loop queues the next step while the GPU runs this one, so the step's time is the
    // GPU's: each replay waits behind a LaunchGate until the graph and the closing event are queued
    // (as the engine's steps do). `fromIdle` times the replay as it is launched instead.
    cuda::LaunchGate gate;
    int gateExpired = 0;
    auto replays = [&](profiler::CuptiTracer* tracer, bool fromIdle) { return replayMs(s, exec, gate, gateExpired, tracer, fromIdle); };
    r.stepMs = replays(nullptr, false);
    r.idleStepMs = replays(nullptr, true);
    {
        profiler::TraceBuffer traceBuffer;
        profiler::TraceBuffer* trace = &traceBuffer;
        profiler::CuptiTracer tracer(trace);
        // From idle first: the split by kernel and the graph record below come from the last
        // replay, which is then one behind the gate, like the step they are set against.
        r.idleTracedStepMs = replays(&tracer, true);
        r.tracedStepMs = replays(&tracer, false);
        trace->records.clear();
        tracer.flush(); // the last replay's kernels only
        // Each kernel counts from the end of the one before it: the attention's combine kernel is
        // started early (programmatic dependent launch) and its record spans that wait.
        auto records = trace->records;
        std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.startNs < b.startNs; });
        if (kernelLog)
            for (const auto& rec : records)
                *kernelLog << batch << ',' << budget << ',' << trace->name(rec.nameId) << ',' << rec.startNs - records[0].startNs
                           << ',' << rec.endNs - records[0].startNs << '\n';
        int64_t reach = INT64_MIN;
        for (const auto& rec : records) {
            std::string name = trace->name(rec.nameId);
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
            const double ms = double(std::max<int64_t>(0, rec.endNs - std::max(rec.startNs, reach))) / 1e6;
            reach = std::max(reach, rec.endNs);
            if (name.find("decodeattention") != std::string::npos) {
                r.attentionMs += ms;
                ++r.attentionKernels;
            } else if (name.find("gemm") != std::string::npos || name.find("gemv") != std::string::npos
                       || name.find("nvjet") != std::string::npos || name.find("cutlass") != std::string::npos
                       || name.find("xmma") != std::string::npos) { // cuBLAS kernels by their name families
                r.gemmMs += ms;
                ++r.gemmKernels;
            } else {
                r.otherMs += ms;
                ++r.otherKernels;
            }
        }
        if (r.gemmKernels == 0 || r.attentionKernels == 0)
            throw Error("CUPTI recorded no tagged GEMM or attention kernels in the 8B step");
    }
    {
        // Graph level: every replay is one record; it must be there and span the step.
        profiler::TraceBuffer traceBuffer;
        profiler::CuptiTracer tracer(&traceBuffer, profiler::CuptiTracer::Level::Graphs);
        // Captured again under the tracer: launching a graph instantiated before graph-level tracing
        // was enabled crashed inside CUPTI 13.0 (in cudaGraphLaunch, on the H100).
        FAIRKV_CUDA(cudaGraphExecDestroy(exec));
        exec = s.capture(pf, gemms);
        r.idleGraphTracedStepMs = replays(&tracer, true);
        r.graphTracedStepMs = replays(&tracer, false);
        tracer.flush();
        const auto& recs = traceBuffer.records;
        if (recs.empty())
            throw Error("CUPTI recorded no graph launch of the 8B step");
        const double ms = double(recs.back().durationNs()) / 1e6;
        if (ms < 0.5 * r.stepMs || ms > 2.0 * r.stepMs)
            throw Error("CUPTI's graph record spans " + std::to_string(ms) + " ms of a " + std::to_string(r.stepMs) + " ms step");
    }
    r.weightGiB = s.weightBytes / double(1ull << 30);
    r.kvGiB = double(s.kvBytes) / double(1ull << 30);
    r.floorMs = (s.weightBytes + double(s.kvBytes)) / (readGBs * 1e6);
    r.gateExpired = gateExpired;
    cudaGraphExecDestroy(exec);
    return r;
}

// As many layers of `c` as this GPU holds for one placement run: every rank's bf16 shards (with a
// quarter of the attention weights again for fair-copying's extra replicas), the KV of `batch`
// requests at `budget` tokens (plus the decoded ones), and 2 GiB for activations and cuBLAS.
int layersThatFit(const ModelConfig& c, UnitMode mode, int batch, int budget, int steps, int cap)
{
    size_t freeBytes = 0, total = 0;
    FAIRKV_CUDA(cudaMemGetInfo(&freeBytes, &total));
    const double d = c.headDim, H = c.hiddenSize;
    // per-query-head units carry their own k and v rows (a copy of their KV head's) per query head
    const double kvRows = mode == UnitMode::Gqa ? 2.0 * c.numKvHeads : 2.0 * c.numHeads;
    const double attention = 2.0 * ((c.numHeads + kvRows) * d * H + H * c.numHeads * d);
    const double mlp = 2.0 * 3.0 * double(c.intermediateSize) * H;
    const double units = mode == UnitMode::Gqa ? c.numKvHeads : c.numHeads;
    const double kv = double(batch) * units * (budget + steps + 1) * 2.0 * d * 2.0;
    const double perLayer = attention * 1.25 + mlp + kv;
    const double usable = 0.95 * double(freeBytes) - double(size_t(2) << 30);
    const int fit = int(std::floor(usable / perLayer));
    if (fit < 1)
        throw Error("not even one layer of " + c.name + " fits the GPU's " + std::to_string(freeBytes >> 20) + " MiB free");
    return std::min({fit, c.numLayers, cap > 0 ? cap : c.numLayers});
}

} // namespace

int main(int argc, char** argv)
{
    std::string out = "gpu-decode-benchmark.md";
    int layers = 0, steps = 5; // 0: as many as fit
    std::string sections = "8b,tp,cupti"; // which parts to run
    std::ofstream kernelLog;
    struct Traced
    {
        int batch, budget;
        double offMs, onMs, graphMs;
        double idleOffMs, idleOnMs, idleGraphMs; // launched onto an idle GPU
    };
    int gateExpired = 0; // 8B replays whose gate the watchdog opened
    std::vector<Traced> fullSteps; // the 8B step with CUPTI off and on
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--out")
            out = argv[i + 1];
        if (std::string(argv[i]) == "--layers")
            layers = std::atoi(argv[i + 1]);
        if (std::string(argv[i]) == "--sections")
            sections = argv[i + 1];
        if (std::string(argv[i]) == "--kernel-log") // CSV of the 8B step's kernels, one traced replay per cell
            kernelLog.open(argv[i + 1]);
    }
    cublasHandle_t h;
    FAIRKV_CUBLAS(cublasCreate(&h));
    profiler::TraceBuffer trace;
    std::unique_ptr<profiler::CuptiTracer> tracer; // created after the 8B section, which runs with and without
    cudaDeviceProp prop{};
    FAIRKV_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::ostringstream md;
    md << "# Emulated tensor-parallel decode on one GPU\n\nDevice: " << prop.name << ". Command: `fairkv-bench-gpu-decode"
       << (layers > 0 ? " --layers " + std::to_string(layers) : std::string()) << "`. Each rank's decode work runs alone on the GPU (cuBLAS bf16 GEMMs, RoPE + KV append, ragged decode "
          "attention), timed with CUDA events (**measured** per rank); the step is composed as per-layer max over ranks plus a "
          "ring all-reduce **modelled** with alpha = " << fmt(kAllReduceAlphaUs, 0) << " µs and " << fmt(kBusGBs, 0)
       << " GB/s bus bandwidth, two per layer: the tokens/s below are **emulated**. Timing harness on random weights and KV; "
          "the shapes are truncated to as many layers as the GPU holds for each configuration (column layers); KV lengths from Ada-SnapKV on synthetic attention. "
          "Placements from the planners with bf16 bytes over 3.0 TB/s as cost constants. Median of 5 steps. Per-rank time "
          "is the sum of the rank's kernel times from CUPTI (tagged with rank, step and layer through external correlation "
          "ids and aggregated by the profiler), i.e. what the rank's GPU is busy for when its kernels queue back to back; "
          "the last column gives uniform's step from CUDA events around each rank's attention and MLP graphs instead, "
          "each queued behind a gate (so the host's submission is not in the window) and run on its own: the kernels' "
          "time plus each graph's start and drain on an otherwise idle GPU.\n\n";
    auto wanted = [&](const char* part) { return ("," + sections + ",").find("," + std::string(part) + ",") != std::string::npos; };
    if (wanted("8b")) {
        // The floor's bandwidth, measured in the same run: a streaming read of 4 GiB.
        const double readGBs = measureReadGBs(size_t(4) << 30, prop.multiProcessorCount);
        md << "## Decode step of the llama-3.1-8b shape on one rank\n\nThe whole step (32 layers: q/k/v GEMM, RoPE + KV "
              "append, ragged attention, o_proj, gate/up and down GEMMs; then lm_head) as the engine runs it by default: each "
              "product shape's GEMM routine chosen over the step's weights first (`--gemm auto`, GemmChoice: cublasGemmEx or a "
              "cuBLASLt configuration; column GEMM routines), and the small kernels and the attention started early "
              "(programmatic dependent launch); captured in a CUDA graph and replayed "
              "(median of 20, **measured**), each replay queued behind a gate that opens once the graph and its closing event are "
              "queued, so the GPU runs the step as a serving loop that launches ahead keeps it fed (the engine's steps "
              "run behind the same gate); column from idle: the same replays launched onto the idle GPU, whose window "
              "also holds the host's submission of the graph (the measure of sessions 3 to 9). Floor = (bf16 weights + retained KV) / streaming-read bandwidth measured in the "
              "same run (" << fmt(readGBs, 0) << " GB/s). Norms, residual adds and the embedding gather are left out (a few "
              "KB per step). Target: at most 1.2x the floor. The last columns split one more replay, traced with CUPTI, by "
              "kernel: cuBLAS GEMMs (their weight bytes over their time), the attention kernels (the split-KV kernel and its "
              "combine), everything else, each kernel counted from the end of the one before it (the combine starts "
              "early, by programmatic dependent launch); what the kernels leave of the step is the GPU idling between them.\n\n| batch | budget | weights GiB | KV GiB | step ms | "
              "from idle ms | floor ms | step / floor | GEMM routines | GEMM ms (GB/s) | attention ms | other ms (kernels) | gaps ms |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
        for (int batch : {1, 16, 64})
            for (int budget : {512, 2048}) {
                const FullStep f = measureFullStep(h, batch, budget, readGBs, kernelLog.is_open() ? &kernelLog : nullptr);
                fullSteps.push_back({batch, budget, f.stepMs, f.tracedStepMs, f.graphTracedStepMs, f.idleStepMs,
                                     f.idleTracedStepMs, f.idleGraphTracedStepMs});
                gateExpired += f.gateExpired;
                const double gaps = f.stepMs - f.gemmMs - f.attentionMs - f.otherMs;
                md << "| " << batch << " | " << budget << " | " << fmt(f.weightGiB, 2) << " | " << fmt(f.kvGiB, 3) << " | "
                   << fmt(f.stepMs, 3) << " | " << fmt(f.idleStepMs, 3) << " | " << fmt(f.floorMs, 3) << " | " << fmt(f.stepMs / f.floorMs, 3)
                   << (f.stepMs <= 1.2 * f.floorMs ? " (pass)" : " (**miss**)") << " | " << f.ltShapes << " of " << kProducts
                   << " on cuBLASLt | " << fmt(f.gemmMs, 3) << " ("
                   << fmt(f.weightGiB * double(1ull << 30) / (f.gemmMs * 1e6), 0) << ") | " << fmt(f.attentionMs, 3) << " | "
                   << fmt(f.otherMs, 3) << " (" << f.otherKernels << ") | " << fmt(gaps, 3) << " |\n";
                std::printf("8b one rank batch %d budget %d: step %.3f ms (from idle %.3f), floor %.3f ms, %.3fx\n", batch, budget,
                            f.stepMs, f.idleStepMs, f.floorMs, f.stepMs / f.floorMs);
                std::fflush(stdout);
            }
        if (gateExpired > 0)
            md << "\n" << gateExpired << " gated replays were started by the gate's watchdog (the host took over "
               << cuda::LaunchGate::kMaxHold.count() << " ms to queue them): their windows hold host time.\n";
    }
    if (wanted("prefetch")) {
        // Not in the default run: the 8B step with L2 prefetches of the next GEMM's weights in the
        // windows where HBM idles, against the same step without, in alternating rounds.
        const double readGBs = measureReadGBs(size_t(4) << 30, prop.multiProcessorCount);
        const size_t MiB = size_t(1) << 20;
        std::vector<StepPrefetch> variants;
        auto add = [&](std::string name, size_t o, size_t gu, size_t down, bool columns, bool side, bool bulk, bool last) {
            StepPrefetch v;
            v.name = std::move(name);
            v.oBytes = o * MiB;
            v.guBytes = gu * MiB;
            v.downBytes = down * MiB;
            v.columns = columns;
            v.side = side;
            v.how = {bulk, last};
            variants.push_back(v);
        };
        add("none", 0, 0, 0, false, false, true, false);
        add("rows 16", 16, 0, 16, false, false, true, false);
        add("rows 32", 32, 0, 32, false, false, true, false);
        add("columns 16", 16, 0, 16, true, false, true, false);
        add("columns 32", 32, 0, 32, true, false, true, false);
        add("rows 32, side stream", 32, 0, 32, false, true, true, false);
        add("rows 24 + W_gu 24", 24, 24, 24, false, false, true, false);
        add("rows 16, lines", 16, 0, 16, false, false, false, false);
        add("rows 16, evict_last", 16, 0, 16, false, false, true, true);
        md << "## The 8B step with L2 prefetches\n\nThe step of the table above, captured once per variant: before RoPE + KV "
              "append (so during them and the attention) a kernel asks L2 to fetch the first MiB of W_o (rows: its leading "
              "rows, contiguous; columns: the leading bytes of every row, where each GEMM block starts), and before SwiGLU "
              "those of W_down. Median of 20 replays behind the gate per round, rounds alternating over the variants; the "
              "value is the median of 3 rounds. Floor as above (" << fmt(readGBs, 0) << " GB/s).\n\n| batch | budget | floor ms |";
        for (const auto& v : variants)
            md << " " << v.name << " |";
        md << "\n|---|---|---|";
        for (size_t i = 0; i < variants.size(); ++i)
            md << "---|";
        md << "\n";
        for (int batch : {1, 16, 64})
            for (int budget : {512, 2048}) {
                EightBStep step(h, batch, budget);
                std::vector<cudaGraphExec_t> execs;
                for (const auto& v : variants)
                    execs.push_back(step.capture(v));
                cuda::LaunchGate gate;
                int expired = 0;
                std::vector<std::vector<double>> ms(variants.size());
                for (int round = 0; round < 3; ++round)
                    for (size_t i = 0; i < variants.size(); ++i)
                        ms[i].push_back(replayMs(step, execs[i], gate, expired, nullptr, false));
                gateExpired += expired;
                const double floorMs = (step.weightBytes + double(step.kvBytes)) / (readGBs * 1e6);
                md << "| " << batch << " | " << budget << " | " << fmt(floorMs, 3) << " |";
                for (auto& m : ms) {
                    std::sort(m.begin(), m.end());
                    md << " " << fmt(m[1], 3) << " (" << fmt(m[1] / floorMs, 3) << "x) |";
                }
                md << "\n";
                std::printf("prefetch batch %d budget %d: none %.3f ms", batch, budget, ms[0][1]);
                for (size_t i = 1; i < variants.size(); ++i)
                    std::printf(", %s %.3f", variants[i].name.c_str(), ms[i][1]);
                std::printf(" (floor %.3f)\n", floorMs);
                std::fflush(stdout);
                for (cudaGraphExec_t e : execs)
                    cudaGraphExecDestroy(e);
            }
    }
    if (wanted("tuned")) {
        // Not in the default run: the 8B step with each product's cuBLASLt configuration chosen by
        // timing the whole step, against the same step on cublasGemmEx (the engine's default; with
        // --gemm auto it chooses per shape over the weights alone, GemmChoice).
        const double readGBs = measureReadGBs(size_t(4) << 30, prop.multiProcessorCount);
        cublasLtHandle_t lth;
        FAIRKV_CUBLAS(cublasLtCreate(&lth));
        const size_t wsBytes = size_t(32) << 20;
        void* ws = deviceAlloc<char>(wsBytes);
        md << "## The 8B step with cuBLASLt configurations chosen in the step\n\nThe step of the table above, its five "
              "products (q/k/v, o_proj, gate/up, down of every layer, lm_head) each run by one cuBLASLt configuration: every "
              "algorithm cublasLtMatmulAlgoGetHeuristic offers (32 MiB workspace), as offered and with split-K 1, 2 or 4, each "
              "reduction scheme and CTA swizzling (each configuration cublasLtMatmulAlgoCheck accepts). Chosen product by "
              "product (o_proj, q/k/v, down, gate/up, lm_head), keeping the others' choices: each candidate captured into the "
              "step's graph and timed in it (median of 10 replays behind the gate); a product keeps cublasGemmEx unless a "
              "candidate's step is faster. Then the two graphs, cublasGemmEx and chosen, in 3 alternating rounds of 20 "
              "replays (the median round). Each chosen configuration's output checked against cublasGemmEx's on layer 0's "
              "weight (largest difference relative to the largest output). Floor as above (" << fmt(readGBs, 0)
           << " GB/s).\n\n| batch | budget | floor ms | cublasGemmEx ms (x floor) | chosen ms (x floor) | saves | steps timed "
              "(s) | chosen | max rel. diff |\n|---|---|---|---|---|---|---|---|---|\n";
        for (int batch : {1, 16, 64})
            for (int budget : {512, 2048}) {
                EightBStep step(h, batch, budget);
                const auto t0 = std::chrono::steady_clock::now();
                std::vector<std::unique_ptr<LtProduct>> products;
                std::vector<std::vector<cublasLtMatmulAlgo_t>> candidates;
                StepGemms g;
                g.workspace = ws;
                for (int p = 0; p < kProducts; ++p) {
                    const auto [n, k] = step.shape(Product(p));
                    products.push_back(std::make_unique<LtProduct>(lth, batch, n, k, wsBytes));
                    candidates.push_back(products.back()->candidates({1, 2, 4}));
                    g.product[p] = products.back().get();
                }
                cuda::LaunchGate gate;
                int expired = 0, timed = 0;
                auto timeStep = [&](const StepGemms& with) {
                    cudaGraphExec_t exec = step.capture({}, with);
                    const double ms = replayMs(step, exec, gate, expired, nullptr, false, 10);
                    cudaGraphExecDestroy(exec);
                    ++timed;
                    return ms;
                };
                double best = timeStep(g);
                for (int p = 0; p < kProducts; ++p) {
                    const cublasLtMatmulAlgo_t* keep = nullptr;
                    for (const cublasLtMatmulAlgo_t& a : candidates[size_t(p)]) {
                        g.algo[p] = &a;
                        const double ms = timeStep(g);
                        if (ms < best)
                            best = ms, keep = &a;
                    }
                    g.algo[p] = keep;
                }
                const double tuneS = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                // Each chosen configuration computes what cublasGemmEx computes (fp32 sums in another order).
                double maxRel = 0;
                std::string chosen;
                for (int p = 0; p < kProducts; ++p) {
                    chosen += std::string(p ? "; " : "") + kProductNames[p] + ": "
                              + (g.algo[p] ? describe(*g.algo[p]) : std::string("cublasGemmEx"));
                    if (!g.algo[p])
                        continue;
                    const auto [n, k] = step.shape(Product(p));
                    __nv_bfloat16* x = deviceAlloc<__nv_bfloat16>(size_t(batch) * k);
                    float* y = deviceAlloc<float>(size_t(batch) * n);
                    fillBf16<<<64, 256, 0, step.stream>>>(x, size_t(batch) * k, 11);
                    std::vector<float> ref(size_t(batch) * n), got(ref.size());
                    cuda::gemmBf16(h, x, step.weight(Product(p)), y, batch, n, k, step.stream);
                    FAIRKV_CUDA(cudaMemcpyAsync(ref.data(), y, ref.size() * 4, cudaMemcpyDeviceToHost, step.stream));
                    FAIRKV_CUDA(cudaMemsetAsync(y, 0xff, ref.size() * 4, step.stream));
                    products[size_t(p)]->run(*g.algo[p], x, step.weight(Product(p)), y, ws, step.stream);
                    FAIRKV_CUDA(cudaMemcpyAsync(got.data(), y, got.size() * 4, cudaMemcpyDeviceToHost, step.stream));
                    FAIRKV_CUDA(cudaStreamSynchronize(step.stream));
                    cudaFree(x);
                    cudaFree(y);
                    double top = 0, diff = 0;
                    for (size_t i = 0; i < ref.size(); ++i) {
                        top = std::max(top, double(std::fabs(ref[i])));
                        const double d = std::fabs(double(ref[i]) - double(got[i]));
                        diff = std::isnan(d) ? INFINITY : std::max(diff, d);
                    }
                    maxRel = std::max(maxRel, diff / std::max(top, 1e-30));
                }
                cudaGraphExec_t plain = step.capture({}), tuned = step.capture({}, g);
                std::vector<double> plainMs, tunedMs;
                for (int round = 0; round < 3; ++round) {
                    plainMs.push_back(replayMs(step, plain, gate, expired, nullptr, false));
                    tunedMs.push_back(replayMs(step, tuned, gate, expired, nullptr, false));
                }
                cudaGraphExecDestroy(plain);
                cudaGraphExecDestroy(tuned);
                gateExpired += expired;
                std::sort(plainMs.begin(), plainMs.end());
                std::sort(tunedMs.begin(), tunedMs.end());
                const double floorMs = (step.weightBytes + double(step.kvBytes)) / (readGBs * 1e6);
                const double a = plainMs[1], b = tunedMs[1];
                md << "| " << batch << " | " << budget << " | " << fmt(floorMs, 3) << " | " << fmt(a, 3) << " (" << fmt(a / floorMs, 3)
                   << "x) | " << fmt(b, 3) << " (" << fmt(b / floorMs, 3) << "x" << (b <= 1.2 * floorMs ? ", pass" : ", **miss**")
                   << ") | " << fmt(100 * (a - b) / a, 1) << "% | " << timed << " (" << fmt(tuneS, 0) << ") | " << chosen << " | "
                   << maxRel << " |\n";
                std::printf("tuned batch %d budget %d: cublasGemmEx %.3f ms, chosen %.3f ms (floor %.3f), %d steps timed in %.0f s\n",
                            batch, budget, a, b, floorMs, timed, tuneS);
                std::fflush(stdout);
            }
        cudaFree(ws);
        cublasLtDestroy(lth);
    }
    if (wanted("overlap")) {
        // Not in the default run: what early starts (programmatic dependent launch: the small
        // kernels, and the attention streaming K/V while RoPE + KV append runs) save in the 8B
        // step, on cublasGemmEx and on the engine's per-shape GEMM choice (--gemm auto).
        const double readGBs = measureReadGBs(size_t(4) << 30, prop.multiProcessorCount);
        md << "## The 8B step with early starts\n\nThe step of the table above, captured four ways: its GEMMs on cublasGemmEx "
              "or on the engine's per-shape choice (`GemmChoice`, `--gemm auto`: chosen over this step's weights before "
              "the timing), each with the kernels launched one after another (*ordinary*) or with early starts (*early*, "
              "programmatic dependent launch: RoPE + KV append, SwiGLU and the attention start while the kernel before "
              "them ends, and the attention streams the retained K/V while RoPE + KV append runs). The attention's "
              "combine starts early in all four, as it has since session 6. Median of 20 replays behind the gate per round, "
              "rounds alternating over the four graphs; the value is the median of 3 rounds. Results: the last layer's "
              "attention output and the logits of one replay of each graph compared bit for bit with the ordinary "
              "cublasGemmEx graph's (early starts change no arithmetic; the GEMM choice sums in another order). Floor as "
              "above (" << fmt(readGBs, 0) << " GB/s).\n\n| batch | budget | floor ms | cublasGemmEx ordinary ms | "
              "cublasGemmEx early ms | saves | chosen ordinary ms | chosen early ms (x floor) | saves | shapes on cuBLASLt "
              "(choosing s) | early results identical |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
        for (int batch : {1, 16, 64})
            for (int budget : {512, 2048}) {
                EightBStep step(h, batch, budget);
                cuda::GemmChoice choice(h);
                const auto t0 = std::chrono::steady_clock::now();
                const int onLt = chooseGemms(step, choice, batch);
                const double chooseS = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                StepGemms chosen;
                chosen.choice = &choice;
                std::vector<cudaGraphExec_t> execs;
                for (const StepGemms& g : {StepGemms{}, chosen})
                    for (bool early : {false, true}) {
                        cuda::allowEarlyStarts(early);
                        execs.push_back(step.capture({}, g));
                    }
                cuda::allowEarlyStarts(true);
                cuda::LaunchGate gate;
                int expired = 0;
                std::vector<std::vector<double>> ms(execs.size());
                for (int round = 0; round < 3; ++round)
                    for (size_t i = 0; i < execs.size(); ++i)
                        ms[i].push_back(replayMs(step, execs[i], gate, expired, nullptr, false));
                gateExpired += expired;
                // Early starts change when kernels run, not what they compute.
                std::vector<std::pair<std::vector<uint16_t>, std::vector<float>>> results;
                for (cudaGraphExec_t e : execs) {
                    FAIRKV_CUDA(cudaGraphLaunch(e, step.stream));
                    results.push_back(step.results());
                    cudaGraphExecDestroy(e);
                }
                const bool same = results[1] == results[0] && results[3] == results[2];
                for (auto& m : ms)
                    std::sort(m.begin(), m.end());
                const double floorMs = (step.weightBytes + double(step.kvBytes)) / (readGBs * 1e6);
                const double a = ms[0][1], b = ms[1][1], c = ms[2][1], d = ms[3][1];
                md << "| " << batch << " | " << budget << " | " << fmt(floorMs, 3) << " | " << fmt(a, 3) << " | " << fmt(b, 3) << " | "
                   << fmt(100 * (a - b) / a, 1) << "% | " << fmt(c, 3) << " | " << fmt(d, 3) << " (" << fmt(d / floorMs, 3)
                   << (d <= 1.2 * floorMs ? "x, pass" : "x, **miss**") << ") | " << fmt(100 * (c - d) / c, 1) << "% | " << onLt
                   << " of " << int(choice.chosen().size()) << " (" << fmt(chooseS, 1) << ") | " << (same ? "yes" : "**no**") << " |\n";
                std::printf("overlap batch %d budget %d: cublasGemmEx %.3f -> %.3f ms, chosen %.3f -> %.3f ms (floor %.3f), "
                            "choosing %.1f s, results %s\n", batch, budget, a, b, c, d, floorMs, chooseS, same ? "identical" : "DIFFER");
                std::fflush(stdout);
            }
    }
    tracer = std::make_unique<profiler::CuptiTracer>(&trace);
    if (wanted("tp"))
        md << "\n## Emulated tensor parallelism\n\n"
              "| shape | layers | TP | units | batch | budget | KV MiB | uniform tok/s | assign tok/s | copy tok/s | assign × | copy × | copies | attention share | uniform step ms (CUPTI / events) |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& [shapeName, tp] : {std::pair{std::string("llama-3.3-70b"), 8}, std::pair{std::string("mistral-small-24b"), 4}}) {
        if (!wanted("tp"))
            break;
        const ModelConfig fullShape = ModelConfig::builtin(shapeName);
        for (const char* modeName : {"gqa", "per-query-head"}) {
            for (int budget : {512, 2048}) {
                const UnitMode mode = unitModeFromName(modeName);
                const int L = layersThatFit(fullShape, mode, 64, budget, steps, layers);
                Shape s{ModelConfig::builtin(shapeName, L), {}};
                s.units = UnitLayout(s.c, mode);
                CompressionOptions comp;
                comp.policy = CompressionPolicy::AdaSnapKV;
                comp.budget = budget;
                const auto full = syntheticKvLengths(s.c, s.units.mode, comp, 64, std::clamp(2 * budget, 1024, 4096), 5);
                for (int batch : {16, 64}) {
                    std::vector<std::vector<std::vector<double>>> len(full.begin(), full.begin() + batch);
                    PlacementStats st;
                    st.layers = L;
                    st.units = s.units.numUnits;
                    st.batch = batch;
                    st.kvLen = len;
                    st.unitWeightBytes = uint64_t(PlacementStats::defaultUnitBytes(s.c.hiddenSize, s.c.headDim, s.units.queryHeads()));
                    st.cUnitMs = double(st.unitWeightBytes) / 3.0e9;
                    st.cTokMs = PlacementStats::defaultTokenBytes(s.c.headDim) / 3.0e9;
                    std::map<std::string, Result> r;
                    for (const char* planner : {"uniform", "fairkv-assign", "fairkv-copy"}) {
                        PlanOptions o;
                        o.planner = planner;
                        o.ranks = tp;
                        const PlanResult plan = planPlacement(st, o);
                        r[planner] = runPlacement(h, s, plan.placement, len, batch, steps, tracer.get(), &trace);
                        r[planner].extraReplicas = plan.extraReplicas;
                    }
                    const Result& u = r["uniform"];
                    md << "| " << shapeName << " | " << L << " | " << tp << " | " << modeName << " | " << batch << " | " << budget << " | "
                       << fmt(u.kvMiB, 0) << " | " << fmt(u.tokensPerS, 0) << " | " << fmt(r["fairkv-assign"].tokensPerS, 0) << " | "
                       << fmt(r["fairkv-copy"].tokensPerS, 0) << " | " << fmt(r["fairkv-assign"].tokensPerS / u.tokensPerS, 3)
                       << " | " << fmt(r["fairkv-copy"].tokensPerS / u.tokensPerS, 3) << " | " << r["fairkv-copy"].extraReplicas
                       << " | " << fmt(100 * u.attnMs / u.stepMs, 0) << "% | " << fmt(u.stepMs, 3) << " / " << fmt(u.eventStepMs, 3) << " |\n";
                    std::printf("%s TP%d %s b%d B%d: uniform %.0f tok/s, assign %.3fx, copy %.3fx (attention %.0f%% of the step)\n",
                                shapeName.c_str(), tp, modeName, batch, budget, u.tokensPerS, r["fairkv-assign"].tokensPerS / u.tokensPerS,
                                r["fairkv-copy"].tokensPerS / u.tokensPerS, 100 * u.attnMs / u.stepMs);
                    std::fflush(stdout);
                }
            }
        }
    }
    // CUPTI overhead: the same uniform run, event-timed, with tracing on and off.
    if (wanted("cupti")) {
        const int L = layersThatFit(ModelConfig::builtin("llama-3.3-70b"), UnitMode::Gqa, 64, 2048, 9, layers);
        Shape s{ModelConfig::builtin("llama-3.3-70b", L), {}};
        s.units = UnitLayout(s.c, UnitMode::Gqa);
        CompressionOptions comp;
        comp.policy = CompressionPolicy::AdaSnapKV;
        comp.budget = 2048;
        const auto len = syntheticKvLengths(s.c, s.units.mode, comp, 64, 4096, 5);
        const Placement p = Placement::uniform(L, s.units.numUnits, 8, 64);
        // Alternating rounds (on, off, on, off), each a fresh placement run, so drift of the GPU's
        // clocks or of the host does not land on one side only.
        std::vector<double> onMs, offMs, graphMs;
        for (int round = 0; round < 2; ++round) {
            if (!tracer)
                tracer = std::make_unique<profiler::CuptiTracer>(&trace);
            onMs.push_back(runPlacement(h, s, p, len, 64, 9, tracer.get(), &trace).eventStepMs);
            tracer.reset(); // tracing off: activities disabled
            offMs.push_back(runPlacement(h, s, p, len, 64, 9, nullptr, nullptr).stepMs);
            tracer = std::make_unique<profiler::CuptiTracer>(&trace, profiler::CuptiTracer::Level::Graphs);
            graphMs.push_back(runPlacement(h, s, p, len, 64, 9, tracer.get(), &trace).eventStepMs);
            tracer.reset();
        }
        // The measure of sessions 3 to 9 once more: every graph launched onto the idle GPU.
        tracer = std::make_unique<profiler::CuptiTracer>(&trace);
        const double idleOn = runPlacement(h, s, p, len, 64, 9, tracer.get(), &trace, true).eventStepMs;
        tracer.reset();
        const double idleOff = runPlacement(h, s, p, len, 64, 9, nullptr, nullptr, true).stepMs;
        tracer = std::make_unique<profiler::CuptiTracer>(&trace, profiler::CuptiTracer::Level::Graphs);
        const double idleGraph = runPlacement(h, s, p, len, 64, 9, tracer.get(), &trace, true).eventStepMs;
        tracer.reset();
        const double on = (onMs[0] + onMs[1]) / 2, off = (offMs[0] + offMs[1]) / 2, onGraph = (graphMs[0] + graphMs[1]) / 2;
        const double overhead = on / off - 1.0, graphOverhead = onGraph / off - 1.0;
        md << "\n## CUPTI overhead\n\nStep time with CUPTI kernel tracing (kernel activity, external correlation tags, "
              "API activity for those tags) on and off. Target: at most 3%.\n\n";
        if (!fullSteps.empty()) {
            md << "Whole llama-3.1-8b decode step as one CUDA graph, as a serving loop replays it (median of 20 replays; "
                  "tags pushed and records collected every replay), traced per kernel and at graph level (one record per "
                  "replay, checked to be there and to span the step). Replays behind the gate as in the step table (the "
                  "GPU's time: what tracing costs the GPU); the last two columns launched onto the idle GPU (the host's "
                  "submission inside the window, where CUPTI's callbacks on the launch add to it):\n\n| batch | budget | "
                  "off ms | kernels: on ms | overhead | graphs: on ms | overhead | from idle: off ms | from idle: kernels / "
                  "graphs overhead |\n|---|---|---|---|---|---|---|---|---|\n";
            for (const Traced& t : fullSteps) {
                const double o = t.onMs / t.offMs - 1.0, og = t.graphMs / t.offMs - 1.0;
                md << "| " << t.batch << " | " << t.budget << " | " << fmt(t.offMs, 3) << " | " << fmt(t.onMs, 3) << " | "
                   << fmt(100 * o, 1) << "% (" << (o <= 0.03 ? "pass" : "**miss**") << ") | " << fmt(t.graphMs, 3) << " | "
                   << fmt(100 * og, 1) << "% (" << (og <= 0.03 ? "pass" : "**miss**") << ") | " << fmt(t.idleOffMs, 3) << " | "
                   << fmt(100 * (t.idleOnMs / t.idleOffMs - 1.0), 1) << "% / " << fmt(100 * (t.idleGraphMs / t.idleOffMs - 1.0), 1)
                   << "% |\n";
            }
            md << "\n";
        }
        md << "Emulated TP harness: llama-3.3-70b shape (" << L << " layers), TP = 8, GQA, batch 64, budget 2048, uniform; "
              "each rank's attention and MLP of a layer is one CUDA graph, queued behind the gate and waited for on its own; "
              "step composed from CUDA events on "
           << fmt(onMs[0], 3) << " and " << fmt(onMs[1], 3) << " ms, off " << fmt(offMs[0], 3) << " and " << fmt(offMs[1], 3)
           << " ms (alternating rounds): overhead **" << fmt(100 * overhead, 1) << "%** (" << (overhead <= 0.03 ? "pass" : "miss")
           << "). Traced at graph level instead (one record per rank's attention or MLP graph, which is what the per-rank "
              "step is composed from): "
           << fmt(graphMs[0], 3) << " and " << fmt(graphMs[1], 3) << " ms: overhead **" << fmt(100 * graphOverhead, 1) << "%** ("
           << (graphOverhead <= 0.03 ? "pass" : "miss") << "). Each graph launched onto the idle GPU instead (the host's "
              "share of every launch inside the window): off " << fmt(idleOff, 3) << " ms, per kernel " << fmt(idleOn, 3)
           << " ms (" << fmt(100 * (idleOn / idleOff - 1.0), 1) << "%), graph level " << fmt(idleGraph, 3) << " ms ("
           << fmt(100 * (idleGraph / idleOff - 1.0), 1) << "%).\n";
        std::printf("CUPTI overhead: kernels %.1f%%, graphs %.1f%%\n", 100 * overhead, 100 * graphOverhead);
    }
    if (g_tpGateExpired > 0)
        md << "\n" << g_tpGateExpired << " graphs of the TP harness were started by the gate's watchdog (the host took over "
           << cuda::LaunchGate::kMaxHold.count() << " ms to queue them): their event times hold host time.\n";
    std::ofstream(out) << md.str();
    std::printf("wrote %s\n", out.c_str());
    cublasDestroy(h);
    return 0;
}
