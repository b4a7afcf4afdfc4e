#include "backend/cuda/cuda_rank.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cublas_check.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/decode_attention.h"
#include "backend/cuda/dependent_launch.cuh"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/prefill_attention.h"
#include "common/dtype.h"
#include "model/model_weights.h"
#include "model/rope.h"
#include "parallel/rank_factory.h"
#include "placement/placement.h"

#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace fairkv::cuda {

namespace {

struct PairDesc
{
    int replica; // column block of the rank's qkv output
    int row;     // row of the batch
    uint16_t* k; // bf16 blocks
    uint16_t* v;
    int slot;     // where the new K/V row goes
    int position; // token position (RoPE)
};

// RoPE (rotate-half, the model's inverse frequencies) on q and k of every pair; q to qOut (fp32),
// k and v appended to the pair's KV block (bf16) and copied to newKV (fp32) for the host mirror.
// It starts while the q/k/v product ends, and lets the attention after it start at once: the
// attention streams the retained K/V meanwhile (RaggedDecodeAttention's early launch).
__global__ void prepDecode(const float* qkv, int cols, const PairDesc* pairs, int group, int dim, const float* invFreq,
                           float* qOut, float* newKV)
{
    launchDependents();
    waitForPrerequisites();
    const PairDesc p = pairs[blockIdx.x];
    const float* row = qkv + size_t(p.row) * cols + size_t(p.replica) * (group + 2) * dim;
    const int half = dim / 2;
    for (int idx = threadIdx.x; idx < (group + 1) * half; idx += blockDim.x) {
        const int h = idx / half, i = idx % half;
        const float angle = float(p.position) * invFreq[i];
        const float c = cosf(angle), s = sinf(angle);
        const float a = row[h * dim + i], b = row[h * dim + i + half];
        const float ra = a * c - b * s, rb = b * c + a * s;
        if (h < group) {
            qOut[(size_t(blockIdx.x) * group + h) * dim + i] = ra;
            qOut[(size_t(blockIdx.x) * group + h) * dim + i + half] = rb;
        } else {
            reinterpret_cast<__nv_bfloat16*>(p.k)[size_t(p.slot) * dim + i] = __float2bfloat16(ra);
            reinterpret_cast<__nv_bfloat16*>(p.k)[size_t(p.slot) * dim + i + half] = __float2bfloat16(rb);
            newKV[size_t(blockIdx.x) * 2 * dim + i] = ra;
            newKV[size_t(blockIdx.x) * 2 * dim + i + half] = rb;
        }
    }
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float v = row[(group + 1) * dim + i];
        reinterpret_cast<__nv_bfloat16*>(p.v)[size_t(p.slot) * dim + i] = __float2bfloat16(v);
        newKV[size_t(blockIdx.x) * 2 * dim + dim + i] = v;
    }
}

} // namespace

struct CudaRank::DeviceLayer
{
    bool ready = false;
    int replicas = 0, inter = 0;
    std::vector<int> units;
    std::vector<std::vector<int>> requests;
    uint16_t *wqkv = nullptr, *wo = nullptr, *wgu = nullptr, *wdown = nullptr;
    ~DeviceLayer()
    {
        cudaFree(wqkv);
        cudaFree(wo);
        cudaFree(wgu);
        cudaFree(wdown);
    }
};

