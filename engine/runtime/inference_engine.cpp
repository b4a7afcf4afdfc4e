#include "runtime/inference_engine.h"

#include "backend/cpu/cpu_ops.h"
#include "parallel/rank_factory.h"
#include "common/error.h"
#include "common/parallel.h"

#include <algorithm>
#include <chrono>
#include <map>

namespace fairkv {

namespace {
void addInto(std::vector<float>& x, const std::vector<float>& y)
{
    for (size_t i = 0; i < x.size(); ++i)
        x[i] += y[i];
}
} // namespace

InferenceEngine::InferenceEngine(std::shared_ptr<const ModelWeights> weights, int ranks, UnitMode mode, const std::string& backend,
                                 const BackendOptions& options)
    : m_weights(std::move(weights))
    , m_units(m_weights->config, mode)
    , m_comm(std::make_unique<InProcessCommunicator>())
    , m_backend(backend)
{
    if (ranks < 1 || ranks > 1024)
        throw Error("--ranks must be between 1 and 1024, got " + std::to_string(ranks));
    for (int g = 0; g < ranks; ++g)
        m_ranks.push_back(makeRank(backend, g, ranks, m_weights->config, mode, options));
    std::vector<Rank*> raw;
    for (auto& r : m_ranks)
        raw.push_back(r.get());
    m_executor = makeStepExecutor(backend, *m_weights, raw, options);
    if (m_executor && m_executor->compressor())
        m_compressor = m_executor->compressor();
}

std::string InferenceEngine::collectiveSource() const
{
    if (m_executor)
        return m_executor->collectiveSource();
    return m_ranks.size() == 1 ? "none: one rank has no all-reduce" : "measured: in-process sum on the host";
}

std::string InferenceEngine::gemmRoutines() const
{
    return m_executor ? m_executor->gemmRoutines() : std::string();
}

InferenceEngine::~InferenceEngine() = default;

void InferenceEngine::checkPositions(long extra) const
{
    long longest = 0;
    for (long p : m_positions)
        longest = std::max(longest, p);
    if (longest + extra > config().positionLimit()) // the message is built only when it is needed: this runs every step
        config().requirePositions(longest + extra, "a sequence of " + std::to_string(longest + extra) + " tokens");
}

InferenceEngine::PrefillOutput InferenceEngine::prefill(const std::vector<std::vector<int>>& prompts,
                                                        const CompressionOptions& compression,
                                                        const Placement& placement, bool allLogits)
{
    const ModelConfig& c = config();
    const int b = int(prompts.size());
    if (b == 0)
        throw Error("prefill needs at least one prompt");
    for (int r = 0; r < b; ++r) {
        if (prompts[size_t(r)].empty())
            throw Error("prompt " + std::to_string(r) + " is empty");
        for (int t : prompts[size_t(r)])
            if (t < 0 || t >= c.vocabSize)
                throw Error("token id " + std::to_string(t) + " of prompt " + std::to_string(r)
                            + " is outside the vocabulary (0.." + std::to_string(c.vocabSize - 1) + ")");
    }
    placement.validate(c.numLayers, m_units.numUnits, numRanks(), b);
    compression.validate(c.numLayers, m_units.numUnits);

    KvStore dropped;
    for (auto& rank : m_ranks)
        rank->releaseKv(dropped);
    m_placement = placement;
    for (auto& rank : m_ranks)
        rank->assign(*m_weights, m_placement, dropped);
    m_positions.assign(size_t(b), 0);
    m_mass.assign(size_t(b), std::vector<std::vector<double>>(size_t(c.numLayers),
                                                              std::vector<double>(size_t(m_units.numUnits), 1.0)));
    long longest = 0;
    for (const auto& p : prompts)
        longest = std::max(longest, long(p.size()));
    checkPositions(longest);

    PrefillOutput result;
    StepTiming& timing = result.timing;
    timing.reset(c.numLayers, numRanks());
    m_step = -1;
    for (auto& rank : m_ranks)
        rank->setTraceContext(m_sink, m_step);
    Span pass(m_sink, TracePhase::Prefill, "prefill", -1, m_step, -1);
    const bool compress = compression.policy != CompressionPolicy::None;
    std::vector<std::vector<std::vector<float>>> logits; // [request][row][vocab]
    if (m_executor) {
        m_executor->setTraceSink(m_sink, m_step);
        m_executor->prefill(
            prompts, allLogits, compress ? compression.window : 0,
            [&](int layer, const std::vector<int>& requests, WindowCapture& capture) {
                compressLayer(layer, compression, requests, capture, timing);
            },
            timing, logits);
    } else {
        logits = prefillOnHost(prompts, compression, allLogits, timing);
    }
    for (int r = 0; r < b; ++r) {
        m_positions[size_t(r)] = long(prompts[size_t(r)].size());
        result.lastLogits.push_back(logits[size_t(r)].back());
    }
    if (allLogits)
        result.allLogits = std::move(logits);
    result.wallMs = pass.end();
    return result;
}

std::vector<std::vector<std::vector<float>>> InferenceEngine::prefillOnHost(const std::vector<std::vector<int>>& prompts,
                                                                            const CompressionOptions& compression,
                                                                            bool allLogits, StepTiming& timing)
{
    const ModelConfig& c = config();
    const int b = int(prompts.size());
    Span embed(m_sink, TracePhase::Replicated, "embedding", -1, m_step, -1);
    const size_t hidden = size_t(c.hiddenSize);
    std::vector<size_t> rowStart(size_t(b) + 1, 0);
    for (int r = 0; r < b; ++r)
        rowStart[size_t(r) + 1] = rowStart[size_t(r)] + prompts[size_t(r)].size();
    std::vector<float> x(rowStart.back() * hidden);
    for (int r = 0; r < b; ++r)
        for (size_t i = 0; i < prompts[size_t(r)].size(); ++i)
            std::copy_n(m_weights->embed.row(prompts[size_t(r)][i]), hidden, x.begin() + long((rowStart[size_t(r)] + i) * hidden));
    timing.replicatedMs += embed.end();

    RowBatch rows;
    rows.rowStart = rowStart;
    rows.position.assign(size_t(b), 0);
    runLayers(rows, x, timing, &compression);

    std::vector<size_t> wanted;
    for (int r = 0; r < b; ++r)
        for (size_t i = allLogits ? rowStart[size_t(r)] : rowStart[size_t(r) + 1] - 1; i < rowStart[size_t(r) + 1]; ++i)
            wanted.push_back(i);
    auto flat = logitsForRows(x, wanted, timing);
    std::vector<std::vector<std::vector<float>>> logits(static_cast<size_t>(b));
    size_t at = 0;
    for (int r = 0; r < b; ++r)
        for (size_t i = allLogits ? rowStart[size_t(r)] : rowStart[size_t(r) + 1] - 1; i < rowStart[size_t(r) + 1]; ++i)
            logits[size_t(r)].push_back(std::move(flat[at++]));
    return logits;
}

std::vector<std::vector<float>> InferenceEngine::decodeStep(const std::vector<int>& tokens, StepTiming* timingOut)
{
    const ModelConfig& c = config();
    if (m_positions.empty())
        throw Error("decode step before prefill");
    if (tokens.size() != m_positions.size())
        throw Error("decode step got " + std::to_string(tokens.size()) + " tokens for a batch of "
                    + std::to_string(m_positions.size()));
    for (int t : tokens)
        if (t < 0 || t >= c.vocabSize)
            throw Error("token id " + std::to_string(t) + " is outside the vocabulary");
    checkPositions(1);
    StepTiming timing;
    timing.reset(c.numLayers, numRanks());
    ++m_step;
    for (auto& rank : m_ranks)
        rank->setTraceContext(m_sink, m_step);
    if (m_executor) {
        m_executor->setTraceSink(m_sink, m_step);
        auto logits = m_executor->decodeStep(tokens, m_positions, timing);
        if (m_sink)
            m_sink->flushDevice(); // the step's kernels are done: a kernel-tracing sink collects them
        for (long& p : m_positions)
            ++p;
        if (timingOut)
            *timingOut = std::move(timing);
        return logits;
    }
    Span pass(m_sink, TracePhase::Decode, "decode step", -1, m_step, -1);
    Span embed(m_sink, TracePhase::Replicated, "embedding", -1, m_step, -1);
    const size_t hidden = size_t(c.hiddenSize);
    const size_t b = tokens.size();
    std::vector<float> x(b * hidden);
    for (size_t r = 0; r < b; ++r)
        std::copy_n(m_weights->embed.row(tokens[r]), hidden, x.begin() + long(r * hidden));
    timing.replicatedMs += embed.end();
    RowBatch rows;
    rows.rowStart.resize(b + 1);
    for (size_t r = 0; r <= b; ++r)
        rows.rowStart[r] = r;
    rows.position = m_positions;
    runLayers(rows, x, timing, nullptr);
    for (long& p : m_positions)
        ++p;
    std::vector<size_t> wanted(b);
    for (size_t r = 0; r < b; ++r)
        wanted[r] = r;
    auto logits = logitsForRows(x, wanted, timing);
    pass.end();
    if (timingOut)
        *timingOut = std::move(timing);
    return logits;
}

void InferenceEngine::runLayers(const RowBatch& rowsIn, std::vector<float>& x, StepTiming& timing,
                                const CompressionOptions* compression)
{
    const ModelConfig& c = config();
    const size_t hidden = size_t(c.hiddenSize);
    const size_t nRows = rowsIn.rows();
    const size_t b = rowsIn.position.size();
    const bool compress = compression && compression->policy != CompressionPolicy::None;
    std::vector<float> normed(x.size());
    std::vector<std::vector<float>> partial(m_ranks.size());
    RowBatch rows = rowsIn;
    rows.data = normed.data();
    for (int l = 0; l < c.numLayers; ++l) {
        const LayerWeights& lw = m_weights->layers[size_t(l)];
        Span norm1(m_sink, TracePhase::Replicated, "input_norm", -1, m_step, l);
        for (size_t i = 0; i < nRows; ++i)
            cpu::rmsNorm(x.data() + i * hidden, hidden, lw.inputNorm.data.data(), c.rmsNormEps, normed.data() + i * hidden);
        timing.replicatedMs += norm1.end();

        WindowCapture capture;
        capture.window = compress ? compression->window : 0;
        for (size_t g = 0; g < m_ranks.size(); ++g) {
            partial[g].assign(nRows * hidden, 0.0f);
            Span span(m_sink, TracePhase::Attention, "attention", int(g), m_step, l);
            m_ranks[g]->attention(l, rows, partial[g].data(), compress ? &capture : nullptr);
            const double hostMs = span.end();
            const double deviceMs = m_ranks[g]->lastDeviceMs();
            timing.attentionMs[size_t(l)][g] = deviceMs >= 0 ? deviceMs : hostMs;
        }
        reduceInto(x, partial, true, l, timing);

        if (compress) {
            std::vector<int> requests(b);
            for (size_t r = 0; r < b; ++r)
                requests[r] = int(r);
            compressLayer(l, *compression, requests, capture, timing);
        }

        Span norm2(m_sink, TracePhase::Replicated, "post_attention_norm", -1, m_step, l);
        for (size_t i = 0; i < nRows; ++i)
            cpu::rmsNorm(x.data() + i * hidden, hidden, lw.postNorm.data.data(), c.rmsNormEps, normed.data() + i * hidden);
        timing.replicatedMs += norm2.end();
        for (size_t g = 0; g < m_ranks.size(); ++g) {
            partial[g].resize(nRows * hidden);
            Span span(m_sink, TracePhase::Mlp, "mlp", int(g), m_step, l);
            m_ranks[g]->mlp(l, normed.data(), nRows, partial[g].data());
            const double hostMs = span.end();
            const double deviceMs = m_ranks[g]->lastDeviceMs();
            timing.mlpMs[size_t(l)][g] = deviceMs >= 0 ? deviceMs : hostMs;
        }
        reduceInto(x, partial, false, l, timing);
    }
}

void InferenceEngine::reduceInto(std::vector<float>& x, std::vector<std::vector<float>>& partial, bool attention, int l,
                                 StepTiming& timing)
{
    // Trace names are static strings (TraceEvent keeps the pointer).
    // One rank has no all-reduce (TP = 1): no collective is timed or traced for it.
    if (m_ranks.size() > 1) {
        Span reduce(m_sink, TracePhase::Collective, attention ? "all_reduce attention" : "all_reduce mlp", -1, m_step, l);
        m_comm->allReduceSum(partial);
        timing.collectiveMs[size_t(l)] += reduce.end();
    }
    // The residual add is every rank's own work after the reduce, not part of the collective.
    Span add(m_sink, TracePhase::Replicated, attention ? "residual_add attention" : "residual_add mlp", -1, m_step, l);
    addInto(x, partial[0]);
    timing.replicatedMs += add.end();
}

void InferenceEngine::compressLayer(int l, const CompressionOptions& compression, const std::vector<int>& requests,
                                    WindowCapture& capture, StepTiming& timing)
{
    Span select(m_sink, TracePhase::Compression, compressionName(compression.policy), -1, m_step, l);
    const int units = m_units.numUnits;
    std::vector<std::vector<std::vector<float>>> scores(requests.size(), std::vector<std::vector<float>>(size_t(units)));
    for (size_t i = 0; i < requests.size(); ++i)
        for (int u = 0; u < units; ++u)
            scores[i][size_t(u)] = std::move(capture.meanAttention[{u, requests[i]}]);
    std::vector<LayerSelection> selections = m_compressor->compress(compression, l, config().numLayers, scores);
    std::map<UnitRequest, std::vector<int>> kept;
    for (size_t i = 0; i < requests.size(); ++i) {
        LayerSelection& sel = selections[i];
        const int r = requests[i];
        for (int u = 0; u < units; ++u) {
            // A share of the unit's attention: a unit that keeps every token keeps exactly 1, and
            // a float sum over the kept ones (a few 1e-8 above 1 at times) stays within [0, 1].
            const bool keepsAll = sel.kept[size_t(u)].size() == scores[i][size_t(u)].size();
            m_mass[size_t(r)][size_t(l)][size_t(u)] = keepsAll ? 1.0 : std::clamp(sel.massRetained[size_t(u)], 0.0, 1.0);
            kept[{u, r}] = std::move(sel.kept[size_t(u)]);
        }
    }
    for (auto& rank : m_ranks)
        rank->compress(l, kept);
    timing.replicatedMs += select.end();
}

std::vector<std::vector<float>> InferenceEngine::logitsForRows(const std::vector<float>& x,
                                                               const std::vector<size_t>& rows, StepTiming& timing) const
{
    Span span(m_sink, TracePhase::Replicated, "lm_head", -1, m_step, -1);
    const ModelConfig& c = config();
    const size_t hidden = size_t(c.hiddenSize);
    const size_t vocab = size_t(c.vocabSize);
    std::vector<float> normed(rows.size() * hidden), flat(rows.size() * vocab);
    for (size_t i = 0; i < rows.size(); ++i)
        cpu::rmsNorm(x.data() + rows[i] * hidden, hidden, m_weights->finalNorm.data.data(), c.rmsNormEps,
                     normed.data() + i * hidden);
    cpu::matmulXWt(normed.data(), rows.size(), hidden, m_weights->outputHead().data.data(), vocab, flat.data());
    std::vector<std::vector<float>> out(rows.size());
    for (size_t i = 0; i < rows.size(); ++i)
        out[i].assign(flat.begin() + long(i * vocab), flat.begin() + long((i + 1) * vocab));
    timing.replicatedMs += span.end();
    return out;
}

size_t InferenceEngine::setPlacement(const Placement& placement)
{
    if (m_positions.empty())
        throw Error("a placement can only change after prefill");
    placement.validate(config().numLayers, m_units.numUnits, numRanks(), batch());
    std::map<KvKey, int> owner;
    KvStore pool;
    for (auto& rank : m_ranks) {
        for (const auto& [key, block] : rank->kv())
            owner[key] = rank->index();
        rank->releaseKv(pool);
    }
    m_placement = placement;
    for (auto& rank : m_ranks)
        rank->assign(*m_weights, m_placement, pool);
    size_t moved = 0;
    for (auto& rank : m_ranks)
        for (const auto& [key, block] : rank->kv())
            if (owner[key] != rank->index())
                moved += block.bytes();
    return moved;
}

InferenceEngine::DecodeState InferenceEngine::saveState() const
{
    if (m_positions.empty())
        throw Error("no decode state before prefill");
    DecodeState s;
    for (const auto& rank : m_ranks)
        for (const auto& [key, block] : rank->kv())
            s.kv.emplace(key, block); // replicas hold disjoint (unit, request) blocks: no duplicates
    s.positions = m_positions;
    s.mass = m_mass;
    return s;
}

void InferenceEngine::restoreState(const DecodeState& state)
{
    if (m_positions.empty())
        throw Error("a decode state can only be restored after prefill");
    if (state.positions.size() != m_positions.size())
        throw Error("the saved decode state has " + std::to_string(state.positions.size()) + " requests, the engine "
                    + std::to_string(m_positions.size()));
    KvStore dropped;
    for (auto& rank : m_ranks)
        rank->releaseKv(dropped);
    KvStore pool = state.kv;
    for (auto& rank : m_ranks)
        rank->assign(*m_weights, m_placement, pool);
    m_positions = state.positions;
    m_mass = state.mass;
    m_step = -1;
}

std::vector<std::vector<std::vector<int>>> InferenceEngine::kvLengths() const
{
    std::vector<std::vector<std::vector<int>>> len(
        size_t(batch()), std::vector<std::vector<int>>(size_t(config().numLayers), std::vector<int>(size_t(m_units.numUnits), 0)));
    for (const auto& rank : m_ranks)
        for (const auto& [key, block] : rank->kv())
            len[size_t(key.request)][size_t(key.layer)][size_t(key.unit)] = int(block.length());
    return len;
}

std::vector<size_t> InferenceEngine::rankWeightBytes() const
{
    std::vector<size_t> out;
    for (const auto& rank : m_ranks)
        out.push_back(rank->weightBytes());
    return out;
}

std::vector<size_t> InferenceEngine::rankKvBytes() const
{
    std::vector<size_t> out;
    for (const auto& rank : m_ranks) {
        size_t n = 0;
        for (const auto& [key, block] : rank->kv())
            n += block.bytes();
        out.push_back(n);
    }
    return out;
}

} // namespace fairkv
