// KV compression policies: budgets, floors, windows, per-request lengths.
#include "common/rng.h"
#include "kv/compression.h"
#include "model/model_weights.h"
#include "runtime/inference_engine.h"
#include "runtime/run.h"
#include "test_util.h"

#include <QtTest>

#include <fstream>
#include <numeric>
#include <set>

using namespace fairkv;

namespace {
// Attention-like rows: per unit a different sharpness, normalised to sum 1.
std::vector<std::vector<float>> skewedScores(int units, int len, uint64_t seed)
{
    Rng rng(seed);
    std::vector<std::vector<float>> s(static_cast<size_t>(units), std::vector<float>(static_cast<size_t>(len)));
    for (int u = 0; u < units; ++u) {
        const double sharp = 0.2 + 4.0 * rng.uniform();
        double sum = 0;
        for (float& x : s[size_t(u)])
            sum += x = float(std::exp(sharp * rng.normal()));
        for (float& x : s[size_t(u)])
            x = float(x / sum);
    }
    return s;
}

CompressionOptions ada(int budget)
{
    CompressionOptions o;
    o.policy = CompressionPolicy::AdaSnapKV;
    o.budget = budget;
    return o;
}
} // namespace

class TestCompression : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void apportionKeepsTotalAndBounds()
    {
        const auto a = apportion({1.5, 2.5, 3.0}, 7, {10, 10, 10});
        QCOMPARE(std::accumulate(a.begin(), a.end(), 0), 7);
        const auto capped = apportion({5.0, 5.0, 0.0}, 10, {3, 10, 10});
        QCOMPARE(capped[0], 3);
        QCOMPARE(std::accumulate(capped.begin(), capped.end(), 0), 10);
    }

    void pooling()
    {
        const std::vector<float> x = {0, 5, 1, 0, 0, 0, 9, 2};
        const auto mx = poolScores(x.data(), 8, 3, Pooling::Max);
        QCOMPARE(mx, (std::vector<float>{5, 5, 5, 1, 0, 9, 9, 9}));
        const auto av = poolScores(x.data(), 8, 3, Pooling::Avg);
        QCOMPARE(av[0], 2.5f); // padding excluded from the count
        QCOMPARE(av[1], 2.0f);
    }

    void adaSnapKvBudgets_data()
    {
        QTest::addColumn<int>("units");
        QTest::addColumn<int>("len");
        QTest::addColumn<int>("budget");
        QTest::newRow("8 units, 512 tokens, B=64") << 8 << 512 << 64;
        QTest::newRow("32 units, 300 tokens, B=128") << 32 << 300 << 128;
        QTest::newRow("4 units, 129 tokens, B=128") << 4 << 129 << 128;
    }
    void adaSnapKvBudgets()
    {
        QFETCH(int, units);
        QFETCH(int, len);
        QFETCH(int, budget);
        const CompressionOptions o = ada(budget);
        const auto scores = skewedScores(units, len, uint64_t(units * 1000 + len));
        const LayerSelection sel = compressLayer(o, 0, 1, scores);
        size_t total = 0;
        std::set<size_t> sizes;
        const int floorTokens = int(std::floor(o.floorAlpha * (budget - o.window)));
        for (int u = 0; u < units; ++u) {
            const auto& kept = sel.kept[size_t(u)];
            total += kept.size();
            sizes.insert(kept.size());
            QVERIFY2(int(kept.size()) >= floorTokens + o.window, "floor violated");
            QVERIFY(std::is_sorted(kept.begin(), kept.end()));
            QVERIFY(std::adjacent_find(kept.begin(), kept.end()) == kept.end());
            for (int i = len - o.window; i < len; ++i) // the window is always kept
                QVERIFY(std::binary_search(kept.begin(), kept.end(), i));
            double mass = 0;
            for (int i : kept)
                mass += scores[size_t(u)][size_t(i)];
            QVERIFY(std::abs(mass - sel.massRetained[size_t(u)]) < 1e-6);
            QVERIFY(sel.massRetained[size_t(u)] > 0 && sel.massRetained[size_t(u)] <= 1.0 + 1e-6);
        }
        QCOMPARE(total, size_t(units) * size_t(budget)); // layer total = units x budget, window included
        QVERIFY2(sizes.size() > 1, "adaptive budgets should differ between units on skewed scores");
    }

    void shortPromptUntouched()
    {
        const auto scores = skewedScores(4, 64, 5);
        for (CompressionPolicy p : {CompressionPolicy::SnapKV, CompressionPolicy::AdaSnapKV, CompressionPolicy::PyramidKV}) {
            CompressionOptions o = ada(64);
            o.policy = p;
            const LayerSelection sel = compressLayer(o, 0, 1, scores);
            for (const auto& kept : sel.kept)
                QCOMPARE(kept.size(), size_t(64));
        }
    }

    void snapKvUniform()
    {
        CompressionOptions o = ada(96);
        o.policy = CompressionPolicy::SnapKV;
        const LayerSelection sel = compressLayer(o, 0, 1, skewedScores(6, 400, 6));
        for (const auto& kept : sel.kept)
            QCOMPARE(kept.size(), size_t(96));
    }

    void snapKvKeepsTheHighestPooledScores()
    {
        CompressionOptions o = ada(40);
        o.policy = CompressionPolicy::SnapKV;
        o.kernel = 1;
        std::vector<std::vector<float>> s(1, std::vector<float>(200, 0.001f));
        for (int i : {3, 50, 77, 150, 160, 11, 12, 13})
            s[0][size_t(i)] = 0.1f;
        const LayerSelection sel = compressLayer(o, 0, 1, s);
        for (int i : {3, 11, 12, 13, 50, 77, 150, 160})
            QVERIFY(std::binary_search(sel.kept[0].begin(), sel.kept[0].end(), i));
    }

    void pyramidDecreasesWithDepth()
    {
        CompressionOptions o = ada(128);
        o.policy = CompressionPolicy::PyramidKV;
        std::vector<int> budgets;
        for (int l = 0; l < 8; ++l)
            budgets.push_back(pyramidLayerBudget(o, l, 8, 1000));
        QVERIFY(std::is_sorted(budgets.rbegin(), budgets.rend()));
        QVERIFY(budgets.front() > budgets.back());
        const double mean = std::accumulate(budgets.begin(), budgets.end(), 0.0) / 8;
        QCOMPARE(mean, 128.0);
    }

    // --budget includes the window and holds on average over the layers, where the reference's
    // integer steps kept up to half as much again (budget 2, window 1: 3 in every layer).
    void pyramidKeepsTheBudgetOnAverage_data()
    {
        QTest::addColumn<int>("budget");
        QTest::addColumn<int>("window");
        QTest::addColumn<int>("prompt");
        QTest::addColumn<int>("layers");
        QTest::newRow("budget 2") << 2 << 1 << 64 << 4;
        QTest::newRow("prompt one over the budget") << 100 << 1 << 101 << 4;
        QTest::newRow("steps below one") << 16 << 8 << 17 << 4;
        QTest::newRow("uneven") << 16 << 8 << 64 << 4;
        QTest::newRow("deep") << 1024 << 32 << 8192 << 80;
        QTest::newRow("three layers") << 37 << 5 << 60 << 3;
    }

    void pyramidKeepsTheBudgetOnAverage()
    {
        QFETCH(int, budget);
        QFETCH(int, window);
        QFETCH(int, prompt);
        QFETCH(int, layers);
        CompressionOptions o = ada(budget);
        o.window = window;
        o.policy = CompressionPolicy::PyramidKV;
        long total = 0;
        int last = prompt;
        for (int l = 0; l < layers; ++l) {
            const int b = pyramidLayerBudget(o, l, layers, prompt);
            QVERIFY2(b <= last && b >= window && b <= prompt, qPrintable(QString::number(b)));
            last = b;
            total += b;
        }
        QCOMPARE(total, long(budget) * layers);
        QVERIFY(compresses(o, layers - 1, layers, prompt));
    }

    void headKvFollowsScores()
    {
        CompressionOptions o = ada(64);
        o.policy = CompressionPolicy::HeadKV;
        o.headScores = {{1, 1, 1, 5}, {0, 2, 2, 1}};
        o.validate(2, 4);
        const auto scores = skewedScores(4, 400, 8);
        size_t total = 0;
        std::vector<size_t> sizes;
        for (int l = 0; l < 2; ++l) {
            const LayerSelection sel = compressLayer(o, l, 2, scores);
            for (const auto& k : sel.kept) {
                total += k.size();
                sizes.push_back(k.size());
            }
        }
        QCOMPARE(total, size_t(2 * 4 * 64)); // global across layers
        QVERIFY(sizes[3] > sizes[0]);        // the score-5 head gets more
        QVERIFY(sizes[4] < sizes[5]);        // score 0 keeps only the floor
        QVERIFY(int(sizes[4]) >= int(std::floor(0.2 * 32)) + 32);
        o.headScores = {{1, 1}};
        FAIRKV_EXPECT_ERROR(o.validate(2, 4), "--head-scores");
        // The options alone pass without scores (a command line reads them after this check);
        // the run itself is refused without them.
        o.headScores.clear();
        o.validateOptions();
        FAIRKV_EXPECT_ERROR(o.validate(2, 4), "--compress headkv needs --head-scores FILE");
        // A file with no layer at all is named as such, not taken for a missing --head-scores.
        QTemporaryDir dir;
        const std::string empty = dir.filePath(QStringLiteral("empty.json")).toStdString();
        std::ofstream(empty) << R"({"scores": []})";
        FAIRKV_EXPECT_ERROR(CompressionOptions::loadHeadScores(empty), empty + ": the file holds no layer of scores");
    }

    // A score file for more layers than the run uses (the full model, run with --layers) keeps
    // the budget over the layers that run; heads that all scored zero share the pool evenly.
    void headKvSpendsTheBudgetOfTheLayersThatRun()
    {
        CompressionOptions o = ada(64);
        o.policy = CompressionPolicy::HeadKV;
        const auto scores = skewedScores(4, 400, 8);
        for (const auto& file : std::vector<std::vector<std::vector<double>>>{
                 {{1, 1, 1, 1}, {1, 1, 1, 1}, {0, 0, 0, 0}, {0, 0, 0, 0}}, {{0, 0, 0, 0}, {0, 0, 0, 0}}, {{0, 0, 0, 9}, {0, 0, 0, 0}},
                 {{1e307, 1e307, 1e307, 1e307}, {1e307, 1e307, 1e307, 1e307}}}) { // their sum overflows a double
            o.headScores = file;
            o.validate(2, 4);
            size_t total = 0;
            for (int l = 0; l < 2; ++l)
                for (const auto& k : compressLayer(o, l, 2, scores).kept)
                    total += k.size();
            QCOMPARE(total, size_t(2 * 4 * 64));
        }
        o.headScores = {{1, 1, 1, 1}, {1, 1, 1, 1}, {1, -1, 1, 1}};
        FAIRKV_EXPECT_ERROR(o.validate(2, 4), "layer 2 has a negative");
    }

    void optionErrors()
    {
        CompressionOptions o = ada(16);
        FAIRKV_EXPECT_ERROR(o.validate(1, 1), "--budget (16) must be larger than the observation window (32)");
        o = ada(64);
        o.kernel = 4;
        FAIRKV_EXPECT_ERROR(o.validate(1, 1), "--kernel");
        FAIRKV_EXPECT_ERROR(compressionFromName("quantize"), "--compress 'quantize'");
    }

    void batchHasPerRequestLengths()
    {
        auto weights = std::make_shared<ModelWeights>(ModelWeights::synthetic(ModelConfig::builtin("tiny", 2), 11));
        InferenceEngine engine(weights, 2, UnitMode::Gqa);
        const int units = engine.units().numUnits;
        const auto prompts = makePrompts(3, 200, weights->config.vocabSize, 4);
        engine.prefill(prompts, ada(64), Placement::uniform(2, units, 2, 3));
        const auto len = engine.kvLengths();
        for (int r = 0; r < 3; ++r)
            for (int l = 0; l < 2; ++l) {
                const auto& row = len[size_t(r)][size_t(l)];
                QCOMPARE(std::accumulate(row.begin(), row.end(), 0), units * 64);
            }
        QVERIFY2(len[0] != len[1] || len[1] != len[2], "requests of one batch should keep different per-unit lengths");
        engine.decodeStep({1, 2, 3});
        const auto after = engine.kvLengths();
        QCOMPARE(after[0][0][0], len[0][0][0] + 1); // decode appends
        const auto& mass = engine.attentionMass();
        for (const auto& req : mass)
            for (const auto& layer : req)
                for (double m : layer)
                    QVERIFY(m > 0.0 && m <= 1.0);
    }

    // A prompt one token over the budget: some units keep every token and retain exactly all of
    // their attention (float sums had read 1.00000002, and others a few 1e-8 over 1).
    void unitsThatKeepEveryTokenRetainAllTheirMass()
    {
        auto weights = std::make_shared<ModelWeights>(ModelWeights::synthetic(ModelConfig::builtin("tiny", 2), 3));
        InferenceEngine engine(weights, 1, UnitMode::Gqa);
        const int units = engine.units().numUnits;
        engine.prefill(makePrompts(3, 65, weights->config.vocabSize, 5), ada(64), Placement::uniform(2, units, 1, 3));
        const auto len = engine.kvLengths();
        const auto& mass = engine.attentionMass();
        int whole = 0;
        for (size_t r = 0; r < len.size(); ++r)
            for (size_t l = 0; l < len[r].size(); ++l)
                for (size_t u = 0; u < len[r][l].size(); ++u) {
                    QVERIFY(mass[r][l][u] > 0.0 && mass[r][l][u] <= 1.0);
                    if (len[r][l][u] == 65) {
                        QCOMPARE(mass[r][l][u], 1.0);
                        ++whole;
                    }
                }
        QVERIFY2(whole > 0, "Ada-SnapKV gives some units the whole prompt here");
    }
};

QTEST_GUILESS_MAIN(TestCompression)
#include "test_compression.moc"
