#pragma once
#include <cstdint>

namespace fairkv::views {

// The visible time window of the timeline mapped onto `width` pixels. Pure arithmetic, so zoom,
// pan and hit-testing are tested without a widget.
struct TimeAxis
{
    int64_t start = 0; // ns at x = 0
    int64_t end = 1;   // ns at x = width
    double width = 1.0;

    double toX(int64_t t) const { return double(t - start) * width / double(end - start); }
    int64_t toTime(double x) const { return start + int64_t(x * double(end - start) / width); }
    double nsPerPixel() const { return double(end - start) / width; }
    // Zoom by `factor` (> 1 zooms in) keeping the time under `anchorX` in place; never narrower
    // than `minSpan` ns and never wider than [lo, hi].
    TimeAxis zoomed(double factor, double anchorX, int64_t lo, int64_t hi, int64_t minSpan = 100) const;
    // Pan by `dx` pixels (positive moves the view to earlier times), clamped to [lo, hi].
    TimeAxis panned(double dx, int64_t lo, int64_t hi) const;
};

} // namespace fairkv::views
