#include "backend/cuda/cuda_kernels.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dependent_launch.cuh"

#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace fairkv::cuda {

namespace {

__device__ __forceinline__ float silu(float g)
{
    return g / (1.0f + expf(-g));
}

// Four columns per thread with 16-byte loads where the sizes and pointers allow (one float at a
// time, the first version, read 1.4 TB/s at batch 64: 6.8 us per layer of the 8B shape).
// The small kernels of a decode step start early (launchDependent()) and wait for the kernel
// before them first thing: their launch and ramp overlap that kernel's last blocks.
__global__ void swigluKernel(const float* gateUp, int inter, int rows, __nv_bfloat16* out, bool vec)
{
    waitForPrerequisites();
    const size_t step = size_t(gridDim.x) * blockDim.x, first = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
    if (vec) {
        const size_t quads = size_t(inter) / 4;
        for (size_t i = first; i < size_t(rows) * quads; i += step) {
            const size_t r = i / quads, c = (i % quads) * 4;
            const float4 g = *reinterpret_cast<const float4*>(gateUp + r * 2 * inter + c);
            const float4 u = *reinterpret_cast<const float4*>(gateUp + r * 2 * inter + inter + c);
            __nv_bfloat162* dst = reinterpret_cast<__nv_bfloat162*>(out + r * inter + c);
            dst[0] = __floats2bfloat162_rn(silu(g.x) * u.x, silu(g.y) * u.y);
            dst[1] = __floats2bfloat162_rn(silu(g.z) * u.z, silu(g.w) * u.w);
        }
        return;
    }
    for (size_t i = first; i < size_t(rows) * inter; i += step) {
        const size_t r = i / inter, c = i % inter;
        out[i] = __float2bfloat16(silu(gateUp[r * 2 * inter + c]) * gateUp[r * 2 * inter + inter + c]);
    }
}

__global__ void toBf16Kernel(const float* src, __nv_bfloat16* dst, size_t n)
{
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
        dst[i] = __float2bfloat16(src[i]);
}

__global__ void embedRows(const int* tokens, const __nv_bfloat16* table, int hidden, float* x)
{
    const __nv_bfloat16* row = table + size_t(tokens[blockIdx.x]) * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x)
        x[size_t(blockIdx.x) * hidden + i] = __bfloat162float(row[i]);
}

// HF LlamaRMSNorm in fp32: w * (x / sqrt(mean(x^2) + eps)); bf16 out, the GEMMs' input. The squares
// are summed in double, as on the CPU: in float, activations above about 1e19 overflow the sum and
// the row would come out 0 (the kernel is memory-bound: the wider sum costs nothing). One block
// per row; 16-byte loads, four in flight per thread (a load per element, one after another, made
// the norm of a batch-16 step 9.5 us on the H100: 16 round trips to memory per thread).
__global__ void rmsNormRows(const float* x, const int* rowIndex, const float* w, int hidden, float eps, __nv_bfloat16* out)
{
    waitForPrerequisites();
    __shared__ double warpSums[32];
    const float* row = x + size_t(rowIndex ? rowIndex[blockIdx.x] : int(blockIdx.x)) * hidden;
    __nv_bfloat16* dst = out + size_t(blockIdx.x) * hidden;
    const bool vec = hidden % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0
                     && reinterpret_cast<uintptr_t>(out) % 8 == 0; // then every row is aligned too
    const int n = vec ? hidden / 4 : hidden;
    const float4* row4 = reinterpret_cast<const float4*>(row);
    double sum = 0.0;
#pragma unroll 4
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        if (vec) {
            const float4 v = row4[i];
            sum += double(v.x) * v.x + double(v.y) * v.y + double(v.z) * v.z + double(v.w) * v.w;
        } else {
            sum += double(row[i]) * row[i];
        }
    }
    for (int o = 16; o > 0; o >>= 1)
        sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if ((threadIdx.x & 31) == 0)
        warpSums[threadIdx.x >> 5] = sum;
    __syncthreads();
    double total = 0.0;
    for (int wi = 0; wi < int(blockDim.x >> 5); ++wi)
        total += warpSums[wi];
    const double inv = rsqrt(total / double(hidden) + double(eps)); // below float's range for rows near its top
    const float4* w4 = reinterpret_cast<const float4*>(w);
#pragma unroll 4
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        if (vec) {
            const float4 v = row4[i], g = w4[i];
            __nv_bfloat162* d2 = reinterpret_cast<__nv_bfloat162*>(dst + size_t(i) * 4);
            d2[0] = __floats2bfloat162_rn(g.x * float(v.x * inv), g.y * float(v.y * inv));
            d2[1] = __floats2bfloat162_rn(g.z * float(v.z * inv), g.w * float(v.w * inv));
        } else {
            dst[i] = __float2bfloat16(w[i] * float(row[i] * inv));
        }
    }
}

