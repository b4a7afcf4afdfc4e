#pragma once
// Shared by the GPU benchmarks: random (never zero) bf16 fill, the streaming-read kernel that
// measures the HBM ceiling, median CUDA-event timing, and number formatting for the tables.
#include "backend/cuda/cuda_check.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace fairkv::bench {

__global__ inline void fillBf16(__nv_bfloat16* p, size_t n, uint32_t seed, float amplitude = 1.0f)
{
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
        uint32_t x = uint32_t(i) * 2654435761u ^ seed;
        x ^= x >> 13;
        x *= 0x5bd1e995u;
        x ^= x >> 15;
        p[i] = __float2bfloat16((float(x & 0xffff) / 65535.0f - 0.5f) * 2.0f * amplitude);
    }
}

// Its loads (__ldg) leave lines in L2 with the default policy, so it also serves to evict L2 (a
// streaming load, __ldcs, marks its lines evict-first and leaves the older ones cached).
__global__ inline void streamRead(const uint4* p, size_t n, uint32_t* sink)
{
    uint32_t acc = 0;
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
        const uint4 v = __ldg(p + i);
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x12345678u)
        sink[0] = acc; // keeps the loads alive
}

// The same read for short buffers: one wave of blocks, up to four independent 16-byte loads per
// thread per pass (a buffer smaller than four passes of the grid takes single loads at its end).
__global__ inline void streamReadWide(const uint4* p, size_t n, uint32_t* sink)
{
    const size_t stride = size_t(gridDim.x) * blockDim.x;
    uint32_t acc = 0;
    size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        const uint4 a = __ldcs(p + i), b = __ldcs(p + i + stride), c = __ldcs(p + i + 2 * stride), d = __ldcs(p + i + 3 * stride);
        acc ^= a.x ^ a.w ^ b.y ^ b.z ^ c.x ^ c.w ^ d.y ^ d.z ^ a.y ^ b.x ^ c.y ^ d.x ^ a.z ^ b.w ^ c.z ^ d.w;
    }
    for (; i < n; i += stride) {
        const uint4 v = __ldcs(p + i);
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x12345678u)
        sink[0] = acc;
}

// Median of `reps` event-timed runs of `body` on the default stream, after one warm-up.
template <typename F>
double medianMs(F&& body, int reps = 20)
{
    cudaEvent_t a, b;
    FAIRKV_CUDA(cudaEventCreate(&a));
    FAIRKV_CUDA(cudaEventCreate(&b));
    body();
    FAIRKV_CUDA(cudaDeviceSynchronize());
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        FAIRKV_CUDA(cudaEventRecord(a));
        body();
        FAIRKV_CUDA(cudaEventRecord(b));
        FAIRKV_CUDA(cudaEventSynchronize(b));
        float ms = 0;
        FAIRKV_CUDA(cudaEventElapsedTime(&ms, a, b));
        t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return t[t.size() / 2];
}

// What `body` enqueues on `stream`, captured and instantiated as one CUDA graph (the stream must
// not be the legacy default stream; cuBLAS needs a workspace set, so it allocates nothing inside).
template <typename F>
cudaGraphExec_t captureGraph(cudaStream_t stream, F&& body)
{
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    FAIRKV_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    body();
    FAIRKV_CUDA(cudaStreamEndCapture(stream, &graph));
    FAIRKV_CUDA(cudaGraphInstantiate(&exec, graph, 0));
    FAIRKV_CUDA(cudaGraphDestroy(graph));
    return exec;
}

// Streaming-read bandwidth of `bytes` (GB/s), measured now.
inline double measureReadGBs(size_t bytes, int smCount)
{
    uint4* buf = nullptr;
    uint32_t* sink = nullptr;
    FAIRKV_CUDA(cudaMalloc(&buf, bytes));
    FAIRKV_CUDA(cudaMalloc(&sink, 4));
    fillBf16<<<1024, 256>>>(reinterpret_cast<__nv_bfloat16*>(buf), bytes / 2, 1);
    const double ms = medianMs([&] { streamRead<<<smCount * 8, 512>>>(buf, bytes / 16, sink); });
    cudaFree(buf);
    cudaFree(sink);
    return double(bytes) / (ms * 1e6);
}

inline std::string fmt(double v, int decimals)
{
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    return b;
}

} // namespace fairkv::bench
