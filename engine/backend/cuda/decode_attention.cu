#include "backend/cuda/cuda_check.h"
#include "backend/cuda/decode_attention.h"
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

// This block's chunk result for head g, dim d: acc, and (once per head) the max and the sum.
template <int D>
__device__ __forceinline__ void writePartial(float* partials, int G, int g, int d, float A, float M, float L)
{
    float* part = partials + (size_t(blockIdx.x) * G + g) * (D + 2);
    part[d] = A;
    if (d == 0) {
        part[D] = M;
        part[D + 1] = L;
    }
}

// After a block has written its chunk's (acc, max, sum): the last block of each pair to finish
// merges the pair's chunks into the output (out = sum acc_i e^(m_i - M) / sum l_i e^(m_i - M)) and
// resets the pair's counter for the next launch; a pair of one chunk is finished by that block.
// This replaces a separate combine kernel, one launch per attention call.
template <int D>
__device__ void finishPair(int pair, int G, const int* firstItem, int* counters, const float* partials, float* out)
{
    __shared__ int isLast;
    const int first = firstItem[pair], last = firstItem[pair + 1];
    __threadfence(); // this block's partials are visible device-wide before the ticket
    __syncthreads();
    if (threadIdx.x == 0) {
        if (last - first == 1) {
            isLast = 1;
        } else {
            isLast = atomicAdd(&counters[pair], 1) == last - first - 1;
            if (isLast)
                counters[pair] = 0;
        }
    }
    __syncthreads();
    if (!isLast)
        return;
    __threadfence();
    for (int idx = threadIdx.x; idx < G * D; idx += blockDim.x) {
        const int g = idx / D, d = idx % D;
        float M = -INFINITY;
        for (int it = first; it < last; ++it)
            M = fmaxf(M, __ldcg(partials + (size_t(it) * G + g) * (D + 2) + D));
        float L = 0.0f, A = 0.0f;
        for (int it = first; it < last; ++it) {
            const float* p = partials + (size_t(it) * G + g) * (D + 2);
            const float w = __expf(__ldcg(p + D) - M);
            L += __ldcg(p + D + 1) * w;
            A += __ldcg(p + d) * w;
        }
        out[(size_t(pair) * G + g) * D + d] = L > 0.0f ? A / L : 0.0f;
    }
}

// One work item = one chunk [start, end) of one pair. Each token row is read by D/8 threads with
// one 16-byte load each (K and V), all G query heads of the group use it; rows are spread over the
// block's row groups, each keeping an online softmax; the groups are merged in shared memory and
// the item's (acc, max, sum) written for the combine kernel.
template <int D, int G>
__global__ void __launch_bounds__(kThreads) partialKernel(const KvView* views, const int4* items, const float* q,
                                                          float* partials, float scale, const int* firstItem, int* counters,
                                                          float* out)
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
        writePartial<D>(partials, G, g, d, A, M, L);
    }
    finishPair<D>(pair, G, firstItem, counters, partials, out);
}

// ---- tensor cores for GQA groups (G = 2..8) ---------------------------------------------------
// The per-row kernel above repeats the softmax of all G heads in every lane (16 exps, 32 shuffles
// per row at G = 8): 20-40% of HBM bandwidth on the H100. Here each warp takes 16-token tiles:
// S = K.Q^T on tensor cores (mma m16n8k16, bf16 in, fp32 out; heads padded to 8 columns, Q held in
// registers as the B fragment, K read with ldmatrix), the softmax per head over the C fragment
// (3 shuffles per value), then O += P.V on tensor cores (P^T restaged through shared memory, V read
// with ldmatrix.trans). K and V tiles arrive by cp.async, double-buffered per warp. q and P are
// rounded to bf16 for the tensor cores; accumulation stays fp32.

