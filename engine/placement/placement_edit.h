#pragma once
#include "placement/placement.h"

#include <vector>

namespace fairkv::edit {

// Hand edits of a placement (the GUI's placement editor). Each returns the edited placement, which
// is valid whenever the input was, or throws fairkv::Error saying why the edit is refused; the
// input is never changed. `replica` indexes the unit's replica list in `layer`.

// Moves one replica to another rank (refused when the unit already has a replica there).
Placement moveReplica(const Placement& p, int layer, int unit, int replica, int toRank);
// A new replica of `unit` on `rank` serving `requests`, which its other replicas give up; a replica
// left with no requests is dropped.
Placement addReplica(const Placement& p, int layer, int unit, int rank, const std::vector<int>& requests);
// Drops a replica; its requests go to the unit's first other replica (the last one cannot go).
Placement removeReplica(const Placement& p, int layer, int unit, int replica);
// Sets the requests a replica serves: ones it gains leave the other replicas (emptied ones are
// dropped), ones it gives up go to the unit's first other replica.
Placement setRequests(const Placement& p, int layer, int unit, int replica, const std::vector<int>& requests);
// Every layer takes `layer`'s placement.
Placement copyLayerToAll(const Placement& p, int layer);

} // namespace fairkv::edit
