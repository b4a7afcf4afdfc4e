#include "backend/cuda/prefill_attention.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/device_memory.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>

namespace fairkv::cuda {

namespace {

constexpr size_t kScoreChunkBytes = size_t(256) << 20; // fp32 scores + bf16 probabilities of one query chunk

int queryChunk(int len, int group, int requested)
{
    if (requested > 0)
        return std::min(requested, len);
    const size_t perRow = size_t(group) * size_t(len) * 6;
    return int(std::clamp<size_t>(kScoreChunkBytes / perRow, 1, size_t(len)));
}

struct Workspace
{
    __nv_bfloat16 *q, *k, *v, *probs;
    float *s, *o, *windowProbs;
};

Workspace carve(void* base, int len, int group, int d, int window, int chunk)
{
    auto* p = static_cast<unsigned char*>(base);
    Workspace w{};
    auto take = [&](size_t bytes) {
        unsigned char* at = p;
        p += align256(bytes);
        return at;
    };
    w.q = reinterpret_cast<__nv_bfloat16*>(take(size_t(len) * group * d * 2));
    w.k = reinterpret_cast<__nv_bfloat16*>(take(size_t(len) * d * 2));
    w.v = reinterpret_cast<__nv_bfloat16*>(take(size_t(len) * d * 2));
    w.s = reinterpret_cast<float*>(take(size_t(group) * chunk * len * 4));
    w.probs = reinterpret_cast<__nv_bfloat16*>(take(size_t(group) * chunk * len * 2));
    w.o = reinterpret_cast<float*>(take(size_t(len) * group * d * 4));
    w.windowProbs = reinterpret_cast<float*>(take(size_t(group) * std::max(window, 1) * len * 4));
    return w;
}

// One block per prompt row: rotate-half RoPE on the G query heads and the key, bf16 copies for the
// products, fp32 key and value rows for the KV store.
__global__ void ropeSplit(const float* qkv, long long ld, int group, int dim, const float* invFreq, __nv_bfloat16* q,
                          __nv_bfloat16* k, __nv_bfloat16* v, float* keys, float* values)
{
    const int i = blockIdx.x;
    const float* row = qkv + size_t(i) * ld;
    const int half = dim / 2;
    for (int idx = threadIdx.x; idx < (group + 1) * half; idx += blockDim.x) {
        const int h = idx / half, t = idx % half;
        float s, c;
        sincosf(float(i) * invFreq[t], &s, &c);
        const float a = row[h * dim + t], b = row[h * dim + t + half];
        const float ra = a * c - b * s, rb = b * c + a * s;
        if (h < group) {
            q[(size_t(i) * group + h) * dim + t] = __float2bfloat16(ra);
            q[(size_t(i) * group + h) * dim + t + half] = __float2bfloat16(rb);
        } else {
            k[size_t(i) * dim + t] = __float2bfloat16(ra);
            k[size_t(i) * dim + t + half] = __float2bfloat16(rb);
            keys[size_t(i) * dim + t] = ra;
            keys[size_t(i) * dim + t + half] = rb;
        }
    }
    for (int t = threadIdx.x; t < dim; t += blockDim.x) {
        const float x = row[(group + 1) * dim + t];
        v[size_t(i) * dim + t] = __float2bfloat16(x);
        values[size_t(i) * dim + t] = x;
    }
}

__device__ float blockReduce(float x, bool isMax, float* shared)
{
    for (int o = 16; o > 0; o >>= 1) {
        const float y = __shfl_xor_sync(0xffffffffu, x, o);
        x = isMax ? fmaxf(x, y) : x + y;
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0)
        shared[warp] = x;
    __syncthreads();
    x = shared[0];
    for (int w = 1; w < int(blockDim.x >> 5); ++w)
        x = isMax ? fmaxf(x, shared[w]) : x + shared[w];
    return x;
}

// Grid (rows of the chunk, heads). Row `ii` of the chunk is query first + ii; it sees keys 0..query.
__global__ void causalSoftmax(const float* s, __nv_bfloat16* probs, int rows, int cols, int first, int len, int window,
                              float* windowProbs)
{
    __shared__ float shared[32];
    const int ii = blockIdx.x, h = blockIdx.y, query = first + ii;
    const float* in = s + (size_t(h) * rows + ii) * cols;
    __nv_bfloat16* out = probs + (size_t(h) * rows + ii) * cols;
    float m = -INFINITY;
    for (int j = threadIdx.x; j <= query; j += blockDim.x)
        m = fmaxf(m, in[j]);
    m = blockReduce(m, true, shared);
    float sum = 0.0f;
    for (int j = threadIdx.x; j <= query; j += blockDim.x)
        sum += __expf(in[j] - m);
    sum = blockReduce(sum, false, shared);
    const float inv = 1.0f / sum;
    const int t = query - (len - window);
    float* w = t >= 0 ? windowProbs + (size_t(h) * window + t) * len : nullptr;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        const float p = j <= query ? __expf(in[j] - m) * inv : 0.0f;
        out[j] = __float2bfloat16(p);
        if (w)
            w[j] = p;
    }
}

// scores[j] = mean over heads and window queries, summed in a fixed order (reproducible).
__global__ void windowMean(const float* windowProbs, int group, int window, int len, float* scores)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= len)
        return;
    float acc = 0.0f;
    for (int r = 0; r < group * window; ++r)
        acc += windowProbs[size_t(r) * len + j];
    scores[j] = acc / float(group * window);
}

