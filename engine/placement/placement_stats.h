#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fairkv {

// Per-unit KV statistics that planners work from (design §5 stats file): the retained KV length of
// every (request, layer, unit) and the cost constants of design §2.
struct PlacementStats
{
    // The streaming read measured on the lent H100 (design §6): the bandwidth the default cost
    // constants assume when a stats file gives neither constants nor `bandwidth_gbps`.
    static constexpr double kDefaultBandwidthGbps = 3100.0;

    int layers = 0;
    int units = 0;
    int batch = 0;
    std::vector<std::vector<std::vector<double>>> kvLen; // [request][layer][unit]
    double cUnitMs = 0.0;        // fixed cost of one unit replica (its projection weights)
    double cTokMs = 0.0;         // cost of one retained token (K and V read)
    uint64_t unitWeightBytes = 0; // weight bytes of one unit replica (memory budget of copies)
    double mlpMs = 0.0;          // per layer, even MLP share of a rank (placement-independent)
    double collectiveMs = 0.0;   // per layer, the all-reduces (placement-independent)
    int ranks = 0;               // the ranks mlpMs and collectiveMs were measured on (0: not said)
    std::string costSource;      // where cUnitMs / cTokMs come from
    // The shape the defaults derive the constants from, when the constants are left out (0: not said).
    int headDim = 0, hidden = 0, headsPerUnit = 0;
    std::vector<std::string> warnings; // what the file held that the reader did not use (a misspelt key), and mixed cost scales

    // Reads and validates a stats file; missing constants fall back to defaults from the model shape
    // (`head_dim` with `hidden` and `heads_per_unit`, or `unit_weight_bytes`) over `bandwidth_gbps`
    // (kDefaultBandwidthGbps where it is not given).
    static PlacementStats fromJson(const nlohmann::json& j, const std::string& source);
    static PlacementStats fromFile(const std::string& path);
    nlohmann::json toJson() const;

    // Defaults from bytes and bandwidth for bf16 weights and KV: a unit replica reads its q/k/v rows
    // and o_proj columns; a token reads K and V of one head.
    static double defaultUnitBytes(int hidden, int headDim, int queryHeadsPerUnit, int bytesPerElement = 2);
    static double defaultTokenBytes(int headDim, int bytesPerElement = 2);
};

} // namespace fairkv
