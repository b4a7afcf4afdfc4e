// Design §2 invariant: a placement is a performance decision only. Logits after prefill,
// compression and T decode steps equal the single-rank logits for any valid placement.
#include "backend/cpu/cpu_rank.h"
#include "common/rng.h"
#include "model/model_weights.h"
#include "runtime/inference_engine.h"
#include "runtime/run.h"
#include "test_util.h"

#include <QtTest>

#include <algorithm>

using namespace fairkv;

namespace {

constexpr int kBatch = 3;
constexpr int kSteps = 4;

// Every unit gets 1..min(ranks, batch) replicas on distinct ranks with a random partition of the batch.
Placement randomPlacement(int layers, int units, int ranks, uint64_t seed)
{
    Rng rng(seed);
    Placement p;
    p.name = "random";
    p.ranks = ranks;
    p.batch = kBatch;
    p.layers.resize(size_t(layers));
    for (auto& layer : p.layers)
        for (int u = 0; u < units; ++u) {
            const int copies = 1 + int(rng.below(uint64_t(std::min(ranks, kBatch))));
            std::vector<int> rankPool(static_cast<size_t>(ranks));
            for (int g = 0; g < ranks; ++g)
                rankPool[size_t(g)] = g;
            for (int i = ranks - 1; i > 0; --i)
                std::swap(rankPool[size_t(i)], rankPool[rng.below(uint64_t(i + 1))]);
            UnitPlacement up{u, {}};
            for (int c = 0; c < copies; ++c)
                up.replicas.push_back({rankPool[size_t(c)], {}});
            // Each replica first gets one request so none is empty, the rest go anywhere.
            std::vector<int> order = {0, 1, 2};
            for (int i = kBatch - 1; i > 0; --i)
                std::swap(order[size_t(i)], order[rng.below(uint64_t(i + 1))]);
            for (int i = 0; i < kBatch; ++i) {
                const int target = i < copies ? i : int(rng.below(uint64_t(copies)));
                up.replicas[size_t(target)].requests.push_back(order[size_t(i)]);
            }
            for (auto& r : up.replicas)
                std::sort(r.requests.begin(), r.requests.end());
            layer.push_back(std::move(up));
        }
    return p;
}

struct Trace
{
    std::vector<std::vector<std::vector<float>>> logits; // [step][request][vocab]
    std::vector<std::vector<std::vector<int>>> kvLen;
};

Trace decode(const std::shared_ptr<const ModelWeights>& w, UnitMode mode, int ranks, const Placement& p,
             const Placement* switchTo = nullptr)
{
    CompressionOptions c;
    c.policy = CompressionPolicy::AdaSnapKV;
    c.budget = 40;
    c.window = 8;
    InferenceEngine engine(w, ranks, mode);
    const auto prompts = makePrompts(kBatch, 72, w->config.vocabSize, 21);
    Trace t;
    auto pre = engine.prefill(prompts, c, p);
    t.logits.push_back(pre.lastLogits);
    std::vector<int> next(kBatch);
    for (int step = 0; step < kSteps; ++step) {
        if (switchTo && step == kSteps / 2)
            engine.setPlacement(*switchTo);
        for (int r = 0; r < kBatch; ++r) // feed the reference's greedy choice: same inputs everywhere
            next[size_t(r)] = int(std::max_element(t.logits.back()[size_t(r)].begin(), t.logits.back()[size_t(r)].end())
                                  - t.logits.back()[size_t(r)].begin());
        t.logits.push_back(engine.decodeStep(next));
    }
    t.kvLen = engine.kvLengths();
    return t;
}

double worstError(const Trace& a, const Trace& ref)
{
    double worst = 0;
    for (size_t s = 0; s < ref.logits.size(); ++s)
        for (size_t r = 0; r < ref.logits[s].size(); ++r)
            worst = std::max(worst, fairkv::test::relativeError(a.logits[s][r], ref.logits[s][r]));
    return worst;
}

} // namespace

class TestPlacementInvariant : public QObject
{
    Q_OBJECT
private:
    std::shared_ptr<const ModelWeights> m_weights;

private Q_SLOTS:
    void initTestCase()
    {
        ModelConfig c = ModelConfig::builtin("tiny", 2);
        c.vocabSize = 512;
        m_weights = std::make_shared<ModelWeights>(ModelWeights::synthetic(c, 5));
    }

