#include "backend/cuda/cuda_check.h"
#include "backend/cuda/decode_attention.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace fairkv::cuda {

namespace {

constexpr int kThreads = 128;

__device__ __forceinline__ void toFloat8(const uint4& raw, float out[8])
{
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 f = __bfloat1622float2(h[i]);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

// One work item = one chunk [start, end) of one pair. Each token row is read by D/8 threads with
// one 16-byte load each (K and V), all G query heads of the group use it; rows are spread over the
// block's row groups, each keeping an online softmax; the groups are merged in shared memory and
// the item's (acc, max, sum) written for the combine kernel.
template <int D, int G>
__global__ void __launch_bounds__(kThreads) partialKernel(const KvView* views, const int4* items, const float* q,
                                                          float* partials, float scale)
{
    constexpr int TPT = D / 8;             // threads per token row
    constexpr int ROWS = kThreads / TPT;   // token rows in flight per block
    const int4 item = items[blockIdx.x];
    const int pair = item.x, start = item.y, end = item.z;
    const int lane = threadIdx.x % TPT, grp = threadIdx.x / TPT;
    const KvView view = views[pair];
    const uint4* K = reinterpret_cast<const uint4*>(view.keys);
    const uint4* V = reinterpret_cast<const uint4*>(view.values);

    float qv[G][8], acc[G][8], m[G], l[G];
#pragma unroll
    for (int g = 0; g < G; ++g) {
        const float4* qp = reinterpret_cast<const float4*>(q + (size_t(pair) * G + g) * D + lane * 8);
        const float4 a = qp[0], b = qp[1];
        qv[g][0] = a.x * scale, qv[g][1] = a.y * scale, qv[g][2] = a.z * scale, qv[g][3] = a.w * scale;
        qv[g][4] = b.x * scale, qv[g][5] = b.y * scale, qv[g][6] = b.z * scale, qv[g][7] = b.w * scale;
        m[g] = -INFINITY;
        l[g] = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i)
            acc[g][i] = 0.0f;
    }
    // U rows per thread are loaded before any is used, so enough bytes are in flight to cover
    // HBM latency (Little's law); the loop bound is uniform across the block (shuffles need every lane).
    constexpr int U = 4;
    for (int base = start; base < end; base += ROWS * U) {
        uint4 kr[U], vr[U];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int t = base + grp + u * ROWS;
            if (t < end) {
                kr[u] = __ldg(K + size_t(t) * TPT + lane);
                vr[u] = __ldg(V + size_t(t) * TPT + lane);
            } else {
                kr[u] = vr[u] = make_uint4(0, 0, 0, 0);
            }
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const bool valid = base + grp + u * ROWS < end;
            float kf[8], vf[8], s[G];
            toFloat8(kr[u], kf);
            toFloat8(vr[u], vf);
#pragma unroll
            for (int g = 0; g < G; ++g) {
                float d = 0.0f;
#pragma unroll
                for (int i = 0; i < 8; ++i)
                    d += qv[g][i] * kf[i];
                s[g] = d;
            }
#pragma unroll
            for (int off = TPT / 2; off > 0; off >>= 1)
#pragma unroll
                for (int g = 0; g < G; ++g)
                    s[g] += __shfl_xor_sync(0xffffffffu, s[g], off, TPT);
            if (valid) {
#pragma unroll
                for (int g = 0; g < G; ++g) {
                    const float mNew = fmaxf(m[g], s[g]);
                    const float corr = __expf(m[g] - mNew);
                    const float p = __expf(s[g] - mNew);
                    l[g] = l[g] * corr + p;
#pragma unroll
                    for (int i = 0; i < 8; ++i)
                        acc[g][i] = acc[g][i] * corr + p * vf[i];
                    m[g] = mNew;
                }
            }
        }
    }
    __shared__ float smM[ROWS][G], smL[ROWS][G];
    __shared__ float smAcc[ROWS][G][D];
#pragma unroll
    for (int g = 0; g < G; ++g) {
        if (lane == 0) {
            smM[grp][g] = m[g];
            smL[grp][g] = l[g];
        }
#pragma unroll
        for (int i = 0; i < 8; ++i)
            smAcc[grp][g][lane * 8 + i] = acc[g][i];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < G * D; idx += kThreads) {
        const int g = idx / D, d = idx % D;
        float M = -INFINITY;
        for (int r = 0; r < ROWS; ++r)
            M = fmaxf(M, smM[r][g]);
        float L = 0.0f, A = 0.0f;
        for (int r = 0; r < ROWS; ++r) {
            const float w = smM[r][g] == -INFINITY ? 0.0f : __expf(smM[r][g] - M);
            L += smL[r][g] * w;
            A += smAcc[r][g][d] * w;
        }
        float* out = partials + (size_t(blockIdx.x) * G + g) * (D + 2);
        out[d] = A;
        if (d == 0) {
            out[D] = M;
            out[D + 1] = L;
        }
    }
}

