#pragma once
#include <cstddef>
#include <vector>

namespace fairkv::cpu {

// out[i][j] (+)= sum_k x[i][k] * w[j][k]: activations times a weight in HF's [out, in] layout.
// Each output element is computed by the same instruction sequence whatever its position, so a
// row of W gives bit-identical results whether it is multiplied alone or inside a larger shard.
void matmulXWt(const float* x, size_t m, size_t k, const float* w, size_t n, float* out, bool accumulate = false);

// out = x / rms(x) * weight, in fp32 with the mean of squares accumulated in fp32 as HF does.
void rmsNorm(const float* x, size_t n, const float* weight, double eps, float* out);

// a[i] = silu(gate[i]) * up[i]
void siluMul(const float* gate, const float* up, size_t n, float* out);

// In-place numerically stable softmax.
void softmax(float* x, size_t n);

// Single query over `len` keys/values of width d: out = softmax(q.K^T * scale) V.
// When `probs` is given it receives the softmax weights (len values).
void attendOne(const float* q, const float* keys, const float* values, size_t len, size_t d, float scale, float* out,
               float* probs);

// RoPE (rotate-half convention of HF LLaMA/Mistral) applied in place to `heads` vectors of width d
// at `position`, with the per-pair inverse frequencies `invFreq` (d/2 values).
void applyRope(float* vecs, size_t heads, size_t d, long position, const std::vector<float>& invFreq);

} // namespace fairkv::cpu
