#pragma once
#include <cmath>
#include <cstdint>
#include <utility>

namespace fairkv {

// Small deterministic generator (SplitMix64). The standard library's distributions differ between
// implementations; synthetic weights, prompts and sampling must be identical everywhere for a seed.
class Rng
{
public:
    explicit Rng(uint64_t seed)
        : m_state(seed)
    {
    }

    uint64_t next()
    {
        uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    // Uniform in [0, 1).
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }

    // Uniform integer in [0, n).
    uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }

    // Standard normal (Box-Muller; the second value is dropped to keep the stream simple).
    double normal()
    {
        double u1 = uniform();
        const double u2 = uniform();
        if (u1 < 1e-300)
            u1 = 1e-300;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }

    // Two independent standard normals (both Box-Muller outputs).
    std::pair<double, double> normalPair()
    {
        double u1 = uniform();
        const double u2 = uniform();
        if (u1 < 1e-300)
            u1 = 1e-300;
        const double r = std::sqrt(-2.0 * std::log(u1));
        return {r * std::cos(6.283185307179586 * u2), r * std::sin(6.283185307179586 * u2)};
    }

    // A derived, independent stream (for one tensor, one request, ...).
    static uint64_t mix(uint64_t seed, uint64_t a, uint64_t b = 0)
    {
        Rng r(seed ^ (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL));
        return r.next();
    }

private:
    uint64_t m_state;
};

} // namespace fairkv
