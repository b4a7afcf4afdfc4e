#pragma once
#include "placement/placement.h"

#include <string>
#include <vector>

namespace fairkv {

using KvLengths = std::vector<std::vector<std::vector<double>>>; // [request][layer][unit]

// Design §2: rank g's attention time in layer l is
//   T[l][g] = sum over replicas on g of ( cUnit + cTok * sum of the replica's requests' KV lengths ).
struct CostModel
{
    double cUnitMs = 0.0;
    double cTokMs = 0.0;
    std::string source; // where the constants come from ("fitted to ...", "defaults from ...")

    // Lower bound of any placement with copying allowed, per layer (design §2).
    std::vector<double> layerLowerBoundsMs(const KvLengths& len, int numRanks) const;

    // Least-squares fit (non-negative) of the two constants to measured per-rank times [layer][rank].
    // Where the run cannot tell the two terms apart (one rank, or every rank's unit count in step
    // with its tokens: the fit had put c_unit at 0, and a plan from it took copies for free), and
    // `unitToTokenBytes` (a unit replica's weight bytes over one token's K and V bytes) is given,
    // their ratio comes from those bytes and only the scale from the times; `source` says so.
    static CostModel fit(const Placement& p, const KvLengths& len, const std::vector<std::vector<double>>& rankMs,
                         double unitToTokenBytes = 0.0);
};

} // namespace fairkv
