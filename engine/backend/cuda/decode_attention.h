#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fairkv::cuda {

// One (request, unit) pair of a rank: its retained keys and values, bf16, row-major [length][headDim].
struct KvView
{
    const uint16_t* keys = nullptr;   // bf16 bits
    const uint16_t* values = nullptr; // bf16 bits
    int length = 0;
};

// Where a pair's results begin in a decode step's o_proj input [rows][replicas][group][dim] (in
// elements): the outputOffsets of prepare() for the pair of batch row `row` and replica `replica`.
inline int64_t oProjInputOffset(size_t row, int replicas, int replica, int group, int dim)
{
    return (int64_t(row) * replicas + replica) * group * dim;
}

// Split-KV (flash-decoding) attention over every (request, unit) pair of a rank, each with its own
// retained length, and the query heads of a GQA group read each K/V row once. prepare() plans on
// the host from the known lengths: one wave of blocks, whose workers (each block of the per-head
// kernel, each warp of the GQA kernel) get equal shares of all rows laid end to end, so short and
// long heads both fill the GPU and no wave runs part-empty. launch() runs the attention kernel
// and, for pairs cut over several workers, a small kernel that merges their partials (started
// early by programmatic dependent launch) and writes the zeros of pairs with no retained row.
class RaggedDecodeAttention
{
public:
    RaggedDecodeAttention();
    ~RaggedDecodeAttention();
    RaggedDecodeAttention(const RaggedDecodeAttention&) = delete;
    RaggedDecodeAttention& operator=(const RaggedDecodeAttention&) = delete;

    // `groupSize` query heads (any number) share each pair's KV; headDim 32, 64 or 128.
    // outputOffsets: where each pair's groupSize x headDim results begin in a launchBf16() output,
    // in elements (the decode step's o_proj input: row of the request, column block of the unit);
    // empty for launch()'s dense layout.
    void prepare(const std::vector<KvView>& pairs, int groupSize, int headDim, cudaStream_t stream = nullptr,
                 const std::vector<int64_t>& outputOffsets = {});
    // q and out: device fp32 [pairs][groupSize][headDim]. Asynchronous on `stream`.
    // early: the kernel queued just before on `stream` writes, of what the attention reads, only q
    // and the last K/V row of each pair (the decode step's RoPE + KV append), and calls
    // launchDependents() (dependent_launch.cuh) at its start. The attention then streams every
    // other row while that kernel runs, and waits for it before it reads q and those rows.
    void launch(const float* q, float* out, float scale, cudaStream_t stream = nullptr, bool early = false);
    // out: bf16, each pair's results at prepare()'s outputOffsets; nothing else is written, so the
    // step needs no scatter kernel between the attention and o_proj.
    void launchBf16(const float* q, void* out, float scale, cudaStream_t stream = nullptr, bool early = false);
    // launchBf16() into a decode step's o_proj input [rows][replicas][group][dim] (prepare()'s
    // offsets from oProjInputOffset()), zeroed first when some (row, replica) has no pair: a
    // replica that serves part of the batch (fair-copying) leaves its other rows unwritten. The
    // zeroing stands between the kernel before and the attention, which then does not start early.
    void launchIntoOprojInput(const float* q, void* out, size_t rows, int replicas, float scale, cudaStream_t stream = nullptr,
                              bool early = false);

    int items() const { return m_items; }   // pieces of pairs, all workers together
    int blocks() const { return m_blocks; } // one wave: SMs x resident blocks at most
    // Bytes the launch must move at least: K and V of every pair, q in, out.
    size_t minimumBytes() const { return m_bytes; }

private:
    void launchTo(const float* q, void* out, bool bf16, float scale, cudaStream_t stream, bool early);

    int m_pairs = 0, m_items = 0, m_blocks = 0, m_workers = 0, m_splits = 0, m_group = 1, m_dim = 128;
    size_t m_bytes = 0;
    void* m_deviceItems = nullptr;  // WorkItem[workers + items]: each worker's first item, then all items
    void* m_deviceFirsts = nullptr; // int[workers + 1]: first item of each worker (see prepare())
    float* m_partials = nullptr;    // [min(group, 8)][items][dim + 4]: acc..., max, sum, padding
    void* m_deviceSplits = nullptr; // SplitPair[splits]: pairs cut into several items (or empty), merged after
    void* m_deviceOffsets = nullptr; // int64_t[pairs]: prepare()'s outputOffsets
    bool m_hasOffsets = false;
    size_t m_capItems = 0, m_capFirsts = 0, m_capSplits = 0, m_capPartials = 0, m_capOffsets = 0;
    int m_smCount = 0;
    const void* m_kernel = nullptr; // the kernel m_resident was asked for
    int m_resident = 1, m_sharedBytes = 0;
    int m_combineSubsets = 1; // threads per dim quad of the combine kernel (see prepare())
    bool m_dependentLaunch = false; // the combine kernel starts early (see launch())
};

} // namespace fairkv::cuda
