#include "parallel/collective_model.h"

#include <cstdio>

namespace fairkv {

double AllReduceModel::ms(double bytes, int ranks) const
{
    if (ranks <= 1)
        return 0.0;
    return alphaUs / 1000.0 + 2.0 * (ranks - 1) / ranks * bytes / (busGBs * 1e6);
}

std::string AllReduceModel::describe() const
{
    char text[160];
    std::snprintf(text, sizeof text, "modelled all-reduce: %.3g us + 2(N-1)/N * bytes / %.4g GB/s", alphaUs, busGBs);
    return text;
}

} // namespace fairkv
