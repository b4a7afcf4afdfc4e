#include "model/model_weights.h"

#include "common/error.h"
#include "common/host_memory.h"
#include "common/json_file.h"
#include "common/output_path.h"
#include "common/parallel.h"
#include "common/rng.h"
#include "kv/synthetic_attention.h"
#include "model/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

namespace fairkv {

namespace fs = std::filesystem;

namespace {

std::string layerName(int layer, const char* suffix)
{
    return "model.layers." + std::to_string(layer) + "." + suffix;
}

struct NamedSlot
{
    std::string name;
    std::vector<int64_t> shape;
    Tensor* target;
};

// The HF tensor list for a config, in file order.
std::vector<NamedSlot> slots(ModelWeights& w)
{
    const ModelConfig& c = w.config;
    const int64_t h = c.hiddenSize;
    std::vector<NamedSlot> s;
    s.push_back({"model.embed_tokens.weight", {c.vocabSize, h}, &w.embed});
    for (int l = 0; l < c.numLayers; ++l) {
        LayerWeights& L = w.layers[size_t(l)];
        s.push_back({layerName(l, "input_layernorm.weight"), {h}, &L.inputNorm});
        s.push_back({layerName(l, "self_attn.q_proj.weight"), {c.qDim(), h}, &L.wq});
        s.push_back({layerName(l, "self_attn.k_proj.weight"), {c.kvDim(), h}, &L.wk});
        s.push_back({layerName(l, "self_attn.v_proj.weight"), {c.kvDim(), h}, &L.wv});
        s.push_back({layerName(l, "self_attn.o_proj.weight"), {h, c.qDim()}, &L.wo});
        s.push_back({layerName(l, "post_attention_layernorm.weight"), {h}, &L.postNorm});
        s.push_back({layerName(l, "mlp.gate_proj.weight"), {c.intermediateSize, h}, &L.wgate});
        s.push_back({layerName(l, "mlp.up_proj.weight"), {c.intermediateSize, h}, &L.wup});
        s.push_back({layerName(l, "mlp.down_proj.weight"), {h, c.intermediateSize}, &L.wdown});
    }
    s.push_back({"model.norm.weight", {h}, &w.finalNorm});
    if (!c.tieWordEmbeddings)
        s.push_back({"lm_head.weight", {c.vocabSize, h}, &w.lmHead});
    return s;
}

// Fixed chunks with their own seeds, filled in parallel: the same values whatever the core count,
// and an 8B shape in seconds instead of a minute.
void fillNormal(Tensor& t, uint64_t seed, double stddev)
{
    constexpr size_t kChunk = size_t(1) << 20;
    const size_t n = t.data.size(), chunks = (n + kChunk - 1) / kChunk;
    parallelFor(chunks, [&](size_t c) {
        Rng rng(Rng::mix(seed, c));
        float* out = t.data.data() + c * kChunk;
        const size_t len = std::min(kChunk, n - c * kChunk);
        for (size_t i = 0; i < len; i += 2) {
            const auto [a, b] = rng.normalPair();
            out[i] = float(a * stddev);
            if (i + 1 < len)
                out[i + 1] = float(b * stddev);
        }
    });
}

} // namespace

namespace {

// Checks names, dtypes and shapes of everything the model needs before anything is converted.
void checkSlots(const std::string& folder, const SafetensorsCheckpoint& ckpt, const std::vector<NamedSlot>& list)
{
    for (const auto& slot : list) {
        const SafetensorsFile* file = nullptr;
        const SafetensorsEntry* e = ckpt.find(slot.name, &file);
        if (!e) {
            // The same tensor under another prefix ('layers.1.…' among 'model.layers.…'): say so.
            const std::string bare = slot.name.rfind("model.", 0) == 0 ? slot.name.substr(6) : slot.name;
            std::string elsewhere;
            for (const auto& name : ckpt.tensorNames())
                if (name != slot.name && name.size() >= bare.size() && name.compare(name.size() - bare.size(), bare.size(), bare) == 0
                    && (name.size() == bare.size() || name[name.size() - bare.size() - 1] == '.')
                    && ckpt.find(name)->shape == slot.shape) { // a vision tower's 'layers.1.…' is another tensor
                    elsewhere = name;
                    break;
                }
            throw Error(folder + ": checkpoint is missing tensor '" + slot.name + "' (expected shape " + shapeToString(slot.shape) + ")"
                        + (elsewhere.empty() ? std::string() : "; it holds '" + printable(elsewhere) + "', whose prefix differs from the other tensors'"));
        }
        // The name in the file, where it differs ('lm_head.weight' holding tied embeddings).
        const std::string stored = ckpt.storedName(slot.name);
        const std::string named = stored == slot.name ? "'" + slot.name + "'" : "'" + printable(stored) + "' (read as '" + slot.name + "')";
        if (e->shape != slot.shape)
            throw Error(file->path() + ": tensor " + named + " has shape " + shapeToString(e->shape) + ", expected "
                        + shapeToString(slot.shape));
        if (!dtypeConvertible(e->dtype))
            throw Error(file->path() + ": tensor " + named + " has dtype " + dtypeName(e->dtype) + ", expected F32, F16, BF16 or F64");
    }
}

// The checkpoint's tensors that no slot of the model takes.
std::vector<std::string> unusedNames(const SafetensorsCheckpoint& ckpt, const std::vector<NamedSlot>& list)
{
    std::set<std::string> used;
    for (const auto& slot : list)
        used.insert(slot.name);
    std::vector<std::string> out;
    for (const auto& name : ckpt.tensorNames())
        if (!used.count(name))
            out.push_back(name);
    return out;
}

// The layer a tensor's name puts it in ('model.layers.N.…'); none for other names.
std::optional<long> layerIndexOf(const std::string& name)
{
    static const std::string prefix = "model.layers.";
    if (name.rfind(prefix, 0) != 0)
        return std::nullopt;
    char* end = nullptr;
    const long index = std::strtol(name.c_str() + prefix.size(), &end, 10);
    return end && *end == '.' ? std::optional<long>(index) : std::nullopt;
}

// Whether a run means to leave a tensor out: a layer that --layers cut off (from `layers` up to
// the config's own count; one beyond that is a config that does not describe the checkpoint), the
// output head of a config that ties it to the embeddings (transformers ignores it too), or the
// inverse frequencies older transformers saved as a buffer (computed from the config here).
bool leftOutOnPurpose(const std::string& name, int layers, int configLayers, bool tied)
{
    if (name.ends_with("rotary_emb.inv_freq") || (tied && name == "lm_head.weight"))
        return true;
    const std::optional<long> index = layerIndexOf(name);
    return index && *index >= layers && *index < configLayers;
}

} // namespace

namespace {

// The checkpoint, checked to hold the config's last layer before anything is allocated per layer:
// a config.json with a wrong or absurd num_hidden_layers is reported at once, not after gigabytes
// of per-layer bookkeeping.
SafetensorsCheckpoint openFor(const std::string& folder, const ModelConfig& c)
{
    SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open(folder);
    // A base model (LlamaModel, MistralModel) stores 'layers.0...' without the 'model.' of the
    // causal LM; transformers adds it when no name has it, and so do we (its lm_head comes from
    // tied embeddings, or the checkpoint lacks it and says so below).
    const std::vector<std::string> names = ckpt.tensorNames();
    if (ckpt.find("embed_tokens.weight")
        && std::none_of(names.begin(), names.end(), [](const std::string& n) { return n.rfind("model.", 0) == 0; }))
        ckpt.rename([](const std::string& name) { return name.rfind("lm_head.", 0) == 0 ? name : "model." + name; });
    // Tied weights saved once under the other name: safetensors' save_model keeps the first of
    // tensors that share memory by name, which is 'lm_head.weight', and transformers loads that.
    if (c.tieWordEmbeddings && !ckpt.find("model.embed_tokens.weight") && ckpt.find("lm_head.weight"))
        ckpt.rename([](const std::string& name) { return name == "lm_head.weight" ? std::string("model.embed_tokens.weight") : name; });
    const std::string last = layerName(c.numLayers - 1, "input_layernorm.weight");
    if (c.numLayers > 0 && !ckpt.find(last)) {
        std::set<long> held; // distinct layer indices: a stray 'model.layers.4000000000.x' is one
        std::string elsewhere; // the first layer's norm under another prefix (a base model, 'transformer.')
        const std::string norm0 = "layers.0.input_layernorm.weight";
        for (const auto& name : ckpt.tensorNames()) {
            if (name.rfind("model.layers.", 0) == 0) {
                if (const std::optional<long> index = layerIndexOf(name))
                    held.insert(*index);
            } else if (elsewhere.empty() && name.ends_with(norm0)) {
                elsewhere = name;
            }
        }
        if (held.empty() && !elsewhere.empty())
            throw Error(folder + ": the checkpoint names its tensors like '" + elsewhere + "', not 'model." + norm0
                        + "' as LlamaForCausalLM and MistralForCausalLM checkpoints do (other prefixes are not supported)");
        // Which layers it holds: the run from 0, and what lies beyond it (a stray 'model.layers.999999999.x').
        long run = 0;
        while (held.count(run))
            ++run;
        std::string holds;
        if (held.empty())
            holds = "no tensor of any layer";
        else if (run == 0)
            holds = "tensors of " + std::to_string(held.size()) + " layer(s), none of them layer 0, up to layer " + std::to_string(*held.rbegin());
        else
            holds = "tensors of layers 0 to " + std::to_string(run - 1);
        if (run > 0 && held.size() > size_t(run))
            holds += ", and " + std::to_string(held.size() - size_t(run)) + " more up to layer " + std::to_string(*held.rbegin());
        throw Error(folder + ": the config asks for " + std::to_string(c.numLayers) + " layers, but the checkpoint has no tensor '"
                    + last + "' (it holds " + holds + ")");
    }
    // Biases (Qwen2's q/k/v, for one) change every output; a config may not say so.
    for (const auto& name : ckpt.tensorNames())
        if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
            throw Error(folder + ": tensor '" + name + "' is a bias, which this engine does not implement (LLaMA and Mistral have none)");
    return ckpt;
}

} // namespace

CheckpointSummary inspectHf(const std::string& folder, int layers)
{
    ModelWeights w;
    w.config = ModelConfig::fromHfFolder(folder, layers);
    const SafetensorsCheckpoint ckpt = openFor(folder, w.config);
    w.layers.resize(size_t(w.config.numLayers));
    const auto list = slots(w);
    checkSlots(folder, ckpt, list);
    CheckpointSummary s;
    s.config = w.config;
    s.files = ckpt.files();
    s.tensors = list.size();
    s.extra = unusedNames(ckpt, list);
    for (const auto& slot : list) {
        const SafetensorsEntry* e = ckpt.find(slot.name);
        ++s.dtypes[dtypeName(e->dtype)];
        s.bytes += e->end - e->begin;
    }
    return s;
}

ModelWeights ModelWeights::loadHf(const std::string& folder, int layers)
{
    ModelWeights w;
    w.config = ModelConfig::fromHfFolder(folder, layers);
    const SafetensorsCheckpoint ckpt = openFor(folder, w.config);
    w.layers.resize(size_t(w.config.numLayers));
    auto list = slots(w);
    checkSlots(folder, ckpt, list);
    // Every tensor becomes fp32 on the host: refused here, with a message, rather than killed by
    // the kernel half way (callers that hold more, like a CPU run, check their larger total first).
    requireHostMemory(double(w.config.parameterCount()) * 4.0,
                      folder + " with " + layerCount(w.config.numLayers), "fp32 weights", "use --layers");
    for (auto& slot : list)
        *slot.target = ckpt.load(slot.name, slot.shape);
    for (std::string& name : unusedNames(ckpt, list))
        if (!leftOutOnPurpose(name, w.config.numLayers, w.config.checkpointLayers, w.config.tieWordEmbeddings))
            w.unusedTensors.push_back(std::move(name));
    return w;
}

std::string ModelWeights::unusedTensorsWarning() const
{
    if (unusedTensors.empty())
        return {};
    return config.name + ": " + std::to_string(unusedTensors.size()) + " tensor(s) of the checkpoint are not used by the model, e.g. '"
           + printable(unusedTensors.front()) + "' (does config.json describe this checkpoint?)";
}

ModelWeights ModelWeights::synthetic(const ModelConfig& config, uint64_t seed)
{
    ModelWeights w;
    w.config = config;
    w.layers.resize(size_t(config.numLayers));
    const int64_t h = config.hiddenSize;
    const double inScale = 1.0 / std::sqrt(double(h));
    auto list = slots(w);
    uint64_t afterLayers = 0;
    for (size_t i = 0; i < list.size(); ++i) {
        // Tensors after the layers (the head) take seeds of their own, not their place in the
        // list: a model cut to its first N layers (--layers) keeps the full model's head, as a
        // checkpoint cut the same way does.
        const bool tail = i > 0 && list[i].name.rfind("model.layers.", 0) != 0;
        const uint64_t stream = tail ? (uint64_t(1) << 40) + afterLayers++ : uint64_t(i) + 1;
        Tensor& t = *list[i].target;
        t = Tensor(list[i].shape);
        if (list[i].shape.size() == 1) {
            std::fill(t.data.begin(), t.data.end(), 1.0f);
            continue;
        }
        double stddev = inScale;
        if (list[i].name.find("o_proj") != std::string::npos)
            stddev = 1.0 / std::sqrt(double(config.qDim()));
        else if (list[i].name.find("down_proj") != std::string::npos)
            stddev = 1.0 / std::sqrt(double(config.intermediateSize));
        else if (list[i].name == "model.embed_tokens.weight")
            stddev = 1.0;
        fillNormal(t, Rng::mix(seed, stream), stddev);
    }
    // Per-head sharpness: q rows of head h scaled by s_h (kv/synthetic_attention.cpp draws it).
    w.headSharpness = syntheticHeadSharpness(config, seed);
    for (int l = 0; l < config.numLayers; ++l) {
        Tensor& wq = w.layers[size_t(l)].wq;
        for (int head = 0; head < config.numHeads; ++head) {
            const float s = w.headSharpness[size_t(l)][size_t(head)];
            for (int64_t r = int64_t(head) * config.headDim; r < int64_t(head + 1) * config.headDim; ++r)
                for (int64_t c = 0; c < h; ++c)
                    wq.row(r)[c] *= s;
        }
    }
    return w;
}

DType hfSaveDtype(const std::string& name)
{
    const auto dtype = dtypeFromName(name);
    if (!dtype || (*dtype != DType::F32 && *dtype != DType::F16 && *dtype != DType::BF16))
        throw Error("--dtype '" + name + "' is not supported (F32, F16 or BF16)");
    return *dtype;
}

void ModelWeights::saveHf(const std::string& folder, const std::string& dtypeName) const
{
    const DType dtype = hfSaveDtype(dtypeName);
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec)
        throw Error(folder + ": cannot create folder: " + ec.message());
    ModelWeights& self = const_cast<ModelWeights&>(*this);
    std::vector<SafetensorsWriteItem> items;
    for (const auto& slot : slots(self))
        items.push_back({slot.name, dtype, slot.shape, slot.target->data.data()});
    writeSafetensors((fs::path(folder) / "model.safetensors").string(), items, {{"format", "pt"}});
    nlohmann::json j = config.toHfJson();
    j["torch_dtype"] = dtype == DType::F32 ? "float32" : (dtype == DType::BF16 ? "bfloat16" : "float16");
    writeTextFile((fs::path(folder) / "config.json").string(), j.dump(2) + "\n");
}

ModelWeights loadModel(const std::string& modelArg, int layers, uint64_t seed)
{
    if (ModelConfig::selectsBuiltin(modelArg))
        return ModelWeights::synthetic(ModelConfig::builtin(modelArg, layers), seed);
    std::error_code ec;
    if (!fs::exists(modelArg, ec))
        throw Error("--model '" + modelArg + "' is neither a built-in shape (tiny, llama-3.1-8b, llama-3.3-70b, "
                    "mistral-small-24b) nor an existing checkpoint folder");
    return ModelWeights::loadHf(modelArg, layers);
}

std::optional<ModelConfig> modelShape(const std::string& modelArg, int layers)
{
    if (ModelConfig::selectsBuiltin(modelArg))
        return ModelConfig::builtin(modelArg, layers);
    std::error_code ec;
    if (fs::is_directory(modelArg, ec)) // headers too: a config that does not match them is named as such, not as memory
        return inspectHf(modelArg, layers).config;
    return std::nullopt;
}

} // namespace fairkv
