// safetensors reader/writer: round trip, and one clear error for each kind of broken file.
#include "common/error.h"
#include "common/rng.h"
#include "model/model_weights.h"
#include "model/safetensors.h"
#include "test_util.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include <sys/stat.h>

using namespace fairkv;
using fairkv::test::path;

namespace {

// A file with a hand-written header: lets each test break exactly one rule.
void writeRaw(const std::string& file, const std::string& header, size_t dataBytes, int64_t lengthOverride = -1)
{
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    const uint64_t len = lengthOverride >= 0 ? uint64_t(lengthOverride) : header.size();
    for (int i = 0; i < 8; ++i)
        out.put(char((len >> (8 * i)) & 0xff));
    out << header;
    out << std::string(dataBytes, '\x01');
}

std::vector<char> readAll(const std::string& file)
{
    std::ifstream in(file, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

} // namespace

class TestSafetensors : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void roundTrip()
    {
        QTemporaryDir dir;
        const std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f};
        const std::vector<float> b = {0.1f, 0.2f, 0.3f, 0.4f};
        const std::string file = path(dir, "t.safetensors");
        writeSafetensors(file,
                         {{"a.f32", DType::F32, {2, 3}, a.data()},
                          {"b.bf16", DType::BF16, {4}, b.data()},
                          {"c.f16", DType::F16, {2, 2}, b.data()}},
                         {{"format", "pt"}});
        auto f = SafetensorsFile::open(file);
        QCOMPARE(f->entries().size(), size_t(3));
        QCOMPARE(f->metadata().at("format"), std::string("pt"));
        const Tensor ta = f->toFloat(*f->find("a.f32"));
        QCOMPARE(ta.shape, (std::vector<int64_t>{2, 3}));
        QCOMPARE(ta.data, a);
        const Tensor tb = f->toFloat(*f->find("b.bf16"));
        for (size_t i = 0; i < b.size(); ++i)
            QVERIFY(std::abs(tb.data[i] - b[i]) <= std::abs(b[i]) / 128);
        const Tensor tc = f->toFloat(*f->find("c.f16"));
        for (size_t i = 0; i < b.size(); ++i)
            QVERIFY(std::abs(tc.data[i] - b[i]) <= std::abs(b[i]) / 1024);
        // The header is padded so the data section starts 8-byte aligned.
        const auto bytes = readAll(file);
        uint64_t len = 0;
        for (int i = 7; i >= 0; --i)
            len = (len << 8) | uint8_t(bytes[size_t(i)]);
        QCOMPARE(len % 8, uint64_t(0));
    }

    void modelRoundTrip()
    {
        QTemporaryDir dir;
        const ModelWeights w = ModelWeights::synthetic(ModelConfig::builtin("tiny", 1), 7);
        w.saveHf(dir.path().toStdString(), "BF16");
        const ModelWeights back = ModelWeights::loadHf(dir.path().toStdString());
        QCOMPARE(back.config.numLayers, 1);
        QCOMPARE(back.layers[0].wq.shape, w.layers[0].wq.shape);
        for (size_t i = 0; i < 1000; ++i)
            QCOMPARE(back.layers[0].wq.data[i], bf16ToFloat(floatToBf16(w.layers[0].wq.data[i])));
    }