CudaRank::CudaRank(int index, const ModelConfig& config, UnitMode mode, int device)
    : m_index(index)
    , m_device(device)
    , m_config(config)
    , m_units(config, mode)
    , m_host(index, config, mode)
{
    m_host.setWeightsOnDemand(true); // shards live on the GPU; host copies only if a fallback needs them
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        cudaGetLastError();
        throw fairkv::Error("--backend cuda: no CUDA GPU is available on this machine");
    }
    if (device < 0 || device >= devices)
        throw fairkv::Error("rank " + std::to_string(index) + ": CUDA device " + std::to_string(device) + " does not exist ("
                            + std::to_string(devices) + " present)");
    if (config.headDim != 32 && config.headDim != 64 && config.headDim != 128)
        throw fairkv::Error("--backend cuda supports head_dim 32, 64 or 128, the model has " + std::to_string(config.headDim));
    setDevice();
    cublasHandle_t h = nullptr;
    FAIRKV_CUBLAS(cublasCreate(&h));
    m_cublas = h;
    const auto inv = ropeInverseFrequencies(config);
    m_invFreq = static_cast<float*>(deviceMalloc(inv.size() * 4, "RoPE frequencies"));
    FAIRKV_CUDA(cudaMemcpy(m_invFreq, inv.data(), inv.size() * 4, cudaMemcpyHostToDevice));
    for (void*& e : m_events) {
        cudaEvent_t ev;
        FAIRKV_CUDA(cudaEventCreate(&ev));
        e = ev;
    }
    m_decode.resize(size_t(config.numLayers));
    for (DecodeLayer& st : m_decode)
        for (void*& e : st.events) {
            cudaEvent_t ev;
            FAIRKV_CUDA(cudaEventCreate(&ev));
            e = ev;
        }
    // cuBLAS loads its kernels on first use: do that here, not inside the first timed step.
    void* w = deviceMalloc(64 * 64 * 2 * 2 + 64 * 64 * 4, "cuBLAS warm-up");
    auto* a = static_cast<unsigned char*>(w);
    FAIRKV_CUDA(cudaMemset(w, 0, 64 * 64 * 2 * 2));
    gemmBf16(h, a, a + 64 * 64 * 2, reinterpret_cast<float*>(a + 64 * 64 * 4), 64, 64, 64, nullptr);
    FAIRKV_CUDA(cudaDeviceSynchronize());
    cudaFree(w);
    m_prefillGemms = std::make_unique<GemmChoice>(h);
}

CudaRank::~CudaRank()
{
    cudaSetDevice(m_device); // no throwing here: a destructor may run after a sticky CUDA error
    for (auto& [key, b] : m_blocks) {
        cudaFree(b.keys);
        cudaFree(b.values);
    }
    m_layers.clear();
    releaseDecode();
    cudaFree(m_invFreq);
    cudaFree(m_scratch);
    cudaFree(m_io);
    cudaFreeHost(m_pinned);
    for (void* e : m_events)
        if (e)
            cudaEventDestroy(static_cast<cudaEvent_t>(e));
    m_prefillGemms.reset(); // before the handle it runs cublasGemmEx on
    if (m_cublas)
        cublasDestroy(static_cast<cublasHandle_t>(m_cublas));
}

void CudaRank::setDevice() const
{
    FAIRKV_CUDA(cudaSetDevice(m_device));
}

void CudaRank::releaseDecode()
{
    for (DecodeLayer& st : m_decode) {
        cudaFree(st.pairs);
        cudaFree(st.newKv);
        for (void* e : st.events)
            if (e)
                cudaEventDestroy(static_cast<cudaEvent_t>(e));
        st = DecodeLayer();
    }
}

void CudaRank::registerBackend()
{
    registerRankBackend(
        "cuda",
        [](int index, int ranks, const ModelConfig& c, UnitMode m, const BackendOptions& options) {
            int devices = 0;
            if (cudaGetDeviceCount(&devices) != cudaSuccess)
                devices = 0;
            cudaGetLastError();
            // One device per rank when there are enough of them (and NCCL to join them), else every
            // rank on the first.
#ifdef FAIRKV_HAVE_NCCL
            const int device = !options.emulate && ranks <= devices ? index : 0;
#else
            const int device = 0;
            (void)ranks;
            (void)options;
#endif
            return std::unique_ptr<Rank>(new CudaRank(index, c, m, device));
        },
        makeCudaStepExecutor);
}

void CudaRank::setTraceContext(TraceSink* sink, int step)
{
    m_step = step;
    m_host.setTraceContext(sink, step);
}

void CudaRank::assign(const ModelWeights& weights, const Placement& placement, KvStore& pool)
{
    setDevice();
    ++m_assignments;
    m_host.assign(weights, placement, pool);
    m_weights = &weights;
    m_placement = &placement;
    for (auto& [key, b] : m_blocks) { // the device blocks are a cache of the host store
        cudaFree(b.keys);
        cudaFree(b.values);
    }
    m_blocks.clear();
    m_layers.clear();
    for (int l = 0; l < m_config.numLayers; ++l)
        m_layers.push_back(std::make_unique<DeviceLayer>());
    // Shards go to the GPU now, so that no decode step pays for the upload.
    for (int l = 0; l < m_config.numLayers; ++l)
        uploadLayer(l);
}

void CudaRank::releaseKv(KvStore& pool)
{
    setDevice();
    m_host.releaseKv(pool);
    for (auto& [key, b] : m_blocks) {
        cudaFree(b.keys);
        cudaFree(b.values);
    }
    m_blocks.clear();
}

