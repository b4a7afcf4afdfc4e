#pragma once
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace fairkv {

// A dense fp32 tensor in row-major order. The engine converts every checkpoint dtype to this on load.
struct Tensor
{
    std::vector<int64_t> shape;
    std::vector<float> data;

    Tensor() = default;
    explicit Tensor(std::vector<int64_t> s)
        : shape(std::move(s))
        , data(size_t(numel(shape)), 0.0f)
    {
    }

    static int64_t numel(const std::vector<int64_t>& s)
    {
        return std::accumulate(s.begin(), s.end(), int64_t(1), std::multiplies<int64_t>());
    }
    int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
    int64_t cols() const { return shape.size() < 2 ? 1 : shape[1]; }
    float* row(int64_t r) { return data.data() + r * cols(); }
    const float* row(int64_t r) const { return data.data() + r * cols(); }
};

std::string shapeToString(const std::vector<int64_t>& shape);

} // namespace fairkv
