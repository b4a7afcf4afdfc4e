#include "model/model_config.h"

#include "common/error.h"
#include "common/json_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace fairkv {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what)
{
    throw Error(source + ": " + what);
}

double positiveOr(const json& j, const char* key, double fallback, const std::string& source)
{
    const double x = jsonNumberOr(j, key, fallback, source);
    if (!(x > 0.0))
        fail(source, std::string("'") + key + "' must be positive, got " + jsonBrief(j.at(key)));
    return x;
}

// A key transformers' rope validation requires of this rope type (it raises KeyError without it):
// refused when absent rather than read with a default nobody wrote.
void requireRopeKey(const json& block, const char* key, const std::string& type, const std::string& source)
{
    if (!block.contains(key) || block.at(key).is_null())
        fail(source, type + " rope scaling needs '" + key + "'");
}

double requiredPositive(const json& block, const char* key, const std::string& type, const std::string& source)
{
    requireRopeKey(block, key, type, source);
    return positiveOr(block, key, 0.0, source);
}

// transformers reads partial_rotary_factor from the config itself and from rope_parameters: a
// rotary part narrower than head_dim would rotate dimensions this engine rotates in full.
void requireFullRotary(const json& j, const std::string& source)
{
    if (jsonNumberOr(j, "partial_rotary_factor", 1.0, source) != 1.0)
        fail(source, "partial_rotary_factor other than 1 is not supported");
}

// Reads either the old `rope_scaling` dict or the newer `rope_parameters` block (transformers >= 5),
// which also carries rope_theta.
// maxPositions: the config's max_position_embeddings, the original context of a dynamic scaling
// that names none.
RopeConfig parseRope(const json& j, const std::string& source, int maxPositions)
{
    RopeConfig rope;
    rope.theta = jsonNumberOr(j, "rope_theta", 10000.0, source); // range: validate()
    requireFullRotary(j, source);
    for (const char* key : {"rope_scaling", "rope_parameters"})
        if (j.contains(key) && !j.at(key).is_object() && !j.at(key).is_null())
            fail(source, std::string("'") + key + "' must be an object or null, got " + jsonBrief(j.at(key)));
    // transformers 4 reads rope_scaling and ignores rope_parameters; 5 reads rope_parameters unless
    // rope_scaling is given, which then replaces it. Both read rope_scaling where it is given.
    const json* block = nullptr;
    bool parameters = false;
    if (j.contains("rope_scaling") && j.at("rope_scaling").is_object()) {
        block = &j.at("rope_scaling");
    } else if (j.contains("rope_parameters") && j.at("rope_parameters").is_object()) {
        block = &j.at("rope_parameters");
        parameters = true;
    }
    if (!block)
        return rope;
    // A theta in the block: transformers 5 reads it, 4 reads the top-level one (its default 10000
    // where absent) and ignores rope_parameters. Where the two readings differ, neither is safe.
    if (block->contains("rope_theta") && !block->at("rope_theta").is_null()) {
        const double inner = jsonNumberOr(*block, "rope_theta", rope.theta, source);
        const bool outerGiven = j.contains("rope_theta") && !j.at("rope_theta").is_null();
        if (inner != rope.theta && (outerGiven || !parameters)) {
            char both[96];
            std::snprintf(both, sizeof both, "%g, the config's own %g%s", inner, rope.theta, outerGiven ? "" : " (the default: not given)");
            fail(source, "'" + std::string(parameters ? "rope_parameters" : "rope_scaling") + "' gives 'rope_theta' " + both
                             + " (transformers versions differ on which wins): make them agree");
        }
        rope.theta = inner;
    }
    // transformers requires a type in rope_scaling ('rope_type', or the older 'type'); a scaling
    // block without one would otherwise be read as no scaling at all. Given both, transformers 4
    // takes 'type' and 5 'rope_type': where they differ, neither reading is safe.
    const std::string ropeType = jsonStringOr(*block, "rope_type", "", source), oldType = jsonStringOr(*block, "type", "", source);
    if (!ropeType.empty() && !oldType.empty() && ropeType != oldType)
        fail(source, "'" + std::string(parameters ? "rope_parameters" : "rope_scaling") + "' gives 'rope_type' \"" + printable(ropeType)
                         + "\" and 'type' \"" + printable(oldType) + "\" (transformers versions differ on which wins): keep one");
    std::string type = ropeType.empty() ? oldType : ropeType;
    if (type.empty() && parameters)
        type = "default";
    if (type.empty())
        fail(source, "'rope_scaling' has no 'rope_type' (or 'type')");
    if (type == "default") {
        rope.type = RopeConfig::Type::Default;
    } else if (type == "linear") {
        rope.type = RopeConfig::Type::Linear;
        rope.factor = requiredPositive(*block, "factor", type, source);
    } else if (type == "llama3") {
        rope.type = RopeConfig::Type::Llama3;
        rope.factor = requiredPositive(*block, "factor", type, source);
        rope.lowFreqFactor = requiredPositive(*block, "low_freq_factor", type, source);
        rope.highFreqFactor = requiredPositive(*block, "high_freq_factor", type, source);
        requireRopeKey(*block, "original_max_position_embeddings", type, source);
        rope.originalMaxPositions = jsonInt(*block, "original_max_position_embeddings", source);
        // transformers only warns when high_freq_factor <= low_freq_factor: the smooth band between
        // the two wavelengths is then empty (ropeInverseFrequencies), as it is there.
    } else if (type == "dynamic") {
        // Dynamic NTK rescales only beyond the original context, which a run may then not reach.
        rope.type = RopeConfig::Type::Default;
        requiredPositive(*block, "factor", type, source);
        rope.dynamicUpTo = jsonIntOr(*block, "original_max_position_embeddings", maxPositions, source);
    } else {
        fail(source, "rope type '" + type + "' is not supported (supported: default, linear, llama3, dynamic within the "
                     "original context)");
    }
    requireFullRotary(*block, source);
    return rope;
}

} // namespace