void CudaRank::compress(int layer, const std::map<UnitRequest, std::vector<int>>& kept)
{
    m_host.compress(layer, kept);
}

size_t CudaRank::weightBytes() const
{
    return m_host.weightBytes() / 2; // the same shards in bf16
}

unsigned char* CudaRank::scratch(size_t bytes)
{
    growBuffer(m_scratch, m_scratchBytes, bytes, "the rank's scratch");
    return static_cast<unsigned char*>(m_scratch);
}

double CudaRank::elapsedSinceStart()
{
    auto start = static_cast<cudaEvent_t>(m_events[0]), stop = static_cast<cudaEvent_t>(m_events[1]);
    FAIRKV_CUDA(cudaEventRecord(stop));
    FAIRKV_CUDA(cudaEventSynchronize(stop));
    float ms = 0;
    FAIRKV_CUDA(cudaEventElapsedTime(&ms, start, stop));
    return double(ms);
}

void CudaRank::uploadLayer(int layer)
{
    if (m_layers[size_t(layer)]->ready)
        return;
    // Built aside and installed at the end: a failed upload (out of memory) frees what it took and
    // leaves the layer to be tried again from scratch.
    auto fresh = std::make_unique<DeviceLayer>();
    DeviceLayer& dl = *fresh;
    const LayerWeights& lw = m_weights->layers[size_t(layer)];
    const int64_t d = m_config.headDim, H = m_config.hiddenSize, G = m_units.queryHeads();
    // The shard's rows and columns are gathered straight into bf16 (toBf16 on all cores), with no
    // fp32 copy in between.
    std::vector<FloatSpan> qkv, o, gu, down;
    for (const UnitPlacement& up : m_placement->layers[size_t(layer)])
        for (const Replica& rep : up.replicas) {
            if (rep.rank != m_index)
                continue;
            dl.units.push_back(up.unit);
            dl.requests.push_back(rep.requests);
            const int64_t q0 = int64_t(m_units.firstQueryHead(up.unit)) * d, kv0 = int64_t(m_units.kvHead(up.unit)) * d;
            qkv.push_back({lw.wq.row(q0), size_t(G * d * H)});
            qkv.push_back({lw.wk.row(kv0), size_t(d * H)});
            qkv.push_back({lw.wv.row(kv0), size_t(d * H)});
        }
    dl.replicas = int(dl.units.size());
    // o_proj columns of every replica, in replica order: [H][replicas * G * d]
    for (int64_t r = 0; r < H; ++r)
        for (int i = 0; i < dl.replicas; ++i)
            o.push_back({lw.wo.row(r) + int64_t(m_units.firstQueryHead(dl.units[size_t(i)])) * d, size_t(G * d)});
    const int64_t inter = m_config.intermediateSize;
    const int64_t begin = inter * m_index / m_placement->ranks, end = inter * (m_index + 1) / m_placement->ranks;
    dl.inter = int(end - begin);
    gu.push_back({lw.wgate.row(begin), size_t((end - begin) * H)});
    gu.push_back({lw.wup.row(begin), size_t((end - begin) * H)});
    for (int64_t r = 0; r < H; ++r)
        down.push_back({lw.wdown.row(r) + begin, size_t(dl.inter)});
    if (dl.replicas > 0) {
        dl.wqkv = uploadBf16(toBf16(qkv), "q/k/v weights");
        dl.wo = uploadBf16(toBf16(o), "o_proj weights");
    }
    if (dl.inter > 0) {
        dl.wgu = uploadBf16(toBf16(gu), "MLP gate/up weights");
        dl.wdown = uploadBf16(toBf16(down), "MLP down weights");
    }
    dl.ready = true;
    m_layers[size_t(layer)] = std::move(fresh);
}

