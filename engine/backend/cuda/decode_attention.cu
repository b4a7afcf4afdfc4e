#include "backend/cuda/cuda_check.h"
#include "backend/cuda/decode_attention.h"
#include "backend/cuda/dependent_launch.cuh"
#include "backend/cuda/device_memory.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <cmath>
#include <string>

namespace fairkv::cuda {

namespace {

constexpr int kThreads = 128;
// Rows of K and V each thread of the row kernel loads before it uses any, so that enough bytes are
// in flight to cover HBM latency (Little's law).
constexpr int kRowsInFlight = 4;

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

// One work item: rows [start, end) of one pair, with where the pair's K/V live and how many items
// the pair was cut into. The pointers sit in the item itself, so a block reaches its K/V after one
// dependent load, not two.
struct WorkItem
{
    const uint16_t* keys;
    const uint16_t* values;
    int pair, start, end, count;
};

// The plan's buffer holds each worker's first item, then the items: a worker reads its first item
// from here, in parallel with its range, instead of after it.
__device__ __forceinline__ const WorkItem* firstItems(const WorkItem* items, int workers)
{
    return items - workers;
}

// A pair cut into `count` consecutive items from `first`: the combine kernel merges their partials.
// A pair with no retained row is one with count 0: the combine kernel writes its zeros.
struct SplitPair
{
    int pair, first, count;
};

// A partial: acc[D], max, sum, two floats of padding, so that every partial starts 16-byte aligned.
// Partials lie head by head, [head][item][dim + 4], so those of one (pair, head) are contiguous.
__host__ __device__ constexpr int partialFloats(int dim)
{
    return dim + 4;
}

// Where results go: dense fp32 [pair][qStride][D], or bf16 at each pair's offset (the o_proj input).
struct Output
{
    void* data;
    const int64_t* offsets; // null: dense
    int bf16;
};

// Where the results of (pair, head) begin in the output, in elements.
__device__ __forceinline__ size_t outputAt(const Output& o, int pair, int qStride, int head, int D)
{
    return (o.offsets ? size_t(o.offsets[pair]) : size_t(pair) * qStride * D) + size_t(head) * D;
}

__device__ __forceinline__ void store(const Output& o, int pair, int qStride, int head, int D, int d, float value)
{
    const size_t at = outputAt(o, pair, qStride, head, D) + d;
    if (o.bf16)
        static_cast<__nv_bfloat16*>(o.data)[at] = __float2bfloat16(value);
    else
        static_cast<float*>(o.data)[at] = value;
}

// Two neighbouring values at an even element `at` (prepare() checks that offsets are even).
__device__ __forceinline__ void storeTwo(const Output& o, size_t at, float v0, float v1)
{
    if (o.bf16)
        *reinterpret_cast<__nv_bfloat162*>(static_cast<__nv_bfloat16*>(o.data) + at) = __floats2bfloat162_rn(v0, v1);
    else
        *reinterpret_cast<float2*>(static_cast<float*>(o.data) + at) = make_float2(v0, v1);
}

// An item's result for head g, dim d: the output itself when the pair is one item, else the
// partial (acc, and once per head max and sum) for the combine kernel.
// q and out hold `qStride` heads per pair; this launch's heads begin at head0 (groups of more than
// 8 heads run in launches of at most 8).
template <int D>
__device__ __forceinline__ void writeResult(const WorkItem& w, int index, float* partials, const Output& out, int G, int qStride,
                                            int head0, int g, int d, float A, float M, float L)
{
    if (w.count == 1) {
        store(out, w.pair, qStride, head0 + g, D, d, L > 0.0f ? A / L : 0.0f);
        return;
    }
    float* part = partials + (size_t(index) * G + g) * partialFloats(D);
    part[d] = A;
    if (d == 0) {
        part[D] = M;
        part[D + 1] = L;
    }
}

// Once a combine block has read them (after its barrier), the partials of its (pair, head) are
// dead. Their L2 lines are dropped without a write-back (discard), so the dirty lines and their
// evict_last priority (see storeEvictLast()) do not outlive the launch and cost the kernels after it
// (the decode step's GEMMs). The line at each end, which a neighbouring (pair, head) may share,
// only gets its normal priority back.
__device__ __forceinline__ void dropPartials(const float* p, size_t bytes)
{
    if (bytes == 0)
        return;
    const uintptr_t lo = reinterpret_cast<uintptr_t>(p), hi = lo + bytes;
    const uintptr_t first = (lo + 127) & ~uintptr_t(127), last = hi & ~uintptr_t(127); // whole lines inside
    for (uintptr_t a = first + uintptr_t(threadIdx.x) * 128; a < last; a += uintptr_t(blockDim.x) * 128)
        asm volatile("discard.global.L2 [%0], 128;\n" ::"l"(a) : "memory");
    if (threadIdx.x == 0) {
        asm volatile("applypriority.global.L2::evict_normal [%0], 128;\n" ::"l"(lo & ~uintptr_t(127)) : "memory");
        asm volatile("applypriority.global.L2::evict_normal [%0], 128;\n" ::"l"((hi - 1) & ~uintptr_t(127)) : "memory");
    }
}

constexpr int kCombineInFlight = 4;  // partials one combine thread loads at once
constexpr int kCombineMaxSubsets = 8; // threads that share one dim quad of a (pair, head)

// Merges the partials of every cut pair: out = sum acc_i e^(m_i - M) / sum l_i e^(m_i - M). One
// block per (cut pair, head); thread (quad, s) takes four dims of partials s, s + S, ... (16-byte
// loads, 4 partials in flight), then the S subsets merge in shared memory, so a pair of n partials
// costs about n / (4 S) round trips to L2 (S from prepare(): enough for the longest run). Since
// each warp of the attention kernel writes its own partials, a pair has up to a few dozen.
// It runs as a kernel of its own, started early by programmatic dependent launch, so the
// attention's blocks end when their streaming does. (Merging in the last block of each pair,
// behind a ticket, had made every launch end with those merges: 4-7 us each.)
template <int D>
__global__ void __launch_bounds__(D / 4 * kCombineMaxSubsets) decodeAttentionCombine(const SplitPair* splits, const float* partials,
                                                                                   int items, int qStride, int head0, Output out)
{
    constexpr int Q = D / 4; // dim quads
    constexpr int P = partialFloats(D);
    const int S = int(blockDim.x) / Q;
    const SplitPair sp = splits[blockIdx.x];
    const int g = blockIdx.y, quad = threadIdx.x % Q, s = threadIdx.x / Q;
    const float* base = partials + (size_t(g) * items + sp.first) * P; // this (pair, head)'s partials, one after another
    waitForPrerequisites();
    float M = -INFINITY, L = 0.0f;
    float4 A = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    for (int i0 = s; i0 < sp.count; i0 += kCombineInFlight * S) {
        float2 ml[kCombineInFlight];
        float4 a[kCombineInFlight];
#pragma unroll
        for (int k = 0; k < kCombineInFlight; ++k) {
            const float* p = base + size_t(i0 + k * S) * P;
            const bool valid = i0 + k * S < sp.count;
            ml[k] = valid ? __ldcg(reinterpret_cast<const float2*>(p + D)) : make_float2(-INFINITY, 0.0f);
            a[k] = valid ? __ldcg(reinterpret_cast<const float4*>(p) + quad) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        }
        float mNew = M;
#pragma unroll
        for (int k = 0; k < kCombineInFlight; ++k)
            mNew = fmaxf(mNew, ml[k].x); // finite: partial i0 exists
        const float corr = __expf(M - mNew); // 0 for the first round
        L *= corr;
        A.x *= corr, A.y *= corr, A.z *= corr, A.w *= corr;
#pragma unroll
        for (int k = 0; k < kCombineInFlight; ++k) {
            const float wgt = __expf(ml[k].x - mNew); // 0 past the pair's partials
            L += ml[k].y * wgt;
            A.x += a[k].x * wgt, A.y += a[k].y * wgt, A.z += a[k].z * wgt, A.w += a[k].w * wgt;
        }
        M = mNew;
    }
    __shared__ float4 subsetAcc[kCombineMaxSubsets][Q];
    __shared__ float subsetMax[kCombineMaxSubsets], subsetSum[kCombineMaxSubsets];
    subsetAcc[s][quad] = A;
    if (quad == 0)
        subsetMax[s] = M, subsetSum[s] = L;
    __syncthreads(); // every partial of this (pair, head) has been read
    if (s == 0) {
        float Mx = -INFINITY;
        for (int j = 0; j < S; ++j)
            Mx = fmaxf(Mx, subsetMax[j]);
        float Lt = 0.0f;
        float4 At = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        for (int j = 0; j < S; ++j) {
            if (subsetMax[j] == -INFINITY) // a subset with no partial; all of them for a pair of no row
                continue;
            const float wgt = __expf(subsetMax[j] - Mx);
            const float4 a = subsetAcc[j][quad];
            Lt += subsetSum[j] * wgt;
            At.x += a.x * wgt, At.y += a.y * wgt, At.z += a.z * wgt, At.w += a.w * wgt;
        }
        const float inv = Lt > 0.0f ? 1.0f / Lt : 0.0f;
        const size_t at = outputAt(out, sp.pair, qStride, head0 + g, D) + quad * 4;
        storeTwo(out, at, At.x * inv, At.y * inv);
        storeTwo(out, at + 2, At.z * inv, At.w * inv);
    }
    dropPartials(base, size_t(sp.count) * P * sizeof(float)); // the other subsets' threads start at once
}

// One work item = rows [start, end) of one pair. Each token row is read by D/8 threads with one
// 16-byte load each (K and V), all G query heads of the group use it; rows are spread over the
// block's row groups, each keeping an online softmax; the groups are merged in shared memory.
template <int D, int G>
__device__ void rowsItem(const WorkItem& w, int index, const float* q, float* partials, float scale, const Output& out)
{
    constexpr int TPT = D / 8;             // threads per token row
    constexpr int ROWS = kThreads / TPT;   // token rows in flight per block
    const int pair = w.pair, start = w.start, end = w.end;
    const int lane = threadIdx.x % TPT, grp = threadIdx.x / TPT;
    const uint4* K = reinterpret_cast<const uint4*>(w.keys);
    const uint4* V = reinterpret_cast<const uint4*>(w.values);

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
    // U rows per thread are loaded before any is used (kRowsInFlight); the loop bound is uniform
    // across the block (shuffles need every lane).
    constexpr int U = kRowsInFlight;
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
            const float wgt = smM[r][g] == -INFINITY ? 0.0f : __expf(smM[r][g] - M);
            L += smL[r][g] * wgt;
            A += smAcc[r][g][d] * wgt;
        }
        writeResult<D>(w, index, partials, out, G, G, 0, g, d, A, M, L);
    }
}

