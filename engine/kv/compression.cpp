#include "kv/compression.h"

#include "common/error.h"
#include "common/json_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <string_view>

namespace fairkv {

namespace {
struct PolicyName
{
    CompressionPolicy policy;
    const char* name;
};
constexpr PolicyName kPolicies[] = {{CompressionPolicy::None, "none"},
                                    {CompressionPolicy::SnapKV, "snapkv"},
                                    {CompressionPolicy::AdaSnapKV, "ada-snapkv"},
                                    {CompressionPolicy::PyramidKV, "pyramidkv"},
                                    {CompressionPolicy::HeadKV, "headkv"}};

// Positions of the `count` largest scores (ties: earlier position first), sorted ascending.
std::vector<int> topPositions(const std::vector<float>& scores, int count)
{
    std::vector<int> idx(scores.size());
    std::iota(idx.begin(), idx.end(), 0);
    count = std::clamp(count, 0, int(scores.size()));
    auto better = [&](int a, int b) { return scores[size_t(a)] != scores[size_t(b)] ? scores[size_t(a)] > scores[size_t(b)] : a < b; };
    std::nth_element(idx.begin(), idx.begin() + count, idx.end(), better);
    idx.resize(size_t(count));
    std::sort(idx.begin(), idx.end());
    return idx;
}

// Caps (tokens beyond the window) of every unit of every layer under HeadKV for a prompt whose
// prefix outside the window has `prefix` tokens: a floor of alpha*(B-window) each, the rest of the
// model-wide pool shared in proportion to the head scores, no unit above `prefix`.
// Only the rows of the layers the model runs count: a score file for the whole model also serves
// a run of its first layers, with the same budget per unit.
std::vector<int> headKvCaps(const CompressionOptions& o, int layer, int numLayers, int prefix)
{
    const auto& scores = o.headScores;
    const int base = o.budget - o.window;
    std::vector<double> flat;
    for (size_t l = 0; l < size_t(numLayers); ++l)
        flat.insert(flat.end(), scores[l].begin(), scores[l].end());
    // Shares do not depend on the scores' scale; scaled to at most 1 their sum cannot overflow
    // (scores of 1e307 summed to infinity and every unit kept its floor only).
    const double top = flat.empty() ? 0.0 : *std::max_element(flat.begin(), flat.end());
    if (top > 0)
        for (double& s : flat)
            s /= top;
    const long total = long(flat.size()) * base;
    const double floorPart = o.floorAlpha * base;
    std::vector<int> upper(flat.size(), prefix);
    std::vector<double> ideal(flat.size(), floorPart);
    // Water-filling: units whose share would exceed the prefix are capped; the rest share the remainder.
    std::vector<bool> saturated(flat.size(), false);
    for (int round = 0; round < int(flat.size()) + 1; ++round) {
        double freePool = double(total), freeScore = 0.0;
        int freeUnits = 0;
        for (size_t i = 0; i < flat.size(); ++i) {
            if (saturated[i])
                freePool -= prefix;
            else {
                freePool -= floorPart;
                freeScore += flat[i];
                ++freeUnits;
            }
        }
        bool changed = false;
        for (size_t i = 0; i < flat.size(); ++i) {
            if (saturated[i]) {
                ideal[i] = prefix;
                continue;
            }
            // Units that all scored zero share the pool evenly rather than leave it unspent.
            const double share = freeScore > 0 ? flat[i] / freeScore : 1.0 / freeUnits;
            ideal[i] = floorPart + std::max(0.0, freePool) * share;
            if (ideal[i] > prefix) {
                saturated[i] = true;
                changed = true;
            }
        }
        if (!changed)
            break;
    }
    const long sumIdeal = std::lround(std::accumulate(ideal.begin(), ideal.end(), 0.0));
    const std::vector<int> caps = apportion(ideal, std::min(total, sumIdeal), upper);
    const size_t units = scores[size_t(layer)].size();
    return std::vector<int>(caps.begin() + long(size_t(layer) * units), caps.begin() + long(size_t(layer + 1) * units));
}

} // namespace

CompressionPolicy compressionFromName(const std::string& name)
{
    for (const auto& p : kPolicies)
        if (name == p.name)
            return p.policy;
    throw Error("--compress '" + name + "' is not a policy (none, snapkv, ada-snapkv, pyramidkv, headkv)");
}

const char* compressionName(CompressionPolicy policy)
{
    for (const auto& p : kPolicies)
        if (p.policy == policy)
            return p.name;
    return "?";
}

UnitMode unitModeFromName(const std::string& name)
{
    if (name == "gqa")
        return UnitMode::Gqa;
    if (name == "per-query-head")
        return UnitMode::PerQueryHead;
    throw Error("--units '" + name + "' is not a unit mode (gqa, per-query-head)");
}

const char* unitModeName(UnitMode m)
{
    return m == UnitMode::Gqa ? "gqa" : "per-query-head";
}

void CompressionOptions::validateOptions() const
{
    if (policy == CompressionPolicy::None)
        return;
    if (window < 1)
        throw Error("--window must be at least 1, got " + std::to_string(window));
    if (budget <= window)
        throw Error("--budget (" + std::to_string(budget) + ") must be larger than the observation window ("
                    + std::to_string(window) + ")");
    if (kernel < 1 || kernel % 2 == 0)
        throw Error("--kernel must be a positive odd number, got " + std::to_string(kernel));
    if (!(floorAlpha >= 0.0 && floorAlpha <= 1.0))
        throw Error("--floor-alpha must be within [0, 1]");
}

void CompressionOptions::validate(int numLayers, int numUnits) const
{
    validateOptions();
    if (policy == CompressionPolicy::HeadKV && headScores.empty())
        throw Error("--compress headkv needs --head-scores FILE (per-head importance scores)");
    if (policy == CompressionPolicy::HeadKV) {
        if (int(headScores.size()) < numLayers)
            throw Error("--head-scores has " + std::to_string(headScores.size()) + " layers, the model has "
                        + std::to_string(numLayers));
        for (size_t l = 0; l < headScores.size(); ++l) {
            if (int(headScores[l].size()) != numUnits)
                throw Error("--head-scores layer " + std::to_string(l) + " has " + std::to_string(headScores[l].size())
                            + " scores, the model has " + std::to_string(numUnits) + " units");
            for (double s : headScores[l])
                if (!(s >= 0.0) || !std::isfinite(s))
                    throw Error("--head-scores layer " + std::to_string(l) + " has a negative or non-finite score");
        }
    }
}

namespace {

// A key's whole number: digits only, no sign, no leading zero, at most `most`.
std::optional<int> keyNumber(std::string_view text, int most)
{
    int v = 0;
    if (text.empty() || (text.size() > 1 && text[0] == '0') || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v > most)
        return std::nullopt;
    return v;
}

// {"layer-head": [scores of each detection run], ...}: [layer][query head] means.
std::vector<std::vector<double>> layerHeadScores(const nlohmann::json& j, const std::string& path, int queryHeads)
{
    constexpr int kMostLayers = 1 << 16; // beyond any model: a stray key must not size the table
    std::map<std::pair<int, int>, double> means;
    for (const auto& [key, value] : j.items()) {
        const size_t dash = key.find('-');
        const auto layer = dash == std::string::npos ? std::nullopt : keyNumber(std::string_view(key).substr(0, dash), kMostLayers - 1);
        const auto head = dash == std::string::npos ? std::nullopt : keyNumber(std::string_view(key).substr(dash + 1), 1 << 20);
        if (!layer || !head)
            throw Error(path + ": key '" + printable(key) + "' is not 'layer-head' (as in \"12-3\")");
        if (*head >= queryHeads)
            throw Error(path + ": key '" + printable(key) + "' names query head " + std::to_string(*head) + "; the model has "
                        + std::to_string(queryHeads) + " per layer");
        const std::vector<nlohmann::json> runs = value.is_array() ? value.get<std::vector<nlohmann::json>>() : std::vector<nlohmann::json>{value};
        if (runs.empty())
            throw Error(path + ": '" + printable(key) + "' holds no score");
        double mean = 0.0; // each score over the count: a sum could overflow where the mean does not
        for (const auto& v : runs) {
            if (!v.is_number())
                throw Error(path + ": '" + printable(key) + "' holds " + jsonBrief(v) + ", not a score");
            mean += v.get<double>() / double(runs.size());
        }
        means[{*layer, *head}] = mean; // one key per head: the JSON reader refuses a key given twice, keyNumber() "01-2"
    }
    const int layers = means.rbegin()->first.first + 1;
    std::vector<std::vector<double>> heads(size_t(layers), std::vector<double>(size_t(queryHeads), 0.0));
    for (int l = 0; l < layers; ++l)
        for (int h = 0; h < queryHeads; ++h) {
            const auto it = means.find({l, h});
            if (it == means.end())
                throw Error(path + ": has no score for layer " + std::to_string(l) + " head " + std::to_string(h) + " (key \"" + std::to_string(l)
                            + "-" + std::to_string(h) + "\"), but has scores up to layer " + std::to_string(layers - 1));
            heads[size_t(l)][size_t(h)] = it->second;
        }
    return heads;
}

} // namespace

std::vector<std::vector<double>> CompressionOptions::loadHeadScores(const std::string& path,
                                                                    const std::function<std::pair<int, int>()>& queryHeadsAndGroup)
{
    const nlohmann::json j = readJsonFile(path, "head score file");
    if (j.is_object() && !j.contains("scores") && !j.empty()) {
        const auto [queryHeads, groupSize] = queryHeadsAndGroup ? queryHeadsAndGroup() : std::make_pair(0, 1);
        if (queryHeads <= 0)
            throw Error(path + ": a {\"layer-head\": [...]} score file needs the model's shape to map heads to units");
        const auto heads = layerHeadScores(j, path, queryHeads);
        if (groupSize <= 1)
            return heads;
        std::vector<std::vector<double>> units(heads.size(), std::vector<double>(size_t(queryHeads / groupSize), 0.0));
        for (size_t l = 0; l < heads.size(); ++l)
            for (size_t h = 0; h < heads[l].size(); ++h)
                units[l][h / size_t(groupSize)] += heads[l][h] / double(groupSize);
        return units;
    }
    const nlohmann::json& arr = j.is_object() && j.contains("scores") ? j.at("scores") : j;
    std::vector<std::vector<double>> scores;
    if (!arr.is_array())
        throw Error(path + ": expected {\"scores\": [[layer 0 unit scores], ...]}");
    for (const auto& row : arr) {
        if (!row.is_array())
            throw Error(path + ": every layer's scores must be an array of numbers");
        std::vector<double> r;
        for (const auto& v : row) {
            if (!v.is_number()) // JSON has no inf or NaN: the parser refuses 1e400
                throw Error(path + ": scores must be numbers, got " + jsonBrief(v));
            r.push_back(v.get<double>());
        }
        scores.push_back(std::move(r));
    }
    // An empty list would read as "no --head-scores given" in validate().
    if (scores.empty())
        throw Error(path + ": the file holds no layer of scores (expected {\"scores\": [[layer 0 unit scores], ...]})");
    return scores;
}

std::vector<int> apportion(const std::vector<double>& ideal, long total, const std::vector<int>& upper)
{
    const size_t n = ideal.size();
    std::vector<int> out(n);
    long assigned = 0;
    for (size_t i = 0; i < n; ++i) {
        out[i] = std::clamp(int(std::floor(ideal[i])), 0, upper[i]);
        assigned += out[i];
    }
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return ideal[a] - std::floor(ideal[a]) > ideal[b] - std::floor(ideal[b]);
    });
    // Hand out the remainder one token at a time, largest remainder first, skipping full units.
    while (assigned < total) {
        bool progressed = false;
        for (size_t i : order) {
            if (assigned >= total)
                break;
            if (out[i] < upper[i]) {
                ++out[i];
                ++assigned;
                progressed = true;
            }
        }
        if (!progressed)
            break;
    }
    return out;
}

