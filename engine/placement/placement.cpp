#include "placement/placement.h"

#include "common/error.h"
#include "common/json_file.h"
#include "model/model_config.h"
#include "common/output_path.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

namespace fairkv {

using nlohmann::json;

namespace {
std::string at(int layer, int unit)
{
    return "layer " + std::to_string(layer) + ", unit " + std::to_string(unit);
}
} // namespace

void Placement::validate(int numLayers, int numUnits, int numRanks, int batchSize) const
{
    const std::string who = name.empty() ? std::string("placement") : "placement '" + name + "'";
    if (ranks != numRanks)
        throw Error(who + " is for " + std::to_string(ranks) + " ranks, the run has " + std::to_string(numRanks));
    if (int(layers.size()) != numLayers)
        throw Error(who + " has " + layerCount(int64_t(layers.size())) + ", the model has "
                    + std::to_string(numLayers));
    for (int l = 0; l < numLayers; ++l) {
        const auto& layer = layers[size_t(l)];
        // A unit out of range or named twice, by name: the count and order checks below would only
        // say that some unit is missing.
        std::vector<bool> named(size_t(numUnits), false);
        for (const UnitPlacement& up : layer) {
            if (up.unit < 0 || up.unit >= numUnits)
                throw Error(who + ": layer " + std::to_string(l) + " places unit " + std::to_string(up.unit)
                            + ", out of range 0.." + std::to_string(numUnits - 1));
            if (named[size_t(up.unit)])
                throw Error(who + ": layer " + std::to_string(l) + " places unit " + std::to_string(up.unit) + " twice");
            named[size_t(up.unit)] = true;
        }
        if (int(layer.size()) != numUnits)
            throw Error(who + ": layer " + std::to_string(l) + " places " + std::to_string(layer.size())
                        + " units, the model has " + std::to_string(numUnits));
        for (int u = 0; u < numUnits; ++u) {
            const UnitPlacement& up = layer[size_t(u)];
            if (up.unit != u)
                throw Error(who + ": layer " + std::to_string(l) + " lists unit " + std::to_string(up.unit)
                            + " where unit " + std::to_string(u) + " is expected (unit missing or out of order)");
            if (up.replicas.empty())
                throw Error(who + ": " + at(l, u) + " has no replica");
            std::vector<int> seen(size_t(batchSize), -1);
            std::vector<int> rankUsed;
            for (size_t k = 0; k < up.replicas.size(); ++k) {
                const Replica& r = up.replicas[k];
                if (r.rank < 0 || r.rank >= numRanks)
                    throw Error(who + ": " + at(l, u) + " has a replica on rank " + std::to_string(r.rank)
                                + ", out of range 0.." + std::to_string(numRanks - 1));
                if (std::find(rankUsed.begin(), rankUsed.end(), r.rank) != rankUsed.end())
                    throw Error(who + ": " + at(l, u) + " has two replicas on rank " + std::to_string(r.rank));
                rankUsed.push_back(r.rank);
                if (r.requests.empty())
                    throw Error(who + ": " + at(l, u) + ", replica on rank " + std::to_string(r.rank) + " serves no request");
                for (int req : r.requests) {
                    if (req < 0 || req >= batchSize)
                        throw Error(who + ": " + at(l, u) + " names request " + std::to_string(req) + ", the batch has "
                                    + std::to_string(batchSize));
                    if (seen[size_t(req)] == int(k))
                        throw Error(who + ": " + at(l, u) + ", replica on rank " + std::to_string(r.rank) + " lists request "
                                    + std::to_string(req) + " twice");
                    if (seen[size_t(req)] >= 0)
                        throw Error(who + ": " + at(l, u) + ": request " + std::to_string(req)
                                    + " is served by two replicas (request sets must partition the batch)");
                    seen[size_t(req)] = int(k);
                }
            }
            for (int req = 0; req < batchSize; ++req)
                if (seen[size_t(req)] < 0)
                    throw Error(who + ": " + at(l, u) + ": request " + std::to_string(req)
                                + " is served by no replica (request sets must partition the batch)");
        }
    }
}

Placement Placement::uniform(int numLayers, int numUnits, int numRanks, int batchSize)
{
    Placement p;
    p.name = "uniform";
    p.ranks = numRanks;
    p.batch = batchSize;
    std::vector<int> all(static_cast<size_t>(batchSize));
    for (int r = 0; r < batchSize; ++r)
        all[size_t(r)] = r;
    p.layers.assign(size_t(numLayers), {});
    for (auto& layer : p.layers)
        for (int u = 0; u < numUnits; ++u)
            layer.push_back({u, {{int(int64_t(u) * numRanks / numUnits), all}}});
    return p;
}

int Placement::replicasOn(int layer, int rank) const
{
    int n = 0;
    for (const auto& up : layers[size_t(layer)])
        for (const auto& r : up.replicas)
            n += r.rank == rank;
    return n;
}

json Placement::toJson() const
{
    json jl = json::array();
    for (const auto& layer : layers) {
        json units = json::array();
        for (const auto& up : layer) {
            json reps = json::array();
            for (const auto& r : up.replicas)
                reps.push_back({{"rank", r.rank}, {"requests", r.requests}});
            units.push_back({{"unit", up.unit}, {"replicas", reps}});
        }
        jl.push_back(units);
    }
    return {{"name", name}, {"ranks", ranks}, {"batch", batch}, {"layers", jl}};
}

Placement Placement::fromJson(const json& j, int batchSize, const std::string& source, int runRanks)
{
    auto fail = [&](const std::string& what) -> Error { return Error(source + ": " + what); };
    // Units, ranks and requests as ints: a value beyond them (4294967297) must not wrap to a valid one.
    auto index = [&](const json& v, const std::string& where, const char* key) {
        if (!jsonIsIntIn(v, 0, int64_t(1) << 30))
            throw fail(where + ": \"" + key + "\" " + jsonBrief(v) + " is out of range");
        return int(v.get<int64_t>());
    };
    // A run result or plan wraps the placement in "placement".
    const json& root = j.is_object() && j.contains("placement") ? j.at("placement") : j;
    if (!root.is_object() || !root.contains("layers") || !root.at("layers").is_array())
        throw fail("expected a placement object with a \"layers\" array");
    Placement p;
    p.name = root.contains("name") && root.at("name").is_string() ? root.at("name").get<std::string>() : source;
    if (p.name != source && p.name.size() > 256) // a name, copied into every result and report: not a payload
        throw fail("the placement's \"name\" is " + std::to_string(p.name.size()) + " bytes long, at most 256");
    p.batch = batchSize;
    std::vector<int> all(static_cast<size_t>(batchSize));
    for (int r = 0; r < batchSize; ++r)
        all[size_t(r)] = r;
    int maxRank = -1;
    try {
        for (size_t l = 0; l < root.at("layers").size(); ++l) {
            const json& jl = root.at("layers")[l];
            if (!jl.is_array())
                throw fail("layer " + std::to_string(l) + " must be an array of units");
            std::vector<UnitPlacement> units;
            for (const json& ju : jl) {
                if (!ju.is_object() || !ju.contains("unit") || !ju.at("unit").is_number_integer()
                    || !ju.contains("replicas") || !ju.at("replicas").is_array())
                    throw fail("layer " + std::to_string(l) + ": each unit needs an integer \"unit\" and a \"replicas\" array");
                UnitPlacement up;
                up.unit = index(ju.at("unit"), "layer " + std::to_string(l), "unit");
                for (const json& jr : ju.at("replicas")) {
                    if (!jr.is_object() || !jr.contains("rank") || !jr.at("rank").is_number_integer())
                        throw fail(at(int(l), up.unit) + ": each replica needs an integer \"rank\"");
                    Replica r;
                    r.rank = index(jr.at("rank"), at(int(l), up.unit), "rank");
                    maxRank = std::max(maxRank, r.rank);
                    if (jr.contains("requests")) {
                        if (!jr.at("requests").is_array())
                            throw fail(at(int(l), up.unit) + ": \"requests\" must be an array of request indices");
                        for (const json& q : jr.at("requests")) {
                            if (!q.is_number_integer())
                                throw fail(at(int(l), up.unit) + ": request indices must be integers");
                            r.requests.push_back(index(q, at(int(l), up.unit), "requests"));
                        }
                        std::sort(r.requests.begin(), r.requests.end());
                    } else if (ju.at("replicas").size() == 1) {
                        r.requests = all;
                    } else {
                        throw fail(at(int(l), up.unit) + ": a unit with several replicas must list each replica's requests");
                    }
                    up.replicas.push_back(std::move(r));
                }
                units.push_back(std::move(up));
            }
            std::sort(units.begin(), units.end(), [](const auto& a, const auto& b) { return a.unit < b.unit; });
            p.layers.push_back(std::move(units));
        }
    } catch (const json::exception& e) {
        throw fail(e.what());
    }
    // Without "ranks" the file is for the run's ranks: a replica beyond them is then named by
    // validate() where it sits.
    // "ranks": "8" or 8.0 is not a count; ignoring it would run the file on whatever ranks the run has.
    for (const char* key : {"ranks", "batch"})
        if (root.contains(key) && !root.at(key).is_null() && !root.at(key).is_number_integer())
            throw fail(std::string("\"") + key + "\" must be a whole number, got " + jsonBrief(root.at(key)));
    const bool saysRanks = root.contains("ranks") && !root.at("ranks").is_null();
    p.ranks = saysRanks ? index(root.at("ranks"), "placement", "ranks") : (runRanks > 0 ? runRanks : maxRank + 1);
    if (root.contains("batch") && !root.at("batch").is_null()) {
        const int batch = index(root.at("batch"), "placement", "batch");
        if (batch != 0 && batch != batchSize) // 0: not said
            throw fail("the placement is for a batch of " + std::to_string(batch) + " requests, the run has "
                       + std::to_string(batchSize));
    }
    return p;
}

Placement Placement::fromFile(const std::string& path, int batchSize, int runRanks)
{
    return fromJson(readJsonFile(path, "placement file"), batchSize, path, runRanks);
}

Placement Placement::fromFileFor(const std::string& path, int numLayers, int numUnits, int numRanks, int batchSize)
{
    Placement p = fromFile(path, batchSize, numRanks);
    // validate() names the placement by its "name"; the user named a file, and the name inside
    // (a planner's: "placement 'uniform'") would read as another placement.
    std::string name = std::exchange(p.name, std::string());
    try {
        p.validate(numLayers, numUnits, numRanks, batchSize);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    p.name = std::move(name);
    return p;
}

void Placement::saveFile(const std::string& path) const
{
    writeJsonFile(path, toJson(), 1);
}

} // namespace fairkv
