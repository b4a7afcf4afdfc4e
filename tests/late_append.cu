// A stand-in for the decode step's RoPE + KV append, for the early-start test of the decode
// attention: it lets the kernel after it start at once, holds the GPU for a while, and only then
// writes the last K/V row of each pair and q.
#include "backend/cuda/dependent_launch.cuh"

#include <cstdint>
#include <cuda_runtime.h>

namespace {
__global__ void lateAppend(uint16_t* kv, const int64_t* rowAt, int rows, int dim, const uint16_t* saved, float* q, const float* qSaved,
                           size_t qCount, long long holdNs)
{
    fairkv::cuda::launchDependents();
    long long start = 0, now = 0;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    while (now - start < holdNs);
    for (int r = 0; r < rows; ++r)
        for (int i = threadIdx.x; i < dim; i += blockDim.x)
            kv[rowAt[r] + i] = saved[size_t(r) * dim + i];
    for (size_t i = threadIdx.x; i < qCount; i += blockDim.x)
        q[i] = qSaved[i];
}
} // namespace

// After holding the GPU for holdMicroseconds, copies row r of `saved` (dim bf16 values) to kv +
// rowAt[r] for every r, and qSaved to q; one block on `stream`. Returns the CUDA error of the launch.
int fairkvLaunchLateAppend(uint16_t* kv, const int64_t* rowAt, int rows, int dim, const uint16_t* saved, float* q,
                           const float* qSaved, size_t qCount, int holdMicroseconds, cudaStream_t stream)
{
    lateAppend<<<1, 256, 0, stream>>>(kv, rowAt, rows, dim, saved, q, qSaved, qCount, 1000LL * holdMicroseconds);
    return int(cudaGetLastError());
}