// Merges the items of each pair: out = sum(acc_i e^(m_i - M)) / sum(l_i e^(m_i - M)).
template <int D, int G>
__global__ void __launch_bounds__(kThreads) combineKernel(const int* firstItem, const float* partials, float* out)
{
    const int pair = blockIdx.x;
    const int first = firstItem[pair], last = firstItem[pair + 1];
    for (int idx = threadIdx.x; idx < G * D; idx += kThreads) {
        const int g = idx / D, d = idx % D;
        float M = -INFINITY;
        for (int it = first; it < last; ++it)
            M = fmaxf(M, partials[(size_t(it) * G + g) * (D + 2) + D]);
        float L = 0.0f, A = 0.0f;
        for (int it = first; it < last; ++it) {
            const float* p = partials + (size_t(it) * G + g) * (D + 2);
            const float w = __expf(p[D] - M);
            L += p[D + 1] * w;
            A += p[d] * w;
        }
        out[(size_t(pair) * G + g) * D + d] = L > 0.0f ? A / L : 0.0f;
    }
}

template <int D, int G>
void launchTyped(int items, int pairs, const void* views, const void* itemList, const void* first, const float* q,
                 float* partials, float* out, float scale, cudaStream_t stream)
{
    if (items > 0)
        partialKernel<D, G><<<items, kThreads, 0, stream>>>(static_cast<const KvView*>(views), static_cast<const int4*>(itemList),
                                                            q, partials, scale);
    FAIRKV_CUDA(cudaGetLastError());
    if (pairs > 0)
        combineKernel<D, G><<<pairs, kThreads, 0, stream>>>(static_cast<const int*>(first), partials, out);
    FAIRKV_CUDA(cudaGetLastError());
}

template <int D>
void launchForDim(int group, int items, int pairs, const void* views, const void* itemList, const void* first, const float* q,
                  float* partials, float* out, float scale, cudaStream_t stream)
{
    switch (group) {
    case 1:
        return launchTyped<D, 1>(items, pairs, views, itemList, first, q, partials, out, scale, stream);
    case 2:
        return launchTyped<D, 2>(items, pairs, views, itemList, first, q, partials, out, scale, stream);
    case 4:
        return launchTyped<D, 4>(items, pairs, views, itemList, first, q, partials, out, scale, stream);
    case 8:
        return launchTyped<D, 8>(items, pairs, views, itemList, first, q, partials, out, scale, stream);
    default:
        throw fairkv::Error("the CUDA decode attention supports query groups of 1, 2, 4 or 8 heads, not " + std::to_string(group));
    }
}

template <typename T>
void ensure(void*& ptr, size_t& capacity, size_t bytes)
{
    if (bytes <= capacity)
        return;
    if (ptr)
        FAIRKV_CUDA(cudaFree(ptr));
    ptr = nullptr;
    FAIRKV_CUDA(cudaMalloc(&ptr, bytes));
    capacity = bytes;
}

} // namespace

