#pragma once
#include "kv/compression.h"
#include "model/model_config.h"
#include "parallel/collective_model.h"
#include "parallel/rank.h"
#include "parallel/step_executor.h"

#include <functional>
#include <memory>
#include <string>

namespace fairkv {

// Backends beyond the CPU register here (the CUDA backend lives in its own library, which the
// executables link and register), so the engine chooses a backend in one place and never depends
// on CUDA itself.
struct ModelWeights;

// How ranks map onto devices, for backends that have devices.
struct BackendOptions
{
    bool emulate = false;     // all ranks on the first device, even when there are enough of them
    AllReduceModel allReduce; // the collective's model for emulated ranks
    // Device bytes of activations one prefill pass over a group of prompts may take (backends that
    // prefill on the device); 0: the backend's default. A prompt is never split.
    size_t prefillGroupBytes = 0;
    // GPU backends: choose each decode product's GEMM routine by timing it on the rank's weights
    // (cublasGemmEx or a cuBLASLt configuration) when its shapes are new (--gemm auto); false:
    // cublasGemmEx for every product (--gemm cublas). On the H100 the choice made the 8B decode
    // step 2.6-3.3% faster (docs/gpu-decode-benchmark.md, session 16).
    bool chooseGemms = true;
};

using RankFactory = std::function<std::unique_ptr<Rank>(int index, int ranks, const ModelConfig& config, UnitMode mode,
                                                        const BackendOptions& options)>;
// Optional: a backend that runs decode steps on its own (see StepExecutor); may return nullptr.
using StepExecutorFactory = std::function<std::unique_ptr<StepExecutor>(const ModelWeights& weights, const std::vector<Rank*>& ranks,
                                                                        const BackendOptions& options)>;
void registerRankBackend(const std::string& name, RankFactory factory, StepExecutorFactory executor = {});
bool hasRankBackend(const std::string& name);
// Bytes of one weight as a backend's ranks hold it (fp32 on the CPU, bf16 on CUDA): what one more
// replica of a unit costs per element. Known for every backend name, registered in this build or not
// (a CPU-only build reads CUDA runs' sessions).
int bytesPerWeight(const std::string& backend);
std::unique_ptr<Rank> makeRank(const std::string& backend, int index, int ranks, const ModelConfig& config, UnitMode mode,
                               const BackendOptions& options = {});
std::unique_ptr<StepExecutor> makeStepExecutor(const std::string& backend, const ModelWeights& weights,
                                               const std::vector<Rank*>& ranks, const BackendOptions& options = {});

} // namespace fairkv
