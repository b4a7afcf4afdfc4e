#pragma once
#include <cuda_runtime.h>

#include <cstddef>

typedef struct cublasContext* cublasHandle_t;

namespace fairkv::cuda {

// y[rows][n] (fp32) = x[rows][k] (bf16) . W[n][k]^T (bf16, HF [out, in] layout), fp32 accumulation.
void gemmBf16(cublasHandle_t handle, const void* x, const void* w, float* y, int rows, int n, int k, cudaStream_t stream);
// out[rows][inter] (bf16) = silu(gate) * up, from gateUp[rows][2 * inter] (fp32: gate, then up).
void launchSwiglu(const float* gateUp, int inter, int rows, void* out, cudaStream_t stream);
// dst (bf16) = src (fp32), n values.
void launchToBf16(const float* src, void* dst, size_t n, cudaStream_t stream);

} // namespace fairkv::cuda
