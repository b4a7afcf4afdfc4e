#pragma once
#include "kv/compression.h"
#include "model/model_config.h"

#include <vector>

namespace fairkv {

// Which query heads and which KV head make up each placement unit (design §2).
struct UnitLayout
{
    UnitMode mode = UnitMode::Gqa;
    int numUnits = 0;
    int headDim = 0;
    int groupSize = 1;

    UnitLayout() = default;
    UnitLayout(const ModelConfig& c, UnitMode m)
        : mode(m)
        , numUnits(m == UnitMode::Gqa ? c.numKvHeads : c.numHeads)
        , headDim(c.headDim)
        , groupSize(c.groupSize())
    {
    }
    int firstQueryHead(int unit) const { return mode == UnitMode::Gqa ? unit * groupSize : unit; }
    int queryHeads() const { return mode == UnitMode::Gqa ? groupSize : 1; }
    int kvHead(int unit) const { return mode == UnitMode::Gqa ? unit : unit / groupSize; }
};

} // namespace fairkv