std::vector<float> poolScores(const float* scores, int n, int kernel, Pooling pooling)
{
    std::vector<float> out(size_t(std::max(n, 0)));
    const int half = kernel / 2;
    for (int i = 0; i < n; ++i) {
        const int lo = std::max(0, i - half), hi = std::min(n - 1, i + half);
        float acc = pooling == Pooling::Max ? scores[lo] : 0.0f;
        for (int j = lo; j <= hi; ++j)
            acc = pooling == Pooling::Max ? std::max(acc, scores[j]) : acc + scores[j];
        out[size_t(i)] = pooling == Pooling::Max ? acc : acc / float(hi - lo + 1);
    }
    return out;
}

// PyramidKV's schedule: budgets fall linearly from the first layer to the last, which keeps
// (budget - window) / beta beyond the window, and average the budget over the layers. The reference
// implementation steps by an integer division, which rounds the steps down and keeps up to half as
// much again as --budget; here the linear ideal is rounded so the layers' total is exact.
int pyramidLayerBudget(const CompressionOptions& o, int layer, int numLayers, int promptLen)
{
    if (numLayers <= 1)
        return o.budget;
    const int base = o.budget - o.window;
    const int prefix = std::max(0, promptLen - o.window);
    double minNum = double(base / o.pyramidBeta);
    double maxNum = 2.0 * base - minNum;
    if (maxNum >= prefix) {
        maxNum = prefix;
        minNum = 2.0 * base - maxNum;
    }
    std::vector<double> ideal(static_cast<size_t>(numLayers));
    for (int l = 0; l < numLayers; ++l)
        ideal[size_t(l)] = maxNum - (maxNum - minNum) * l / (numLayers - 1);
    const auto beyond = apportion(ideal, long(numLayers) * base, std::vector<int>(size_t(numLayers), prefix));
    return beyond[size_t(layer)] + o.window;
}

