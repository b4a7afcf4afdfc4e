// CUPTI kernel tracing with external correlation tags. Compiled wherever the CUDA toolkit is; it
// runs on a machine with a GPU and skips, saying so, where there is none.
#include "aggregation.h"
#include "cupti_tracer.h"
#include "test_util.h"

#include <QtTest>

#include <cuda_runtime.h>

int fairkvLaunchProbeKernels(float* device, int n, int count);

using namespace fairkv::profiler;

class TestCupti : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void recordType()
    {
        // CUDA 13.0's kernel activity record; a toolkit with another version needs the code checked.
        QCOMPARE(QString::fromUtf8(CuptiTracer::kernelRecordType()), QStringLiteral("CUpti_ActivityKernel10"));
    }

    void kernelsCarryTheirTags()
    {
        int devices = 0;
        if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0)
            QSKIP("no CUDA GPU on this machine: CUPTI tracing is run-tested on a GPU machine");
        TraceBuffer buffer;
        {
            CuptiTracer tracer(&buffer);
            float* x = nullptr;
            QCOMPARE(int(cudaMalloc(&x, 1 << 20)), 0);
            tracer.push(2, 0, 3, 5, Phase::Attention);
            QCOMPARE(fairkvLaunchProbeKernels(x, 1 << 18, 3), 0);
            tracer.pop();
            tracer.push(1, 0, 3, -1, Phase::Mlp);
            QCOMPARE(fairkvLaunchProbeKernels(x, 1 << 18, 1), 0);
            tracer.pop();
            QCOMPARE(int(cudaDeviceSynchronize()), 0);
            tracer.flush();
            cudaFree(x);
            const auto c = tracer.counts();
            QVERIFY2(buffer.records.size() == 4,
                     qPrintable(QStringLiteral("%1 records from %2 buffers, %3 kernels, %4 correlations, %5 unmatched")
                                    .arg(buffer.records.size()).arg(c.buffers).arg(c.kernels).arg(c.correlations).arg(c.unmatched)));
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
};

QTEST_GUILESS_MAIN(TestCupti)
#include "test_cupti.moc"