__device__ __forceinline__ void cpAsync16(void* smem, const void* gmem, bool valid)
{
    const unsigned s = unsigned(__cvta_generic_to_shared(smem));
    const int bytes = valid ? 16 : 0; // 0: zero-fill, nothing read
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
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

__device__ __forceinline__ void ldmatrix4(unsigned r[4], const void* rowAddress)
{
    const unsigned s = unsigned(__cvta_generic_to_shared(rowAddress));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}

__device__ __forceinline__ void ldmatrix4Trans(unsigned r[4], const void* rowAddress)
{
    const unsigned s = unsigned(__cvta_generic_to_shared(rowAddress));
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
constexpr int kMmaTile = 16; // tokens per tile

template <int D>
__host__ __device__ constexpr int mmaRowBytes()
{
    return D * 2 + 16; // a 16-byte pad: ldmatrix rows land in different banks
}

template <int D>
__host__ __device__ constexpr int mmaWarpBytes()
{
    return 2 /*buffers*/ * 2 /*K, V*/ * kMmaTile * mmaRowBytes<D>() + (kMmaTile * 8 + 8) * 4 /*P^T, corrections*/;
}

template <int D>
__global__ void __launch_bounds__(kMmaWarps * 32) mmaPartialKernel(const KvView* views, const int4* items, const float* q,
                                                                   float* partials, float scale, int G, const int* firstItem,
                                                                   int* counters, float* out)
{
    constexpr int RB = mmaRowBytes<D>();
    constexpr int KS = D / 16; // k-steps of S = K.Q^T
    constexpr int NT = D / 8;  // n-tiles of O = P.V
    constexpr int CHUNKS = D / 8;
    extern __shared__ __align__(16) unsigned char smem[];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gid = lane >> 2, tq = lane & 3;
    unsigned char* region = smem + warp * mmaWarpBytes<D>();
    float* pT = reinterpret_cast<float*>(region + 4 * kMmaTile * RB); // [16 tokens][8 heads]
    float* corrS = pT + kMmaTile * 8;                                 // [8 heads]
    const int4 item = items[blockIdx.x];
    const int pair = item.x, start = item.y, end = item.z;
    const KvView view = views[pair];
    const unsigned char* K = reinterpret_cast<const unsigned char*>(view.keys);
    const unsigned char* V = reinterpret_cast<const unsigned char*>(view.values);

    // Q^T as B fragments: b0 = q[head gid][k0 + 2tq, +1], b1 = q[head gid][k0 + 2tq + 8, +9]; heads >= G are 0.
    unsigned qb[KS][2];
#pragma unroll
    for (int ks = 0; ks < KS; ++ks) {
        const float* qr = q + (size_t(pair) * G + gid) * D + ks * 16 + tq * 2;
        const bool real = gid < G;
        qb[ks][0] = real ? packBf16(qr[0] * scale, qr[1] * scale) : 0u;
        qb[ks][1] = real ? packBf16(qr[8] * scale, qr[9] * scale) : 0u;
    }
    float m[2] = {-INFINITY, -INFINITY}, lp[2] = {0.0f, 0.0f}; // heads 2tq, 2tq+1 (C columns)
    float acc[NT][2];                                          // O rows: head gid, dims nt*8 + 2tq, +1
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
        acc[nt][0] = acc[nt][1] = 0.0f;

    const int tiles = (end - start + kMmaTile - 1) / kMmaTile;
    auto load = [&](int tile, int buffer) {
        unsigned char* kb = region + buffer * 2 * kMmaTile * RB;
        unsigned char* vb = kb + kMmaTile * RB;
        const int t0 = start + tile * kMmaTile;
#pragma unroll
        for (int i = 0; i < kMmaTile * CHUNKS / 32; ++i) {
            const int idx = lane + i * 32, r = idx / CHUNKS, c = idx % CHUNKS;
            const bool valid = t0 + r < end;
            const size_t offset = size_t(valid ? t0 + r : start) * D * 2 + c * 16;
            cpAsync16(kb + r * RB + c * 16, K + offset, valid);
            cpAsync16(vb + r * RB + c * 16, V + offset, valid);
        }
        cpAsyncCommit();
    };
    int buffer = 0;
    if (warp < tiles)
        load(warp, 0);
    for (int tile = warp; tile < tiles; tile += kMmaWarps, buffer ^= 1) {
        if (tile + kMmaWarps < tiles) {
            load(tile + kMmaWarps, buffer ^ 1);
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        __syncwarp();
        const unsigned char* kb = region + buffer * 2 * kMmaTile * RB;
        const unsigned char* vb = kb + kMmaTile * RB;
        const int rows = min(kMmaTile, end - (start + tile * kMmaTile));
        // S = K.Q^T: C rows = tokens gid, gid + 8; columns = heads 2tq, 2tq + 1.
        float sc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const int mat = lane / 8;
#pragma unroll
        for (int ks = 0; ks < KS; ++ks) {
            unsigned a[4];
            ldmatrix4(a, kb + ((lane % 8) + (mat & 1) * 8) * RB + (ks * 16 + (mat >> 1) * 8) * 2);
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
        const unsigned pa0 = packBf16(pT[(tq * 2) * 8 + gid], pT[(tq * 2 + 1) * 8 + gid]);
        const unsigned pa2 = packBf16(pT[(tq * 2 + 8) * 8 + gid], pT[(tq * 2 + 9) * 8 + gid]);
#pragma unroll
        for (int nt = 0; nt < NT; nt += 2) {
            unsigned b[4];
            ldmatrix4Trans(b, vb + ((lane % 8) + (mat & 1) * 8) * RB + ((nt + (mat >> 1)) * 8) * 2);
            float o0[4] = {acc[nt][0] * corr, acc[nt][1] * corr, 0.0f, 0.0f};
            float o1[4] = {acc[nt + 1][0] * corr, acc[nt + 1][1] * corr, 0.0f, 0.0f};
            mma16816(o0, pa0, 0u, pa2, 0u, b[0], b[1]);
            mma16816(o1, pa0, 0u, pa2, 0u, b[2], b[3]);
            acc[nt][0] = o0[0];
            acc[nt][1] = o0[1];
            acc[nt + 1][0] = o1[0];
            acc[nt + 1][1] = o1[1];
        }
        __syncwarp(); // pT and this buffer are reused by the next tile
    }
    // Sum the per-lane partial row sums over the 8 token rows of each head.
#pragma unroll
    for (int off = 4; off < 32; off <<= 1) {
        lp[0] += __shfl_xor_sync(0xffffffffu, lp[0], off);
        lp[1] += __shfl_xor_sync(0xffffffffu, lp[1], off);
    }
    // Merge the warps: each writes (m, l, acc) into its own region, then every thread combines.
    __syncthreads();
    float* wm = reinterpret_cast<float*>(region);
    float* wl = wm + 8;
    float* wacc = wl + 8; // [8 heads][D]
    if (gid == 0) {
        wm[tq * 2] = m[0];
        wm[tq * 2 + 1] = m[1];
        wl[tq * 2] = lp[0];
        wl[tq * 2 + 1] = lp[1];
    }
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
        wacc[gid * D + nt * 8 + tq * 2] = acc[nt][0];
        wacc[gid * D + nt * 8 + tq * 2 + 1] = acc[nt][1];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < G * D; idx += kMmaWarps * 32) {
        const int g = idx / D, d = idx % D;
        float M = -INFINITY;
        for (int w = 0; w < kMmaWarps; ++w)
            M = fmaxf(M, reinterpret_cast<const float*>(smem + w * mmaWarpBytes<D>())[g]);
        float L = 0.0f, A = 0.0f;
        for (int w = 0; w < kMmaWarps; ++w) {
            const float* r = reinterpret_cast<const float*>(smem + w * mmaWarpBytes<D>());
            if (r[g] == -INFINITY)
                continue; // a warp that got no tile
            const float wgt = __expf(r[g] - M);
            L += r[8 + g] * wgt;
            A += r[16 + g * D + d] * wgt;
        }
        writePartial<D>(partials, G, g, d, A, M, L);
    }
    finishPair<D>(pair, G, firstItem, counters, partials, out);
}

template <int D>
void launchMma(int items, int group, const void* views, const void* itemList, float* partials, const float* q, float scale,
               const int* first, int* counters, float* out, cudaStream_t stream)
{
    constexpr int bytes = kMmaWarps * mmaWarpBytes<D>();
    // The shared-memory opt-in is a property of the kernel on the current device: once per device,
    // and rank threads of several GPUs get here at the same time.
    static std::mutex mutex;
    static std::set<int> configured;
    int device = 0;
    FAIRKV_CUDA(cudaGetDevice(&device));
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (configured.insert(device).second) {
            const cudaError_t rc = cudaFuncSetAttribute(mmaPartialKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
            if (rc != cudaSuccess)
                configured.erase(device);
            check(rc, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
        }
    }
    mmaPartialKernel<D><<<items, kMmaWarps * 32, bytes, stream>>>(static_cast<const KvView*>(views),
                                                                  static_cast<const int4*>(itemList), q, partials, scale, group,
                                                                  first, counters, out);
}

template <int D, int G>
void launchTyped(int items, const void* views, const void* itemList, const int* first, int* counters, const float* q,
                 float* partials, float* out, float scale, cudaStream_t stream)
{
    if (items == 0)
        return;
    if constexpr (G == 1)
        partialKernel<D, G><<<items, kThreads, 0, stream>>>(static_cast<const KvView*>(views), static_cast<const int4*>(itemList),
                                                            q, partials, scale, first, counters, out);
    else
        launchMma<D>(items, G, views, itemList, partials, q, scale, first, counters, out, stream);
    FAIRKV_CUDA(cudaGetLastError());
}

template <int D>
void launchForDim(int group, int items, const void* views, const void* itemList, const int* first, int* counters,
                  const float* q, float* partials, float* out, float scale, cudaStream_t stream)
{
    switch (group) {
    case 1:
        return launchTyped<D, 1>(items, views, itemList, first, counters, q, partials, out, scale, stream);
    case 2:
        return launchTyped<D, 2>(items, views, itemList, first, counters, q, partials, out, scale, stream);
    case 4:
        return launchTyped<D, 4>(items, views, itemList, first, counters, q, partials, out, scale, stream);
    case 8:
        return launchTyped<D, 8>(items, views, itemList, first, counters, q, partials, out, scale, stream);
    default:
        throw fairkv::Error("the CUDA decode attention supports query groups of 1, 2, 4 or 8 heads, not " + std::to_string(group));
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
    cudaFree(m_deviceViews);
    cudaFree(m_deviceItems);
    cudaFree(m_deviceFirst);
    cudaFree(m_counters);
    cudaFree(m_partials);
}

void RaggedDecodeAttention::prepare(const std::vector<KvView>& pairs, int groupSize, int headDim, cudaStream_t stream)
{
    if (headDim != 32 && headDim != 64 && headDim != 128)
        throw fairkv::Error("the CUDA decode attention supports head_dim 32, 64 or 128, not " + std::to_string(headDim));
    m_pairs = int(pairs.size());
    m_group = groupSize;
    m_dim = headDim;
    size_t total = 0;
    for (const KvView& p : pairs)
        total += size_t(p.length);
    // Chunks: enough work items to fill every SM a few times over, none shorter than a few rows of
    // the block, so launch and merge costs stay small against the KV read.
    const size_t target = size_t(std::max(1, m_smCount)) * 4;
    const int chunk = int(std::clamp<size_t>((total + target - 1) / std::max<size_t>(target, 1), 64, 4096));
    std::vector<int4> items;
    std::vector<int> first(size_t(m_pairs) + 1, 0);
    for (int p = 0; p < m_pairs; ++p) {
        first[size_t(p)] = int(items.size());
        for (int s = 0; s < pairs[size_t(p)].length; s += chunk)
            items.push_back(make_int4(p, s, std::min(s + chunk, pairs[size_t(p)].length), first[size_t(p)]));
    }
    first[size_t(m_pairs)] = int(items.size());
    m_items = int(items.size());
    m_bytes = total * 2 * size_t(headDim) * 2 + size_t(m_pairs) * groupSize * headDim * 4 * 2;
    growBuffer(m_deviceViews, m_capViews, std::max<size_t>(1, pairs.size()) * sizeof(KvView), "decode attention plan");
    growBuffer(m_deviceItems, m_capItems, std::max<size_t>(1, items.size()) * sizeof(int4), "decode attention plan");
    growBuffer(m_deviceFirst, m_capFirst, first.size() * sizeof(int), "decode attention plan");
    growBuffer(m_counters, m_capCounters, std::max<size_t>(1, pairs.size()) * sizeof(int), "decode attention plan");
    FAIRKV_CUDA(cudaMemsetAsync(m_counters, 0, std::max<size_t>(1, pairs.size()) * sizeof(int), stream));
    m_hasEmptyPairs = std::any_of(pairs.begin(), pairs.end(), [](const KvView& p) { return p.length == 0; });
    void* partials = m_partials;
    m_partials = nullptr; // growBuffer owns it now, also if it throws
    growBuffer(partials, m_capPartials, std::max<size_t>(1, items.size()) * groupSize * (headDim + 2) * sizeof(float), "decode attention plan");
    m_partials = static_cast<float*>(partials);
    FAIRKV_CUDA(cudaMemcpyAsync(m_deviceViews, pairs.data(), pairs.size() * sizeof(KvView), cudaMemcpyHostToDevice, stream));
    FAIRKV_CUDA(cudaMemcpyAsync(m_deviceItems, items.data(), items.size() * sizeof(int4), cudaMemcpyHostToDevice, stream));
    FAIRKV_CUDA(cudaMemcpyAsync(m_deviceFirst, first.data(), first.size() * sizeof(int), cudaMemcpyHostToDevice, stream));
    FAIRKV_CUDA(cudaStreamSynchronize(stream)); // the host vectors go out of scope
}

void RaggedDecodeAttention::launch(const float* q, float* out, float scale, cudaStream_t stream)
{
    if (m_hasEmptyPairs) // a pair with no retained token has no chunk to write its (zero) output
        FAIRKV_CUDA(cudaMemsetAsync(out, 0, size_t(m_pairs) * m_group * m_dim * sizeof(float), stream));
    const auto* first = static_cast<const int*>(m_deviceFirst);
    auto* counters = static_cast<int*>(m_counters);
    if (m_dim == 128)
        launchForDim<128>(m_group, m_items, m_deviceViews, m_deviceItems, first, counters, q, m_partials, out, scale, stream);
    else if (m_dim == 64)
        launchForDim<64>(m_group, m_items, m_deviceViews, m_deviceItems, first, counters, q, m_partials, out, scale, stream);
    else
        launchForDim<32>(m_group, m_items, m_deviceViews, m_deviceItems, first, counters, q, m_partials, out, scale, stream);
}

} // namespace fairkv::cuda
