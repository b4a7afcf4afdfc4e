#pragma once
#include "kv/kv_store.h"

#include <cstddef>
#include <map>
#include <utility>
#include <vector>

namespace fairkv {

struct ModelWeights;
struct Placement;

// Rows of one forward pass grouped by request: a whole prompt per request in prefill, one row per
// request in decode.
struct RowBatch
{
    const float* data = nullptr;    // normalised hidden states, rows x hidden
    std::vector<size_t> rowStart;   // batch + 1 entries
    std::vector<long> position;     // position of each request's first row
    size_t rows() const { return rowStart.empty() ? 0 : rowStart.back(); }
};

using UnitRequest = std::pair<int, int>; // (unit, request)

// Attention of the last `window` prompt queries, averaged over those queries and the unit's query
// heads: the scores that compression ranks prompt positions by.
struct WindowCapture
{
    int window = 0;
    std::map<UnitRequest, std::vector<float>> meanAttention;
};

// A tensor-parallel rank: owns the weight shards of the units placed on it (q/k/v rows, o_proj
// columns), an even slice of the MLP, and the KV blocks of the (unit, request) pairs it serves.
// The backend behind it is chosen in one place (the engine); nothing else asks which it is.
class Rank
{
public:
    virtual ~Rank() = default;
    virtual int index() const = 0;
    // Installs this rank's shards for `placement`, taking the KV blocks it now serves out of `pool`.
    virtual void assign(const ModelWeights& weights, const Placement& placement, KvStore& pool) = 0;
    // Hands every KV block this rank holds to `pool`.
    virtual void releaseKv(KvStore& pool) = 0;
    // Adds this rank's attention output (o_proj partial sums) for `layer` to `out` (rows x hidden).
    virtual void attention(int layer, const RowBatch& in, float* out, WindowCapture* capture) = 0;
    // Keeps only the listed prompt positions of the rank's blocks in `layer`.
    virtual void compress(int layer, const std::map<UnitRequest, std::vector<int>>& kept) = 0;
    // This rank's partial MLP output for `rows` normalised rows.
    virtual void mlp(int layer, const float* x, size_t rows, float* out) = 0;
    // Where per-unit records go for the coming pass, and which decode step it is (-1: prefill).
    virtual void setTraceContext(class TraceSink* sink, int step) = 0;
    virtual const KvStore& kv() const = 0;
    virtual size_t weightBytes() const = 0;
    // Device time of the last attention() or mlp() call when the work ran on an accelerator
    // (CUDA events around the rank's kernels, transfers excluded); negative when the host's clock
    // is the right measure (the CPU backend, and host-side prefill).
    virtual double lastDeviceMs() const { return -1.0; }
};

} // namespace fairkv
