// HF config.json parsing (old and new RoPE keys, Mistral head_dim) and the built-in shapes.
#include "common/error.h"
#include "model/model_config.h"
#include "model/model_weights.h"
#include "model/rope.h"
#include "test_util.h"

#include <QtTest>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

using namespace fairkv;
using nlohmann::json;

namespace {
json llamaJson()
{
    return json::parse(R"({"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
        "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "hidden_act": "silu",
        "rope_theta": 500000.0, "tie_word_embeddings": false})");
}
} // namespace

class TestModelConfig : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    // --layers N of a built-in shape is the full model's first N layers with the full model's
    // head (the head's seed had followed its place after the layers: every cut had its own head).
    void syntheticCutKeepsTheFullModelsLayersAndHead()
    {
        const ModelWeights full = ModelWeights::synthetic(ModelConfig::builtin("tiny", 0), 3);
        const ModelWeights cut = ModelWeights::synthetic(ModelConfig::builtin("tiny", 2), 3);
        QCOMPARE(cut.layers.size(), size_t(2));
        QVERIFY(cut.embed.data == full.embed.data);
        for (size_t l = 0; l < 2; ++l)
            QVERIFY(cut.layers[l].wq.data == full.layers[l].wq.data && cut.layers[l].wdown.data == full.layers[l].wdown.data);
        QVERIFY(cut.finalNorm.data == full.finalNorm.data);
        QVERIFY(!cut.lmHead.data.empty() && cut.lmHead.data == full.lmHead.data);
        QVERIFY(ModelWeights::synthetic(ModelConfig::builtin("tiny", 0), 4).lmHead.data != full.lmHead.data); // the seed still counts
    }

    void llama3OldStyleRopeScaling()
    {
        json j = llamaJson();
        j["rope_scaling"] = {{"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                             {"original_max_position_embeddings", 8192}, {"rope_type", "llama3"}};
        const ModelConfig c = ModelConfig::fromHfJson(j, "config.json");
        QCOMPARE(c.headDim, 128);
        QCOMPARE(c.groupSize(), 4);
        QCOMPARE(int(c.rope.type), int(RopeConfig::Type::Llama3));
        QCOMPARE(c.rope.theta, 500000.0);
        QCOMPARE(c.rope.factor, 8.0);
        QCOMPARE(c.rope.originalMaxPositions, 8192);
    }

    // transformers requires every llama3 key (KeyError without one, a TypeError on null): a config
    // that leaves one out is refused, not read with the Llama 3.1 values nobody wrote.
    void llama3KeysAreRequired()
    {
        const json full = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                           {"original_max_position_embeddings", 8192}};
        for (const char* key : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
            json j = llamaJson();
            j["rope_scaling"] = full;
            j["rope_scaling"][key] = nullptr;
            FAIRKV_EXPECT_ERROR(ModelConfig::fromHfJson(j, "c.json"), std::string("llama3 rope scaling needs '") + key + "'");
            j["rope_scaling"].erase(key);
            FAIRKV_EXPECT_ERROR(ModelConfig::fromHfJson(j, "c.json"), std::string("llama3 rope scaling needs '") + key + "'");
        }
    }
    void ropeScalingWithLegacyTypeKey()
    {
        json j = llamaJson();
        j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
        const ModelConfig c = ModelConfig::fromHfJson(j, "config.json");
        QCOMPARE(int(c.rope.type), int(RopeConfig::Type::Linear));
        QCOMPARE(c.rope.factor, 2.0);
    }

    void newRopeParametersBlock()
    {
        json j = llamaJson();
        j.erase("rope_theta");
        j["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 32.0},
                                {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                                {"original_max_position_embeddings", 8192}};
        const ModelConfig c = ModelConfig::fromHfJson(j, "config.json");
        QCOMPARE(int(c.rope.type), int(RopeConfig::Type::Llama3));
        QCOMPARE(c.rope.theta, 500000.0);
        QCOMPARE(c.rope.factor, 32.0);
    }

    // transformers 4 reads rope_scaling and ignores rope_parameters; 5 lets rope_scaling replace it.
    // A config holding both (an old line added to a newer config) had run rope_parameters' RoPE.
    void ropeScalingWinsOverRopeParameters()
    {
        json j = llamaJson();
        j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 50000.0}};
        j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
        const ModelConfig c = ModelConfig::fromHfJson(j, "config.json");
        QCOMPARE(int(c.rope.type), int(RopeConfig::Type::Linear));
        QCOMPARE(c.rope.factor, 4.0);
        QCOMPARE(c.rope.theta, j.at("rope_theta").get<double>());
    }

    void positionsBeyondTheSlidingWindowAreRefused()
    {
        json j = json::parse(R"({"model_type": "mistral", "hidden_size": 512, "intermediate_size": 1024,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
            "max_position_embeddings": 32768, "sliding_window": 4096})");
        const ModelConfig c = ModelConfig::fromHfJson(j, "config.json");
        QCOMPARE(c.positionLimit(), int64_t(4096));
        c.requirePositions(4096, "a prompt"); // at the window: fine
        FAIRKV_EXPECT_ERROR(c.requirePositions(4097, "a prompt"),
                            "a prompt needs 4097 positions, beyond the model's sliding_window of 4096");
        FAIRKV_EXPECT_ERROR(c.requirePositions(40000, "a prompt"), "max_position_embeddings of 32768");
        // transformers' Llama has no sliding window and ignores the key.
        j["model_type"] = "llama";
        QCOMPARE(ModelConfig::fromHfJson(j, "config.json").positionLimit(), int64_t(32768));
    }

    // Keys a config leaves out take the defaults of transformers' LlamaConfig and MistralConfig,
    // which differ; an explicit null keeps its own meaning.
    void absentKeysTakeTheModelTypesDefaults()
    {
        json j = json::parse(R"({"model_type": "mistral", "hidden_size": 512, "intermediate_size": 1024,
            "num_hidden_layers": 2, "num_attention_heads": 16, "vocab_size": 100, "hidden_act": "swish"})");
        const ModelConfig m = ModelConfig::fromHfJson(j, "config.json");
        QCOMPARE(m.numKvHeads, 8);
        QCOMPARE(m.maxPositions, 131072);
        QCOMPARE(m.positionLimit(), int64_t(4096)); // the default sliding window
        QCOMPARE(ModelConfig::fromHfJson(m.toHfJson(), "again").positionLimit(), int64_t(4096));
        j["sliding_window"] = nullptr;
        j["num_key_value_heads"] = nullptr;
        const ModelConfig unwindowed = ModelConfig::fromHfJson(j, "config.json");
        QCOMPARE(unwindowed.positionLimit(), int64_t(131072));
        QCOMPARE(unwindowed.numKvHeads, 16);
        QCOMPARE(ModelConfig::fromHfJson(unwindowed.toHfJson(), "again").positionLimit(), int64_t(131072));
        j["model_type"] = "llama";
        j.erase("num_key_value_heads");
        j["hidden_size"] = 520; // not a multiple of 16 heads: head_dim rounds down, as in transformers
        const ModelConfig l = ModelConfig::fromHfJson(j, "config.json");
        QCOMPARE(l.numKvHeads, 16);
        QCOMPARE(l.maxPositions, 2048);
        QCOMPARE(l.headDim, 32);
    }

    // What transformers accepts with a warning, or where a scaling changes nothing, is read as it reads it.
    void ropeScalingsTransformersAccepts()
    {
        json j = llamaJson();
        j["rope_scaling"] = {{"factor", 8.0}, {"low_freq_factor", 4.0}, {"high_freq_factor", 4.0},
                             {"original_max_position_embeddings", 8192}, {"rope_type", "llama3"}};
        const ModelConfig c = ModelConfig::fromHfJson(j, "config.json");
        for (float f : ropeInverseFrequencies(c))
            QVERIFY(std::isfinite(f) && f > 0);
        j["rope_scaling"] = {{"factor", 2.0}, {"rope_type", "dynamic"}, {"original_max_position_embeddings", 4096}};
        const ModelConfig d = ModelConfig::fromHfJson(j, "config.json");
        json plain = llamaJson();
        QCOMPARE(ropeInverseFrequencies(d), ropeInverseFrequencies(ModelConfig::fromHfJson(plain, "config.json")));
        QCOMPARE(d.positionLimit(), int64_t(4096));
        QCOMPARE(d.maxPositions, 131072); // the config's own value, as read
        d.requirePositions(4096, "a prompt");
        FAIRKV_EXPECT_ERROR(d.requirePositions(4097, "a prompt"), "dynamic rope scaling changes nothing");
    }

    void mistralExplicitHeadDim()
    {
        const json j = json::parse(R"({"model_type": "mistral", "hidden_size": 5120, "intermediate_size": 32768,
            "num_hidden_layers": 40, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
            "vocab_size": 131072, "rope_theta": 100000000.0, "sliding_window": null})");
        const ModelConfig c = ModelConfig::fromHfJson(j, "config.json");
        QCOMPARE(c.headDim, 128);
        QVERIFY(c.headDim != c.hiddenSize / c.numHeads);
        QCOMPARE(c.qDim(), int64_t(4096));
        QVERIFY(!c.slidingWindow);
        QCOMPARE(c.rope.theta, 1e8);
    }

    // A value nested 100000 deep (the JSON parser takes it) is refused by its kind; quoting it
    // by dump() recursed that deep and crashed check-model.
    void deeplyNestedValueIsRefused()
    {
        json j = llamaJson();
        j["hidden_act"] = json::parse(std::string(100000, '[') + std::string(100000, ']'));
        FAIRKV_EXPECT_ERROR(ModelConfig::fromHfJson(j, "c.json"), "hidden_act an array of 1 item is not supported");
    }

    void errorsNameTheField_data()
    {
        QTest::addColumn<QString>("patch");
        QTest::addColumn<QString>("needle");
        QTest::newRow("model type") << QStringLiteral(R"({"model_type": "gpt2"})") << QStringLiteral("model_type 'gpt2'");
        QTest::newRow("missing hidden") << QStringLiteral(R"({"hidden_size": null})") << QStringLiteral("hidden_size");
        QTest::newRow("string layers") << QStringLiteral(R"({"num_hidden_layers": "32"})") << QStringLiteral("num_hidden_layers");
        QTest::newRow("heads vs kv") << QStringLiteral(R"({"num_key_value_heads": 5})") << QStringLiteral("multiple of num_key_value_heads");
        QTest::newRow("rope yarn") << QStringLiteral(R"({"rope_scaling": {"rope_type": "yarn", "factor": 4}})") << QStringLiteral("rope type 'yarn'");
        QTest::newRow("activation") << QStringLiteral(R"({"hidden_act": "gelu"})") << QStringLiteral("hidden_act");
        QTest::newRow("bias") << QStringLiteral(R"({"attention_bias": true})") << QStringLiteral("attention_bias");
        QTest::newRow("bias as text") << QStringLiteral(R"({"mlp_bias": "true"})") << QStringLiteral("'mlp_bias' must be true or false, got \"true\"");
        QTest::newRow("odd head dim") << QStringLiteral(R"({"head_dim": 7})") << QStringLiteral("head_dim must be even");
        // Values other tools write that would otherwise be read as something else (robustness sweep).
        QTest::newRow("rope theta zero") << QStringLiteral(R"({"rope_theta": 0})") << QStringLiteral("'rope_theta' must be in (0, 1e12], got 0");
        QTest::newRow("scaling without type") << QStringLiteral(R"({"rope_scaling": {"factor": 8}})") << QStringLiteral("no 'rope_type'");
        QTest::newRow("numeric rope type") << QStringLiteral(R"({"rope_scaling": {"rope_type": 3}})") << QStringLiteral("'rope_type' must be a string");
        QTest::newRow("llama3 low freq zero")
            << QStringLiteral(R"({"rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 0, "high_freq_factor": 4}})")
            << QStringLiteral("'low_freq_factor' must be positive");
        QTest::newRow("llama3 original max zero")
            << QStringLiteral(R"({"rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 0}})")
            << QStringLiteral("original_max_position_embeddings");
        QTest::newRow("linear without factor") << QStringLiteral(R"({"rope_scaling": {"rope_type": "linear"}})")
                                               << QStringLiteral("linear rope scaling needs 'factor'");
        QTest::newRow("partial rotary at the top") << QStringLiteral(R"({"partial_rotary_factor": 0.5})")
                                                   << QStringLiteral("partial_rotary_factor other than 1");
        // A value quoted in an error is described, never dumped: a deep one would recurse that deep.
        QTest::newRow("deep activation") << QStringLiteral(R"({"hidden_act": [[[[["x"]]]]]})")
                                         << QStringLiteral("hidden_act an array of 1 item is not supported");
        QTest::newRow("long string") << QStringLiteral(R"({"hidden_size": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})")
                                     << QStringLiteral("got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"...");
        QTest::newRow("sliding window zero") << QStringLiteral(R"({"model_type": "mistral", "sliding_window": 0})") << QStringLiteral("'sliding_window' = 0");
        QTest::newRow("sliding window 2^40") << QStringLiteral(R"({"model_type": "mistral", "sliding_window": 1099511627776})") << QStringLiteral("'sliding_window' = 1099511627776");
        QTest::newRow("tie as text") << QStringLiteral(R"({"tie_word_embeddings": "yes"})") << QStringLiteral("'tie_word_embeddings' must be true or false");
        QTest::newRow("rms eps huge") << QStringLiteral(R"({"rms_norm_eps": 1e300})") << QStringLiteral("'rms_norm_eps' must be in (0, 1]");
        QTest::newRow("rope theta huge") << QStringLiteral(R"({"rope_theta": 1e308})") << QStringLiteral("'rope_theta' must be in (0, 1e12], got 1e+308");
        QTest::newRow("model type missing") << QStringLiteral(R"({"model_type": null})") << QStringLiteral("has no 'model_type' (expected llama or mistral)");
        QTest::newRow("rope parameters as text") << QStringLiteral(R"({"rope_parameters": "linear"})")
                                                 << QStringLiteral("'rope_parameters' must be an object or null, got \"linear\"");
        QTest::newRow("rope types disagree") << QStringLiteral(R"({"rope_scaling": {"rope_type": "linear", "type": "default", "factor": 4}})")
                                             << QStringLiteral("gives 'rope_type' \"linear\" and 'type' \"default\"");
        QTest::newRow("rope thetas disagree") << QStringLiteral(R"({"rope_theta": 10000, "rope_scaling": {"rope_type": "linear", "factor": 2, "rope_theta": 500000}})")
                                              << QStringLiteral("'rope_scaling' gives 'rope_theta' 500000, the config's own 10000");
        QTest::newRow("rope theta only in scaling") << QStringLiteral(R"({"rope_theta": null, "rope_scaling": {"rope_type": "linear", "factor": 2, "rope_theta": 500000}})")
                                                    << QStringLiteral("the config's own 10000 (the default: not given)");
        QTest::newRow("mistral kv heads by default") << QStringLiteral(R"({"model_type": "mistral", "num_attention_heads": 4, "num_key_value_heads": null})")
                                                     << QStringLiteral("num_key_value_heads, which is not given: MistralConfig's default is 8");
        QTest::newRow("model type number") << QStringLiteral(R"({"model_type": 5})") << QStringLiteral("'model_type' must be a string");
        QTest::newRow("gptq") << QStringLiteral(R"({"quantization_config": {"quant_method": "gptq", "bits": 4}})")
                              << QStringLiteral("quantization_config (quant_method \"gptq\") is not supported");
        QTest::newRow("fractional layers") << QStringLiteral(R"({"num_hidden_layers": 2.5})") << QStringLiteral("'num_hidden_layers' must be an integer, got 2.5");
    }
    void errorsNameTheField()
    {
        QFETCH(QString, patch);
        QFETCH(QString, needle);
        json j = llamaJson();
        const json p = json::parse(patch.toStdString());
        for (auto it = p.begin(); it != p.end(); ++it) {
            if (it.value().is_null())
                j.erase(it.key());
            else
                j[it.key()] = it.value();
        }
        FAIRKV_EXPECT_ERROR(ModelConfig::fromHfJson(j, "some/config.json"), needle.toStdString());
        FAIRKV_EXPECT_ERROR(ModelConfig::fromHfJson(j, "some/config.json"), "some/config.json");
    }

    void builtinShapes()
    {
        for (const auto& name : ModelConfig::builtinNames()) {
            const ModelConfig c = ModelConfig::builtin(name);
            QVERIFY(c.numKvHeads < c.numHeads); // every built-in shape uses GQA
            QCOMPARE(c.numHeads % c.numKvHeads, 0);
        }
        QCOMPARE(ModelConfig::builtin("llama-3.3-70b").numLayers, 80);
        QCOMPARE(ModelConfig::builtin("llama-3.3-70b", 3).numLayers, 3);
        QCOMPARE(ModelConfig::builtin("mistral-small-24b").headDim, 128);
        const auto p8b = ModelConfig::builtin("llama-3.1-8b").parameterCount();
        QVERIFY(p8b > 7'900'000'000LL && p8b < 8'100'000'000LL);
        FAIRKV_EXPECT_ERROR(ModelConfig::builtin("llama-3.3-70b", 81), "--layers 81");
        FAIRKV_EXPECT_ERROR(ModelConfig::builtin("gpt-5"), "unknown model shape 'gpt-5'");
    }

    // A folder named like a built-in shape would be ignored for synthetic weights without a word.
    void builtinNameThatIsAlsoAFolderIsRefused()
    {
        QTemporaryDir dir;
        const QString before = QDir::currentPath();
        QVERIFY(QDir::setCurrent(dir.path()));
        QVERIFY(ModelConfig::selectsBuiltin("tiny"));
        QVERIFY(!ModelConfig::selectsBuiltin("./tiny"));
        QVERIFY(QDir().mkdir(QStringLiteral("tiny")));
        const std::string msg = fairkv::test::errorOf([] { ModelConfig::selectsBuiltin("tiny"); });
        QVERIFY(QDir::setCurrent(before));
        QVERIFY2(msg.find("write ./tiny") != std::string::npos, msg.c_str());
        QCOMPARE(ModelConfig::builtin("tiny").shapeJson().at("weights").get<std::string>(), std::string("synthetic"));
    }

    // A config that is binary, or far larger than any config, gets a message fit for a terminal.
    void unfitConfigFilesAreRefused()
    {
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        {
            std::ofstream(folder + "/config.json", std::ios::binary) << "\x80\x1b[31mRED";
        }
        std::string msg = fairkv::test::errorOf([&] { ModelConfig::fromHfFolder(folder); });
        QVERIFY2(msg.find("\\x80") != std::string::npos && msg.find('\x1b') == std::string::npos, msg.c_str());
        {
            std::ofstream(folder + "/config.json", std::ios::binary) << std::string("\xff\xfe{\0}\0", 6); // saved as UTF-16
        }
        msg = fairkv::test::errorOf([&] { ModelConfig::fromHfFolder(folder); });
        QVERIFY2(msg.find("model config is UTF-16 text") != std::string::npos, msg.c_str());
        // Without the byte-order mark, little- and big-endian.
        for (const std::string& text : {std::string("{\0\n\0}\0", 6), std::string("\0{\0}", 4)}) {
            {
                std::ofstream(folder + "/config.json", std::ios::binary) << text;
            }
            msg = fairkv::test::errorOf([&] { ModelConfig::fromHfFolder(folder); });
            QVERIFY2(msg.find("model config is UTF-16 text") != std::string::npos, msg.c_str());
        }
        {
            std::ofstream out(folder + "/config.json", std::ios::binary);
            out << std::string(size_t(17) << 20, ' ') << "{}";
        }
        msg = fairkv::test::errorOf([&] { ModelConfig::fromHfFolder(folder); });
        QVERIFY2(msg.find("more than any model config holds") != std::string::npos, msg.c_str());
    }

    // What Python's json.dump writes is what transformers reads: a float with an integral value
    // where an integer belongs, NaN and Infinity on keys nothing reads. A key that is read says
    // what it got.
    void pythonWrittenConfigs()
    {
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        json j = llamaJson();
        j["max_position_embeddings"] = 256.0;
        std::string text = j.dump();
        text.insert(text.size() - 1, R"(, "initializer_range": NaN, "note": "NaN stays text", "limits": [Infinity, -Infinity])");
        std::ofstream(folder + "/config.json") << text;
        const ModelConfig c = ModelConfig::fromHfFolder(folder);
        QCOMPARE(c.maxPositions, 256);
        QCOMPARE(c.hiddenSize, j.at("hidden_size").get<int>());
        text = j.dump();
        text.insert(text.size() - 1, R"(, "rms_norm_eps": NaN)");
        std::ofstream(folder + "/config.json") << text;
        FAIRKV_EXPECT_ERROR(ModelConfig::fromHfFolder(folder), "'rms_norm_eps' must be a finite number, got \"NaN\"");
    }

    void jsonRoundTrip()
    {
        const ModelConfig c = ModelConfig::builtin("tiny");
        const ModelConfig back = ModelConfig::fromHfJson(c.toHfJson(), "round trip");
        QCOMPARE(back.hiddenSize, c.hiddenSize);
        QCOMPARE(back.headDim, c.headDim);
        QCOMPARE(int(back.rope.type), int(c.rope.type));
        QCOMPARE(back.rope.factor, c.rope.factor);
    }
};

QTEST_GUILESS_MAIN(TestModelConfig)
#include "test_model_config.moc"
