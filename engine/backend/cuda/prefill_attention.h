#pragma once
#include <cuda_runtime.h>

#include <cstddef>

typedef struct cublasContext* cublasHandle_t;

namespace fairkv::cuda {

// Causal attention over one request's prompt for one unit (a KV head and its G query heads), on
// the GPU: RoPE on q and k, scores and probability-weighted values through cuBLAS (bf16 inputs,
// fp32 accumulation), an fp32 softmax in between, processed in query chunks so the score matrix
// stays bounded for long prompts. Optionally the window scores SnapKV ranks positions by: the
// attention of the last `window` queries, averaged over those queries and the G heads.
struct PrefillArgs
{
    const float* qkv = nullptr; // [len] rows of [G q heads | k | v] x headDim, fp32, row stride ldQkv
    long long ldQkv = 0;
    int len = 0, group = 1, headDim = 128;
    int window = 0;              // 0: no scores
    const float* invFreq = nullptr; // RoPE inverse frequencies, headDim / 2
    void* out = nullptr;         // bf16 [len][G * headDim], row stride ldOut
    long long ldOut = 0;
    float* keys = nullptr;       // fp32 [len][headDim]: the rotated keys, for the KV store
    float* values = nullptr;     // fp32 [len][headDim]
    float* scores = nullptr;     // fp32 [len], when window > 0
    int chunkRows = 0;           // queries per chunk; 0: as many as 256 MiB of scores allow
};

// Queries per chunk for prompts of up to `len` tokens (256 MiB of scores and probabilities).
int prefillChunkRows(int len, int group);
// Bytes of workspace for prompts of up to `len` tokens in chunks of `chunkRows` (0: prefillChunkRows).
// Pass the same chunkRows in PrefillArgs for every prompt that uses this workspace.
size_t prefillWorkspaceBytes(int len, int group, int headDim, int window, int chunkRows = 0);
void prefillAttention(cublasHandle_t handle, const PrefillArgs& args, void* workspace, cudaStream_t stream);

} // namespace fairkv::cuda
