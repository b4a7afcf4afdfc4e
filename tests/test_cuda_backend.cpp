// The CUDA backend against the CPU backend on the same seed: same greedy tokens, logits within the
// bf16 tolerance (weights, K/V and GEMM inputs are bf16 on the GPU, accumulation fp32), for
// uniform and replicated placements and after a live placement change. Skips without a GPU.
#include "backend/cpu/cpu_ops.h"
#include "backend/cuda/cuda_rank.h"
#include "backend/cuda/prefill_attention.h"
#include "common/dtype.h"
#include "common/rng.h"
#include "model/rope.h"
#include "model/model_weights.h"
#include "runtime/inference_engine.h"
#include "runtime/run.h"
#include "test_util.h"

#include <QtTest>

#include <cublas_v2.h>
#include <cuda_runtime.h>

using namespace fairkv;

namespace {

struct Trace
{
    std::vector<std::vector<int>> tokens;
    std::vector<std::vector<std::vector<float>>> logits; // [step][request][vocab]
};

Trace decode(const std::shared_ptr<const ModelWeights>& w, const std::string& backend, int ranks, const Placement& p,
             const Placement* later = nullptr)
{
    CompressionOptions c;
    c.policy = CompressionPolicy::AdaSnapKV;
    c.budget = 48;
    c.window = 8;
    InferenceEngine e(w, ranks, UnitMode::Gqa, backend);
    auto prompts = makePrompts(3, 90, w->config.vocabSize, 17);
    prompts[1].resize(61); // ragged prompts: every request has its own length in prefill
    prompts[2].resize(77);
    Trace t;
    auto logits = e.prefill(prompts, c, p).lastLogits;
    t.tokens.assign(3, {});
    for (int step = 0; step < 6; ++step) {
        if (later && step == 3)
            e.setPlacement(*later);
        std::vector<int> next;
        for (size_t r = 0; r < logits.size(); ++r) {
            next.push_back(int(std::max_element(logits[r].begin(), logits[r].end()) - logits[r].begin()));
            t.tokens[r].push_back(next.back());
        }
        logits = e.decodeStep(next);
        t.logits.push_back(logits);
    }
    return t;
}

} // namespace