RaggedDecodeAttention::RaggedDecodeAttention()
{
    int device = 0;
    FAIRKV_CUDA(cudaGetDevice(&device));
    FAIRKV_CUDA(cudaDeviceGetAttribute(&m_smCount, cudaDevAttrMultiProcessorCount, device));
}

RaggedDecodeAttention::~RaggedDecodeAttention()
{
    cudaFree(m_deviceViews);
    cudaFree(m_deviceItems);
    cudaFree(m_deviceFirst);
    cudaFree(m_partials);
}

void RaggedDecodeAttention::prepare(const std::vector<KvView>& pairs, int groupSize, int headDim, cudaStream_t stream)
{
    if (headDim != 64 && headDim != 128)
        throw fairkv::Error("the CUDA decode attention supports head_dim 64 or 128, not " + std::to_string(headDim));
    m_pairs = int(pairs.size());
    m_group = groupSize;
    m_dim = headDim;
    size_t total = 0;
    for (const KvView& p : pairs)
        total += size_t(p.length);
    // Chunks: enough work items to fill every SM a few times over, none shorter than a few rows of
    // the block, so launch and merge costs stay small against the KV read.
    const size_t target = size_t(std::max(1, m_smCount)) * 4;
    m_chunk = int(std::clamp<size_t>((total + target - 1) / std::max<size_t>(target, 1), 64, 4096));
    std::vector<int4> items;
    std::vector<int> first(size_t(m_pairs) + 1, 0);
    for (int p = 0; p < m_pairs; ++p) {
        first[size_t(p)] = int(items.size());
        for (int s = 0; s < pairs[size_t(p)].length; s += m_chunk)
            items.push_back(make_int4(p, s, std::min(s + m_chunk, pairs[size_t(p)].length), first[size_t(p)]));
    }
    first[size_t(m_pairs)] = int(items.size());
    m_items = int(items.size());
    m_bytes = total * 2 * size_t(headDim) * 2 + size_t(m_pairs) * groupSize * headDim * 4 * 2;
    ensure<KvView>(m_deviceViews, m_capViews, std::max<size_t>(1, pairs.size()) * sizeof(KvView));
    ensure<int4>(m_deviceItems, m_capItems, std::max<size_t>(1, items.size()) * sizeof(int4));
    ensure<int>(m_deviceFirst, m_capFirst, first.size() * sizeof(int));
    void* partials = m_partials;
    ensure<float>(partials, m_capPartials, std::max<size_t>(1, items.size()) * groupSize * (headDim + 2) * sizeof(float));
    m_partials = static_cast<float*>(partials);
    FAIRKV_CUDA(cudaMemcpyAsync(m_deviceViews, pairs.data(), pairs.size() * sizeof(KvView), cudaMemcpyHostToDevice, stream));
    FAIRKV_CUDA(cudaMemcpyAsync(m_deviceItems, items.data(), items.size() * sizeof(int4), cudaMemcpyHostToDevice, stream));
    FAIRKV_CUDA(cudaMemcpyAsync(m_deviceFirst, first.data(), first.size() * sizeof(int), cudaMemcpyHostToDevice, stream));
    FAIRKV_CUDA(cudaStreamSynchronize(stream)); // the host vectors go out of scope
}

void RaggedDecodeAttention::launch(const float* q, float* out, float scale, cudaStream_t stream)
{
    if (m_dim == 128)
        launchForDim<128>(m_group, m_items, m_pairs, m_deviceViews, m_deviceItems, m_deviceFirst, q, m_partials, out, scale, stream);
    else
        launchForDim<64>(m_group, m_items, m_pairs, m_deviceViews, m_deviceItems, m_deviceFirst, q, m_partials, out, scale, stream);
}

} // namespace fairkv::cuda