// Asks L2 for the rows a block of the row kernel reads first, but the item's last row: what it can
// fetch while the kernel before it (the decode step's RoPE + KV append, which writes q and the last
// row of each pair) still runs. One request per 128-byte line.
template <int D>
__device__ __forceinline__ void prefetchFirstRows(const WorkItem& w)
{
    constexpr int TPT = D / 8, ROWS = kThreads / TPT, U = kRowsInFlight; // rowsItem()'s first pass
    const int lane = threadIdx.x % TPT, grp = threadIdx.x / TPT;
    if ((lane * 16) % 128 != 0)
        return;
#pragma unroll
    for (int u = 0; u < U; ++u) {
        const int t = w.start + grp + u * ROWS;
        if (t + 1 < w.end) {
            asm volatile("prefetch.global.L2 [%0];\n" ::"l"(reinterpret_cast<const uint4*>(w.keys) + size_t(t) * TPT + lane));
            asm volatile("prefetch.global.L2 [%0];\n" ::"l"(reinterpret_cast<const uint4*>(w.values) + size_t(t) * TPT + lane));
        }
    }
}

// A block takes the consecutive items blockFirst[b] .. blockFirst[b + 1] - 1: one wave of blocks
// with equal shares of rows (see prepare()), so no wave runs part-empty at the end. Its first item
// is also copied just before the items (firstItems()), so the block reaches its first K/V after
// one load, not two.
// At most 64 registers (8 resident blocks instead of 7): 0.3-0.5% more bandwidth in every cell on
// the H100, no spills.
template <int D, int G>
__global__ void __launch_bounds__(kThreads, 8) decodeAttentionRows(const WorkItem* items, const int* blockFirst, const float* q,
                                                       float* partials, float scale, Output out)
{
    // writeResult() indexes partials [item][head]; the combine reads [head][item]: the same for one head.
    static_assert(G == 1, "the row kernel runs single heads; groups run on the tensor cores");
    launchDependents();
    const WorkItem first = firstItems(items, gridDim.x)[blockIdx.x];
    if (blockFirst[blockIdx.x] < blockFirst[blockIdx.x + 1])
        prefetchFirstRows<D>(first);
    waitForPrerequisites(); // q, and the last row of each pair, may come from the kernel before (an early launch)
    for (int it = blockFirst[blockIdx.x], begin = it, stop = blockFirst[blockIdx.x + 1]; it < stop; ++it) {
        const WorkItem w = it == begin ? first : items[it];
        rowsItem<D, G>(w, it, q, partials, scale, out);
        __syncthreads(); // shared memory is reused by the next item
    }
}

