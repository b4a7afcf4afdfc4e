#pragma once
// Shared by the GPU benchmarks: random (never zero) bf16 fill, the streaming-read kernel that
// measures the HBM ceiling, median CUDA-event timing, and number formatting for the tables.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/stream_read.cuh"

#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace fairkv::bench {

// Prints a benchmark's markdown and, with a path, writes it there; a failed write is an error.
inline void emitTable(const std::string& markdown, const std::string& path)
{
    std::fwrite(markdown.data(), 1, markdown.size(), stdout);
    std::fflush(stdout);
    if (path.empty())
        return;
    std::ofstream f(path);
    f << markdown;
    if (!f)
        throw fairkv::Error(path + ": write failed");
}

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

// streamRead over `bytes` at p in one wave of 8 blocks of 256 threads per SM.
inline void readAll(const void* p, size_t bytes, uint32_t* sink, int smCount)
{
    cuda::streamRead<<<smCount * 8, 256>>>(static_cast<const uint4*>(p), bytes / 16, sink);
}

// Median of `reps` event-timed runs of `body`, which enqueues its work on `stream` (the default
// stream unless given), after one warm-up.
template <typename F>
double medianMs(F&& body, int reps = 20, cudaStream_t stream = nullptr)
{
    cudaEvent_t a, b;
    FAIRKV_CUDA(cudaEventCreate(&a));
    FAIRKV_CUDA(cudaEventCreate(&b));
    body();
    FAIRKV_CUDA(cudaStreamSynchronize(stream));
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        FAIRKV_CUDA(cudaEventRecord(a, stream));
        body();
        FAIRKV_CUDA(cudaEventRecord(b, stream));
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
    const double ms = medianMs([&] { readAll(buf, bytes, sink, smCount); });
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