int64_t ModelConfig::layerParameterCount() const
{
    const int64_t h = hiddenSize;
    const int64_t perLayer = h * qDim() * 2 + h * kvDim() * 2 + 3 * h * intermediateSize + 2 * h;
    return perLayer * numLayers;
}

int64_t ModelConfig::parameterCount() const
{
    const int64_t h = hiddenSize;
    const int64_t head = tieWordEmbeddings ? 0 : int64_t(vocabSize) * h;
    return int64_t(vocabSize) * h + layerParameterCount() + h + head;
}

void ModelConfig::validate() const
{
    const std::string source = name.empty() ? std::string("model config") : name;
    auto positive = [&](int v, const char* key) {
        if (v <= 0)
            fail(source, std::string(key) + " must be positive");
    };
    positive(hiddenSize, "hidden_size");
    positive(intermediateSize, "intermediate_size");
    positive(numLayers, "num_hidden_layers");
    positive(numHeads, "num_attention_heads");
    positive(numKvHeads, "num_key_value_heads");
    positive(headDim, "head_dim");
    positive(vocabSize, "vocab_size");
    if (numHeads % numKvHeads != 0)
        fail(source, "num_attention_heads (" + std::to_string(numHeads) + ") must be a multiple of num_key_value_heads ("
                         + std::to_string(numKvHeads) + ")");
    if (headDim % 2 != 0)
        fail(source, "head_dim must be even for rotary embeddings, got " + std::to_string(headDim));
    // Released models use a rope_theta of 1e4 to 1e8; beyond 1e12 every frequency but the first is 0.
    if (!(rope.theta > 0.0 && rope.theta <= 1e12))
        fail(source, "'rope_theta' must be in (0, 1e12], got " + json(rope.theta).dump());
    if (!(rmsNormEps > 0.0 && rmsNormEps <= 1.0)) // 1e300 swamps every activation: all logits equal
        fail(source, "'rms_norm_eps' must be in (0, 1], got " + json(rmsNormEps).dump());
}

