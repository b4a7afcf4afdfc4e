#pragma once
#include <cuda_runtime.h>

#include <cstddef>

typedef struct cublasContext* cublasHandle_t;

namespace fairkv::cuda {

// y[rows][n] (fp32) = x[rows][k] (bf16) . W[n][k]^T (bf16, HF [out, in] layout), fp32 accumulation.
void gemmBf16(cublasHandle_t handle, const void* x, const void* w, float* y, int rows, int n, int k, cudaStream_t stream);
// Strided-batched products of row-major bf16 matrices with fp32 results, for prefill attention.
// NT: C[m][n] = alpha * A[m][k] . B[n][k]^T + beta * C;  NN: C[m][n] = alpha * A[m][k] . B[k][n] + beta * C.
// lda/ldb/ldc are row strides in elements; stride* the distance between batch entries (0: shared).
struct GemmBatch
{
    const void* a = nullptr;
    long long lda = 0, strideA = 0;
    const void* b = nullptr;
    long long ldb = 0, strideB = 0;
    float* c = nullptr;
    long long ldc = 0, strideC = 0;
    int m = 0, n = 0, k = 0, batch = 1;
    float alpha = 1.0f, beta = 0.0f;
};
void gemmBf16Nt(cublasHandle_t handle, const GemmBatch& g, cudaStream_t stream);
void gemmBf16Nn(cublasHandle_t handle, const GemmBatch& g, cudaStream_t stream);
// out[rows][inter] (bf16) = silu(gate) * up, from gateUp[rows][2 * inter] (fp32: gate, then up).
void launchSwiglu(const float* gateUp, int inter, int rows, void* out, cudaStream_t stream);
// dst (bf16) = src (fp32), n values.
void launchToBf16(const float* src, void* dst, size_t n, cudaStream_t stream);

// The residual stream's own kernels (fp32 rows of `hidden` values):
// x[i] = embedding row of tokens[i] (bf16 table);
void launchEmbedRows(const int* tokens, const void* table, int rows, int hidden, float* x, cudaStream_t stream);
// out[i] (bf16) = HF LlamaRMSNorm of x row rowIndex[i] (of row i when rowIndex is null), weights w;
void launchRmsNorm(const float* x, const int* rowIndex, const float* w, int rows, int hidden, float eps, void* out,
                   cudaStream_t stream);
// x += parts[0] + ... + parts[n - 1], summed in that order (reproducible): the emulated all-reduce;
void launchAddPartials(float* x, const float* const* parts, int n, size_t count, cudaStream_t stream);
// x += y.
void launchAddInto(float* x, const float* y, size_t count, cudaStream_t stream);

} // namespace fairkv::cuda
