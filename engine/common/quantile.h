#pragma once

#include <cstddef>
#include <vector>

namespace fairkv {

// The q-quantile (0 <= q <= 1) of ascending values, interpolated between the two nearest ranks
// (the median of an even count is the mean of the middle two). One definition for every median
// and spread the CLI, the reports and the views print, so that they agree. 0 for no values.
template <typename T>
double quantileOfSorted(const std::vector<T>& sorted, double q)
{
    if (sorted.empty())
        return 0.0;
    const double pos = q * double(sorted.size() - 1);
    const size_t i = size_t(pos);
    if (i + 1 >= sorted.size())
        return double(sorted.back());
    return double(sorted[i]) + (pos - double(i)) * (double(sorted[i + 1]) - double(sorted[i]));
}

} // namespace fairkv
