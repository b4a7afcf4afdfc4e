// The host-side bf16 conversion that uploads weights and KV to the GPU (toBf16 over spans): spans
// in order, every value converted as floatToBf16 converts it, pieces of 1 Mi values spread over
// the cores and cut inside a span. Runs without a GPU.
#include "backend/cuda/device_memory.h"

#include <QtTest>

#include <cmath>
#include <limits>

using namespace fairkv;
using namespace fairkv::cuda;

class TestBf16Gather : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void spansAreConvertedInOrder()
    {
        // Values whose bf16 rounding differs from truncation, plus the special ones.
        std::vector<float> a(size_t(3) << 20), b(1000), c(7);
        for (size_t i = 0; i < a.size(); ++i)
            a[i] = float(i) * 1.000123f - 1.5e6f;
        for (size_t i = 0; i < b.size(); ++i)
            b[i] = std::ldexp(1.0f + float(i) / 1000.0f, int(i % 40) - 20);
        c = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
             std::numeric_limits<float>::quiet_NaN(), 1e-40f, 3.0e38f};
        // A span of a span (rows gathered from the middle of a matrix), an empty span, a span that
        // crosses piece boundaries.
        const std::vector<FloatSpan> spans = {{b.data() + 10, 500}, {a.data(), a.size()}, {c.data(), 0}, {c.data(), c.size()}};
        const std::vector<uint16_t> out = toBf16(spans);
        QCOMPARE(out.size(), size_t(500) + a.size() + c.size());
        size_t at = 0;
        for (const FloatSpan& s : spans)
            for (size_t i = 0; i < s.n; ++i, ++at)
                if (out[at] != floatToBf16(s.src[i]))
                    QFAIL(qPrintable(QStringLiteral("value %1 (span value %2): %3, expected %4")
                                         .arg(at)
                                         .arg(i)
                                         .arg(out[at])
                                         .arg(floatToBf16(s.src[i]))));
        QCOMPARE(toBf16(a.data(), 5), std::vector<uint16_t>(out.begin() + 500, out.begin() + 505));
        QVERIFY(toBf16(std::vector<FloatSpan>{}).empty());
    }
};

QTEST_GUILESS_MAIN(TestBf16Gather)
#include "test_bf16_gather.moc"
