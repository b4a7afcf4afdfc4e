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

    // Tied embeddings stored once as 'lm_head.weight' (safetensors' save_model keeps the first name
    // of tensors that share memory): transformers loads it, and so does the engine, to the same logits.
    void tiedWeightsStoredAsLmHead()
    {
        const std::string fixture = std::string(FAIRKV_FIXTURES_DIR) + "/hf/llama3-bf16-tied";
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        for (const char* f : {"config.json", "logits.json"})
            QVERIFY(QFile::copy(QString::fromStdString(fixture + "/" + f), QString::fromStdString(folder + "/" + f)));
        std::ifstream in(fixture + "/model.safetensors", std::ios::binary);
        std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const std::string from = "\"model.embed_tokens.weight\"", to = "\"lm_head.weight\"";
        const size_t at = file.find(from);
        QVERIFY(at != std::string::npos && at < 8 + 4096);
        file.replace(at, from.size(), to + std::string(from.size() - to.size(), ' ')); // the header keeps its length
        std::ofstream(folder + "/model.safetensors", std::ios::binary) << file;

        const auto weights = std::make_shared<ModelWeights>(ModelWeights::loadHf(folder));
        QVERIFY(weights->unusedTensors.empty());
        std::ifstream refIn(folder + "/logits.json");
        const auto ref = nlohmann::json::parse(refIn);
        InferenceEngine engine(weights, 1, UnitMode::Gqa);
        const auto out = engine.prefill({ref.at("tokens").get<std::vector<int>>()}, CompressionOptions{},
                                        Placement::uniform(weights->config.numLayers, engine.units().numUnits, 1, 1), true);
        const auto expected = ref.at("logits").get<std::vector<std::vector<double>>>();
        for (size_t i = 0; i < expected.size(); ++i)
            QVERIFY(fairkv::test::relativeError(out.allLogits[0][i], expected[i]) < 1e-4);
        // Its errors name the tensor as the file has it.
        {
            std::string wrong = file;
            const std::string shape = "\"shape\":[128,64]";
            const size_t lm = wrong.find(to), at = wrong.find(shape, lm);
            QVERIFY(lm != std::string::npos && at != std::string::npos);
            wrong.replace(at, shape.size(), "\"shape\":[64,128]"); // transposed: the same bytes, the same header length
            std::ofstream(folder + "/model.safetensors", std::ios::binary | std::ios::trunc) << wrong;
            FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "tensor 'lm_head.weight' (read as 'model.embed_tokens.weight') has shape");
            std::ofstream(folder + "/model.safetensors", std::ios::binary | std::ios::trunc) << file;
        }
        // Untied, the same file lacks its embedding, and says so.
        nlohmann::json config = nlohmann::json::parse(std::ifstream(folder + "/config.json"));
        config["tie_word_embeddings"] = false;
        std::ofstream(folder + "/config.json") << config.dump();
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "missing tensor 'model.embed_tokens.weight'");
    }

    void metaOriginalFormatIsNamed()
    {
        QTemporaryDir dir;
        std::ofstream(dir.filePath(QStringLiteral("params.json")).toStdString()) << R"({"dim": 4096, "n_layers": 32})";
        FAIRKV_EXPECT_ERROR(inspectHf(dir.path().toStdString()), "has params.json but no config.json: an original Llama or Mistral release");
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
