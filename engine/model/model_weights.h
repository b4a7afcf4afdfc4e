#pragma once
#include "common/dtype.h"
#include "common/tensor.h"
#include "model/model_config.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fairkv {

struct LayerWeights
{
    Tensor inputNorm; // [H]
    Tensor postNorm;  // [H]
    Tensor wq;        // [heads*head_dim, H]  (HF layout: out x in)
    Tensor wk;        // [kv_heads*head_dim, H]
    Tensor wv;        // [kv_heads*head_dim, H]
    Tensor wo;        // [H, heads*head_dim]
    Tensor wgate;     // [I, H]
    Tensor wup;       // [I, H]
    Tensor wdown;     // [H, I]
};

// All weights of a model in fp32, HF tensor layout.
struct ModelWeights
{
    ModelConfig config;
    Tensor embed;     // [V, H]
    std::vector<LayerWeights> layers;
    Tensor finalNorm; // [H]
    Tensor lmHead;    // [V, H]; a copy of embed when the embeddings are tied

    const Tensor& outputHead() const { return config.tieWordEmbeddings ? embed : lmHead; }

    // Folder with config.json and safetensors (single file or index + shards). Every tensor the
    // config needs is checked for presence and shape before any is converted.
    // `layers` > 0 loads only the first layers.
    static ModelWeights loadHf(const std::string& folder, int layers = 0);

    // Seeded synthetic weights for any shape. Each query head gets an attention sharpness s drawn
    // log-uniformly from [0.25, 6] (its q rows are scaled by s), so attention logits have a standard
    // deviation of about s: sharp heads concentrate on few tokens, flat heads spread out, and
    // adaptive compression sees realistic per-head skew.
    static ModelWeights synthetic(const ModelConfig& config, uint64_t seed);

    // Writes config.json + model.safetensors (dtype F32, F16 or BF16).
    void saveHf(const std::string& folder, const std::string& dtype = "F32") const;

    // The per-head sharpness used by `synthetic` ([layer][q head]); empty for loaded checkpoints.
    std::vector<std::vector<float>> headSharpness;

    // Tensors of a loaded checkpoint that the model does not use, but for those a run leaves out
    // on purpose (the layers `layers` cut off, RoPE's inv_freq buffers): a config.json with fewer
    // layers than the checkpoint, say. Empty for synthetic weights.
    std::vector<std::string> unusedTensors;
    // One line on unusedTensors for a warning; empty when there are none.
    std::string unusedTensorsWarning() const;
};

// What `fairkv check-model` reports: a checkpoint validated without converting any tensor.
struct CheckpointSummary
{
    ModelConfig config;
    std::vector<std::string> files;
    size_t tensors = 0;             // tensors the model uses
    std::vector<std::string> extra; // tensors in the files that the model does not use
    std::map<std::string, size_t> dtypes; // dtype name -> tensor count
    uint64_t bytes = 0;
};

// Validates config.json, every safetensors header and every tensor's presence, dtype and shape.
CheckpointSummary inspectHf(const std::string& folder, int layers = 0);

// The dtype saveHf() writes for a name (F32, F16 or BF16); an Error naming it otherwise.
DType hfSaveDtype(const std::string& name);

// Loads a built-in shape (synthetic weights from `seed`) or an HF folder; `layers` truncates.
ModelWeights loadModel(const std::string& modelArg, int layers, uint64_t seed);
// The shape loadModel() would load, read before any weight is converted (config.json, checked
// against every safetensors header as inspectHf() does); none where `modelArg` is no folder, whose
// message loadModel() gives.
std::optional<ModelConfig> modelShape(const std::string& modelArg, int layers);

} // namespace fairkv