    void brokenFiles_data()
    {
        QTest::addColumn<QString>("header");
        QTest::addColumn<int>("dataBytes");
        QTest::addColumn<qint64>("lengthOverride");
        QTest::addColumn<QString>("needle");
        const QString ok = QStringLiteral(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})");
        QTest::newRow("header length past end") << ok << 8 << qint64(5000) << QStringLiteral("past the end of the file");
        QTest::newRow("header length too short") << ok << 8 << qint64(1) << QStringLiteral("not valid JSON");
        QTest::newRow("header length 0") << ok << 8 << qint64(0) << QStringLiteral("header length is 0");
        QTest::newRow("header length over limit") << ok << 8 << qint64(200LL << 20) << QStringLiteral("exceeds the 100 MiB limit");
        QTest::newRow("not json") << QStringLiteral("{this is not json}") << 0 << qint64(-1) << QStringLiteral("not valid JSON (");
        QTest::newRow("metadata twice") << QStringLiteral(R"({"__metadata__":{},"__metadata__":{}})") << 0 << qint64(-1) << QStringLiteral("header has '__metadata__' twice");
        QTest::newRow("not an object") << QStringLiteral("[1,2,3]") << 0 << qint64(-1) << QStringLiteral("must be a JSON object");
        QTest::newRow("unknown dtype") << QStringLiteral(R"({"x":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})") << 8 << qint64(-1) << QStringLiteral("unknown dtype 'F12'");
        QTest::newRow("size mismatch") << QStringLiteral(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})") << 8 << qint64(-1) << QStringLiteral("needs 12 bytes");
        QTest::newRow("offsets past end") << QStringLiteral(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})") << 8 << qint64(-1) << QStringLiteral("run past the end");
        QTest::newRow("overlap") << QStringLiteral(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})") << 12 << qint64(-1) << QStringLiteral("overlaps");
        QTest::newRow("hole") << QStringLiteral(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})") << 8 << qint64(-1) << QStringLiteral("hole");
        QTest::newRow("trailing bytes") << ok << 12 << qint64(-1) << QStringLiteral("cover 8");
        QTest::newRow("end before begin") << QStringLiteral(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})") << 8 << qint64(-1) << QStringLiteral("end before they begin");
        QTest::newRow("negative shape") << QStringLiteral(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})") << 8 << qint64(-1) << QStringLiteral("non-negative");
        QTest::newRow("overflowing shape") << QStringLiteral(R"({"x":{"dtype":"F32","shape":[281474976710656,281474976710656],"data_offsets":[0,8]}})") << 8 << qint64(-1) << QStringLiteral("too large");
        QTest::newRow("tensor named twice") << QStringLiteral(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"x":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})") << 8 << qint64(-1) << QStringLiteral("names tensor 'x' twice");
        QTest::newRow("key twice in a tensor") << QStringLiteral(R"({"x":{"dtype":"F16","dtype":"F32","shape":[2],"data_offsets":[0,8]}})") << 8 << qint64(-1) << QStringLiteral("header says 'x.dtype' twice for one tensor");
        QTest::newRow("control bytes in a name") << QStringLiteral("{\"\\u001b[2Jx\":{\"dtype\":\"F12\",\"shape\":[2],\"data_offsets\":[0,8]}}") << 8 << qint64(-1) << QStringLiteral("tensor '\\x1b[2Jx': unknown dtype");
        QTest::newRow("junk after a NUL") << ok + QChar(u'\0') + QStringLiteral(" {]") << 8 << qint64(-1) << QStringLiteral("NUL byte before its end");
        QTest::newRow("size overflow") << QStringLiteral(R"({"x":{"dtype":"F32","shape":[4294967296,2147483648],"data_offsets":[0,8]}})") << 8 << qint64(-1) << QStringLiteral("needs more than 2^64 bits");
        QTest::newRow("nested deeper than a header") << QStringLiteral(R"({"x":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})") << 8 << qint64(-1) << QStringLiteral("nests deeper than 3 levels");
        QTest::newRow("bad metadata") << QStringLiteral(R"({"__metadata__":{"a":1},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})") << 8 << qint64(-1) << QStringLiteral("__metadata__");
    }
    void brokenFiles()
    {
        QFETCH(QString, header);
        QFETCH(int, dataBytes);
        QFETCH(qint64, lengthOverride);
        QFETCH(QString, needle);
        QTemporaryDir dir;
        const std::string file = path(dir, "bad.safetensors");
        writeRaw(file, header.toStdString(), size_t(dataBytes), lengthOverride);
        const std::string msg = fairkv::test::errorOf([&] { SafetensorsFile::open(file); });
        QVERIFY2(!msg.empty(), "broken file was accepted");
        QVERIFY2(msg.find(file) != std::string::npos, msg.c_str()); // names the file
        QVERIFY2(msg.find(needle.toStdString()) != std::string::npos, msg.c_str());
    }

    // Space padding is the format's; NUL padding is written by some tools and harmless.
    void paddedHeadersAreRead()
    {
        QTemporaryDir dir;
        const std::string file = path(dir, "pad.safetensors");
        const std::string ok = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        for (const std::string& pad : {std::string("    "), std::string(5, '\0'), std::string(" \n\0\0", 4)}) {
            writeRaw(file, ok + pad, 8);
            QCOMPARE(SafetensorsFile::open(file)->find("x")->shape, std::vector<int64_t>{2});
        }
        // __metadata__ is free text, read as the safetensors library reads it: the last value wins.
        writeRaw(file, R"({"__metadata__":{"format":"pt","format":"np"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8);
        QCOMPARE(SafetensorsFile::open(file)->metadata().at("format"), std::string("np"));
    }

    // Every safetensors dtype is known, sub-byte ones included: a file holding an unused F8_E8M0
    // scale or packed F4 loads, and sizes count bits.
    void newerDtypes()
    {
        QTemporaryDir dir;
        const std::string file = path(dir, "new.safetensors");
        writeRaw(file, R"({"s":{"dtype":"F8_E8M0","shape":[3],"data_offsets":[0,3]},"p":{"dtype":"F4","shape":[2,3],"data_offsets":[3,6]},)"
                       R"("c":{"dtype":"C64","shape":[1],"data_offsets":[6,14]}})", 14);
        const auto f = SafetensorsFile::open(file);
        QCOMPARE(dtypeName(f->find("p")->dtype), "F4");
        QVERIFY(!dtypeConvertible(f->find("s")->dtype));
        writeRaw(file, R"({"p":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2);
        FAIRKV_EXPECT_ERROR(SafetensorsFile::open(file), "F4 x [3] is not a whole number of bytes");
        writeRaw(file, R"({"p":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[0,4]}})", 4);
        FAIRKV_EXPECT_ERROR(SafetensorsFile::open(file), "needs 3 bytes but data_offsets span 4");
    }

    // A FIFO would block the read until a writer came: it is refused at once.
    void pipesAreRefused()
    {
        QTemporaryDir dir;
        const std::string fifo = path(dir, "model.safetensors");
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        FAIRKV_EXPECT_ERROR(SafetensorsFile::open(fifo), "not a regular file");
    }

    // What a clone without git-lfs leaves in place of the tensors.
    void gitLfsPointersAreNamed()
    {
        QTemporaryDir dir;
        const std::string file = path(dir, "model.safetensors");
        std::ofstream(file) << "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146\nsize 16060522496\n";
        FAIRKV_EXPECT_ERROR(SafetensorsFile::open(file), "is a Git LFS pointer");
        // An error page saved under the name: its first bytes are no header length.
        std::ofstream(file) << "<!DOCTYPE html><html><body>404</body></html>\n";
        FAIRKV_EXPECT_ERROR(SafetensorsFile::open(file), "is not a safetensors file: it starts with text (\"<!DOCTYP\")");
    }

    // transformers reads every shard into one state dict: with a tensor in two shards, which copy
    // it ends with depends on the order of reading.
    void tensorInTwoShardsIsRefused()
    {
        QTemporaryDir dir;
        const std::vector<float> a{1, 2}, b{3, 4};
        writeSafetensors(path(dir, "s1.safetensors"), {{"x", DType::F32, {2}, a.data()}, {"y", DType::F32, {2}, a.data()}});
        writeSafetensors(path(dir, "s2.safetensors"), {{"x", DType::F32, {2}, b.data()}});
        std::ofstream(path(dir, "model.safetensors.index.json")) << R"({"weight_map":{"x":"s1.safetensors","y":"s1.safetensors"}})";
        const std::string msg = fairkv::test::errorOf([&] { SafetensorsCheckpoint::open(dir.path().toStdString()); });
        QVERIFY2(msg.empty(), msg.c_str()); // s2 is not listed: not read
        std::ofstream(path(dir, "model.safetensors.index.json")) << R"({"weight_map":{"x":"s2.safetensors","y":"s1.safetensors"}})";
        FAIRKV_EXPECT_ERROR(SafetensorsCheckpoint::open(dir.path().toStdString()), "tensor 'x' is also stored in");
        // One shard spelled two ways is one file, read once (it had read as two holding the same tensors).
        std::ofstream(path(dir, "model.safetensors.index.json")) << R"({"weight_map":{"x":"./s1.safetensors","y":"s1.safetensors"}})";
        const std::string twoSpellings = fairkv::test::errorOf([&] { SafetensorsCheckpoint::open(dir.path().toStdString()); });
        QVERIFY2(twoSpellings.empty(), twoSpellings.c_str());
        std::ofstream(path(dir, "model.safetensors.index.json")) << R"({"weight_map":{}})";
        FAIRKV_EXPECT_ERROR(SafetensorsCheckpoint::open(dir.path().toStdString()), "'weight_map' lists no tensors");
    }

    void truncatedFiles()
    {
        QTemporaryDir dir;
        const std::string file = path(dir, "t.safetensors");
        const std::vector<float> a(100, 1.0f);
        writeSafetensors(file, {{"a", DType::F32, {100}, a.data()}});
        const auto bytes = readAll(file);
        for (size_t keep : {size_t(0), size_t(5), size_t(8), size_t(20), bytes.size() - 1}) {
            const std::string cut = path(dir, "cut.safetensors");
            std::ofstream(cut, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(keep));
            const std::string msg = fairkv::test::errorOf([&] { SafetensorsFile::open(cut); });
            QVERIFY2(!msg.empty(), qPrintable(QStringLiteral("truncated to %1 bytes was accepted").arg(keep)));
        }
        // Cut short, or replaced, after its header was read (a copy over a checkpoint that is
        // loading): an error naming the file, where a memory mapping died of SIGBUS.
        const auto open = SafetensorsFile::open(file);
        QCOMPARE(open->toFloat(*open->find("a")).data, a);
        std::filesystem::resize_file(file, bytes.size() - 100);
        FAIRKV_EXPECT_ERROR(open->toFloat(*open->find("a")), file + ": changed on disk since its header was read");
        std::filesystem::remove(file);
        const std::vector<float> b(104, 2.0f); // another file in its place
        writeSafetensors(file, {{"a", DType::F32, {104}, b.data()}});
        FAIRKV_EXPECT_ERROR(open->toFloat(*open->find("a")), "changed on disk");
    }

    void randomCorruptionNeverCrashes()
    {
        QTemporaryDir dir;
        const std::string file = path(dir, "t.safetensors");
        const std::vector<float> a(64, 0.5f);
        writeSafetensors(file, {{"a", DType::F32, {8, 8}, a.data()}, {"b", DType::BF16, {4, 4}, a.data()}});
        const auto bytes = readAll(file);
        Rng rng(99);
        int rejected = 0;
        for (int trial = 0; trial < 300; ++trial) {
            auto copy = bytes;
            const size_t where = rng.below(std::min<size_t>(copy.size(), 200));
            copy[where] = char(rng.below(256));
            const std::string bad = path(dir, "bad.safetensors");
            std::ofstream(bad, std::ios::binary | std::ios::trunc).write(copy.data(), std::streamsize(copy.size()));
            try {
                auto f = SafetensorsFile::open(bad);
                for (const auto& [name, e] : f->entries())
                    if (dtypeConvertible(e.dtype))
                        (void)f->toFloat(e);
            } catch (const Error&) {
                ++rejected;
            }
        }
        QVERIFY(rejected > 0);
    }

    void checkpointErrors()
    {
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        ModelWeights w = ModelWeights::synthetic(ModelConfig::builtin("tiny", 1), 3);
        w.saveHf(folder);
        // Rewrite the file without one tensor, with one tensor of the wrong shape, or with one more.
        auto write = [&](const std::string& skip, const std::string& reshape, const std::string& extra = {}) {
            std::vector<SafetensorsWriteItem> items;
            std::vector<std::vector<float>> keep;
            auto ckpt = SafetensorsCheckpoint::open(folder);
            keep.reserve(64);
            for (const auto& name : ckpt.tensorNames()) {
                if (name == skip)
                    continue;
                const SafetensorsFile* f = nullptr;
                const auto* e = ckpt.find(name, &f);
                Tensor t = f->toFloat(*e);
                keep.push_back(t.data);
                std::vector<int64_t> shape = t.shape;
                if (name == reshape)
                    shape = {int64_t(t.data.size())};
                items.push_back({name, DType::F32, shape, keep.back().data()});
            }
            if (!extra.empty()) {
                keep.push_back(std::vector<float>(size_t(w.config.qDim()), 0.0f));
                items.push_back({extra, DType::F32, {w.config.qDim()}, keep.back().data()});
            }
            writeSafetensors(folder + "/model.safetensors.new", items);
            std::filesystem::rename(folder + "/model.safetensors.new", folder + "/model.safetensors");
        };
        write("model.layers.0.self_attn.k_proj.weight", "");
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "missing tensor 'model.layers.0.self_attn.k_proj.weight'");
        FAIRKV_EXPECT_ERROR(inspectHf(folder), "missing tensor 'model.layers.0.self_attn.k_proj.weight'");
        // The same tensor stored without the 'model.' the others have is named where it is.
        w.saveHf(folder);
        {
            const std::vector<char> bytes = readAll(folder + "/model.safetensors");
            std::string file(bytes.begin(), bytes.end());
            const std::string from = "\"model.layers.0.self_attn.k_proj.weight\"", to = "\"layers.0.self_attn.k_proj.weight\"";
            const size_t at = file.find(from);
            QVERIFY(at != std::string::npos);
            file.replace(at, from.size(), to + std::string(from.size() - to.size(), ' ')); // the header keeps its length
            std::ofstream(folder + "/model.safetensors", std::ios::binary | std::ios::trunc) << file;
        }
        FAIRKV_EXPECT_ERROR(inspectHf(folder), "missing tensor 'model.layers.0.self_attn.k_proj.weight' (expected shape [256, 256]); it "
                                               "holds 'layers.0.self_attn.k_proj.weight', whose prefix differs from the other tensors'");
        w.saveHf(folder);
        write("", "model.layers.0.mlp.up_proj.weight");
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "'model.layers.0.mlp.up_proj.weight' has shape [196608], expected [768, 256]");

        // A config asking for far more layers than the checkpoint holds: refused before anything
        // is allocated per layer (a million layers took 2.5 GB before the first missing tensor).
        w.saveHf(folder);
        {
            std::ifstream in(folder + "/config.json");
            nlohmann::json cfg = nlohmann::json::parse(in);
            cfg["num_hidden_layers"] = 1000000;
            std::ofstream(folder + "/config.json") << cfg.dump();
        }
        FAIRKV_EXPECT_ERROR(inspectHf(folder), "asks for 1000000 layers, but the checkpoint has no tensor "
                                               "'model.layers.999999.input_layernorm.weight' (it holds tensors of layers 0 to 0)");
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "asks for 1000000 layers");

        // A bias tensor (Qwen2-style q/k/v biases) that the config does not announce: refused, since
        // ignoring it would change every output.
        w.saveHf(folder);
        write("", "", "model.layers.0.self_attn.q_proj.bias");
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "tensor 'model.layers.0.self_attn.q_proj.bias' is a bias");

        // Tensors the model does not take: none to warn of for a checkpoint as saved, for layers
        // cut off by --layers, or for RoPE's inv_freq buffer; a warning naming one for a config of
        // fewer layers than the checkpoint (a stray tensor alike).
        {
            ModelWeights two = ModelWeights::synthetic(ModelConfig::builtin("tiny", 2), 3);
            two.saveHf(folder);
            QVERIFY(ModelWeights::loadHf(folder).unusedTensors.empty());
            QVERIFY(ModelWeights::loadHf(folder, 1).unusedTensorsWarning().empty());
            write("", "", "model.layers.0.self_attn.rotary_emb.inv_freq");
            QVERIFY(ModelWeights::loadHf(folder).unusedTensorsWarning().empty());
            std::ifstream in(folder + "/config.json");
            nlohmann::json cfg = nlohmann::json::parse(in);
            cfg["num_hidden_layers"] = 1;
            std::ofstream(folder + "/config.json") << cfg.dump();
            const ModelWeights one = ModelWeights::loadHf(folder);
            QCOMPARE(one.unusedTensors.size(), size_t(9)); // layer 1's nine tensors
            QVERIFY(QString::fromStdString(one.unusedTensorsWarning())
                        .contains(QStringLiteral("9 tensor(s) of the checkpoint are not used by the model, e.g. 'model.layers.1.")));
            QCOMPARE(ModelWeights::loadHf(folder, 1).unusedTensors.size(), size_t(9)); // --layers does not hide them
            write("", "", "model.stray");
            QCOMPARE(ModelWeights::loadHf(folder, 1).unusedTensors.size(), size_t(10));
            // An lm_head beside tied embeddings (some converters save both): ignored, as transformers does.
            cfg["tie_word_embeddings"] = true;
            std::ofstream(folder + "/config.json") << cfg.dump();
            QCOMPARE(ModelWeights::loadHf(folder, 1).unusedTensors.size(), size_t(10));
        }

        // Beside model.safetensors an index is not read (transformers' order), even a broken one.
        w.saveHf(folder);
        std::ofstream(folder + "/model.safetensors.index.json") << R"({"weight_map": {"x": "gone.safetensors"}})";
        QCOMPARE(ModelWeights::loadHf(folder).embed.data, w.embed.data);

        // An index naming a shard that is not there.
        std::filesystem::remove(folder + "/model.safetensors");
        std::ofstream(folder + "/model.safetensors.index.json")
            << R"({"metadata": {}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors"}})";
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "shard 'model-00001-of-00002.safetensors'");
        std::ofstream(folder + "/model.safetensors.index.json") << R"({"weight_map": {"x": "../etc/passwd"}})";
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "must be a file inside the checkpoint folder");
        std::ofstream(folder + "/model.safetensors.index.json") << R"({"weight_map": {"x": ".."}})";
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "must be a file inside the checkpoint folder");
        std::ofstream(folder + "/model.safetensors.index.json") << R"({"weight_map": {"x": "/etc/passwd"}})";
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "must be a file inside the checkpoint folder");
        // A shard in a subfolder, listed for one tensor only: transformers loads every tensor of the
        // shards an index lists, and so does the engine.
        w.saveHf(folder);
        std::filesystem::create_directory(folder + "/shards");
        std::filesystem::rename(folder + "/model.safetensors", folder + "/shards/part-1.safetensors");
        std::ofstream(folder + "/model.safetensors.index.json")
            << R"({"weight_map": {"model.norm.weight": "shards/part-1.safetensors"}})";
        QCOMPARE(ModelWeights::loadHf(folder).layers[0].wq.data, w.layers[0].wq.data);
        // A '..' that stays inside the folder once normalised.
        std::ofstream(folder + "/model.safetensors.index.json")
            << R"({"weight_map": {"model.norm.weight": "shards/../shards/part-1.safetensors"}})";
        QCOMPARE(ModelWeights::loadHf(folder).layers[0].wq.data, w.layers[0].wq.data);
        std::ofstream(folder + "/model.safetensors.index.json") << R"({"weight_map": {"x": "shards/../../a.safetensors"}})";
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "must be a file inside the checkpoint folder");
        std::filesystem::remove_all(folder + "/shards");
        std::ofstream(folder + "/model.safetensors.index.json") << R"({"weight_map": ["x"]})";
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "'weight_map' must be an object of tensor name to shard file, got an array");
        std::filesystem::remove(folder + "/model.safetensors.index.json");

        // No model.safetensors: a link a cut download left dangling, or a PyTorch checkpoint, is named.
        std::filesystem::remove(folder + "/model.safetensors");
        std::filesystem::create_symlink(folder + "/blobs/missing", folder + "/model.safetensors");
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "model.safetensors: is a link to " + folder + "/blobs/missing, which does not exist");
        std::filesystem::remove(folder + "/model.safetensors");
        std::ofstream(folder + "/pytorch_model.bin") << "pickle";
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "(it holds pytorch_model.bin: ");
        std::filesystem::remove(folder + "/pytorch_model.bin");

        // A base model's names (LlamaModel.save_pretrained: no 'model.' prefix) are read as the
        // causal LM's, as transformers does; under another prefix the message says how the
        // tensors are named, not that the layers are missing.
        w.saveHf(folder);
        const auto renamed = [&](const std::string& prefix) {
            auto ckpt = SafetensorsCheckpoint::open(folder);
            std::vector<std::vector<float>> keep;
            keep.reserve(64);
            std::vector<SafetensorsWriteItem> items;
            std::vector<std::string> names;
            names.reserve(64);
            for (const auto& name : ckpt.tensorNames()) {
                const SafetensorsFile* f = nullptr;
                const auto* e = ckpt.find(name, &f);
                Tensor t = f->toFloat(*e);
                keep.push_back(t.data);
                names.push_back(name.rfind("model.", 0) == 0 ? prefix + name.substr(6) : name);
                items.push_back({names.back(), DType::F32, t.shape, keep.back().data()});
            }
            writeSafetensors(folder + "/model.safetensors.new", items);
            std::filesystem::rename(folder + "/model.safetensors.new", folder + "/model.safetensors");
        };
        renamed("");
        QCOMPARE(ModelWeights::loadHf(folder).layers[0].wdown.data, w.layers[0].wdown.data);
        w.saveHf(folder);
        renamed("transformer.");
        FAIRKV_EXPECT_ERROR(inspectHf(folder), "names its tensors like 'transformer.layers.0.input_layernorm.weight'");
        std::filesystem::remove(folder + "/model.safetensors.index.json");
        std::filesystem::remove(folder + "/config.json");
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder), "config.json: cannot open");
        FAIRKV_EXPECT_ERROR(ModelWeights::loadHf(folder + "/nope"), "/nope: no such folder");
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