CudaRank::DeviceBlock& CudaRank::deviceBlock(int layer, int unit, int request)
{
    const KvKey key{layer, unit, request};
    DeviceBlock& b = m_blocks[key];
    const KvBlock& host = m_host.kv().at(key);
    const int d = m_config.headDim;
    const int len = int(host.length());
    if (b.keys && len + 1 <= b.capacity)
        return b;
    // (Re)fill from the host mirror with room to grow (an eighth, at least 64 rows: decode appends one
    // row per step). Nothing freed stays referenced if an allocation fails.
    cudaFree(b.keys);
    cudaFree(b.values);
    b.keys = b.values = nullptr;
    b.capacity = b.length = 0;
    const int capacity = len + 1 + std::max(64, len / 8);
    b.keys = static_cast<uint16_t*>(deviceMalloc(size_t(capacity) * d * 2, "KV cache"));
    b.values = static_cast<uint16_t*>(deviceMalloc(size_t(capacity) * d * 2, "KV cache"));
    b.capacity = capacity;
    if (len > 0) {
        const auto k = toBf16(host.keys.data(), host.keys.size()), v = toBf16(host.values.data(), host.values.size());
        FAIRKV_CUDA(cudaMemcpy(b.keys, k.data(), k.size() * 2, cudaMemcpyHostToDevice));
        FAIRKV_CUDA(cudaMemcpy(b.values, v.data(), v.size() * 2, cudaMemcpyHostToDevice));
    }
    b.length = len;
    return b;
}

void CudaRank::attention(int layer, const RowBatch& in, float* out, WindowCapture* capture)
{
    setDevice();
    m_lastDeviceMs = -1.0;
    if (m_step < 0) {
        if (continuesPrompt(layer, in))
            m_host.attention(layer, in, out, capture); // rare: a prompt on top of cached KV
        else
            prefillAttention(layer, in, out, capture);
        return;
    }
    // Decode steps of CUDA ranks run device-resident through the step executor (cuda_step.h).
    throw fairkv::Error("a CUDA rank decodes through the step executor, not the engine's host loop");
}

void CudaRank::hostIo(size_t rows, float** x, void** xb, float** y)
{
    const size_t H = size_t(m_config.hiddenSize);
    const size_t offXb = align256(rows * H * 4), offY = offXb + align256(rows * H * 2), bytes = offY + align256(rows * H * 4);
    growBuffer(m_io, m_ioBytes, bytes, "activations");
    auto* base = static_cast<unsigned char*>(m_io);
    *x = reinterpret_cast<float*>(base);
    *xb = base + offXb;
    *y = reinterpret_cast<float*>(base + offY);
}

void CudaRank::prepareDecode(const RowBatch& rows)
{
    setDevice();
    for (int l = 0; l < m_config.numLayers; ++l)
        prepareDecodeLayer(l, rows);
    scratch(m_decodeScratch); // no allocation while the step's kernels are queued
}

void CudaRank::prepareDecodeLayer(int layer, const RowBatch& in)
{
    uploadLayer(layer);
    DeviceLayer& dl = *m_layers[size_t(layer)];
    DecodeLayer& st = m_decode[size_t(layer)];
    st.rows = int(in.rows());
    st.keys.clear();
    st.attentionRan = st.mlpRan = false;
    const size_t d = size_t(m_config.headDim), G = size_t(m_units.queryHeads()), rows = in.rows();
    const size_t mlpBytes = align256(rows * 2 * size_t(dl.inter) * 4) + align256(rows * size_t(dl.inter) * 2);
    m_decodeScratch = std::max(m_decodeScratch, mlpBytes);
    if (dl.replicas == 0)
        return;
    std::vector<PairDesc> pairs;
    std::vector<KvView> views;
    std::vector<int64_t> outAt; // each pair's heads in o_proj's input [rows][replicas][G][d]
    for (int i = 0; i < dl.replicas; ++i)
        for (int r : dl.requests[size_t(i)]) {
            if (in.rowStart[size_t(r) + 1] - in.rowStart[size_t(r)] != 1)
                throw fairkv::Error("the CUDA rank decodes one token per request and step");
            DeviceBlock& b = deviceBlock(layer, dl.units[size_t(i)], r);
            pairs.push_back({i, int(in.rowStart[size_t(r)]), b.keys, b.values, b.length, int(in.position[size_t(r)])});
            views.push_back({b.keys, b.values, b.length + 1});
            outAt.push_back(oProjInputOffset(in.rowStart[size_t(r)], dl.replicas, i, int(G), int(d)));
            st.keys.push_back({layer, dl.units[size_t(i)], r});
        }
    const size_t n = pairs.size();
    if (n * sizeof(PairDesc) > st.pairsCapacity) // with room: batches grow by a few pairs
        growBuffer(st.pairs, st.pairsCapacity, 2 * n * sizeof(PairDesc), "decode pairs");
    if (n * 2 * d * 4 > st.newKvCapacity) {
        void* rows = st.newKv;
        st.newKv = nullptr; // growBuffer owns it now, also if it throws
        growBuffer(rows, st.newKvCapacity, 2 * n * 2 * d * 4, "decoded K/V rows");
        st.newKv = static_cast<float*>(rows);
    }
    FAIRKV_CUDA(cudaMemcpy(st.pairs, pairs.data(), n * sizeof(PairDesc), cudaMemcpyHostToDevice));
    if (!st.attention)
        st.attention = std::make_unique<RaggedDecodeAttention>();
    st.attention->prepare(views, int(G), int(d), nullptr, outAt);
    const size_t cols = size_t(dl.replicas) * (G + 2) * d;
    const size_t attnBytes = align256(rows * cols * 4) + align256(n * G * d * 4) + align256(rows * dl.replicas * G * d * 2);
    m_decodeScratch = std::max(m_decodeScratch, attnBytes);
}

