#include "placement/placement_stats.h"

#include "common/error.h"
#include "common/json_file.h"
#include "model/model_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fairkv {

using nlohmann::json;

double PlacementStats::defaultUnitBytes(int hidden, int headDim, int queryHeadsPerUnit, int bytesPerElement)
{
    // q rows + o_proj columns for the query heads, k and v rows for the KV head.
    return double(bytesPerElement) * double(hidden) * double(headDim) * (2.0 * queryHeadsPerUnit + 2.0);
}

double PlacementStats::defaultTokenBytes(int headDim, int bytesPerElement)
{
    return 2.0 * bytesPerElement * double(headDim); // K and V of one head
}

PlacementStats PlacementStats::fromJson(const json& j, const std::string& source)
{
    auto fail = [&](const std::string& what) { return Error(source + ": " + what); };
    if (!j.is_object())
        throw fail("stats must be a JSON object");
    auto integer = [&](const char* key) { return jsonInt(j, key, source, 1, 1 << 24); };
    // Bounded, so that every modelled time stays finite (1e308 ms made the plan's totals inf).
    auto number = [&](const char* key, double fallback, double most = 1e9) { return jsonNumberOr(j, key, fallback, source, 0.0, most); };
    // A run's --json result holds the same lengths, but not in this form: say which file to write.
    if (!j.contains("layers") && j.contains("kv_len") && j.contains("placement"))
        throw fail("is a run's result, not a stats file (fairkv plan reads both; elsewhere write one with `fairkv run ... --stats FILE`)");
    PlacementStats s;
    s.layers = integer("layers");
    s.units = integer("units");
    s.batch = integer("batch");
    if (!j.contains("kv_len") || !j.at("kv_len").is_array())
        throw fail("'kv_len' must be an array [request][layer][unit]");
    const json& kv = j.at("kv_len");
    if (int(kv.size()) != s.batch)
        throw fail("'kv_len' has " + std::to_string(kv.size()) + " requests, 'batch' says " + std::to_string(s.batch));
    for (size_t r = 0; r < kv.size(); ++r) {
        if (!kv[r].is_array() || int(kv[r].size()) != s.layers)
            throw fail("kv_len[" + std::to_string(r) + "] must hold " + layerCount(s.layers));
        std::vector<std::vector<double>> layers;
        for (size_t l = 0; l < kv[r].size(); ++l) {
            const json& row = kv[r][l];
            if (!row.is_array() || int(row.size()) != s.units)
                throw fail("kv_len[" + std::to_string(r) + "][" + std::to_string(l) + "] must hold "
                           + std::to_string(s.units) + " units");
            std::vector<double> units;
            for (size_t u = 0; u < row.size(); ++u) {
                const json& v = row[u];
                if (!jsonIsNumberIn(v, 0, double(1 << 30)))
                    throw fail("kv_len[" + std::to_string(r) + "][" + std::to_string(l) + "][" + std::to_string(u)
                               + "] is " + jsonBrief(v) + ", not a token count from 0 to 2^30");
                units.push_back(v.get<double>());
            }
            layers.push_back(std::move(units));
        }
        s.kvLen.push_back(std::move(layers));
    }
    s.mlpMs = number("mlp_ms", 0.0);
    s.collectiveMs = number("collective_ms", 0.0);
    s.ranks = jsonIntOr(j, "ranks", 0, source, 1, 1 << 24);
    const bool bandwidthGiven = j.contains("bandwidth_gbps") && !j.at("bandwidth_gbps").is_null();
    const double bandwidth = number("bandwidth_gbps", kDefaultBandwidthGbps); // GB/s
    const int headDim = j.contains("head_dim") ? integer("head_dim") : 0;
    const int hidden = j.contains("hidden") ? integer("hidden") : 0;
    const int perUnit = j.contains("heads_per_unit") ? integer("heads_per_unit") : 1;
    s.headDim = headDim;
    s.hidden = hidden;
    s.headsPerUnit = j.contains("heads_per_unit") ? perUnit : 0;
    const double unitBytes = number("unit_weight_bytes", hidden && headDim ? defaultUnitBytes(hidden, headDim, perUnit) : 0.0,
                                    double(uint64_t(1) << 50));
    if (j.contains("unit_weight_bytes") && !j.at("unit_weight_bytes").is_null() && unitBytes != std::floor(unitBytes))
        throw fail("'unit_weight_bytes' must be a whole number of bytes, got " + jsonBrief(j.at("unit_weight_bytes")));
    if (unitBytes > double(uint64_t(1) << 50)) // derived from the shape keys, which number() did not bound
        throw fail("'hidden' x 'head_dim' x 'heads_per_unit' makes a unit of more than 2^50 bytes");
    s.unitWeightBytes = uint64_t(unitBytes);
    const auto given = [&](const char* key) { return j.contains(key) && !j.at(key).is_null(); }; // null: absent
    const bool haveConstants = given("c_unit_ms") && given("c_tok_ms");
    if (given("c_unit_ms") != given("c_tok_ms")) // one measured constant beside one derived would mix two scales
        throw fail(std::string("gives '") + (given("c_unit_ms") ? "c_unit_ms" : "c_tok_ms") + "' without '"
                   + (given("c_unit_ms") ? "c_tok_ms" : "c_unit_ms") + "': give both cost constants, or neither (then "
                   "the shape derives them)");
    if (haveConstants) {
        s.cUnitMs = number("c_unit_ms", 0.0, 1e6);
        s.cTokMs = number("c_tok_ms", 0.0, 1e6);
        s.costSource = jsonStringOr(j, "cost_source", "given in the stats file", source);
    } else if (bandwidth > 0 && headDim > 0 && s.unitWeightBytes > 0) {
        // bf16 bytes from the whole shape where it is given (unit_weight_bytes counts the run's own
        // weights, fp32 on the CPU backend); without heads_per_unit, unit_weight_bytes where given.
        const bool wholeShape = hidden > 0 && (j.contains("heads_per_unit") || !given("unit_weight_bytes"));
        s.cUnitMs = (wholeShape ? defaultUnitBytes(hidden, headDim, perUnit) : double(s.unitWeightBytes)) / (bandwidth * 1e6);
        s.cTokMs = defaultTokenBytes(headDim) / (bandwidth * 1e6);
        char gbps[32];
        std::snprintf(gbps, sizeof gbps, "%g", bandwidth);
        s.costSource = std::string("defaults: bf16 bytes over ") + gbps + " GB/s"
                       + (bandwidthGiven ? "" : " (the file gives no 'bandwidth_gbps': the H100's streaming read)");
        if (s.mlpMs > 0 || s.collectiveMs > 0)
            s.warnings.push_back(source + ": its 'mlp_ms' and 'collective_ms' are measured times, added to attention costs that are "
                                "modelled from bytes over " + gbps + " GB/s: where they were measured on another device the "
                                "speedups are of mixed scales");
    } else if (bandwidthGiven && bandwidth <= 0) {
        throw fail("'bandwidth_gbps' is 0: the default cost constants need a bandwidth above 0 GB/s");
    } else {
        throw fail("needs 'c_unit_ms' and 'c_tok_ms', or the shape to derive them from: 'head_dim' (for c_tok_ms) and "
                   "'hidden' or 'unit_weight_bytes' (for c_unit_ms), over 'bandwidth_gbps' (default "
                   + std::to_string(int(kDefaultBandwidthGbps)) + "); it gives "
                   + (headDim > 0 ? "neither 'hidden' nor 'unit_weight_bytes'" : "no 'head_dim'"));
    }
    if (s.cUnitMs == 0 && s.cTokMs == 0)
        throw fail("'c_unit_ms' and 'c_tok_ms' are both zero: every placement would cost nothing");
    // Every optional key has a default, so a misspelt one ("mlp_msec") would change the plan unseen.
    static const char* const known[] = {"layers", "units", "batch", "kv_len", "c_unit_ms", "c_tok_ms", "unit_weight_bytes",
                                        "mlp_ms", "collective_ms", "ranks", "cost_source", "bandwidth_gbps", "head_dim",
                                        "hidden", "heads_per_unit"};
    for (const auto& [key, value] : j.items())
        if (std::find(std::begin(known), std::end(known), key) == std::end(known))
            s.warnings.push_back(source + ": ignored the key '" + printable(key) + "', which a stats file does not have");
    if (!(s.cUnitMs <= 1e6 && s.cTokMs <= 1e6)) { // derived from a tiny bandwidth_gbps, say
        char costs[96];
        std::snprintf(costs, sizeof costs, "%.4g and %.4g ms", s.cUnitMs, s.cTokMs);
        throw fail(std::string("the cost constants come out as ") + costs + ", beyond 1e6 ms (" + s.costSource + ")");
    }
    return s;
}

PlacementStats PlacementStats::fromFile(const std::string& path)
{
    return fromJson(readJsonFile(path, "stats file"), path);
}

json PlacementStats::toJson() const
{
    json out = {{"layers", layers},         {"units", units},       {"batch", batch},
            {"kv_len", kvLen},          {"c_unit_ms", cUnitMs}, {"c_tok_ms", cTokMs},
            {"unit_weight_bytes", unitWeightBytes}, {"mlp_ms", mlpMs}, {"collective_ms", collectiveMs},
            {"ranks", ranks > 0 ? json(ranks) : json()}, {"cost_source", costSource}};
    // The shape, so that a file whose constants are removed plans from the defaults.
    if (headDim > 0)
        out["head_dim"] = headDim;
    if (hidden > 0)
        out["hidden"] = hidden;
    if (headsPerUnit > 0)
        out["heads_per_unit"] = headsPerUnit;
    return out;
}

} // namespace fairkv
