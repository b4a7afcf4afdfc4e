#pragma once
#include <QString>
#include <QTemporaryDir>

#include <cmath>
#include <string>
#include <vector>

namespace fairkv::test {

// ||a - b|| / ||b||
inline double relativeError(const std::vector<float>& a, const std::vector<double>& b)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < b.size(); ++i) {
        num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline double relativeError(const std::vector<float>& a, const std::vector<float>& b)
{
    return relativeError(a, std::vector<double>(b.begin(), b.end()));
}

inline std::string path(const QTemporaryDir& dir, const char* name)
{
    return dir.filePath(QString::fromUtf8(name)).toStdString();
}

// Runs `fn` and returns the fairkv::Error message it throws (empty if none).
template <typename Fn>
std::string errorOf(Fn&& fn)
{
    try {
        fn();
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

} // namespace fairkv::test

// QVERIFY with the error text in the failure message.
#define FAIRKV_EXPECT_ERROR(expr, needle)                                                                          \
    do {                                                                                                           \
        const std::string _msg = fairkv::test::errorOf([&] { expr; });                                             \
        QVERIFY2(!_msg.empty(), "expected an error, got none");                                                    \
        QVERIFY2(_msg.find(needle) != std::string::npos, _msg.c_str());                                            \
    } while (0)