namespace {
// A piece's start: the caller's event, or `own` recorded now. A timing event costs the stream about
// 2 us on the H100 (the GPU drains before the timestamp), so pieces that follow each other share one.
void* startPiece(void* startedAt, void* own, cudaStream_t stream)
{
    if (startedAt)
        return startedAt;
    FAIRKV_CUDA(cudaEventRecord(static_cast<cudaEvent_t>(own), stream));
    return own;
}
} // namespace

void CudaRank::launchAttention(int layer, const void* xb, float* y, const GemmChoice& gemms, cudaStream_t stream,
                               void* startedAt)
{
    DeviceLayer& dl = *m_layers[size_t(layer)];
    DecodeLayer& st = m_decode[size_t(layer)];
    const int d = m_config.headDim, H = m_config.hiddenSize, G = m_units.queryHeads(), rows = st.rows;
    st.starts[0] = startPiece(startedAt, st.events[0], stream);
    st.attentionRan = true;
    if (dl.replicas == 0) {
        FAIRKV_CUDA(cudaMemsetAsync(y, 0, size_t(rows) * H * 4, stream));
        FAIRKV_CUDA(cudaEventRecord(static_cast<cudaEvent_t>(st.events[1]), stream));
        return;
    }
    const size_t nPairs = st.keys.size(), cols = size_t(dl.replicas) * (G + 2) * d;
    const size_t offQ = align256(size_t(rows) * cols * 4), offAb = offQ + align256(nPairs * G * d * 4);
    auto* base = scratch(offAb + align256(size_t(rows) * dl.replicas * G * d * 2));
    auto* qkv = reinterpret_cast<float*>(base);
    auto* q = reinterpret_cast<float*>(base + offQ);
    auto* attnB = reinterpret_cast<__nv_bfloat16*>(base + offAb);
    auto* pairs = static_cast<const PairDesc*>(st.pairs);
    gemms.run(xb, dl.wqkv, qkv, rows, int(cols), H, stream);
    launchDependent(prepDecode, dim3(unsigned(nPairs)), dim3(128), 0, stream, true, static_cast<const float*>(qkv), int(cols), pairs, G, d,
                    static_cast<const float*>(m_invFreq), q, st.newKv);
    st.attention->launchIntoOprojInput(q, attnB, size_t(rows), dl.replicas, 1.0f / std::sqrt(float(d)), stream, true); // no scatter kernel
    gemms.run(attnB, dl.wo, y, rows, H, dl.replicas * G * d, stream);
    FAIRKV_CUDA(cudaEventRecord(static_cast<cudaEvent_t>(st.events[1]), stream));
}

void CudaRank::launchMlp(int layer, const void* xb, size_t rows, float* y, const GemmChoice& gemms, cudaStream_t stream,
                         void* startedAt)
{
    DeviceLayer& dl = *m_layers[size_t(layer)];
    DecodeLayer& st = m_decode[size_t(layer)];
    const int H = m_config.hiddenSize;
    st.starts[1] = startPiece(startedAt, st.events[2], stream);
    st.mlpRan = true;
    if (dl.inter == 0) {
        FAIRKV_CUDA(cudaMemsetAsync(y, 0, rows * H * 4, stream));
    } else {
        const size_t offAct = align256(rows * 2 * dl.inter * 4);
        auto* base = scratch(offAct + align256(rows * dl.inter * 2));
        auto* gu = reinterpret_cast<float*>(base);
        auto* act = reinterpret_cast<__nv_bfloat16*>(base + offAct);
        gemms.run(xb, dl.wgu, gu, int(rows), 2 * dl.inter, H, stream);
        launchSwiglu(gu, dl.inter, int(rows), act, stream);
        gemms.run(act, dl.wdown, y, int(rows), H, dl.inter, stream);
    }
    FAIRKV_CUDA(cudaEventRecord(static_cast<cudaEvent_t>(st.events[3]), stream));
}

