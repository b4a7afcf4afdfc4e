// The CUDA backend against the CPU backend on the same seed: same greedy tokens, logits within the
// bf16 tolerance (weights, K/V and GEMM inputs are bf16 on the GPU, accumulation fp32), for
// uniform and replicated placements and after a live placement change. Skips without a GPU.
#include "backend/cuda/cuda_rank.h"
#include "model/model_weights.h"
#include "runtime/inference_engine.h"
#include "runtime/run.h"
#include "test_util.h"

#include <QtTest>

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
    const auto prompts = makePrompts(3, 90, w->config.vocabSize, 17);
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
