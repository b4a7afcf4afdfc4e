#include "kv/kv_store.h"

#include <algorithm>

namespace fairkv {

void KvBlock::keepRows(const std::vector<int>& positions)
{
    const size_t d = size_t(headDim);
    std::vector<float> k(positions.size() * d), v(positions.size() * d);
    for (size_t i = 0; i < positions.size(); ++i) {
        std::copy_n(keys.begin() + long(size_t(positions[i]) * d), d, k.begin() + long(i * d));
        std::copy_n(values.begin() + long(size_t(positions[i]) * d), d, v.begin() + long(i * d));
    }
    keys = std::move(k);
    values = std::move(v);
}

} // namespace fairkv