__global__ void rowsToBf16(const float* src, int rows, int cols, __nv_bfloat16* dst, long long ld)
{
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < size_t(rows) * cols; i += size_t(gridDim.x) * blockDim.x)
        dst[(i / cols) * ld + i % cols] = __float2bfloat16(src[i]);
}

} // namespace

int prefillChunkRows(int len, int group)
{
    return queryChunk(len, group, 0);
}

size_t prefillWorkspaceBytes(int len, int group, int headDim, int window, int chunkRows)
{
    const int chunk = queryChunk(len, group, chunkRows);
    return align256(size_t(len) * group * headDim * 2) + 2 * align256(size_t(len) * headDim * 2)
        + align256(size_t(group) * chunk * len * 4) + align256(size_t(group) * chunk * len * 2)
        + align256(size_t(len) * group * headDim * 4) + align256(size_t(group) * std::max(window, 1) * len * 4);
}

void prefillAttention(cublasHandle_t handle, const PrefillArgs& a, void* workspace, cudaStream_t stream)
{
    const int len = a.len, G = a.group, d = a.headDim;
    const int window = std::min(a.window, len);
    const int chunk = queryChunk(len, G, a.chunkRows);
    Workspace w = carve(workspace, len, G, d, window, chunk);
    ropeSplit<<<len, 128, 0, stream>>>(a.qkv, a.ldQkv, G, d, a.invFreq, w.q, w.k, w.v, a.keys, a.values);
    FAIRKV_CUDA(cudaGetLastError());
    if (window > 0)
        FAIRKV_CUDA(cudaMemsetAsync(w.windowProbs, 0, size_t(G) * window * len * 4, stream));
    const float scale = 1.0f / std::sqrt(float(d));
    for (int first = 0; first < len; first += chunk) {
        const int rows = std::min(chunk, len - first);
        const int cols = first + rows; // causal: later keys are never seen by this chunk
        GemmBatch scores;
        scores.a = w.q + size_t(first) * G * d;
        scores.lda = G * d;
        scores.strideA = d;
        scores.b = w.k;
        scores.ldb = d;
        scores.c = w.s;
        scores.ldc = cols;
        scores.strideC = (long long)rows * cols;
        scores.m = rows;
        scores.n = cols;
        scores.k = d;
        scores.batch = G;
        scores.alpha = scale;
        gemmBf16Nt(handle, scores, stream);
        causalSoftmax<<<dim3(unsigned(rows), unsigned(G)), 256, 0, stream>>>(w.s, w.probs, rows, cols, first, len, window,
                                                                            w.windowProbs);
        FAIRKV_CUDA(cudaGetLastError());
        GemmBatch pv;
        pv.a = w.probs;
        pv.lda = cols;
        pv.strideA = (long long)rows * cols;
        pv.b = w.v;
        pv.ldb = d;
        pv.c = w.o + size_t(first) * G * d;
        pv.ldc = G * d;
        pv.strideC = d;
        pv.m = rows;
        pv.n = d;
        pv.k = cols;
        pv.batch = G;
        gemmBf16Nn(handle, pv, stream);
    }
    rowsToBf16<<<256, 256, 0, stream>>>(w.o, len, G * d, static_cast<__nv_bfloat16*>(a.out), a.ldOut);
    FAIRKV_CUDA(cudaGetLastError());
    if (window > 0) {
        windowMean<<<(len + 255) / 256, 256, 0, stream>>>(w.windowProbs, G, window, len, a.scores);
        FAIRKV_CUDA(cudaGetLastError());
    }
}

} // namespace fairkv::cuda