void ModelConfig::requirePositions(int64_t positions, const std::string& what) const
{
    if (rope.dynamicUpTo > 0 && positions > rope.dynamicUpTo)
        throw Error(what + " needs " + std::to_string(positions) + " positions, beyond the " + std::to_string(rope.dynamicUpTo)
                    + " up to which the model's dynamic rope scaling changes nothing (this engine does not rescale)");
    if (positions > maxPositions)
        throw Error(what + " needs " + std::to_string(positions) + " positions, beyond the model's max_position_embeddings of "
                    + std::to_string(maxPositions));
    if (slidingWindow && positions > *slidingWindow)
        throw Error(what + " needs " + std::to_string(positions) + " positions, beyond the model's sliding_window of "
                    + std::to_string(*slidingWindow) + ", which this engine does not implement");
}

int64_t ModelConfig::positionLimit() const
{
    int64_t limit = slidingWindow ? std::min<int64_t>(maxPositions, *slidingWindow) : maxPositions;
    return rope.dynamicUpTo > 0 ? std::min<int64_t>(limit, rope.dynamicUpTo) : limit;
}

const char* ModelConfig::positionLimitSetBy() const
{
    const int64_t limit = positionLimit(); // in requirePositions()'s order
    if (rope.dynamicUpTo > 0 && limit == rope.dynamicUpTo)
        return "dynamic rope's original context";
    return limit == maxPositions ? "max_position_embeddings" : "sliding_window";
}

ModelConfig ModelConfig::fromHfJson(const json& j, const std::string& source)
{
    if (!j.is_object())
        fail(source, "config must be a JSON object");
    ModelConfig c;
    c.name = source;
    if (!j.contains("model_type") || j.at("model_type").is_null())
        fail(source, "has no 'model_type' (expected llama or mistral)");
    c.modelType = jsonStringOr(j, "model_type", std::string(), source);
    if (c.modelType != "llama" && c.modelType != "mistral")
        fail(source, "model_type '" + c.modelType + "' is not supported (expected llama or mistral)");
    // transformers maps "swish" to the same SiLU.
    if (j.contains("hidden_act") && j.at("hidden_act") != "silu" && j.at("hidden_act") != "swish")
        fail(source, "hidden_act " + jsonBrief(j.at("hidden_act")) + " is not supported (expected \"silu\")");
    // Absent keys take the defaults of transformers' LlamaConfig and MistralConfig, which differ.
    const bool mistral = c.modelType == "mistral";
    // Quantised weights (GPTQ, AWQ, bitsandbytes, FP8) are stored under other names or packed: say
    // so here rather than report their tensors as missing or misshapen.
    if (j.contains("quantization_config") && !j.at("quantization_config").is_null()) {
        const json& q = j.at("quantization_config");
        const std::string method = q.is_object() && q.contains("quant_method") ? " (quant_method " + jsonBrief(q.at("quant_method")) + ")" : "";
        fail(source, "quantization_config" + method
                         + " is not supported: FairKV loads F32, F16 or BF16 weights; use the checkpoint the quantised one was made from");
    }
    for (const char* key : {"attention_bias", "mlp_bias"})
        if (jsonBoolOr(j, key, false, source))
            fail(source, std::string(key) + " = true is not supported");
    c.hiddenSize = jsonInt(j, "hidden_size", source);
    c.intermediateSize = jsonInt(j, "intermediate_size", source);
    c.numLayers = jsonInt(j, "num_hidden_layers", source);
    c.numHeads = jsonInt(j, "num_attention_heads", source);
    // An explicit null means "as many as query heads" in both; absent, Mistral's default is 8.
    c.numKvHeads = jsonIntOr(j, "num_key_value_heads", mistral && !j.contains("num_key_value_heads") ? 8 : c.numHeads, source);
    c.vocabSize = jsonInt(j, "vocab_size", source);
    if (mistral && !j.contains("num_key_value_heads") && c.numHeads % c.numKvHeads != 0) // validate() would quote a number not in the file
        fail(source, "num_attention_heads (" + std::to_string(c.numHeads) + ") must be a multiple of num_key_value_heads, which is "
                         "not given: MistralConfig's default is 8; give it");
    if (j.contains("head_dim") && !j.at("head_dim").is_null()) {
        c.headDim = jsonInt(j, "head_dim", source);
    } else {
        c.headDim = c.hiddenSize / c.numHeads; // transformers (4.45 and later) rounds down too
    }
    c.maxPositions = jsonIntOr(j, "max_position_embeddings", mistral ? 4096 * 32 : 2048, source);
    c.rmsNormEps = jsonNumberOr(j, "rms_norm_eps", 1e-6, source);
    c.tieWordEmbeddings = jsonBoolOr(j, "tie_word_embeddings", false, source);
    // transformers' Llama attention has no sliding window and ignores the key; Mistral's applies it,
    // 4096 when the key is absent, none when it is null.
    if (mistral && !j.contains("sliding_window"))
        c.slidingWindow = 4096;
    else if (mistral && !j.at("sliding_window").is_null())
        c.slidingWindow = jsonInt(j, "sliding_window", source);
    c.rope = parseRope(j, source, c.maxPositions);
    c.validate();
    return c;
}

