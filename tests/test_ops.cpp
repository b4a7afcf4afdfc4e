// Every CPU operator against a plain float64 reference.
#include "backend/cpu/cpu_ops.h"
#include "common/dtype.h"
#include "common/rng.h"
#include "model/rope.h"
#include "runtime/sampler.h"
#include "test_util.h"

#include "common/parallel.h"

#include <QtTest>

#include <cmath>

using namespace fairkv;
using fairkv::test::relativeError;

namespace {
std::vector<float> randomVector(size_t n, uint64_t seed, double scale = 1.0)
{
    Rng rng(seed);
    std::vector<float> v(n);
    for (float& x : v)
        x = float(rng.normal() * scale);
    return v;
}
} // namespace

class TestOps : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    // Greedy and seeded sampling; NaN or infinite logits (a checkpoint with a NaN weight, a config
    // that overflows) are an error naming the token id, not token 0 chosen by a NaN comparison.
    void samplingRefusesNonFiniteLogits()
    {
        Rng rng(1);
        QCOMPARE(sampleToken({0.5f, 3.0f, -1.0f}, 0.0, rng, {}), 1);
        const int t = sampleToken({0.5f, 3.0f, -1.0f}, 1.0, rng, {});
        QVERIFY(t >= 0 && t < 3);
        FAIRKV_EXPECT_ERROR(sampleToken({0.5f, std::nanf(""), 1.0f}, 0.0, rng, {3, 517, 42}),
                            "request 3, position 517 (input token 42): the next token's logits are not finite (NaN for vocabulary entry 1)");
        FAIRKV_EXPECT_ERROR(sampleToken({0.5f, 1.0f, INFINITY}, 1.0, rng, {}), "for vocabulary entry 2");
    }

    // Every index runs once; the first exception reaches the caller after all threads stopped.
    void parallelForRunsEachIndexOnce()
    {
        std::vector<std::atomic<int>> hits(1000);
        fairkv::parallelFor(hits.size(), [&](size_t i) { ++hits[i]; });
        for (const auto& h : hits)
            QCOMPARE(h.load(), 1);
        bool thrown = false;
        try {
            fairkv::parallelFor(100, [](size_t i) {
                if (i == 37)
                    throw std::runtime_error("index 37");
            });
        } catch (const std::runtime_error& e) {
            thrown = QString::fromUtf8(e.what()) == QStringLiteral("index 37");
        }
        QVERIFY(thrown);
    }

    void matmul_data()
    {
        QTest::addColumn<int>("m");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("k");
        QTest::addColumn<bool>("accumulate");
        QTest::newRow("1x1x1") << 1 << 1 << 1 << false;
        QTest::newRow("tails 5x7x13") << 5 << 7 << 13 << false;
        QTest::newRow("tiles 16x32x64") << 16 << 32 << 64 << false;
        QTest::newRow("mixed 17x33x100 accumulate") << 17 << 33 << 100 << true;
        QTest::newRow("gemv 1x300x257") << 1 << 300 << 257 << true;
        // Enough work for several threads: column blocks must cover n even when n / threads is odd.
        QTest::newRow("threaded 1000x33x256") << 1000 << 33 << 256 << false;
        QTest::newRow("threaded 228x256x704") << 228 << 256 << 704 << false;
    }
    void matmul()
    {
        QFETCH(int, m);
        QFETCH(int, n);
        QFETCH(int, k);
        QFETCH(bool, accumulate);
        const auto x = randomVector(size_t(m * k), 1);
        const auto w = randomVector(size_t(n * k), 2);
        const auto init = randomVector(size_t(m * n), 3);
        std::vector<float> out = accumulate ? init : std::vector<float>(size_t(m * n), NAN);
        cpu::matmulXWt(x.data(), size_t(m), size_t(k), w.data(), size_t(n), out.data(), accumulate);
        std::vector<double> ref(size_t(m * n));
        for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
                double s = accumulate ? init[size_t(i * n + j)] : 0.0;
                for (int p = 0; p < k; ++p)
                    s += double(x[size_t(i * k + p)]) * w[size_t(j * k + p)];
                ref[size_t(i * n + j)] = s;
            }
        QVERIFY2(relativeError(out, ref) < 1e-6, qPrintable(QString::number(relativeError(out, ref))));
    }

    void matmulRowIndependence()
    {
        // A row of W gives the same bits alone as inside a larger matrix: the basis of the
        // placement invariant (a shard computes exactly what the full model computes for its rows).
        const auto x = randomVector(7 * 96, 4);
        const auto w = randomVector(13 * 96, 5);
        std::vector<float> full(7 * 13), one(7);
        cpu::matmulXWt(x.data(), 7, 96, w.data(), 13, full.data());
        for (int j = 0; j < 13; ++j) {
            cpu::matmulXWt(x.data(), 7, 96, w.data() + j * 96, 1, one.data());
            for (int i = 0; i < 7; ++i)
                QCOMPARE(one[size_t(i)], full[size_t(i * 13 + j)]);
        }
    }

    // Scale 1e30: activations whose squares overflow a float sum (an embedding table scaled up);
    // the norm of the row is still the model's, not a row of zeros.
    void rmsNorm_data()
    {
        QTest::addColumn<float>("scale");
        QTest::newRow("ordinary") << 1.0f;
        QTest::newRow("squares beyond float") << 1e30f;
        QTest::newRow("1 / rms below float") << 3e37f;
    }

    void rmsNorm()
    {
        QFETCH(float, scale);
        const size_t n = 77;
        auto x = randomVector(n, 6, 3.0);
        for (float& v : x)
            v *= scale;
        QVERIFY(std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v); }));
        const auto w = randomVector(n, 7);
        std::vector<float> out(n);
        cpu::rmsNorm(x.data(), n, w.data(), 1e-5, out.data());
        double ss = 0;
        for (float v : x)
            ss += double(v) * v;
        const double inv = 1.0 / std::sqrt(ss / n + 1e-5);
        std::vector<double> ref(n);
        for (size_t i = 0; i < n; ++i)
            ref[i] = double(w[i]) * x[i] * inv;
        QVERIFY(relativeError(out, ref) < 1e-6);
        if (scale > 1e37f) // the case is the one it names: 1 / rms below float's normal range
            QVERIFY(inv < double(std::numeric_limits<float>::min()));
    }

    void siluMul()
    {
        const auto g = randomVector(50, 8, 4.0);
        const auto u = randomVector(50, 9);
        std::vector<float> out(50);
        cpu::siluMul(g.data(), u.data(), 50, out.data());
        std::vector<double> ref(50);
        for (size_t i = 0; i < 50; ++i)
            ref[i] = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * u[i];
        QVERIFY(relativeError(out, ref) < 1e-6);
    }

    void softmax()
    {
        auto x = randomVector(40, 10, 20.0); // large logits: needs the max subtraction
        std::vector<double> ref(40);
        double mx = -1e300, sum = 0;
        for (float v : x)
            mx = std::max(mx, double(v));
        for (size_t i = 0; i < 40; ++i)
            sum += ref[i] = std::exp(double(x[i]) - mx);
        for (double& r : ref)
            r /= sum;
        cpu::softmax(x.data(), 40);
        QVERIFY(relativeError(x, ref) < 1e-6);
    }

    void attention()
    {
        const size_t len = 37, d = 24;
        const auto q = randomVector(d, 11);
        const auto k = randomVector(len * d, 12);
        const auto v = randomVector(len * d, 13);
        std::vector<float> out(d), probs(len);
        const float scale = 1.0f / std::sqrt(float(d));
        cpu::attendOne(q.data(), k.data(), v.data(), len, d, scale, out.data(), probs.data());
        std::vector<double> p(len), ref(d, 0.0);
        double mx = -1e300, sum = 0;
        for (size_t j = 0; j < len; ++j) {
            double s = 0;
            for (size_t t = 0; t < d; ++t)
                s += double(q[t]) * k[j * d + t];
            p[j] = s / std::sqrt(double(d));
            mx = std::max(mx, p[j]);
        }
        for (double& x : p)
            sum += x = std::exp(x - mx);
        for (size_t j = 0; j < len; ++j) {
            p[j] /= sum;
            for (size_t t = 0; t < d; ++t)
                ref[t] += p[j] * v[j * d + t];
        }
        QVERIFY(relativeError(out, ref) < 1e-6);
        QVERIFY(relativeError(probs, p) < 1e-6);
    }

    void ropeFrequencies_data()
    {
        QTest::addColumn<int>("type");
        QTest::newRow("default") << int(RopeConfig::Type::Default);
        QTest::newRow("linear") << int(RopeConfig::Type::Linear);
        QTest::newRow("llama3") << int(RopeConfig::Type::Llama3);
    }
    void ropeFrequencies()
    {
        QFETCH(int, type);
        ModelConfig c = ModelConfig::builtin("tiny");
        c.headDim = 64;
        c.rope.type = RopeConfig::Type(type);
        c.rope.theta = 500000.0;
        c.rope.factor = 8.0;
        c.rope.lowFreqFactor = 1.0;
        c.rope.highFreqFactor = 4.0;
        c.rope.originalMaxPositions = 64;
        const auto inv = ropeInverseFrequencies(c);
        QCOMPARE(inv.size(), size_t(32));
        std::vector<double> ref;
        for (int i = 0; i < 32; ++i) {
            double f = 1.0 / std::pow(500000.0, 2.0 * i / 64.0);
            if (c.rope.type == RopeConfig::Type::Linear)
                f /= 8.0;
            if (c.rope.type == RopeConfig::Type::Llama3) {
                // Meta's reference: wavelengths above old_len/low are divided by the factor,
                // below old_len/high kept, in between interpolated.
                const double wavelen = 2 * M_PI / f;
                if (wavelen > 64.0 / 1.0)
                    f = f / 8.0;
                else if (wavelen >= 64.0 / 4.0) {
                    const double smooth = (64.0 / wavelen - 1.0) / (4.0 - 1.0);
                    f = (1 - smooth) * f / 8.0 + smooth * f;
                }
            }
            ref.push_back(f);
        }
        QVERIFY2(relativeError(inv, ref) < 1e-6, qPrintable(QString::number(relativeError(inv, ref))));
    }

    void ropeRotation()
    {
        const size_t heads = 3, d = 16;
        auto v = randomVector(heads * d, 14);
        const auto orig = v;
        std::vector<float> inv(d / 2);
        for (size_t i = 0; i < d / 2; ++i)
            inv[i] = float(1.0 / std::pow(10000.0, 2.0 * double(i) / d));
        const long pos = 1234;
        cpu::applyRope(v.data(), heads, d, pos, inv);
        std::vector<double> ref(heads * d);
        for (size_t h = 0; h < heads; ++h)
            for (size_t i = 0; i < d; ++i) {
                // HF: x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1]
                const size_t pair = i % (d / 2);
                const double angle = double(float(pos) * inv[pair]);
                const double rot = i < d / 2 ? -double(orig[h * d + i + d / 2]) : double(orig[h * d + i - d / 2]);
                ref[h * d + i] = orig[h * d + i] * std::cos(angle) + rot * std::sin(angle);
            }
        QVERIFY(relativeError(v, ref) < 1e-6);
    }

    void halfConversions()
    {
        QCOMPARE(bf16ToFloat(0x3f80), 1.0f);
        QCOMPARE(floatToBf16(1.0f), uint16_t(0x3f80));
        QCOMPARE(floatToBf16(1.00390625f), uint16_t(0x3f80)); // tie rounds to even
        QCOMPARE(f16ToFloat(0x3c00), 1.0f);
        QCOMPARE(f16ToFloat(0x0001), std::ldexp(1.0f, -24));
        QCOMPARE(f16ToFloat(0xfbff), -65504.0f);
        QVERIFY(std::isinf(f16ToFloat(0x7c00)));
        QVERIFY(std::isnan(f16ToFloat(0x7e00)));
        for (uint32_t h = 0; h < 0x10000; ++h) {
            const float f = f16ToFloat(uint16_t(h));
            if (std::isnan(f))
                continue;
            QCOMPARE(floatToF16(f), uint16_t(h));
        }
        QCOMPARE(floatToF16(70000.0f), uint16_t(0x7c00));
    }
};

QTEST_GUILESS_MAIN(TestOps)
#include "test_ops.moc"