// ---- tensor cores for GQA groups (G = 2..8) ---------------------------------------------------
// The per-row kernel above repeats the softmax of all G heads in every lane (16 exps, 32 shuffles
// per row at G = 8): 20-40% of HBM bandwidth on the H100. Here each warp takes 16-token tiles:
// S = K.Q^T on tensor cores (mma m16n8k16, bf16 in, fp32 out; heads padded to 8 columns, Q held in
// registers as the B fragment, K read with ldmatrix), the softmax per head over the C fragment
// (3 shuffles per value), then O += P.V on tensor cores (P^T restaged through shared memory, V read
// with ldmatrix.trans). K and V tiles arrive by cp.async, kMmaStages buffers per warp. q and P are
// rounded to bf16 for the tensor cores; accumulation stays fp32.

__device__ __forceinline__ void cpAsync16Shared(unsigned smem, const void* gmem, bool valid)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem), "l"(gmem), "r"(valid ? 16 : 0));
}

// A store that L2 keeps ahead of streamed data (evict_last): the partials the combine kernel
// reads back. Behind them the split-KV kernel streams up to hundreds of MB of K/V through a 50 MB
// L2, which can evict a partial written early in the launch before the combine reads it. On the
// H100 this made the larger GQA launches 1-3% faster (docs/gpu-benchmark.md).
__device__ __forceinline__ void storeEvictLast(float* at, float2 v)
{
    uint64_t policy;
    asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;\n" : "=l"(policy));
    asm volatile("st.global.L2::cache_hint.v2.f32 [%0], {%1, %2}, %3;\n" ::"l"(at), "f"(v.x), "f"(v.y), "l"(policy) : "memory");
}

__device__ __forceinline__ void cpAsyncCommit()
{
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int N>
__device__ __forceinline__ void cpAsyncWait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix4(unsigned r[4], unsigned s)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}

__device__ __forceinline__ void ldmatrix4Trans(unsigned r[4], unsigned s)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}