void CudaRank::chooseGemms(GemmChoice& gemms, cudaStream_t stream) const
{
    setDevice();
    // The step's products by shape, each with its weights in the order the step reads them.
    std::map<std::tuple<int, int, int>, std::vector<const void*>> shapes;
    const int d = m_config.headDim, H = m_config.hiddenSize, G = m_units.queryHeads();
    for (int l = 0; l < m_config.numLayers; ++l) {
        const DeviceLayer& dl = *m_layers[size_t(l)];
        const int rows = m_decode[size_t(l)].rows;
        if (rows <= 0)
            continue;
        if (dl.replicas > 0) {
            shapes[{rows, dl.replicas * (G + 2) * d, H}].push_back(dl.wqkv);
            shapes[{rows, H, dl.replicas * G * d}].push_back(dl.wo);
        }
        if (dl.inter > 0) {
            shapes[{rows, 2 * dl.inter, H}].push_back(dl.wgu);
            shapes[{rows, H, dl.inter}].push_back(dl.wdown);
        }
    }
    for (const auto& [shape, weights] : shapes)
        gemms.choose(std::get<0>(shape), std::get<1>(shape), std::get<2>(shape), weights, stream);
}

void CudaRank::finishDecode()
{
    setDevice();
    for (int l = 0; l < m_config.numLayers; ++l)
        finishDecodeLayer(l);
}

void CudaRank::finishDecodeLayer(int layer)
{
    DecodeLayer& st = m_decode[size_t(layer)];
    auto elapsed = [&](void* a, int b) {
        FAIRKV_CUDA(cudaEventSynchronize(static_cast<cudaEvent_t>(st.events[b])));
        float ms = 0;
        FAIRKV_CUDA(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(a), static_cast<cudaEvent_t>(st.events[b])));
        return double(ms);
    };
    if (st.mlpRan)
        st.mlpMs = elapsed(st.starts[1], 3);
    if (!st.attentionRan)
        return;
    st.attentionMs = elapsed(st.starts[0], 1);
    st.attentionRan = false;
    if (st.keys.empty())
        return;
    // Mirror the new rows into the host store and advance the device lengths.
    const size_t d = size_t(m_config.headDim);
    std::vector<float> fresh(st.keys.size() * 2 * d);
    FAIRKV_CUDA(cudaMemcpy(fresh.data(), st.newKv, fresh.size() * 4, cudaMemcpyDeviceToHost));
    for (size_t p = 0; p < st.keys.size(); ++p) {
        KvBlock& hb = m_host.mutableKv()[st.keys[p]];
        hb.append(fresh.data() + p * 2 * d, fresh.data() + p * 2 * d + d, 1);
        ++m_blocks[st.keys[p]].length;
    }
    st.keys.clear();
}

void CudaRank::mlp(int layer, const float* xHost, size_t rowsIn, float* outHost)
{
    setDevice();
    // Host rows in bounded chunks: the device buffers stay small for long prompts.
    constexpr size_t kChunk = 4096;
    const size_t H = size_t(m_config.hiddenSize);
    double total = 0.0;
    for (size_t first = 0; first < rowsIn; first += kChunk) {
        const size_t rows = std::min(kChunk, rowsIn - first);
        float *x = nullptr, *y = nullptr;
        void* xb = nullptr;
        hostIo(rows, &x, &xb, &y);
        FAIRKV_CUDA(cudaMemcpy(x, xHost + first * H, rows * H * 4, cudaMemcpyHostToDevice));
        launchToBf16(x, xb, rows * H, nullptr);
        total += prefillMlp(layer, xb, rows, y, nullptr);
        FAIRKV_CUDA(cudaMemcpy(outHost + first * H, y, rows * H * 4, cudaMemcpyDeviceToHost));
    }
    m_lastDeviceMs = total;
}

