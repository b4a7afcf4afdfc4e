#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fairkv {

// "1 layer", "32 layers": how messages count layers.
inline std::string layerCount(int64_t n)
{
    return std::to_string(n) + (n == 1 ? " layer" : " layers");
}

// RoPE frequency layout. `llama3` is LLaMA-3.1's smooth long-context scaling; `linear` divides
// positions by `factor`.
struct RopeConfig
{
    enum class Type { Default, Linear, Llama3 };
    Type type = Type::Default;
    double theta = 10000.0;
    double factor = 1.0;
    double lowFreqFactor = 1.0;
    double highFreqFactor = 4.0;
    int originalMaxPositions = 8192;
    // "dynamic" (NTK) scaling changes nothing up to this many positions (0: not dynamic), and the
    // engine runs no further: transformers' frequencies are the default ones there.
    int dynamicUpTo = 0;
};

// Shape of a LLaMA/Mistral decoder, read from an HF config.json or one of the built-in shapes.
struct ModelConfig
{
    std::string name;       // built-in shape name or checkpoint folder
    bool synthetic = false; // a built-in shape: its weights are made from a seed, not read
    std::string modelType;  // "llama" or "mistral"
    int hiddenSize = 0;
    int intermediateSize = 0;
    int numLayers = 0;
    int checkpointLayers = 0; // a checkpoint's own num_hidden_layers, before --layers cut it (0: not from one)
    int numHeads = 0;
    int numKvHeads = 0;
    int headDim = 0;
    int vocabSize = 0;
    int maxPositions = 0;
    double rmsNormEps = 1e-6;
    bool tieWordEmbeddings = false;
    std::optional<int> slidingWindow;
    RopeConfig rope;

    int groupSize() const { return numHeads / numKvHeads; }
    int64_t qDim() const { return int64_t(numHeads) * headDim; }
    int64_t kvDim() const { return int64_t(numKvHeads) * headDim; }
    int64_t parameterCount() const;
    // The decoder layers' share of parameterCount() (what ranks shard; not the embedding, the
    // final norm or lm_head).
    int64_t layerParameterCount() const;

    // Throws fairkv::Error naming the first inconsistent field.
    void validate() const;
    // Throws an Error saying that `what` needs `positions` when that is beyond max_position_embeddings
    // or a sliding_window (which the engine does not implement).
    void requirePositions(int64_t positions, const std::string& what) const;
    // The most positions requirePositions() accepts, and the config entry that sets it (the one
    // requirePositions() names for a run just beyond).
    int64_t positionLimit() const;
    const char* positionLimitSetBy() const;

    // `source` names the file in error messages.
    static ModelConfig fromHfJson(const nlohmann::json& j, const std::string& source);
    static ModelConfig fromHfFile(const std::string& path);
    // config.json of a checkpoint folder; `layers` > 0 keeps the first layers (checked against the model).
    static ModelConfig fromHfFolder(const std::string& folder, int layers = 0);
    nlohmann::json toHfJson() const;
    nlohmann::json shapeJson() const; // compact description for results

    static std::vector<std::string> builtinNames();
    static bool isBuiltin(const std::string& name);
    // Whether a --model argument names a built-in shape (synthetic weights) rather than a
    // checkpoint; throws when it is a built-in name and also a file or folder here, which would
    // otherwise be ignored without a word.
    static bool selectsBuiltin(const std::string& modelArg);
    // Built-in shape, optionally truncated to `layers` (0 keeps all).
    static ModelConfig builtin(const std::string& name, int layers = 0);
};

} // namespace fairkv
