// CUPTI kernel tracing with external correlation tags. Compiled wherever the CUDA toolkit is; it
// runs on a machine with a GPU and skips, saying so, where there is none.
#include "aggregation.h"
#include "backend/cuda/cuda_rank.h"
#include "cupti_tracer.h"
#include "engine_tracer.h"
#include "runtime/run.h"
#include "test_util.h"

#include <QtTest>

#include <cuda_runtime.h>

int fairkvLaunchProbeKernels(float* device, int n, int count);
int fairkvLaunchProbeGraph(float* device, int n, int count);
int fairkvProbeGraphCapture(float* device, int n, int count, void** execOut, void** streamOut);
int fairkvProbeGraphLaunch(void* exec, void* stream);
void fairkvProbeGraphDestroy(void* exec, void* stream);

using namespace fairkv::profiler;

namespace {
constexpr const char* kNoGpu = "no CUDA GPU on this machine: CUPTI tracing is run-tested on a GPU machine";

// Device memory for the probe kernels, freed on every way out of a test (a failed check returns).
struct DeviceFloats
{
    float* ptr = nullptr;
    explicit DeviceFloats(size_t bytes)
    {
        if (cudaMalloc(&ptr, bytes) != cudaSuccess)
            ptr = nullptr;
    }
    ~DeviceFloats() { cudaFree(ptr); }
    DeviceFloats(const DeviceFloats&) = delete;
    DeviceFloats& operator=(const DeviceFloats&) = delete;
};

// What CUPTI handed over, for a failure message.
QString describe(const TraceBuffer& buffer, const CuptiTracer::Counts& c)
{
    return QStringLiteral("%1 records from %2 buffers, %3 kernels, %4 correlations, %5 unmatched, %6 untagged")
        .arg(buffer.records.size())
        .arg(c.buffers)
        .arg(c.kernels)
        .arg(c.correlations)
        .arg(c.unmatched)
        .arg(c.untagged);
}
} // namespace

