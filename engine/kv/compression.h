#pragma once
#include <functional>
#include <string>
#include <vector>

namespace fairkv {

enum class CompressionPolicy { None, SnapKV, AdaSnapKV, PyramidKV, HeadKV };
enum class Pooling { Max, Avg };

// Which part of the attention forms a placement unit (design §2).
enum class UnitMode {
    Gqa,          // a KV head with its group of query heads; scores averaged over the group
    PerQueryHead, // one query head with its own copy of its KV head's cache
};

CompressionPolicy compressionFromName(const std::string& name); // throws naming the option
const char* compressionName(CompressionPolicy p);
UnitMode unitModeFromName(const std::string& name);
const char* unitModeName(UnitMode m);

struct CompressionOptions
{
    CompressionPolicy policy = CompressionPolicy::None;
    int budget = 128;        // tokens per unit, window included
    int window = 32;         // observation window: the last queries, always kept
    int kernel = 7;          // pooling kernel over token positions
    Pooling pooling = Pooling::Max;
    double floorAlpha = 0.2; // Ada-SnapKV: share of (budget - window) every unit keeps
    int pyramidBeta = 20;    // PyramidKV: the last layer keeps (budget - window) / beta
    std::vector<std::vector<double>> headScores; // HeadKV: [layer][unit] importance

    void validate(int numLayers, int numUnits) const;
    // What validate() checks that needs no model: the options alone (a command line checks them
    // before any weight loads). Without `headScores`, which a command line reads after these
    // checks (reading a score file may need the model's shape).
    void validateOptions() const;
    // HeadKV scores [layer][unit] from {"scores": [[...]]} (or a bare array), or from the files the
    // retrieval-head detection of HeadKV and Retrieval Head writes, {"layer-head": [scores, ...]}
    // over query heads: each head's mean, a unit's the mean of its query group. For those,
    // `queryHeadsAndGroup` gives the query heads per layer and the heads per unit (asked only then:
    // it may read the checkpoint; it throws where the model is not known).
    static std::vector<std::vector<double>> loadHeadScores(const std::string& path,
                                                           const std::function<std::pair<int, int>()>& queryHeadsAndGroup = {});
};

// Compression of one layer for one request: which prompt positions each unit keeps.
struct LayerSelection
{
    std::vector<std::vector<int>> kept; // [unit] sorted positions
    std::vector<double> massRetained;   // [unit] share of the window queries' attention kept
};

// `meanAttention[u]` holds, for unit u, the attention weights of the last `window` queries averaged
// over those queries (and over the unit's query heads), one value per prompt position.
LayerSelection compressLayer(const CompressionOptions& options, int layer, int numLayers,
                             const std::vector<std::vector<float>>& meanAttention);

// The budget (window included) of `layer` for a prompt of `promptLen` tokens, and whether such a
// prompt is compressed there at all (prompts within the budget are not).
int layerBudget(const CompressionOptions& options, int layer, int numLayers, int promptLen);
bool compresses(const CompressionOptions& options, int layer, int numLayers, int promptLen);

// Tokens beyond the window that each of `units` units keeps in a compressed layer. Ada-SnapKV needs
// `topCounts`: how many of the layer's global top-k pooled scores fall on each unit.
std::vector<int> unitCaps(const CompressionOptions& options, int layer, int numLayers, int promptLen, int units,
                          const std::vector<long>& topCounts);

// The budget (window included) a layer gets under PyramidKV for a prompt of `promptLen` tokens.
int pyramidLayerBudget(const CompressionOptions& options, int layer, int numLayers, int promptLen);

// Splits `total` into integer shares close to `ideal` (largest remainder), each within [0, upper[i]].
std::vector<int> apportion(const std::vector<double>& ideal, long total, const std::vector<int>& upper);

// Max or average pooling with stride 1 and `kernel`/2 padding (padding ignored, as max_pool1d's -inf
// padding and avg_pool1d with count_include_pad=False do).
std::vector<float> poolScores(const float* scores, int n, int kernel, Pooling pooling);

} // namespace fairkv