__device__ __forceinline__ void mma16816(float c[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned packBf16(float lo, float hi)
{
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const unsigned*>(&v);
}

constexpr int kMmaWarps = 4;
constexpr int kMmaHeads = 8; // query heads in one MMA's N, and at most in one launch
constexpr int kMmaTile = 16; // tokens per tile
// Tiles each warp has in flight. Three, with two blocks per SM (the shared memory they take),
// beat two with three blocks per SM on the H100: fewer workers cut fewer pairs, so there are
// fewer items and partials, and each warp keeps more bytes in flight (docs/gpu-benchmark.md).
constexpr int kMmaStages = 3;

template <int D>
__host__ __device__ constexpr int mmaRowBytes()
{
    return D * 2 + 16; // a 16-byte pad: ldmatrix rows land in different banks
}

template <int D, int S>
__host__ __device__ constexpr int mmaWarpBytes()
{
    return S /*buffers*/ * 2 /*K, V*/ * kMmaTile * mmaRowBytes<D>() + (kMmaTile * 8 + 8) * 4 /*P^T, corrections*/;
}

// Each warp streams the tiles of its own items, one after another, and its next S tiles (S
// buffers; kMmaStages) are in flight while it computes, also across the end of an item. At an
// item's end the warp writes its result (or its partial, for the combine kernel) from registers:
// no shared memory, no barrier, so a warp never waits for the others of its block. (Blocks had shared their items among their four
// warps and merged them at every item's end behind two barriers: about 2.5 us per item.)
template <int D, int S>
__global__ void __launch_bounds__(kMmaWarps * 32) decodeAttentionMma(const WorkItem* items, const int* warpFirst, const float* q,
                                                                     float* partials, int itemCount, float scale, int G, int qStride, int head0,
                                                                     Output out)
{
    constexpr int RB = mmaRowBytes<D>();
    constexpr int BUF = 2 * kMmaTile * RB; // K and V of one tile
    constexpr int KS = D / 16;             // k-steps of S = K.Q^T
    constexpr int NT = D / 8;              // n-tiles of O = P.V
    constexpr int CHUNKS = D / 8;
    extern __shared__ __align__(16) unsigned char smem[];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gid = lane >> 2, tq = lane & 3, mat = lane / 8;
    unsigned char* region = smem + warp * mmaWarpBytes<D, S>();
    float* pT = reinterpret_cast<float*>(region + S * BUF); // [16 tokens][8 heads]
    float* corrS = pT + kMmaTile * 8;                       // [8 heads]
    launchDependents();
    const int worker = blockIdx.x * kMmaWarps + warp;
    const int itBegin = warpFirst[worker], itEnd = warpFirst[worker + 1];
    const WorkItem first = firstItems(items, gridDim.x * kMmaWarps)[worker]; // beside the loads above, not after them
    if (itBegin >= itEnd) {
        waitForPrerequisites(); // so that this grid's end still implies the one before it
        return;                 // nothing in this kernel waits for the warps of a block
    }

    // The warp's next tile to load: rows [nextRow, nextRow + 16) of item nextIt.
    int nextIt = itBegin, nextRow = 0, nextEnd = 0;
    const unsigned char* nextK = nullptr;
    const unsigned char* nextV = nullptr;
    auto take = [&](const WorkItem& w) { // items are never empty (see prepare())
        nextRow = w.start;
        nextEnd = w.end;
        nextK = reinterpret_cast<const unsigned char*>(w.keys);
        nextV = reinterpret_cast<const unsigned char*>(w.values);
    };
    auto seek = [&](int it) {
        nextIt = it;
        if (it < itEnd)
            take(items[it]);
    };
    take(first);
    int inflight = 0, loadBuf = 0, compBuf = 0;
    // In-flight loads, oldest first (item, rows of the tile); indexed only by unrolled constants,
    // so they stay in registers.
    int pendIt[S], pendRows[S];
    // A lane copies 16-byte chunk lc of rows lr, lr + RPP, ... of a tile: its shared and global
    // addresses advance by constants, so a copy costs a compare, a select and the copy itself (the
    // index arithmetic per copy had been 45% of the kernel's instructions, measured with ncu).
    constexpr int RPP = 32 / CHUNKS; // rows one pass of the warp covers
    const int lr = lane / CHUNKS;
    const unsigned laneShared = unsigned(__cvta_generic_to_shared(region)) + lr * RB + (lane % CHUNKS) * 16;
    const size_t laneGlobal = size_t(lr) * D * 2 + (lane % CHUNKS) * 16;
    // ldmatrix: lane l gives the row address of matrix l / 8 (rows l % 8, + 8 for odd matrices;
    // columns + 8 for matrices 2 and 3).
    const unsigned laneMatrix = unsigned(__cvta_generic_to_shared(region)) + ((lane % 8) + (mat & 1) * 8) * RB + (mat >> 1) * 16;
    auto issue = [&] {
        const unsigned sK = laneShared + loadBuf * BUF, sV = sK + kMmaTile * RB;
        const int t0 = nextRow;
        const int left = nextEnd - t0 - lr; // rows from this lane's first row to the item's end
        const unsigned char* gK = nextK + size_t(t0) * D * 2 + laneGlobal;
        const unsigned char* gV = nextV + size_t(t0) * D * 2 + laneGlobal;
#pragma unroll
        for (int i = 0; i < kMmaTile / RPP; ++i) {
            const bool valid = i * RPP < left; // past the end: zero-filled, nothing read
            cpAsync16Shared(sK + i * RPP * RB, valid ? gK + i * RPP * D * 2 : nextK, valid);
            cpAsync16Shared(sV + i * RPP * RB, valid ? gV + i * RPP * D * 2 : nextV, valid);
        }
        cpAsyncCommit();
#pragma unroll
        for (int k = 0; k < S; ++k)
            if (k == inflight)
                pendIt[k] = nextIt, pendRows[k] = min(kMmaTile, nextEnd - t0);
        ++inflight;
        loadBuf = loadBuf + 1 == S ? 0 : loadBuf + 1;
        nextRow += kMmaTile;
        if (nextRow >= nextEnd)
            seek(nextIt + 1);
    };
    auto topUp = [&] {
        while (inflight < S && nextIt < itEnd)
            issue();
    };

    // Until the kernel before this one has finished (an early launch, see launch(): the decode
    // step's RoPE + KV append, which writes q and the last row of each pair), only tiles that end
    // before their item's last row are loaded.
    while (inflight < S && nextRow + kMmaTile < nextEnd)
        issue();
    waitForPrerequisites();

    // The item and its q rows are loaded one item ahead, while the tiles of the item before stream,
    // so a warp does not stall on them at the start of each item.
    const bool realHead = gid < G;
    float2 qn[KS][2]; // q[head gid][k0 + 2tq, +1] and [k0 + 2tq + 8, +9] of the next item
    WorkItem nextItem{};
    auto prefetch = [&](const WorkItem& w) {
        nextItem = w;
#pragma unroll
        for (int ks = 0; ks < KS; ++ks) {
            const float* qr = q + (size_t(nextItem.pair) * qStride + head0 + (realHead ? gid : 0)) * D + ks * 16 + tq * 2;
            qn[ks][0] = *reinterpret_cast<const float2*>(qr);
            qn[ks][1] = *reinterpret_cast<const float2*>(qr + 8);
        }
    };
    topUp();
    prefetch(first);
    for (int it = itBegin; it < itEnd; ++it) {
        const WorkItem item = nextItem;
        // Q^T as B fragments: b0 = q[head gid][k0 + 2tq, +1], b1 = q[head gid][k0 + 2tq + 8, +9]; heads >= G are 0.
        unsigned qb[KS][2];
#pragma unroll
        for (int ks = 0; ks < KS; ++ks) {
            qb[ks][0] = realHead ? packBf16(qn[ks][0].x * scale, qn[ks][0].y * scale) : 0u;
            qb[ks][1] = realHead ? packBf16(qn[ks][1].x * scale, qn[ks][1].y * scale) : 0u;
        }
        if (it + 1 < itEnd)
            prefetch(items[it + 1]);
        float m[2] = {-INFINITY, -INFINITY}, lp[2] = {0.0f, 0.0f}; // heads 2tq, 2tq+1 (C columns)
        float acc[NT][2];                                          // O rows: head gid, dims nt*8 + 2tq, +1
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
            acc[nt][0] = acc[nt][1] = 0.0f;

        while (inflight > 0 && pendIt[0] == it) {
            static_assert(S >= 2 && S <= 4, "cp.async.wait_group takes a constant: one branch per count");
            if (S >= 4 && inflight == 4)
                cpAsyncWait<3>();
            else if (S >= 3 && inflight == 3)
                cpAsyncWait<2>();
            else if (inflight == 2)
                cpAsyncWait<1>();
            else
                cpAsyncWait<0>();
            __syncwarp();
            const unsigned ldK = laneMatrix + compBuf * BUF, ldV = ldK + kMmaTile * RB;
            const int rows = pendRows[0];
            // S = K.Q^T: C rows = tokens gid, gid + 8; columns = heads 2tq, 2tq + 1.
            float sc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int ks = 0; ks < KS; ++ks) {
                unsigned a[4];
                ldmatrix4(a, ldK + ks * 32);
                mma16816(sc, a[0], a[1], a[2], a[3], qb[ks][0], qb[ks][1]);
            }
            if (gid >= rows)
                sc[0] = sc[1] = -INFINITY;
            if (gid + 8 >= rows)
                sc[2] = sc[3] = -INFINITY;
            float mx0 = fmaxf(sc[0], sc[2]), mx1 = fmaxf(sc[1], sc[3]);
#pragma unroll
            for (int off = 4; off < 32; off <<= 1) {
                mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
                mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
            }
            const float mn0 = fmaxf(m[0], mx0), mn1 = fmaxf(m[1], mx1);
            const float c0 = __expf(m[0] - mn0), c1 = __expf(m[1] - mn1);
            const float p0 = __expf(sc[0] - mn0), p1 = __expf(sc[1] - mn1), p2 = __expf(sc[2] - mn0), p3 = __expf(sc[3] - mn1);
            lp[0] = lp[0] * c0 + p0 + p2;
            lp[1] = lp[1] * c1 + p1 + p3;
            m[0] = mn0;
            m[1] = mn1;
            pT[gid * 8 + tq * 2] = p0;
            pT[gid * 8 + tq * 2 + 1] = p1;
            pT[(gid + 8) * 8 + tq * 2] = p2;
            pT[(gid + 8) * 8 + tq * 2 + 1] = p3;
            if (gid == 0) {
                corrS[tq * 2] = c0;
                corrS[tq * 2 + 1] = c1;
            }
            __syncwarp();
            // O += P.V: A rows = heads (gid; rows 8-15 padding), columns = tokens.
            const float corr = corrS[gid];
            // The running max of a head rarely rises after the first tiles: rescale only when it
            // did for some head of the warp (corr is exactly 1 otherwise).
            if (__any_sync(0xffffffffu, corr != 1.0f)) {
#pragma unroll
                for (int nt = 0; nt < NT; ++nt)
                    acc[nt][0] *= corr, acc[nt][1] *= corr;
            }
            const unsigned pa0 = packBf16(pT[(tq * 2) * 8 + gid], pT[(tq * 2 + 1) * 8 + gid]);
            const unsigned pa2 = packBf16(pT[(tq * 2 + 8) * 8 + gid], pT[(tq * 2 + 9) * 8 + gid]);
#pragma unroll
            for (int nt = 0; nt < NT; nt += 2) {
                unsigned b[4];
                ldmatrix4Trans(b, ldV + nt * 16);
                float o0[4] = {acc[nt][0], acc[nt][1], 0.0f, 0.0f};
                float o1[4] = {acc[nt + 1][0], acc[nt + 1][1], 0.0f, 0.0f};
                mma16816(o0, pa0, 0u, pa2, 0u, b[0], b[1]);
                mma16816(o1, pa0, 0u, pa2, 0u, b[2], b[3]);
                acc[nt][0] = o0[0];
                acc[nt][1] = o0[1];
                acc[nt + 1][0] = o1[0];
                acc[nt + 1][1] = o1[1];
            }
            __syncwarp(); // pT and this buffer are reused
            compBuf = compBuf + 1 == S ? 0 : compBuf + 1;
#pragma unroll
            for (int k = 0; k + 1 < S; ++k)
                pendIt[k] = pendIt[k + 1], pendRows[k] = pendRows[k + 1];
            --inflight;
            topUp();
        }
        // Sum the per-lane partial row sums over the 8 token rows of each head; then each lane
        // takes the max and sum of its acc row's head (gid) from the lane holding that C column.
#pragma unroll
        for (int off = 4; off < 32; off <<= 1) {
            lp[0] += __shfl_xor_sync(0xffffffffu, lp[0], off);
            lp[1] += __shfl_xor_sync(0xffffffffu, lp[1], off);
        }
        const int from = gid >> 1; // lane (gid 0, tq = gid / 2) holds head gid's column
        const float l0 = __shfl_sync(0xffffffffu, lp[0], from), l1 = __shfl_sync(0xffffffffu, lp[1], from);
        const float m0 = __shfl_sync(0xffffffffu, m[0], from), m1 = __shfl_sync(0xffffffffu, m[1], from);
        const float L = (gid & 1) ? l1 : l0, M = (gid & 1) ? m1 : m0;
        if (item.count == 1) {
            if (realHead) {
                const float inv = L > 0.0f ? 1.0f / L : 0.0f;
                const size_t at = outputAt(out, item.pair, qStride, head0 + gid, D) + tq * 2;
#pragma unroll
                for (int nt = 0; nt < NT; ++nt)
                    storeTwo(out, at + nt * 8, acc[nt][0] * inv, acc[nt][1] * inv);
            }
        } else {
            if (realHead) {
                float* part = partials + (size_t(gid) * itemCount + it) * partialFloats(D);
#pragma unroll
                for (int nt = 0; nt < NT; ++nt)
                    storeEvictLast(part + nt * 8 + tq * 2, make_float2(acc[nt][0], acc[nt][1]));
                if (tq == 0)
                    storeEvictLast(part + D, make_float2(M, L));
            }
        }
    }
}

// Rows one worker's pass covers (a row-kernel block's pass, a tensor-core warp's tile): the
// granule a plan splits pairs by.
int granuleRows(int dim, int group)
{
    return group == 1 ? kThreads / (dim / 8) * 4 : kMmaTile;
}

// The kernel for (dim, group): the row kernel for single heads, the tensor-core kernel for groups,
// and its dynamic shared memory. The shared-memory opt-in is a property of the kernel on the
// current device: set once per device, and rank threads of several GPUs get here at the same time.
struct Kernel
{
    const void* fn = nullptr;
    int sharedBytes = 0;
};

template <int D>
Kernel kernelForDim(int group)
{
    if (group < 1)
        throw fairkv::Error("the CUDA decode attention needs at least one query head per KV head, not " + std::to_string(group));
    if (group == 1)
        return {reinterpret_cast<const void*>(decodeAttentionRows<D, 1>), 0};
    return {reinterpret_cast<const void*>(decodeAttentionMma<D, kMmaStages>), kMmaWarps * mmaWarpBytes<D, kMmaStages>()};
}

Kernel configuredKernel(int dim, int group)
{
    const Kernel k = dim == 128 ? kernelForDim<128>(group) : dim == 64 ? kernelForDim<64>(group) : kernelForDim<32>(group);
    if (k.sharedBytes <= 48 * 1024)
        return k;
    static std::mutex mutex;
    static std::set<std::pair<int, const void*>> configured;
    int device = 0;
    FAIRKV_CUDA(cudaGetDevice(&device));
    std::lock_guard<std::mutex> lock(mutex);
    if (configured.insert({device, k.fn}).second) {
        const cudaError_t rc = cudaFuncSetAttribute(k.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, k.sharedBytes);
        if (rc != cudaSuccess)
            configured.erase({device, k.fn});
        check(rc, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
    }
    return k;
}

// Where a launch reads its plan and writes its results.
struct LaunchArgs
{
    int blocks = 0, sharedBytes = 0, splits = 0, combineSubsets = 1, itemCount = 0;
    bool dependentLaunch = false; // the kernels were built with griddepcontrol (sm_90 and later)
    const WorkItem* items = nullptr;
    const int* firsts = nullptr; // first item of each worker
    const SplitPair* splitPairs = nullptr;
    const float* q = nullptr;
    float* partials = nullptr;
    Output out{};
    float scale = 1.0f;
};

// The combine kernel of `heads` heads, launched as a programmatic dependent of the attention
// kernel before it (also inside a CUDA graph capture, where it becomes a programmatic edge).
template <int D>
void launchCombine(const LaunchArgs& a, int heads, int qStride, int head0, cudaStream_t stream)
{
    if (a.splits == 0)
        return;
    cudaLaunchConfig_t config{};
    config.gridDim = dim3(unsigned(a.splits), unsigned(heads));
    config.blockDim = dim3(unsigned(D / 4 * a.combineSubsets));
    config.stream = stream;
    cudaLaunchAttribute attribute{};
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    config.attrs = &attribute;
    config.numAttrs = a.dependentLaunch ? 1 : 0; // else an ordinary launch after the split-KV kernel
    FAIRKV_CUDA(cudaLaunchKernelEx(&config, decodeAttentionCombine<D>, a.splitPairs, static_cast<const float*>(a.partials),
                                   a.itemCount, qStride, head0, a.out));
}

// A group of more than 8 query heads (multi-query attention, Falcon-40B's 16) runs as launches
// of at most 8 heads, the tensor cores' N, each reading the pairs' K/V again; the plan and the
// partials are reused, since launches on one stream run one after another.
template <int D>
void launchForDim(int group, const LaunchArgs& a, bool early, cudaStream_t stream)
{
    if (group == 1) {
        if (a.blocks > 0)
            launchDependent(decodeAttentionRows<D, 1>, dim3(unsigned(a.blocks)), dim3(unsigned(kThreads)), 0, stream, early, a.items,
                            a.firsts, a.q, a.partials, a.scale, a.out);
        launchCombine<D>(a, 1, 1, 0, stream);
        return;
    }
    for (int head0 = 0; head0 < group; head0 += kMmaHeads) {
        const int heads = std::min(kMmaHeads, group - head0);
        if (a.blocks > 0) // later launches follow the combine of the one before: never early
            launchDependent(decodeAttentionMma<D, kMmaStages>, dim3(unsigned(a.blocks)), dim3(unsigned(kMmaWarps * 32)),
                            size_t(a.sharedBytes), stream, early && head0 == 0, a.items, a.firsts, a.q, a.partials, a.itemCount,
                            a.scale, heads, group, head0, a.out);
        launchCombine<D>(a, heads, group, head0, stream);
    }
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
    cudaFree(m_deviceItems);
    cudaFree(m_deviceFirsts);
    cudaFree(m_deviceSplits);
    cudaFree(m_deviceOffsets);
    cudaFree(m_partials);
}

void RaggedDecodeAttention::prepare(const std::vector<KvView>& pairs, int groupSize, int headDim, cudaStream_t stream,
                                    const std::vector<int64_t>& outputOffsets)
{
    if (headDim != 32 && headDim != 64 && headDim != 128)
        throw fairkv::Error("the CUDA decode attention supports head_dim 32, 64 or 128, not " + std::to_string(headDim));
    if (!outputOffsets.empty() && outputOffsets.size() != pairs.size()) // before any state changes
        throw fairkv::Error("decode attention: " + std::to_string(outputOffsets.size()) + " output offsets for "
                            + std::to_string(pairs.size()) + " pairs");
    for (size_t e = 0; e < outputOffsets.size(); ++e)
        if (outputOffsets[e] < 0 || outputOffsets[e] % 2 != 0) // results are stored two at a time
            throw fairkv::Error("decode attention: output offset " + std::to_string(outputOffsets[e]) + " of pair "
                                + std::to_string(e) + " is not a non-negative even element index");
    const Kernel kernel = configuredKernel(headDim, groupSize); // also rejects a group it cannot run
    if (kernel.fn != m_kernel) {
        // Loads the combine kernel now (lazy loading would load it at its first launch, which may
        // come in a decode step that waits behind the launch gate; loading waits for the GPU).
        cudaFuncAttributes combine{};
        const void* combineFn = headDim == 128 ? reinterpret_cast<const void*>(decodeAttentionCombine<128>)
                                : headDim == 64 ? reinterpret_cast<const void*>(decodeAttentionCombine<64>)
                                                : reinterpret_cast<const void*>(decodeAttentionCombine<32>);
        FAIRKV_CUDA(cudaFuncGetAttributes(&combine, combineFn));
        int resident = 0;
        FAIRKV_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&resident, kernel.fn, groupSize == 1 ? kThreads : kMmaWarps * 32,
                                                                  size_t(kernel.sharedBytes)));
        m_resident = std::max(1, resident);
        m_kernel = kernel.fn;
        // The combine kernel starts early only where the kernels carry griddepcontrol (a kernel
        // JIT-compiled from older PTX has no wait for the partials).
        m_dependentLaunch = carriesGridDependency(kernel.fn);
    }
    m_sharedBytes = kernel.sharedBytes;
    m_pairs = int(pairs.size());
    m_group = groupSize;
    m_dim = headDim;

    // One wave of blocks; every worker gets an equal share of the rows. Rows are counted in
    // granules (a worker's pass over a pair), pairs laid end to end; a share may end one pair and
    // begin the next, and a long pair is cut over several workers whose partials the combine
    // kernel merges.
    const int granule = granuleRows(headDim, groupSize);
    std::vector<int64_t> cum(size_t(m_pairs) + 1, 0);
    size_t totalRows = 0;
    for (int p = 0; p < m_pairs; ++p) {
        const int len = pairs[size_t(p)].length;
        if (len < 0)
            throw fairkv::Error("decode attention: pair " + std::to_string(p) + " has a negative length");
        totalRows += size_t(len);
        cum[size_t(p) + 1] = cum[size_t(p)] + (len + granule - 1) / granule;
    }
    const int64_t total = cum.back();
    // Shares go to workers: blocks of the row kernel, warps of the tensor-core kernel (whose warps
    // run their items on their own). There are as many blocks as give each worker two granules or
    // more, up to one wave; with fewer granules than workers, a worker with an empty share returns
    // at once.
    const int perBlock = groupSize == 1 ? 1 : kMmaWarps;
    const int64_t minGranules = 2 * perBlock;
    m_blocks = int(std::min<int64_t>((total + minGranules - 1) / minGranules, int64_t(std::max(1, m_smCount)) * m_resident));
    const int workers = m_blocks * perBlock;
    std::vector<WorkItem> items;
    std::vector<int> workerFirst(size_t(workers) + 1, 0);
    int p = 0;
    for (int b = 0; b < workers; ++b) {
        workerFirst[size_t(b)] = int(items.size());
        int64_t g = total * b / workers;
        const int64_t stop = total * (b + 1) / workers;
        while (g < stop) {
            while (cum[size_t(p) + 1] <= g)
                ++p;
            const int64_t take = std::min(stop, cum[size_t(p) + 1]);
            const KvView& v = pairs[size_t(p)];
            WorkItem w{};
            w.keys = v.keys;
            w.values = v.values;
            w.pair = p;
            w.start = int((g - cum[size_t(p)]) * granule);
            w.end = int(std::min<int64_t>((take - cum[size_t(p)]) * granule, v.length));
            items.push_back(w);
            g = take;
        }
    }
    workerFirst[size_t(workers)] = int(items.size());
    std::vector<SplitPair> splits; // pairs cut into several items and pairs of no row, for the combine kernel
    for (int e = 0; e < m_pairs; ++e)
        if (pairs[size_t(e)].length == 0)
            splits.push_back({e, 0, 0});
    for (size_t i = 0; i < items.size();) {
        size_t j = i;
        while (j < items.size() && items[j].pair == items[i].pair)
            ++j;
        for (size_t k = i; k < j; ++k)
            items[k].count = int(j - i);
        if (j - i > 1)
            splits.push_back({items[i].pair, int(i), int(j - i)});
        i = j;
    }
    m_splits = int(splits.size());
    int longest = 0;
    for (const SplitPair& sp : splits)
        longest = std::max(longest, sp.count);
    m_combineSubsets = 1; // enough that the longest run of partials takes one round of loads
    while (m_combineSubsets < kCombineMaxSubsets && m_combineSubsets * kCombineInFlight < longest)
        m_combineSubsets *= 2;
    m_items = int(items.size());
    m_bytes = totalRows * 2 * size_t(headDim) * 2 + size_t(m_pairs) * groupSize * headDim * 4 * 2;
    m_hasOffsets = !outputOffsets.empty();
    if (m_hasOffsets)
        growBuffer(m_deviceOffsets, m_capOffsets, outputOffsets.size() * sizeof(int64_t), "decode attention plan");
    std::vector<WorkItem> plan(static_cast<size_t>(workers)); // each worker's first item (see firstItems()), then the items
    for (int w = 0; w < workers; ++w)
        if (workerFirst[size_t(w)] < workerFirst[size_t(w) + 1])
            plan[size_t(w)] = items[size_t(workerFirst[size_t(w)])];
    plan.insert(plan.end(), items.begin(), items.end());
    growBuffer(m_deviceItems, m_capItems, std::max<size_t>(1, plan.size()) * sizeof(WorkItem), "decode attention plan");
    growBuffer(m_deviceFirsts, m_capFirsts, workerFirst.size() * sizeof(int), "decode attention plan");
    growBuffer(m_deviceSplits, m_capSplits, std::max<size_t>(1, splits.size()) * sizeof(SplitPair), "decode attention plan");
    void* partials = m_partials;
    m_partials = nullptr; // growBuffer owns it now, also if it throws
    growBuffer(partials, m_capPartials, std::max<size_t>(1, items.size()) * std::min(groupSize, kMmaHeads) * partialFloats(headDim) * sizeof(float),
               "decode attention plan");
    m_partials = static_cast<float*>(partials);
    FAIRKV_CUDA(cudaMemcpyAsync(m_deviceItems, plan.data(), plan.size() * sizeof(WorkItem), cudaMemcpyHostToDevice, stream));
    m_workers = workers;
    FAIRKV_CUDA(cudaMemcpyAsync(m_deviceFirsts, workerFirst.data(), workerFirst.size() * sizeof(int), cudaMemcpyHostToDevice, stream));
    FAIRKV_CUDA(cudaMemcpyAsync(m_deviceSplits, splits.data(), splits.size() * sizeof(SplitPair), cudaMemcpyHostToDevice, stream));
    if (m_hasOffsets)
        FAIRKV_CUDA(cudaMemcpyAsync(m_deviceOffsets, outputOffsets.data(), outputOffsets.size() * sizeof(int64_t),
                                    cudaMemcpyHostToDevice, stream));
    FAIRKV_CUDA(cudaStreamSynchronize(stream)); // the host vectors go out of scope
}