ModelConfig ModelConfig::fromHfFile(const std::string& path)
{
    const json j = readJsonFile(path, "model config", uint64_t(16) << 20, JsonDialect::Python);
    try {
        return fromHfJson(j, path);
    } catch (const json::exception& e) {
        throw Error(path + ": " + e.what());
    }
}

ModelConfig ModelConfig::fromHfFolder(const std::string& folder, int layers)
{
    std::error_code ec;
    const fs::path dir(folder);
    if (!fs::exists(dir, ec))
        throw Error(folder + ": no such folder (expected a checkpoint folder: config.json and safetensors files)");
    if (!fs::is_directory(dir, ec))
        throw Error(folder + ": not a checkpoint folder (expected config.json and safetensors files)");
    // The original releases (params.json beside consolidated weights, Meta's and Mistral's) are
    // no HF checkpoints. A config.json that is a broken link (a cache cut short) is no such case.
    if (!fs::exists(fs::symlink_status(dir / "config.json", ec)) && fs::exists(dir / "params.json", ec))
        throw Error(folder + ": has params.json but no config.json: an original Llama or Mistral release, which needs converting to "
                             "the Hugging Face format first (transformers' convert_llama_weights_to_hf.py or convert_mistral_weights_to_hf.py)");
    ModelConfig config = fromHfFile((dir / "config.json").string());
    config.name = folder;
    if (layers < 0 || layers > config.numLayers)
        throw Error("--layers " + std::to_string(layers) + " is out of range for " + folder + " (1.."
                    + std::to_string(config.numLayers) + ")");
    config.checkpointLayers = config.numLayers;
    if (layers > 0)
        config.numLayers = layers;
    return config;
}

