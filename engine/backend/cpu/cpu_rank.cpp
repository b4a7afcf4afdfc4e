#include "backend/cpu/cpu_rank.h"

#include "backend/cpu/cpu_ops.h"
#include "model/model_weights.h"
#include "model/rope.h"
#include "placement/placement.h"

#include <algorithm>
#include <cmath>

namespace fairkv {

namespace {
// Rows [first, first + count) of a row-major matrix with `cols` columns.
std::vector<float> copyRows(const Tensor& t, int64_t first, int64_t count)
{
    const int64_t cols = t.cols();
    return std::vector<float>(t.data.begin() + first * cols, t.data.begin() + (first + count) * cols);
}

// Columns [first, first + count) of every row.
std::vector<float> copyColumns(const Tensor& t, int64_t first, int64_t count)
{
    std::vector<float> out(size_t(t.rows() * count));
    for (int64_t r = 0; r < t.rows(); ++r)
        std::copy_n(t.row(r) + first, count, out.begin() + r * count);
    return out;
}
} // namespace

CpuRank::CpuRank(int index, const ModelConfig& config, UnitMode mode)
    : m_index(index)
    , m_config(config)
    , m_units(config, mode)
    , m_invFreq(ropeInverseFrequencies(config))
{
}

void CpuRank::assign(const ModelWeights& w, const Placement& placement, KvStore& pool)
{
    m_shards.assign(size_t(m_config.numLayers), {});
    m_mlp.assign(size_t(m_config.numLayers), {});
    m_ranks = placement.ranks;
    for (int l = 0; l < m_config.numLayers; ++l) {
        for (const UnitPlacement& up : placement.layers[size_t(l)]) {
            for (const Replica& rep : up.replicas) {
                if (rep.rank != m_index)
                    continue;
                UnitShard s;
                s.unit = up.unit;
                s.requests = rep.requests;
                for (int r : rep.requests) {
                    auto node = pool.extract(KvKey{l, up.unit, r});
                    if (!node.empty())
                        m_kv.insert(std::move(node));
                }
                m_shards[size_t(l)].push_back(std::move(s));
            }
        }
        // Even contiguous slice of the intermediate dimension, as standard TP splits the MLP.
        const int64_t inter = m_config.intermediateSize;
        m_mlp[size_t(l)].rows = size_t(inter * (m_index + 1) / m_ranks - inter * m_index / m_ranks);
    }
    m_source = &w;
    m_attentionCopied = m_mlpCopied = false;
    if (!m_onDemand) {
        copyAttentionWeights();
        copyMlpWeights();
    }
}

void CpuRank::copyAttentionWeights()
{
    if (m_attentionCopied || !m_source)
        return;
    const int64_t d = m_config.headDim;
    const int64_t nq = m_units.queryHeads();
    for (int l = 0; l < m_config.numLayers; ++l) {
        const LayerWeights& lw = m_source->layers[size_t(l)];
        for (UnitShard& s : m_shards[size_t(l)]) {
            const int64_t q0 = int64_t(m_units.firstQueryHead(s.unit)) * d;
            const int64_t kv0 = int64_t(m_units.kvHead(s.unit)) * d;
            s.wq = copyRows(lw.wq, q0, nq * d);
            s.wk = copyRows(lw.wk, kv0, d);
            s.wv = copyRows(lw.wv, kv0, d);
            s.wo = copyColumns(lw.wo, q0, nq * d);
        }
    }
    m_attentionCopied = true;
}

void CpuRank::copyMlpWeights()
{
    if (m_mlpCopied || !m_source)
        return;
    const int64_t inter = m_config.intermediateSize;
    const int64_t begin = inter * m_index / m_ranks;
    const int64_t end = inter * (m_index + 1) / m_ranks;
    for (int l = 0; l < m_config.numLayers; ++l) {
        const LayerWeights& lw = m_source->layers[size_t(l)];
        MlpShard& m = m_mlp[size_t(l)];
        m.gate = copyRows(lw.wgate, begin, end - begin);
        m.up = copyRows(lw.wup, begin, end - begin);
        m.down = copyColumns(lw.wdown, begin, end - begin);
    }
    m_mlpCopied = true;
}

void CpuRank::releaseKv(KvStore& pool)
{
    pool.merge(m_kv);
    m_kv.clear();
}

void CpuRank::attention(int layer, const RowBatch& in, float* out, WindowCapture* capture)
{
    copyAttentionWeights(); // on-demand ranks: the first call pays for it (the CUDA rank's rare fallback)
    for (const UnitShard& s : m_shards[size_t(layer)]) {
        TraceEvent e{TracePhase::Attention, "unit attention", m_index, m_step, layer, s.unit, traceClockNs(), 0};
        unitAttention(layer, s, in, out, capture);
        if (m_sink) {
            e.endNs = traceClockNs();
            m_sink->event(e);
        }
    }
}

// One replica: the projections of all its requests' rows in one product each (the unit's weights
// are read once per pass, as the cost model assumes), then ragged attention per request.
void CpuRank::unitAttention(int layer, const UnitShard& s, const RowBatch& in, float* out, WindowCapture* capture)
{
    const size_t hidden = size_t(m_config.hiddenSize);
    const size_t d = size_t(m_config.headDim);
    const size_t nq = size_t(m_units.queryHeads());
    std::vector<size_t> first; // first gathered row of each served request
    size_t rows = 0;
    for (int r : s.requests) {
        first.push_back(rows);
        rows += in.rowStart[size_t(r) + 1] - in.rowStart[size_t(r)];
    }
    if (rows == 0)
        return;
    std::vector<float> x(rows * hidden);
    for (size_t k = 0; k < s.requests.size(); ++k) {
        const size_t r = size_t(s.requests[k]);
        std::copy(in.data + in.rowStart[r] * hidden, in.data + in.rowStart[r + 1] * hidden, x.begin() + long(first[k] * hidden));
    }
    std::vector<float> q(rows * nq * d), k(rows * d), v(rows * d), attn(rows * nq * d);
    cpu::matmulXWt(x.data(), rows, hidden, s.wq.data(), nq * d, q.data());
    cpu::matmulXWt(x.data(), rows, hidden, s.wk.data(), d, k.data());
    cpu::matmulXWt(x.data(), rows, hidden, s.wv.data(), d, v.data());
    const float scale = 1.0f / std::sqrt(float(d));
    for (size_t idx = 0; idx < s.requests.size(); ++idx) {
        const int r = s.requests[idx];
        const size_t n = in.rowStart[size_t(r) + 1] - in.rowStart[size_t(r)];
        const size_t f = first[idx];
        for (size_t i = 0; i < n; ++i) {
            const long pos = in.position[size_t(r)] + long(i);
            cpu::applyRope(q.data() + (f + i) * nq * d, nq, d, pos, m_invFreq);
            cpu::applyRope(k.data() + (f + i) * d, 1, d, pos, m_invFreq);
        }
        KvBlock& block = m_kv[KvKey{layer, s.unit, r}];
        block.headDim = int(d);
        const size_t prior = block.length();
        block.append(k.data() + f * d, v.data() + f * d, n);

        const size_t window = capture ? std::min(size_t(capture->window), n) : 0;
        std::vector<float>* mean = nullptr;
        if (window > 0) {
            mean = &capture->meanAttention[{s.unit, r}];
            mean->assign(prior + n, 0.0f);
        }
        std::vector<float> probs(prior + n);
        for (size_t i = 0; i < n; ++i) {
            const size_t visible = prior + i + 1; // causal within the new rows
            const bool inWindow = i + window >= n;
            for (size_t h = 0; h < nq; ++h) {
                const size_t off = ((f + i) * nq + h) * d;
                cpu::attendOne(q.data() + off, block.keys.data(), block.values.data(), visible, d, scale,
                               attn.data() + off, probs.data());
                if (mean && inWindow) {
                    const float w = 1.0f / float(window * nq);
                    for (size_t j = 0; j < visible; ++j)
                        (*mean)[j] += probs[j] * w;
                }
            }
        }
    }
    std::vector<float> o(rows * hidden);
    cpu::matmulXWt(attn.data(), rows, nq * d, s.wo.data(), hidden, o.data());
    for (size_t idx = 0; idx < s.requests.size(); ++idx) {
        const size_t r = size_t(s.requests[idx]);
        float* dst = out + in.rowStart[r] * hidden;
        const float* src = o.data() + first[idx] * hidden;
        for (size_t i = 0; i < (in.rowStart[r + 1] - in.rowStart[r]) * hidden; ++i)
            dst[i] += src[i];
    }
}

void CpuRank::compress(int layer, const std::map<UnitRequest, std::vector<int>>& kept)
{
    for (const auto& [key, positions] : kept) {
        auto it = m_kv.find(KvKey{layer, key.first, key.second});
        if (it != m_kv.end())
            it->second.keepRows(positions);
    }
}

void CpuRank::mlp(int layer, const float* x, size_t rows, float* out)
{
    copyMlpWeights();
    const size_t hidden = size_t(m_config.hiddenSize);
    const MlpShard& m = m_mlp[size_t(layer)];
    if (m.rows == 0) {
        std::fill(out, out + rows * hidden, 0.0f);
        return;
    }
    std::vector<float> gate(rows * m.rows), up(rows * m.rows);
    cpu::matmulXWt(x, rows, hidden, m.gate.data(), m.rows, gate.data());
    cpu::matmulXWt(x, rows, hidden, m.up.data(), m.rows, up.data());
    cpu::siluMul(gate.data(), up.data(), gate.size(), gate.data());
    cpu::matmulXWt(gate.data(), rows, m.rows, m.down.data(), hidden, out);
}

size_t CpuRank::weightBytes() const
{
    // From the shard shapes, so a rank whose copies are not made yet reports the same.
    const size_t d = size_t(m_config.headDim), hidden = size_t(m_config.hiddenSize), nq = size_t(m_units.queryHeads());
    size_t n = 0;
    for (const auto& layer : m_shards)
        n += layer.size() * (2 * nq * d * hidden + 2 * d * hidden); // wq and wo, wk and wv
    for (const auto& m : m_mlp)
        n += 3 * m.rows * hidden;
    return n * sizeof(float);
}

} // namespace fairkv