void RaggedDecodeAttention::launch(const float* q, float* out, float scale, cudaStream_t stream, bool early)
{
    launchTo(q, out, false, scale, stream, early);
}

void RaggedDecodeAttention::launchBf16(const float* q, void* out, float scale, cudaStream_t stream, bool early)
{
    if (!m_hasOffsets && m_pairs > 0)
        throw fairkv::Error("decode attention: launchBf16 needs the output offsets given to prepare()");
    launchTo(q, out, true, scale, stream, early);
}

void RaggedDecodeAttention::launchIntoOprojInput(const float* q, void* out, size_t rows, int replicas, float scale,
                                                 cudaStream_t stream, bool early)
{
    const bool zeros = size_t(m_pairs) < rows * size_t(replicas);
    if (zeros)
        FAIRKV_CUDA(cudaMemsetAsync(out, 0, rows * size_t(replicas) * size_t(m_group) * size_t(m_dim) * 2, stream));
    launchBf16(q, out, scale, stream, early && !zeros); // the memset now stands between it and the kernel before
}

void RaggedDecodeAttention::launchTo(const float* q, void* out, bool bf16, float scale, cudaStream_t stream, bool early)
{
    if (m_pairs == 0)
        return;
    LaunchArgs a;
    a.blocks = m_blocks;
    a.sharedBytes = m_sharedBytes;
    a.dependentLaunch = m_dependentLaunch && m_blocks > 0; // with no rows at all the combine only writes zeros
    a.splits = m_splits;
    a.itemCount = m_items;
    a.combineSubsets = m_combineSubsets;
    a.items = static_cast<const WorkItem*>(m_deviceItems) + m_workers;
    a.firsts = static_cast<const int*>(m_deviceFirsts);
    a.splitPairs = static_cast<const SplitPair*>(m_deviceSplits);
    a.q = q;
    a.partials = m_partials;
    a.out = Output{out, bf16 ? static_cast<const int64_t*>(m_deviceOffsets) : nullptr, bf16 ? 1 : 0};
    a.scale = scale;
    if (m_dim == 128)
        launchForDim<128>(m_group, a, early, stream);
    else if (m_dim == 64)
        launchForDim<64>(m_group, a, early, stream);
    else
        launchForDim<32>(m_group, a, early, stream);
}

} // namespace fairkv::cuda
