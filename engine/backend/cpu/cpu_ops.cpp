#include "backend/cpu/cpu_ops.h"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FAIRKV_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FAIRKV_CLONES
#endif

namespace fairkv::cpu {

namespace {

// An MR x NR tile of dot products with 8 independent lanes each. Lanes are reduced in a fixed
// tree, so the result of one (row, column) pair does not depend on the tile it is computed in.
template <int MR, int NR>
inline void tile(const float* x, size_t k, const float* w, float* out, size_t ldo, bool accumulate)
{
    float acc[MR][NR][8] = {};
    size_t p = 0;
    for (; p + 8 <= k; p += 8)
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j)
                for (int t = 0; t < 8; ++t)
                    acc[i][j][t] += x[size_t(i) * k + p + t] * w[size_t(j) * k + p + t];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) {
            const float* a = acc[i][j];
            float s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
            for (size_t q = p; q < k; ++q)
                s += x[size_t(i) * k + q] * w[size_t(j) * k + q];
            float& o = out[size_t(i) * ldo + size_t(j)];
            o = accumulate ? o + s : s;
        }
}

} // namespace

FAIRKV_CLONES
void matmulXWt(const float* x, size_t m, size_t k, const float* w, size_t n, float* out, bool accumulate)
{
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        size_t i = 0;
        for (; i + 4 <= m; i += 4)
            tile<4, 4>(x + i * k, k, w + j * k, out + i * n + j, n, accumulate);
        for (; i < m; ++i)
            tile<1, 4>(x + i * k, k, w + j * k, out + i * n + j, n, accumulate);
    }
    for (; j < n; ++j)
        for (size_t i = 0; i < m; ++i)
            tile<1, 1>(x + i * k, k, w + j * k, out + i * n + j, n, accumulate);
}

void rmsNorm(const float* x, size_t n, const float* weight, double eps, float* out)
{
    float sum = 0.0f;
    for (size_t i = 0; i < n; ++i)
        sum += x[i] * x[i];
    const float inv = 1.0f / std::sqrt(sum / float(n) + float(eps));
    for (size_t i = 0; i < n; ++i)
        out[i] = weight[i] * (x[i] * inv);
}

void siluMul(const float* gate, const float* up, size_t n, float* out)
{
    for (size_t i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = (g / (1.0f + std::exp(-g))) * up[i];
    }
}

void softmax(float* x, size_t n)
{
    if (n == 0)
        return;
    const float mx = *std::max_element(x, x + n);
    float sum = 0.0f;
    for (size_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - mx);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (size_t i = 0; i < n; ++i)
        x[i] *= inv;
}

FAIRKV_CLONES
void attendOne(const float* q, const float* keys, const float* values, size_t len, size_t d, float scale, float* out,
               float* probs)
{
    std::vector<float> local;
    float* p = probs;
    if (!p) {
        local.resize(len);
        p = local.data();
    }
    matmulXWt(q, 1, d, keys, len, p);
    for (size_t j = 0; j < len; ++j)
        p[j] *= scale;
    softmax(p, len);
    std::fill(out, out + d, 0.0f);
    for (size_t j = 0; j < len; ++j) {
        const float pj = p[j];
        const float* v = values + j * d;
        for (size_t t = 0; t < d; ++t)
            out[t] += pj * v[t];
    }
}

void applyRope(float* vecs, size_t heads, size_t d, long position, const std::vector<float>& invFreq)
{
    const size_t half = d / 2;
    for (size_t i = 0; i < half; ++i) {
        // HF computes the angle as a float32 product, then its cosine and sine.
        const float angle = float(position) * invFreq[i];
        const float c = float(std::cos(double(angle)));
        const float s = float(std::sin(double(angle)));
        for (size_t h = 0; h < heads; ++h) {
            float* v = vecs + h * d;
            const float a = v[i];
            const float b = v[i + half];
            v[i] = a * c - b * s;
            v[i + half] = b * c + a * s;
        }
    }
}

} // namespace fairkv::cpu