bool CudaRank::continuesPrompt(int layer, const RowBatch& in) const
{
    for (long p : in.position)
        if (p != 0)
            return true;
    for (const auto& [key, block] : m_host.kv())
        if (key.layer == layer && block.length() > 0)
            return true;
    return false;
}

void CudaRank::prefillAttention(int layer, const RowBatch& in, float* out, WindowCapture* capture)
{
    // Host rows in and out, one request at a time: the device holds one prompt's rows, not the
    // whole batch's (a batch of 64 prompts of 4096 tokens would need gigabytes per rank otherwise).
    const size_t H = size_t(m_config.hiddenSize);
    uploadLayer(layer); // serves() reads the installed layer
    double deviceMs = 0.0;
    std::vector<float> partial;
    for (size_t r = 0; r < in.position.size(); ++r) {
        const size_t first = in.rowStart[r], len = in.rowStart[r + 1] - first;
        if (len == 0 || !serves(layer, int(r)))
            continue;
        float *x = nullptr, *y = nullptr;
        void* xb = nullptr;
        hostIo(len, &x, &xb, &y);
        FAIRKV_CUDA(cudaMemcpy(x, in.data + first * H, len * H * 4, cudaMemcpyHostToDevice));
        launchToBf16(x, xb, len * H, nullptr);
        deviceMs += prefillAttentionRows(layer, {int(r)}, {0, len}, xb, y, capture);
        partial.resize(len * H);
        FAIRKV_CUDA(cudaMemcpy(partial.data(), y, partial.size() * 4, cudaMemcpyDeviceToHost));
        float* dst = out + first * H;
        for (size_t i = 0; i < partial.size(); ++i)
            dst[i] += partial[i];
    }
    m_lastDeviceMs = deviceMs;
}

bool CudaRank::serves(int layer, int request) const
{
    for (const std::vector<int>& requests : m_layers[size_t(layer)]->requests)
        if (std::find(requests.begin(), requests.end(), request) != requests.end())
            return true;
    return false;
}

