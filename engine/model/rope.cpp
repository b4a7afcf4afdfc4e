#include "model/rope.h"

#include <cmath>

namespace fairkv {

std::vector<float> ropeInverseFrequencies(const ModelConfig& c)
{
    const int half = c.headDim / 2;
    std::vector<float> inv(static_cast<size_t>(half));
    for (int i = 0; i < half; ++i) {
        // HF: 1 / base ** (arange(0, dim, 2).float() / dim), in float32.
        const float exponent = float(2 * i) / float(c.headDim);
        inv[size_t(i)] = 1.0f / std::pow(float(c.rope.theta), exponent);
    }
    const RopeConfig& r = c.rope;
    if (r.type == RopeConfig::Type::Linear) {
        for (float& f : inv)
            f = f / float(r.factor);
    } else if (r.type == RopeConfig::Type::Llama3) {
        const double pi = 3.14159265358979323846;
        const double lowFreqWavelen = r.originalMaxPositions / r.lowFreqFactor;
        const double highFreqWavelen = r.originalMaxPositions / r.highFreqFactor;
        for (float& f : inv) {
            const float wavelen = float(2.0 * pi) / f;
            float scaled = wavelen > float(lowFreqWavelen) ? f / float(r.factor) : f;
            // Between the two wavelengths; no band when high_freq_factor <= low_freq_factor.
            const bool medium = r.highFreqFactor > r.lowFreqFactor && !(wavelen < float(highFreqWavelen))
                                && !(wavelen > float(lowFreqWavelen));
            if (medium) {
                const float smooth = (float(r.originalMaxPositions) / wavelen - float(r.lowFreqFactor))
                                     / float(r.highFreqFactor - r.lowFreqFactor);
                scaled = (1.0f - smooth) * scaled / float(r.factor) + smooth * scaled;
            }
            f = scaled;
        }
    }
    return inv;
}

} // namespace fairkv