// Residual add of the ranks' partial sums, in rank order (reproducible): the emulated all-reduce.
__global__ void addPartials(float* x, const float* const* parts, int n, size_t count)
{
    launchDependents(); // the norm after it
    waitForPrerequisites();
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
        float acc = 0.0f;
        for (int g = 0; g < n; ++g)
            acc += parts[g][i];
        x[i] += acc;
    }
}

__global__ void addInto(float* x, const float* y, size_t count)
{
    launchDependents();
    waitForPrerequisites();
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
        x[i] += y[i];
}

} // namespace

void gemmBf16(cublasHandle_t handle, const void* x, const void* w, float* y, int rows, int n, int k, cudaStream_t stream)
{
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t s = cublasSetStream(handle, stream);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, n, rows, k, &one, w, CUDA_R_16BF, k, x, CUDA_R_16BF, k, &zero, y,
                         CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS)
        throw fairkv::Error("cuBLAS call cublasGemmEx failed with status " + std::to_string(int(s)) + " (" + std::to_string(rows)
                            + " x " + std::to_string(k) + " by " + std::to_string(n) + " x " + std::to_string(k) + ")");
}

namespace {
void gemmBatched(cublasHandle_t handle, const GemmBatch& g, bool transB, cudaStream_t stream)
{
    // Row-major C = A . op(B) is column-major C^T = op(B)^T . A^T: swap the operands.
    cublasStatus_t s = cublasSetStream(handle, stream);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasGemmStridedBatchedEx(handle, transB ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, g.n, g.m, g.k, &g.alpha, g.b,
                                       CUDA_R_16BF, int(g.ldb), g.strideB, g.a, CUDA_R_16BF, int(g.lda), g.strideA, &g.beta,
                                       g.c, CUDA_R_32F, int(g.ldc), g.strideC, g.batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS)
        throw fairkv::Error("cuBLAS call cublasGemmStridedBatchedEx failed with status " + std::to_string(int(s)) + " ("
                            + std::to_string(g.batch) + " x " + std::to_string(g.m) + " x " + std::to_string(g.k) + " by "
                            + std::to_string(g.k) + " x " + std::to_string(g.n) + ")");
}
} // namespace

void gemmBf16Nt(cublasHandle_t handle, const GemmBatch& g, cudaStream_t stream)
{
    gemmBatched(handle, g, true, stream);
}

void gemmBf16Nn(cublasHandle_t handle, const GemmBatch& g, cudaStream_t stream)
{
    gemmBatched(handle, g, false, stream);
}

void launchSwiglu(const float* gateUp, int inter, int rows, void* out, cudaStream_t stream)
{
    const bool vec = inter % 4 == 0 && reinterpret_cast<uintptr_t>(gateUp) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 8 == 0;
    const size_t work = size_t(rows) * inter / (vec ? 4 : 1);
    const int blocks = int(std::min<size_t>((work + 255) / 256, 1056)); // at most 8 blocks per SM of an H100
    if (blocks == 0)
        return;
    launchDependent(swigluKernel, dim3(unsigned(blocks)), dim3(256), 0, stream, true, gateUp, inter, rows, static_cast<__nv_bfloat16*>(out), vec);
}

void launchToBf16(const float* src, void* dst, size_t n, cudaStream_t stream)
{
    toBf16Kernel<<<256, 256, 0, stream>>>(src, static_cast<__nv_bfloat16*>(dst), n);
    FAIRKV_CUDA(cudaGetLastError());
}

void launchEmbedRows(const int* tokens, const void* table, int rows, int hidden, float* x, cudaStream_t stream)
{
    embedRows<<<rows, 256, 0, stream>>>(tokens, static_cast<const __nv_bfloat16*>(table), hidden, x);
    FAIRKV_CUDA(cudaGetLastError());
}

void launchRmsNorm(const float* x, const int* rowIndex, const float* w, int rows, int hidden, float eps, void* out,
                   cudaStream_t stream)
{
    if (rows > 0)
        launchDependent(rmsNormRows, dim3(unsigned(rows)), dim3(256), 0, stream, true, x, rowIndex, w, hidden, eps, static_cast<__nv_bfloat16*>(out));
}

void launchAddPartials(float* x, const float* const* parts, int n, size_t count, cudaStream_t stream)
{
    launchDependent(addPartials, dim3(132), dim3(256), 0, stream, true, x, parts, n, count);
}

void launchAddInto(float* x, const float* y, size_t count, cudaStream_t stream)
{
    launchDependent(addInto, dim3(132), dim3(256), 0, stream, true, x, y, count);
}

} // namespace fairkv::cuda