int layerBudget(const CompressionOptions& o, int layer, int numLayers, int promptLen)
{
    return o.policy == CompressionPolicy::PyramidKV ? pyramidLayerBudget(o, layer, numLayers, promptLen) : o.budget;
}

bool compresses(const CompressionOptions& o, int layer, int numLayers, int promptLen)
{
    return o.policy != CompressionPolicy::None && promptLen > layerBudget(o, layer, numLayers, promptLen);
}

std::vector<int> unitCaps(const CompressionOptions& o, int layer, int numLayers, int promptLen, int units,
                          const std::vector<long>& topCounts)
{
    const int prefix = promptLen - std::min(o.window, promptLen);
    const int base = layerBudget(o, layer, numLayers, promptLen) - o.window;
    if (o.policy == CompressionPolicy::AdaSnapKV) {
        // A unit holding c of the layer's top-k scores gets c*(1-alpha) + alpha*(B-window), rounded
        // so the layer total stays exact.
        std::vector<double> ideal(size_t(units), o.floorAlpha * base);
        for (size_t u = 0; u < size_t(units); ++u)
            ideal[u] += (1.0 - o.floorAlpha) * double(topCounts.at(u));
        return apportion(ideal, long(units) * base, std::vector<int>(size_t(units), prefix));
    }
    if (o.policy == CompressionPolicy::HeadKV)
        return headKvCaps(o, layer, numLayers, prefix);
    return std::vector<int>(size_t(units), std::min(base, prefix));
}