class TestCupti : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        int devices = 0;
        m_gpu = cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
        cudaGetLastError();
    }

    void recordType()
    {
        // CUDA 13.0's kernel activity record; a toolkit with another version needs the code checked.
        QCOMPARE(QString::fromUtf8(CuptiTracer::kernelRecordType()), QStringLiteral("CUpti_ActivityKernel10"));
    }

    void kernelsCarryTheirTags()
    {
        if (!m_gpu)
            QSKIP(kNoGpu);
        TraceBuffer buffer;
        {
            CuptiTracer tracer(&buffer);
            DeviceFloats x(1 << 20);
            QVERIFY2(x.ptr, "cudaMalloc failed");
            tracer.push(2, 0, 3, 5, Phase::Attention);
            QCOMPARE(fairkvLaunchProbeKernels(x.ptr, 1 << 18, 3), 0);
            tracer.pop();
            tracer.push(1, 0, 3, -1, Phase::Mlp);
            QCOMPARE(fairkvLaunchProbeKernels(x.ptr, 1 << 18, 1), 0);
            tracer.pop();
            QCOMPARE(int(cudaDeviceSynchronize()), 0);
            tracer.flush();
            const auto c = tracer.counts();
            QVERIFY2(buffer.records.size() == 4, qPrintable(describe(buffer, c)));
        }
        int attention = 0, mlp = 0;
        for (const auto& r : buffer.records) {
            QCOMPARE(int(r.kind), int(RecordKind::Kernel));
            QVERIFY(r.endNs > r.startNs);
            QCOMPARE(r.device, 0);
            QCOMPARE(r.layer, 3);
            QVERIFY(buffer.name(r.nameId).find("scale") != std::string::npos);
            if (r.phase == Phase::Attention) {
                ++attention;
                QCOMPARE(r.rank, 2);
                QCOMPARE(r.unit, 5);
            } else {
                ++mlp;
                QCOMPARE(r.rank, 1);
            }
        }
        QCOMPARE(attention, 3);
        QCOMPARE(mlp, 1);
        QCOMPARE(buffer.dropped, uint64_t(0));
        const RunAggregate a = aggregate(buffer, 3);
        QVERIFY(a.layers[0].attentionMs[2] > 0.0);
        QVERIFY(a.layers[0].mlpMs[1] > 0.0);
    }

    // A graph launch is one API call; every kernel inside it must still carry the push's tag.
    void graphKernelsCarryTheLaunchTag()
    {
        if (!m_gpu)
            QSKIP(kNoGpu);
        TraceBuffer buffer;
        {
            CuptiTracer tracer(&buffer);
            DeviceFloats x(1 << 20);
            QVERIFY2(x.ptr, "cudaMalloc failed");
            tracer.push(4, 1, 7, -1, Phase::Attention);
            QCOMPARE(fairkvLaunchProbeGraph(x.ptr, 1 << 18, 5), 0);
            tracer.pop();
            tracer.flush();
            tracer.flush();
            const auto c = tracer.counts();
            QVERIFY2(buffer.records.size() == 5, qPrintable(describe(buffer, c)));
        }
        for (const auto& r : buffer.records) {
            QCOMPARE(r.rank, 4);
            QCOMPARE(r.step, 1);
            QCOMPARE(r.layer, 7);
        }
    }

    // Captured outside any tag, launched twice under two tags (one flush each): each launch's
    // kernels carry that launch's tag.
    void replayedGraphTakesEachLaunchTag()
    {
        if (!m_gpu)
            QSKIP(kNoGpu);
        TraceBuffer buffer;
        {
            CuptiTracer tracer(&buffer);
            DeviceFloats x(1 << 20);
            QVERIFY2(x.ptr, "cudaMalloc failed");
            void *exec = nullptr, *stream = nullptr;
            QCOMPARE(fairkvProbeGraphCapture(x.ptr, 1 << 18, 3, &exec, &stream), 0);
            for (int step = 0; step < 2; ++step) {
                tracer.push(step, step, 2, -1, Phase::Mlp);
                QCOMPARE(fairkvProbeGraphLaunch(exec, stream), 0);
                tracer.pop();
                tracer.flush();
            }
            fairkvProbeGraphDestroy(exec, stream);
            const auto c = tracer.counts();
            QVERIFY2(buffer.records.size() == 6, qPrintable(describe(buffer, c)));
        }
        int perStep[2] = {0, 0};
        for (const auto& r : buffer.records) {
            QCOMPARE(r.rank, r.step);
            ++perStep[r.step];
        }
        QCOMPARE(perStep[0], 3);
        QCOMPARE(perStep[1], 3);
    }

    // Graph level: each launch is one record with that launch's tag, named after the graph, spanning
    // its nodes; the kernels inside are not recorded one by one.
    void graphLevelRecordsOneRecordPerLaunch()
    {
        if (!m_gpu)
            QSKIP(kNoGpu);
        TraceBuffer buffer;
        {
            CuptiTracer tracer(&buffer, CuptiTracer::Level::Graphs);
            DeviceFloats x(1 << 22);
            QVERIFY2(x.ptr, "cudaMalloc failed");
            void *exec = nullptr, *stream = nullptr;
            QCOMPARE(fairkvProbeGraphCapture(x.ptr, 1 << 20, 4, &exec, &stream), 0);
            for (int step = 0; step < 3; ++step) {
                tracer.push(step, step, 5, -1, Phase::Attention);
                QCOMPARE(fairkvProbeGraphLaunch(exec, stream), 0);
                tracer.pop();
            }
            QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
            tracer.flush();
            fairkvProbeGraphDestroy(exec, stream);
            QVERIFY2(buffer.records.size() == 3, qPrintable(describe(buffer, tracer.counts())));
        }
        std::sort(buffer.records.begin(), buffer.records.end(), [](const TraceRecord& a, const TraceRecord& b) { return a.step < b.step; });
        for (int step = 0; step < 3; ++step) {
            const auto& r = buffer.records[size_t(step)];
            QCOMPARE(r.step, step);
            QCOMPARE(r.rank, step);
            QCOMPARE(r.layer, 5);
            QCOMPARE(r.phase, Phase::Attention);
            QCOMPARE(r.kind, RecordKind::Kernel);
            QVERIFY2(buffer.name(r.nameId).rfind("CUDA graph ", 0) == 0, buffer.name(r.nameId).c_str());
            QVERIFY(r.endNs > r.startNs);
        }
    }

    // The engine's CUDA decode (two emulated ranks): every decode step has kernels of both ranks'
    // attention and MLP in every layer, on the host's clock inside the step's range, and the
    // per-rank sums come from the kernels alone.
    void engineDecodeKernelsAreTaggedByRank()
    {
        if (!m_gpu)
            QSKIP(kNoGpu);
        fairkv::cuda::CudaRank::registerBackend();
        fairkv::RunConfig cfg;
        cfg.model = "tiny";
        cfg.layers = 2;
        cfg.backend = "cuda";
        cfg.ranks = 2;
        cfg.batch = 3;
        cfg.promptLen = 40;
        cfg.decode = EngineTracer::kStepsPerFlush + 3; // kernels of flushed steps and of the last, unflushed ones
        cfg.compression.policy = fairkv::CompressionPolicy::SnapKV;
        cfg.compression.budget = 24;
        cfg.compression.window = 8;
        EngineTracer tracer(true);
        QVERIFY(tracer.tracesKernels());
        const fairkv::RunResult result = fairkv::runInference(cfg, {}, nullptr, &tracer);
        const TraceBuffer& buffer = tracer.buffer();
        std::map<std::tuple<int, int, int, int>, int> kernels; // (step, layer, rank, phase) -> count
        std::map<int, std::pair<int64_t, int64_t>> stepRange;
        for (const auto& r : buffer.records)
            if (r.kind == RecordKind::Range && r.phase == Phase::Decode)
                stepRange[r.step] = {r.startNs, r.endNs};
        int kernelRecords = 0;
        for (const auto& r : buffer.records) {
            if (r.kind != RecordKind::Kernel)
                continue;
            ++kernelRecords;
            QVERIFY2(r.step >= 0, "prefill kernels are not tagged");
            ++kernels[std::make_tuple(r.step, r.layer, r.rank, int(r.phase))];
            const auto range = stepRange.at(r.step);
            // The step range ends at its last device event; allow clock skew of a millisecond.
            QVERIFY(r.startNs >= range.first - 1000000 && r.endNs <= range.second + 1000000);
            // Device-timed engine events are display ranges now, never summed twice.
        }
        QVERIFY(kernelRecords > 0);
        for (int step = 0; step < cfg.decode; ++step)
            for (int layer = 0; layer < 2; ++layer)
                for (int rank = 0; rank < 2; ++rank) {
                    QVERIFY((kernels[std::make_tuple(step, layer, rank, int(Phase::Attention))] > 0));
                    QVERIFY((kernels[std::make_tuple(step, layer, rank, int(Phase::Mlp))] > 0));
                }
        for (const auto& r : buffer.records) // prefill's host spans (step -1) stay as they were
            if (r.phase == Phase::Attention && r.rank >= 0 && r.step >= 0 && r.kind != RecordKind::Kernel)
                QCOMPARE(int(r.kind), int(RecordKind::Range));
        const RunAggregate a = aggregate(buffer, 2);
        QCOMPARE(a.decodeSteps, cfg.decode);
        QVERIFY(a.attentionMs > 0.0 && a.mlpMs > 0.0);
        QCOMPARE(result.timing, std::string("emulated"));
    }

private:
    bool m_gpu = false;
};

QTEST_GUILESS_MAIN(TestCupti)
#include "test_cupti.moc"
