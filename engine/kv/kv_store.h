#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

namespace fairkv {

// Retained keys (after RoPE) and values of one unit for one request in one layer. Ragged: every
// block has its own length; decode appends one row per step.
struct KvBlock
{
    int headDim = 0;
    std::vector<float> keys;   // len x headDim
    std::vector<float> values; // len x headDim

    size_t length() const { return headDim ? keys.size() / size_t(headDim) : 0; }
    size_t bytes() const { return (keys.size() + values.size()) * sizeof(float); }
    void append(const float* k, const float* v, size_t rows)
    {
        keys.insert(keys.end(), k, k + rows * size_t(headDim));
        values.insert(values.end(), v, v + rows * size_t(headDim));
    }
    // Keeps only the rows at `positions` (sorted), in order.
    void keepRows(const std::vector<int>& positions);
};

struct KvKey
{
    int layer = 0;
    int unit = 0;
    int request = 0;
    // Spelled out (no <=>): CUDA files include this header and nvcc builds them as C++17 here.
    bool operator<(const KvKey& o) const { return std::tie(layer, unit, request) < std::tie(o.layer, o.unit, o.request); }
    bool operator==(const KvKey& o) const { return layer == o.layer && unit == o.unit && request == o.request; }
};

using KvStore = std::map<KvKey, KvBlock>;

} // namespace fairkv
