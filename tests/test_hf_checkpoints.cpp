// Checkpoints written by HF transformers load, and the fp32 forward gives HF's logits (1e-4 relative).
#include "model/model_weights.h"
#include "runtime/inference_engine.h"
#include "test_util.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <fstream>

using namespace fairkv;

class TestHfCheckpoints : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void logitsMatchTransformers_data()
    {
        QTest::addColumn<QString>("fixture");
        QTest::addColumn<int>("ranks");
        for (const char* f : {"llama3-f32", "llama3-bf16-tied", "mistral-f32-sharded"}) {
            QTest::newRow(f) << QString::fromUtf8(f) << 1;
            QTest::newRow(qPrintable(QStringLiteral("%1 on 2 ranks").arg(QString::fromUtf8(f)))) << QString::fromUtf8(f) << 2;
        }
    }
    void logitsMatchTransformers()
    {
        QFETCH(QString, fixture);
        QFETCH(int, ranks);
        const std::string folder = std::string(FAIRKV_FIXTURES_DIR) + "/hf/" + fixture.toStdString();
        std::ifstream in(folder + "/logits.json");
        QVERIFY(in.good());
        const auto ref = nlohmann::json::parse(in);
        const auto tokens = ref.at("tokens").get<std::vector<int>>();
        const auto expected = ref.at("logits").get<std::vector<std::vector<double>>>();

        auto weights = std::make_shared<ModelWeights>(ModelWeights::loadHf(folder));
        QVERIFY(weights->unusedTensors.empty()); // transformers' own checkpoints: nothing to warn of
        InferenceEngine engine(weights, ranks, UnitMode::Gqa);
        const auto placement = Placement::uniform(weights->config.numLayers, engine.units().numUnits, ranks, 1);
        const auto out = engine.prefill({tokens}, CompressionOptions{}, placement, true);
        const auto& logits = out.allLogits[0];
        QCOMPARE(logits.size(), expected.size());
        double worst = 0.0;
        for (size_t i = 0; i < logits.size(); ++i)
            worst = std::max(worst, fairkv::test::relativeError(logits[i], expected[i]));
        qInfo("%s on %d rank(s): worst relative logits error against transformers %.3g", qPrintable(fixture), ranks, worst);
        QVERIFY2(worst < 1e-4, qPrintable(QStringLiteral("worst relative error %1").arg(worst)));
    }

    void inspectReportsShape()
    {
        const std::string folder = std::string(FAIRKV_FIXTURES_DIR) + "/hf/mistral-f32-sharded";
        const CheckpointSummary s = inspectHf(folder);
        QCOMPARE(s.config.modelType, std::string("mistral"));
        QCOMPARE(s.config.headDim, 24);
        QCOMPARE(s.files.size(), size_t(10));
        QCOMPARE(s.tensors, size_t(21));
        QCOMPARE(s.dtypes.at("F32"), size_t(21));
        const CheckpointSummary tied = inspectHf(std::string(FAIRKV_FIXTURES_DIR) + "/hf/llama3-bf16-tied");
        QVERIFY(tied.config.tieWordEmbeddings);
        QCOMPARE(tied.dtypes.at("BF16"), size_t(20));
    }
};

QTEST_GUILESS_MAIN(TestHfCheckpoints)
#include "test_hf_checkpoints.moc"