class TestCudaBackend : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        int devices = 0;
        if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0)
            QSKIP("no CUDA GPU on this machine: the CUDA backend is tested on a GPU machine");
        cuda::CudaRank::registerBackend();
    }

    // One unit's causal prefill against the CPU reference (RoPE, softmax, window scores), in one
    // query chunk and in chunks of 7 rows, which must agree with each other.
    void prefillAttentionMatchesReference_data()
    {
        QTest::addColumn<int>("chunkRows");
        QTest::newRow("one chunk") << 0;
        QTest::newRow("chunks of 7") << 7;
    }
    void prefillAttentionMatchesReference()
    {
        QFETCH(int, chunkRows);
        const ModelConfig cfg = ModelConfig::builtin("tiny", 1);
        const int len = 100, G = 2, d = cfg.headDim, window = 8, cols = (G + 2) * d;
        Rng rng(5);
        std::vector<float> qkv(size_t(len) * cols);
        for (float& v : qkv)
            v = float(rng.normal());
        const auto invFreq = ropeInverseFrequencies(cfg);
        // reference
        std::vector<float> q(size_t(len) * G * d), k(size_t(len) * d), v(size_t(len) * d), ref(q.size()), refScores(len, 0.0f);
        for (int i = 0; i < len; ++i) {
            std::copy_n(qkv.begin() + i * cols, G * d, q.begin() + i * G * d);
            std::copy_n(qkv.begin() + i * cols + G * d, d, k.begin() + i * d);
            std::copy_n(qkv.begin() + i * cols + (G + 1) * d, d, v.begin() + i * d);
            cpu::applyRope(q.data() + i * G * d, size_t(G), size_t(d), i, invFreq);
            cpu::applyRope(k.data() + i * d, 1, size_t(d), i, invFreq);
        }
        std::vector<float> probs(len);
        for (int i = 0; i < len; ++i)
            for (int h = 0; h < G; ++h) {
                cpu::attendOne(q.data() + (i * G + h) * d, k.data(), v.data(), size_t(i + 1), size_t(d), 1.0f / std::sqrt(float(d)),
                               ref.data() + (i * G + h) * d, probs.data());
                if (i >= len - window)
                    for (int j = 0; j <= i; ++j)
                        refScores[size_t(j)] += probs[size_t(j)] / float(window * G);
            }
        // GPU
        float *dQkv, *dKeys, *dValues, *dScores;
        void *dOut, *work;
        cudaMalloc(&dQkv, qkv.size() * 4);
        cudaMalloc(&dKeys, k.size() * 4);
        cudaMalloc(&dValues, v.size() * 4);
        cudaMalloc(&dScores, size_t(len) * 4);
        cudaMalloc(&dOut, ref.size() * 2);
        cudaMalloc(&work, cuda::prefillWorkspaceBytes(len, G, d, window, chunkRows));
        float* dInv;
        cudaMalloc(&dInv, invFreq.size() * 4);
        cudaMemcpy(dInv, invFreq.data(), invFreq.size() * 4, cudaMemcpyHostToDevice);
        cudaMemcpy(dQkv, qkv.data(), qkv.size() * 4, cudaMemcpyHostToDevice);
        cublasHandle_t h;
        QCOMPARE(int(cublasCreate(&h)), int(CUBLAS_STATUS_SUCCESS));
        cuda::PrefillArgs a;
        a.qkv = dQkv;
        a.ldQkv = cols;
        a.len = len;
        a.group = G;
        a.headDim = d;
        a.window = window;
        a.invFreq = dInv;
        a.out = dOut;
        a.ldOut = G * d;
        a.keys = dKeys;
        a.values = dValues;
        a.scores = dScores;
        a.chunkRows = chunkRows;
        cuda::prefillAttention(h, a, work, nullptr);
        std::vector<uint16_t> out(ref.size());
        std::vector<float> keys(k.size()), scores(static_cast<size_t>(len));
        QCOMPARE(int(cudaMemcpy(out.data(), dOut, out.size() * 2, cudaMemcpyDeviceToHost)), int(cudaSuccess));
        cudaMemcpy(keys.data(), dKeys, keys.size() * 4, cudaMemcpyDeviceToHost);
        cudaMemcpy(scores.data(), dScores, scores.size() * 4, cudaMemcpyDeviceToHost);
        cublasDestroy(h);
        for (void* p : {static_cast<void*>(dQkv), static_cast<void*>(dKeys), static_cast<void*>(dValues),
                        static_cast<void*>(dScores), dOut, work, static_cast<void*>(dInv)})
            cudaFree(p);
        std::vector<float> got(out.size());
        for (size_t i = 0; i < out.size(); ++i)
            got[i] = bf16ToFloat(out[i]);
        const double outErr = fairkv::test::relativeError(got, ref);
        const double keyErr = fairkv::test::relativeError(keys, k);
        const double scoreErr = fairkv::test::relativeError(scores, refScores);
        qInfo("prefill attention: outputs %.3g, keys %.3g, window scores %.3g relative error", outErr, keyErr, scoreErr);
        QVERIFY2(outErr < 2e-2, qPrintable(QString::number(outErr)));
        QVERIFY2(keyErr < 1e-5, qPrintable(QString::number(keyErr)));
        QVERIFY2(scoreErr < 2e-2, qPrintable(QString::number(scoreErr)));
    }

    void matchesTheCpuBackend()
    {
        ModelConfig cfg = ModelConfig::builtin("tiny", 2); // head_dim 32, GQA groups of 2
        cfg.vocabSize = 512;
        auto w = std::make_shared<ModelWeights>(ModelWeights::synthetic(cfg, 3));
        const Placement uni = Placement::uniform(2, 8, 2, 3);
        Placement copy = uni;
        copy.layers[1][5].replicas = {{0, {0, 2}}, {1, {1}}}; // a replicated unit with split requests
        const Trace cpu = decode(w, "cpu", 1, Placement::uniform(2, 8, 1, 3));
        for (const Placement* p : std::vector<const Placement*>{&uni, &copy}) {
            const Trace gpu = decode(w, "cuda", 2, *p, p == &uni ? &copy : nullptr);
            double worst = 0;
            for (size_t s = 0; s < cpu.logits.size(); ++s)
                for (size_t r = 0; r < 3; ++r)
                    worst = std::max(worst, fairkv::test::relativeError(gpu.logits[s][r], cpu.logits[s][r]));
            qInfo("CUDA vs CPU: worst relative logits error %.4g", worst);
            QVERIFY2(worst < 2e-2, qPrintable(QStringLiteral("relative logits error %1").arg(worst)));
            QCOMPARE(gpu.tokens, cpu.tokens);
        }
    }
};

QTEST_GUILESS_MAIN(TestCudaBackend)
#include "test_cuda_backend.moc"