LayerSelection compressLayer(const CompressionOptions& o, int layer, int numLayers,
                             const std::vector<std::vector<float>>& meanAttention)
{
    LayerSelection sel;
    const size_t units = meanAttention.size();
    const int len = units ? int(meanAttention[0].size()) : 0;
    sel.kept.resize(units);
    sel.massRetained.assign(units, 1.0);
    if (!compresses(o, layer, numLayers, len)) {
        for (auto& k : sel.kept) {
            k.resize(size_t(len));
            std::iota(k.begin(), k.end(), 0);
        }
        return sel;
    }
    const int prefix = len - std::min(o.window, len);
    const int base = layerBudget(o, layer, numLayers, len) - o.window;
    std::vector<std::vector<float>> pooled(units);
    for (size_t u = 0; u < units; ++u)
        pooled[u] = poolScores(meanAttention[u].data(), prefix, o.kernel, o.pooling);

    std::vector<long> topCounts(units, 0);
    if (o.policy == CompressionPolicy::AdaSnapKV) {
        // Global top-k of units*(B-window) over all units' pooled scores (ties: lower unit first).
        std::vector<std::pair<float, int>> all; // (score, unit)
        all.reserve(units * size_t(prefix));
        for (size_t u = 0; u < units; ++u)
            for (int i = 0; i < prefix; ++i)
                all.emplace_back(pooled[u][size_t(i)], int(u));
        const long k = std::min<long>(long(units) * base, long(all.size()));
        std::nth_element(all.begin(), all.begin() + k, all.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        });
        for (long i = 0; i < k; ++i)
            ++topCounts[size_t(all[size_t(i)].second)];
    }
    const std::vector<int> caps = unitCaps(o, layer, numLayers, len, int(units), topCounts);
    for (size_t u = 0; u < units; ++u) {
        std::vector<int> kept = topPositions(pooled[u], caps[u]);
        for (int i = prefix; i < len; ++i)
            kept.push_back(i);
        double mass = 0.0;
        for (int i : kept)
            mass += meanAttention[u][size_t(i)];
        sel.massRetained[u] = mass;
        sel.kept[u] = std::move(kept);
    }
    return sel;
}

} // namespace fairkv