    // A rank that copies its weight shards on first use (the CUDA rank's host side) computes and
    // reports exactly what one that copies them up front does, also after a placement change.
    void weightsOnDemandMatchUpFront()
    {
        const ModelConfig& c = m_weights->config;
        const UnitLayout units(c, UnitMode::Gqa);
        const size_t hidden = size_t(c.hiddenSize), rows = 5;
        Rng rng(11);
        std::vector<float> x(rows * hidden);
        for (float& v : x)
            v = float(rng.uniform() - 0.5);
        RowBatch in;
        in.data = x.data();
        in.rowStart = {0, rows};
        in.position = {0};
        for (const Placement& p : {Placement::uniform(c.numLayers, units.numUnits, 2, 1),
                                   Placement::uniform(c.numLayers, units.numUnits, 3, 1)}) {
            CpuRank upFront(1, c, UnitMode::Gqa), onDemand(1, c, UnitMode::Gqa);
            onDemand.setWeightsOnDemand(true);
            KvStore a, b;
            upFront.assign(*m_weights, p, a);
            onDemand.assign(*m_weights, p, b);
            QCOMPARE(onDemand.weightBytes(), upFront.weightBytes());
            QVERIFY(upFront.weightBytes() > 0);
            std::vector<float> outA(rows * hidden, 0.0f), outB(rows * hidden, 0.0f), mlpA(rows * hidden), mlpB(rows * hidden);
            upFront.attention(0, in, outA.data(), nullptr);
            onDemand.attention(0, in, outB.data(), nullptr);
            QCOMPARE(outB, outA);
            upFront.mlp(1, x.data(), rows, mlpA.data());
            onDemand.mlp(1, x.data(), rows, mlpB.data());
            QCOMPARE(mlpB, mlpA);
        }
    }

    void sameLogitsOnAnyPlacement_data()
    {
        QTest::addColumn<int>("mode");
        QTest::addColumn<int>("ranks");
        QTest::addColumn<bool>("random");
        for (int mode : {int(UnitMode::Gqa), int(UnitMode::PerQueryHead)})
            for (int ranks : {2, 3, 4, 8})
                for (bool random : {false, true})
                    QTest::newRow(qPrintable(QStringLiteral("%1 N=%2 %3")
                                                 .arg(QString::fromUtf8(unitModeName(UnitMode(mode))))
                                                 .arg(ranks)
                                                 .arg(random ? QStringLiteral("random") : QStringLiteral("uniform"))))
                        << mode << ranks << random;
    }
    void sameLogitsOnAnyPlacement()
    {
        QFETCH(int, mode);
        QFETCH(int, ranks);
        QFETCH(bool, random);
        const UnitLayout units(m_weights->config, UnitMode(mode));
        const int layers = m_weights->config.numLayers;
        const Trace ref = decode(m_weights, UnitMode(mode), 1, Placement::uniform(layers, units.numUnits, 1, kBatch));
        for (uint64_t seed = 0; seed < (random ? 3u : 1u); ++seed) {
            const Placement p = random ? randomPlacement(layers, units.numUnits, ranks, seed * 31 + uint64_t(ranks))
                                       : Placement::uniform(layers, units.numUnits, ranks, kBatch);
            const Trace t = decode(m_weights, UnitMode(mode), ranks, p);
            QCOMPARE(t.kvLen, ref.kvLen);
            const double err = worstError(t, ref);
            QVERIFY2(err < 1e-5, qPrintable(QStringLiteral("relative error %1").arg(err)));
        }
    }

    void livePlacementChangeKeepsOutputs()
    {
        const UnitLayout units(m_weights->config, UnitMode::Gqa);
        const int layers = m_weights->config.numLayers;
        const Trace ref = decode(m_weights, UnitMode::Gqa, 1, Placement::uniform(layers, units.numUnits, 1, kBatch));
        const Placement a = Placement::uniform(layers, units.numUnits, 4, kBatch);
        const Placement b = randomPlacement(layers, units.numUnits, 4, 77);
        const Trace t = decode(m_weights, UnitMode::Gqa, 4, a, &b);
        QCOMPARE(t.kvLen, ref.kvLen);
        QVERIFY(worstError(t, ref) < 1e-5);
    }

    void invalidLivePlacementChangesNothing()
    {
        const UnitLayout units(m_weights->config, UnitMode::Gqa);
        InferenceEngine engine(m_weights, 2, UnitMode::Gqa);
        engine.prefill(makePrompts(kBatch, 20, 512, 1), CompressionOptions{},
                       Placement::uniform(2, units.numUnits, 2, kBatch));
        Placement bad = Placement::uniform(2, units.numUnits, 2, kBatch);
        bad.layers[1][2].replicas[0].requests = {0, 1};
        FAIRKV_EXPECT_ERROR(engine.setPlacement(bad), "request 2 is served by no replica");
        QCOMPARE(engine.placement().layers[1][2].replicas[0].requests, (std::vector<int>{0, 1, 2}));
        QCOMPARE(engine.kvLengths()[2][1][2], 20);
    }
};

QTEST_GUILESS_MAIN(TestPlacementInvariant)
#include "test_placement_invariant.moc"
