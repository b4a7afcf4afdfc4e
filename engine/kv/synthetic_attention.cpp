#include "kv/synthetic_attention.h"

#include "common/parallel.h"

#include "common/rng.h"
#include "placement/unit_layout.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace fairkv {

std::vector<std::vector<float>> syntheticHeadSharpness(const ModelConfig& config, uint64_t seed)
{
    Rng rng(Rng::mix(seed, 0xa77e));
    const double lo = std::log(0.25), hi = std::log(6.0);
    std::vector<std::vector<float>> s(size_t(config.numLayers), std::vector<float>(size_t(config.numHeads)));
    for (auto& layer : s)
        for (float& x : layer)
            x = float(std::exp(lo + rng.uniform() * (hi - lo)));
    return s;
}

std::vector<std::vector<std::vector<double>>> syntheticKvLengths(const ModelConfig& config, UnitMode mode,
                                                                 const CompressionOptions& compression, int batch,
                                                                 int promptLen, uint64_t seed)
{
    const auto sharpness = syntheticHeadSharpness(config, seed);
    const UnitLayout units(config, mode);
    const int g = config.groupSize();
    const size_t L = size_t(promptLen);
    std::vector<std::vector<std::vector<double>>> out(static_cast<size_t>(batch));
    const int window = std::min(compression.window, promptLen);
    // Requests are independent (each (request, layer) has its own seed): spread them over the cores.
    auto work = [&](int r) {
        std::vector<float> logits(L);
        for (int l = 0; l < config.numLayers; ++l) {
            Rng rng(Rng::mix(seed, uint64_t(r) * 100003 + uint64_t(l), 0x5a1));
            std::vector<std::vector<float>> unitAttn(size_t(units.numUnits), std::vector<float>(L, 0.0f));
            for (int h = 0; h < config.numHeads; ++h) {
                const float s = sharpness[size_t(l)][size_t(h)];
                const int unit = mode == UnitMode::Gqa ? h / g : h;
                const float weight = 1.0f / float(window * units.queryHeads());
                for (int q = 0; q < window; ++q) {
                    // window query q sits at position L - window + q and sees the positions up to it
                    const size_t visible = L - size_t(window) + size_t(q) + 1;
                    float mx = -1e30f;
                    for (size_t j = 0; j < visible; j += 2) {
                        const auto [a, b] = rng.normalPair();
                        logits[j] = s * float(a);
                        if (j + 1 < visible)
                            logits[j + 1] = s * float(b);
                        mx = std::max({mx, logits[j], j + 1 < visible ? logits[j + 1] : mx});
                    }
                    double sum = 0.0;
                    for (size_t j = 0; j < visible; ++j)
                        sum += logits[j] = std::exp(logits[j] - mx);
                    const float norm = float(1.0 / sum) * weight;
                    float* dst = unitAttn[size_t(unit)].data();
                    for (size_t j = 0; j < visible; ++j)
                        dst[j] += logits[j] * norm;
                }
            }
            const LayerSelection sel = compressLayer(compression, l, config.numLayers, unitAttn);
            std::vector<double> lengths;
            for (const auto& kept : sel.kept)
                lengths.push_back(double(kept.size()));
            out[size_t(r)].push_back(std::move(lengths));
        }
    };
    parallelFor(size_t(batch), [&](size_t r) { work(int(r)); });
    return out;
}

} // namespace fairkv