double CudaRank::prefillAttentionRows(int layer, const std::vector<int>& requests, const std::vector<size_t>& rowStart,
                                      const void* xbIn, float* y, WindowCapture* capture)
{
    setDevice();
    uploadLayer(layer);
    DeviceLayer& dl = *m_layers[size_t(layer)];
    const int d = m_config.headDim, H = m_config.hiddenSize, G = m_units.queryHeads();
    const int window = capture ? capture->window : 0;
    const size_t n = requests.size();
    FAIRKV_CUDA(cudaMemsetAsync(y, 0, rowStart.back() * size_t(H) * 4, nullptr)); // rows this rank serves no unit of stay 0
    std::vector<std::vector<int>> servedBy(n); // [i] -> replicas on this rank serving requests[i]
    for (int i = 0; i < dl.replicas; ++i)
        for (int r : dl.requests[size_t(i)])
            for (size_t k = 0; k < n; ++k)
                if (requests[k] == r)
                    servedBy[k].push_back(i);
    int longest = 0;
    size_t widest = 0; // replicas serving one request
    for (size_t k = 0; k < n; ++k)
        if (!servedBy[k].empty()) {
            longest = std::max(longest, int(rowStart[k + 1] - rowStart[k]));
            widest = std::max(widest, servedBy[k].size());
        }
    if (longest == 0) {
        FAIRKV_CUDA(cudaStreamSynchronize(nullptr)); // callers go on with other streams
        return 0.0;
    }
    const size_t unitRows = size_t(G + 2) * d, rowsMax = size_t(longest);
    const size_t offA = align256(rowsMax * unitRows * 4), offKv = offA + align256(rowsMax * G * d * 2);
    const size_t offScore = offKv + align256(widest * rowsMax * 2 * d * 4), offWork = offScore + align256(widest * rowsMax * 4);
    // One query chunk for every prompt, from the longest: the workspace is sized for it.
    const int chunk = prefillChunkRows(longest, G);
    auto* base = scratch(offWork + prefillWorkspaceBytes(longest, G, d, window, chunk));
    auto* qkv = reinterpret_cast<float*>(base);
    auto* attnB = reinterpret_cast<__nv_bfloat16*>(base + offA);
    auto* kv = reinterpret_cast<float*>(base + offKv);
    auto* scores = reinterpret_cast<float*>(base + offScore);
    auto h = static_cast<cublasHandle_t>(m_cublas);
    const auto* xbAll = static_cast<const __nv_bfloat16*>(xbIn);
    double deviceMs = 0.0;
    for (size_t k = 0; k < n; ++k) {
        const std::vector<int>& replicas = servedBy[k];
        if (replicas.empty())
            continue;
        const int r = requests[k];
        const int len = int(rowStart[k + 1] - rowStart[k]);
        const __nv_bfloat16* xb = xbAll + rowStart[k] * size_t(H);
        float* yr = y + rowStart[k] * size_t(H);
        FAIRKV_CUDA(cudaEventRecord(static_cast<cudaEvent_t>(m_events[0])));
        for (size_t j = 0; j < replicas.size(); ++j) {
            const int replica = replicas[j];
            gemmBf16(h, xb, dl.wqkv + replica * unitRows * H, qkv, len, int(unitRows), H, nullptr);
            PrefillArgs a;
            a.qkv = qkv;
            a.ldQkv = (long long)unitRows;
            a.len = len;
            a.group = G;
            a.headDim = d;
            a.window = window;
            a.invFreq = m_invFreq;
            a.out = attnB;
            a.ldOut = G * d;
            a.keys = kv + j * size_t(len) * 2 * d;
            a.values = a.keys + size_t(len) * d;
            a.scores = window > 0 ? scores + j * size_t(len) : nullptr;
            a.chunkRows = chunk;
            cuda::prefillAttention(h, a, base + offWork, nullptr);
            GemmBatch o; // this unit's o_proj columns, added into the request's rows
            o.a = attnB;
            o.lda = G * d;
            o.b = dl.wo + size_t(replica) * G * d;
            o.ldb = (long long)dl.replicas * G * d;
            o.c = yr;
            o.ldc = H;
            o.m = len;
            o.n = H;
            o.k = G * d;
            o.beta = 1.0f;
            gemmBf16Nt(h, o, nullptr);
        }
        deviceMs += elapsedSinceStart();
        // The host store stays authoritative: it receives the prompt's rotated keys and values.
        const size_t kvCount = replicas.size() * size_t(len) * 2 * d, scoreCount = window > 0 ? replicas.size() * size_t(len) : 0;
        growPinned(m_pinned, m_pinnedBytes, (kvCount + scoreCount) * 4, "prefill's K/V");
        auto* kvHost = static_cast<float*>(m_pinned);
        const float* scoreHost = kvHost + kvCount;
        FAIRKV_CUDA(cudaMemcpy(kvHost, kv, kvCount * 4, cudaMemcpyDeviceToHost));
        if (window > 0)
            FAIRKV_CUDA(cudaMemcpy(kvHost + kvCount, scores, scoreCount * 4, cudaMemcpyDeviceToHost));
        for (size_t j = 0; j < replicas.size(); ++j) {
            const int unit = dl.units[size_t(replicas[j])];
            KvBlock& block = m_host.mutableKv()[KvKey{layer, unit, r}];
            block.headDim = d;
            const float* keys = kvHost + j * size_t(len) * 2 * d;
            block.append(keys, keys + size_t(len) * d, size_t(len));
            if (window > 0)
                capture->meanAttention[{unit, r}].assign(scoreHost + j * size_t(len), scoreHost + (j + 1) * size_t(len));
        }
    }
    FAIRKV_CUDA(cudaStreamSynchronize(nullptr)); // callers go on with other streams
    return deviceMs;
}

double CudaRank::prefillMlp(int layer, const void* xb, size_t rows, float* y, cudaStream_t stream)
{
    setDevice();
    uploadLayer(layer);
    // Prompts can be long: bounded chunks of rows keep the scratch small; the device times add up.
    constexpr size_t kChunk = 4096;
    const size_t H = size_t(m_config.hiddenSize);
    const DecodeLayer& st = m_decode[size_t(layer)];
    double total = 0.0;
    for (size_t first = 0; first < rows; first += kChunk) {
        const size_t n = std::min(kChunk, rows - first);
        launchMlp(layer, static_cast<const __nv_bfloat16*>(xb) + first * H, n, y + first * H, *m_prefillGemms, stream);
        FAIRKV_CUDA(cudaEventSynchronize(static_cast<cudaEvent_t>(st.events[3])));
        float ms = 0;
        FAIRKV_CUDA(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(st.events[2]), static_cast<cudaEvent_t>(st.events[3])));
        total += double(ms);
    }
    m_decode[size_t(layer)].mlpRan = false;
    return total;
}

} // namespace fairkv::cuda