json ModelConfig::toHfJson() const
{
    json j = {
        {"architectures", json::array({modelType == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM"})},
        {"model_type", modelType},
        {"hidden_size", hiddenSize},
        {"intermediate_size", intermediateSize},
        {"num_hidden_layers", numLayers},
        {"num_attention_heads", numHeads},
        {"num_key_value_heads", numKvHeads},
        {"head_dim", headDim},
        {"vocab_size", vocabSize},
        {"max_position_embeddings", maxPositions},
        {"rms_norm_eps", rmsNormEps},
        {"tie_word_embeddings", tieWordEmbeddings},
        {"hidden_act", "silu"},
        {"rope_theta", rope.theta},
        {"torch_dtype", "float32"},
    };
    if (rope.type == RopeConfig::Type::Llama3)
        j["rope_scaling"] = {{"rope_type", "llama3"},
                             {"factor", rope.factor},
                             {"low_freq_factor", rope.lowFreqFactor},
                             {"high_freq_factor", rope.highFreqFactor},
                             {"original_max_position_embeddings", rope.originalMaxPositions}};
    else if (rope.type == RopeConfig::Type::Linear)
        j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", rope.factor}};
    else
        j["rope_scaling"] = nullptr;
    if (slidingWindow)
        j["sliding_window"] = *slidingWindow;
    else if (modelType == "mistral")
        j["sliding_window"] = nullptr; // absent, Mistral's would be 4096
    return j;
}

json ModelConfig::shapeJson() const
{
    return {{"name", name},           {"model_type", modelType},         {"layers", numLayers},
            {"hidden", hiddenSize},   {"intermediate", intermediateSize}, {"heads", numHeads},
            {"kv_heads", numKvHeads}, {"head_dim", headDim},             {"vocab", vocabSize},
            {"parameters", parameterCount()}, {"weights", synthetic ? "synthetic" : "checkpoint"}};
}

std::vector<std::string> ModelConfig::builtinNames()
{
    return {"tiny", "llama-3.1-8b", "llama-3.3-70b", "mistral-small-24b"};
}

bool ModelConfig::isBuiltin(const std::string& name)
{
    for (const auto& n : builtinNames())
        if (n == name)
            return true;
    return false;
}

bool ModelConfig::selectsBuiltin(const std::string& modelArg)
{
    if (!isBuiltin(modelArg))
        return false;
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(modelArg, ec)))
        throw Error("--model '" + modelArg + "' names a built-in shape and also a file or folder here: write ./" + modelArg
                    + " for the checkpoint (a built-in shape runs synthetic weights)");
    return true;
}

ModelConfig ModelConfig::builtin(const std::string& name, int layers)
{
    ModelConfig c;
    c.name = name;
    c.synthetic = true;
    RopeConfig llama3;
    llama3.type = RopeConfig::Type::Llama3;
    llama3.theta = 500000.0;
    llama3.factor = 8.0;
    llama3.lowFreqFactor = 1.0;
    llama3.highFreqFactor = 4.0;
    llama3.originalMaxPositions = 8192;
    if (name == "tiny") {
        // Small enough for a CPU demo, with GQA (2 query heads per KV head), a head_dim that is not
        // hidden/heads (as in Mistral) and enough KV heads for placement to matter at 2-4 ranks.
        c.modelType = "llama";
        c.hiddenSize = 256;
        c.intermediateSize = 768;
        c.numLayers = 4;
        c.numHeads = 16;
        c.numKvHeads = 8;
        c.headDim = 32;
        c.vocabSize = 4096;
        c.maxPositions = 8192;
        c.rmsNormEps = 1e-5;
        c.rope = llama3;
    } else if (name == "llama-3.1-8b") {
        c.modelType = "llama";
        c.hiddenSize = 4096;
        c.intermediateSize = 14336;
        c.numLayers = 32;
        c.numHeads = 32;
        c.numKvHeads = 8;
        c.headDim = 128;
        c.vocabSize = 128256;
        c.maxPositions = 131072;
        c.rmsNormEps = 1e-5;
        c.rope = llama3;
    } else if (name == "llama-3.3-70b") {
        c.modelType = "llama";
        c.hiddenSize = 8192;
        c.intermediateSize = 28672;
        c.numLayers = 80;
        c.numHeads = 64;
        c.numKvHeads = 8;
        c.headDim = 128;
        c.vocabSize = 128256;
        c.maxPositions = 131072;
        c.rmsNormEps = 1e-5;
        c.rope = llama3;
    } else if (name == "mistral-small-24b") {
        c.modelType = "mistral";
        c.hiddenSize = 5120;
        c.intermediateSize = 32768;
        c.numLayers = 40;
        c.numHeads = 32;
        c.numKvHeads = 8;
        c.headDim = 128;
        c.vocabSize = 131072;
        c.maxPositions = 32768;
        c.rmsNormEps = 1e-5;
        c.rope.theta = 100000000.0;
    } else {
        std::string known;
        for (const auto& n : builtinNames())
            known += (known.empty() ? "" : ", ") + n;
        throw Error("unknown model shape '" + name + "' (built-in shapes: " + known + ")");
    }
    if (layers < 0 || layers > c.numLayers)
        throw Error("--layers " + std::to_string(layers) + " is out of range for " + name + " (1.."
                    + std::to_string(c.numLayers) + ")");
    if (layers > 0)
        c.numLayers = layers;
    c.validate();
    return c;
}

} // namespace fairkv
