#include "time_axis.h"

#include <algorithm>
#include <cmath>

namespace fairkv::views {

TimeAxis TimeAxis::zoomed(double factor, double anchorX, int64_t lo, int64_t hi, int64_t minSpan) const
{
    const int64_t anchor = toTime(anchorX);
    const double span = std::clamp(double(end - start) / factor, double(minSpan), double(std::max<int64_t>(hi - lo, minSpan)));
    TimeAxis a = *this;
    a.start = anchor - int64_t(std::llround(anchorX / width * span));
    a.end = a.start + int64_t(std::llround(span));
    if (a.start < lo) {
        a.end += lo - a.start;
        a.start = lo;
    }
    if (a.end > hi && hi - lo >= a.end - a.start) {
        a.start -= a.end - hi;
        a.end = hi;
    }
    return a;
}

TimeAxis TimeAxis::panned(double dx, int64_t lo, int64_t hi) const
{
    const int64_t shift = int64_t(std::llround(dx * nsPerPixel()));
    const int64_t span = end - start;
    TimeAxis a = *this;
    a.start = std::clamp(start - shift, lo, std::max(lo, hi - span));
    a.end = a.start + span;
    return a;
}

} // namespace fairkv::views
