#include "backend/cpu/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

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
void matmulColumns(const float* x, size_t m, size_t k, const float* w, size_t n, size_t ldo, float* out, bool accumulate)
{
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        size_t i = 0;
        for (; i + 4 <= m; i += 4)
            tile<4, 4>(x + i * k, k, w + j * k, out + i * ldo + j, ldo, accumulate);
        for (; i < m; ++i)
            tile<1, 4>(x + i * k, k, w + j * k, out + i * ldo + j, ldo, accumulate);
    }
    for (; j < n; ++j)
        for (size_t i = 0; i < m; ++i)
            tile<1, 1>(x + i * k, k, w + j * k, out + i * ldo + j, ldo, accumulate);
}

// Large products split their output columns over the cores. Every element is still computed by
// the same instruction sequence (tile), so the result does not depend on the thread count.
void matmulXWt(const float* x, size_t m, size_t k, const float* w, size_t n, float* out, bool accumulate)
{
    static const size_t cores = std::max(1u, std::thread::hardware_concurrency());
    const size_t work = m * n * k;
    const size_t threads = std::min<size_t>(cores, work / (size_t(1) << 22));
    if (threads < 2 || n < 8 * threads) {
        matmulColumns(x, m, k, w, n, n, out, accumulate);
        return;
    }
    std::vector<std::thread> pool;
    // ceil(n / threads), rounded up to the 4-column tile: the blocks must cover every column (a
    // floor here left the last columns unwritten whenever n / threads was a multiple of 4 short).
    const size_t per = ((n + threads - 1) / threads + 3) / 4 * 4;
    for (size_t t = 0; t < threads; ++t) {
        const size_t j0 = t * per, j1 = std::min(n, j0 + per);
        if (j0 >= j1)
            break;
        pool.emplace_back([=] { matmulColumns(x, m, k, w + j0 * k, j1 - j0, n, out + j0, accumulate); });
    }
    for (auto& th : pool)
        th.join();
}

void rmsNorm(const float* x, size_t n, const float* weight, double eps, float* out)
{
    // Squares summed in double: a float sum of activations above about 1e19 overflows to inf, and
    // the norm would make the whole row 0 (finite but wrong logits) where the model's is finite.
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i)
        sum += double(x[i]) * double(x[i]);
    const double inv = 1.0 / std::sqrt(sum / double(n) + eps); // below float's range for rows near its top
    for (size_t i = 0; i < n; ++i)
        out[i] = weight[i] * float(double(x[i]) * inv);
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
