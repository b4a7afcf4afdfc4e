#include "placement/placement_edit.h"

#include "common/error.h"

#include <algorithm>
#include <set>
#include <string>

namespace fairkv::edit {

namespace {

std::string where(int layer, int unit)
{
    return "layer " + std::to_string(layer) + ", unit " + std::to_string(unit);
}

UnitPlacement& unitAt(Placement& p, int layer, int unit)
{
    if (layer < 0 || layer >= int(p.layers.size()))
        throw Error("layer " + std::to_string(layer) + " is not in the placement (" + std::to_string(p.layers.size())
                    + " layers)");
    auto& units = p.layers[size_t(layer)];
    if (unit < 0 || unit >= int(units.size()))
        throw Error("unit " + std::to_string(unit) + " is not in layer " + std::to_string(layer));
    return units[size_t(unit)];
}

void checkReplica(const UnitPlacement& up, int layer, int replica)
{
    if (replica < 0 || replica >= int(up.replicas.size()))
        throw Error(where(layer, up.unit) + " has no replica " + std::to_string(replica));
}

void checkRank(const Placement& p, int rank)
{
    if (rank < 0 || rank >= p.ranks)
        throw Error("rank " + std::to_string(rank) + " does not exist (" + std::to_string(p.ranks) + " ranks)");
}

std::vector<int> checkedRequests(const Placement& p, const std::vector<int>& requests, int layer, int unit)
{
    std::set<int> s(requests.begin(), requests.end());
    if (s.empty())
        throw Error(where(layer, unit) + ": a replica must serve at least one request");
    for (int r : s)
        if (r < 0 || r >= p.batch)
            throw Error(where(layer, unit) + ": request " + std::to_string(r) + " is not in the batch of "
                        + std::to_string(p.batch));
    return {s.begin(), s.end()};
}

// Removes `taken` from every replica but `keep`, dropping replicas left empty.
void takeFromOthers(UnitPlacement& up, size_t keep, const std::vector<int>& taken)
{
    const std::set<int> t(taken.begin(), taken.end());
    std::vector<Replica> out;
    for (size_t i = 0; i < up.replicas.size(); ++i) {
        Replica r = up.replicas[i];
        if (i != keep) {
            r.requests.erase(
                std::remove_if(r.requests.begin(), r.requests.end(), [&](int q) { return t.count(q) > 0; }),
                r.requests.end());
            if (r.requests.empty())
                continue;
        }
        out.push_back(std::move(r));
    }
    up.replicas = std::move(out);
}

} // namespace

Placement moveReplica(const Placement& in, int layer, int unit, int replica, int toRank)
{
    Placement p = in;
    UnitPlacement& up = unitAt(p, layer, unit);
    checkReplica(up, layer, replica);
    checkRank(p, toRank);
    for (size_t i = 0; i < up.replicas.size(); ++i)
        if (int(i) != replica && up.replicas[i].rank == toRank)
            throw Error(where(layer, unit) + " already has a replica on rank " + std::to_string(toRank));
    up.replicas[size_t(replica)].rank = toRank;
    return p;
}

Placement addReplica(const Placement& in, int layer, int unit, int rank, const std::vector<int>& requests)
{
    Placement p = in;
    UnitPlacement& up = unitAt(p, layer, unit);
    checkRank(p, rank);
    for (const Replica& r : up.replicas)
        if (r.rank == rank)
            throw Error(where(layer, unit) + " already has a replica on rank " + std::to_string(rank));
    const auto wanted = checkedRequests(p, requests, layer, unit);
    up.replicas.push_back({rank, wanted});
    takeFromOthers(up, up.replicas.size() - 1, wanted);
    return p;
}

Placement removeReplica(const Placement& in, int layer, int unit, int replica)
{
    Placement p = in;
    UnitPlacement& up = unitAt(p, layer, unit);
    checkReplica(up, layer, replica);
    if (up.replicas.size() == 1)
        throw Error(where(layer, unit) + ": the only replica cannot be removed");
    const std::vector<int> orphans = up.replicas[size_t(replica)].requests;
    up.replicas.erase(up.replicas.begin() + replica);
    auto& heir = up.replicas.front().requests;
    heir.insert(heir.end(), orphans.begin(), orphans.end());
    std::sort(heir.begin(), heir.end());
    return p;
}

Placement setRequests(const Placement& in, int layer, int unit, int replica, const std::vector<int>& requests)
{
    Placement p = in;
    UnitPlacement& up = unitAt(p, layer, unit);
    checkReplica(up, layer, replica);
    const auto wanted = checkedRequests(p, requests, layer, unit);
    std::vector<int> released;
    for (int r : up.replicas[size_t(replica)].requests)
        if (!std::binary_search(wanted.begin(), wanted.end(), r))
            released.push_back(r);
    if (!released.empty() && up.replicas.size() == 1)
        throw Error(where(layer, unit) + ": its only replica must serve the whole batch");
    const int rank = up.replicas[size_t(replica)].rank;
    up.replicas[size_t(replica)].requests = wanted;
    takeFromOthers(up, size_t(replica), wanted);
    if (!released.empty()) {
        auto heir
            = std::find_if(up.replicas.begin(), up.replicas.end(), [&](const Replica& r) { return r.rank != rank; });
        if (heir == up.replicas.end()) // every other replica was emptied by this edit
            throw Error(where(layer, unit) + ": requests given up by this replica would have no replica left");
        heir->requests.insert(heir->requests.end(), released.begin(), released.end());
        std::sort(heir->requests.begin(), heir->requests.end());
    }
    return p;
}

Placement copyLayerToAll(const Placement& in, int layer)
{
    Placement p = in;
    if (layer < 0 || layer >= int(p.layers.size()))
        throw Error("layer " + std::to_string(layer) + " is not in the placement");
    for (auto& l : p.layers)
        l = in.layers[size_t(layer)];
    return p;
}

} // namespace fairkv::edit
