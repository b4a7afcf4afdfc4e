#include "backend/cuda/kv_selection.h"

#include "backend/cuda/device_memory.h"
#include "common/parallel.h"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>

#include <climits>
#include <numeric>

// Built without --use_fast_math (see engine/CMakeLists.txt): pooled scores must equal the host's
// bit for bit (IEEE division, no flushed denormals), or the selections would drift apart on ties.

namespace fairkv::cuda {

namespace {

constexpr int kThreads = 256;

// One (request, unit) row of a compressed layer.
struct RowDesc
{
    long long raw; // first window score of the row in the raw buffer
    int pooled;    // first pooled score: the row's segment in the sorts
    int prefix;    // positions outside the window, the ones ranked
    int len;       // prompt length
    int unit;
    int cap;  // prefix positions kept
    int kept; // first kept position in the output
};

// Sort keys that order a score descending inside its segment: segment index in the high word, the
// score's bits mapped to an unsigned order and inverted in the low word. One stable radix sort of
// every segment at once then gives each segment's scores best first, ties in input order (lower
// unit, earlier position: the host's tie-breaks). -0 counts as +0, as the host's comparisons do.
__device__ unsigned long long descendingKey(unsigned segment, float score)
{
    const unsigned bits = __float_as_uint(score == 0.0f ? 0.0f : score);
    const unsigned ordered = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
    return (static_cast<unsigned long long>(segment) << 32) | static_cast<unsigned long long>(~ordered);
}

// Pooling as poolScores on the host (stride 1, padding ignored, the same order of additions), then
// the keys of both sorts: per request (values: the unit) and per row (values: the position).
__global__ void poolKernel(const float* raw, const RowDesc* rows, int units, int kernel, bool maxPool,
                           unsigned long long* requestKeys, int* unitIds, unsigned long long* rowKeys, int* positions)
{
    const RowDesc row = rows[blockIdx.x];
    const float* s = raw + row.raw;
    const int half = kernel / 2;
    for (int i = threadIdx.x; i < row.prefix; i += blockDim.x) {
        const int lo = max(0, i - half), hi = min(row.prefix - 1, i + half);
        float acc = maxPool ? s[lo] : 0.0f;
        for (int j = lo; j <= hi; ++j)
            acc = maxPool ? (acc < s[j] ? s[j] : acc) : __fadd_rn(acc, s[j]);
        const float pooled = maxPool ? acc : __fdiv_rn(acc, float(hi - lo + 1));
        requestKeys[row.pooled + i] = descendingKey(blockIdx.x / units, pooled);
        unitIds[row.pooled + i] = row.unit;
        rowKeys[row.pooled + i] = descendingKey(blockIdx.x, pooled);
        positions[row.pooled + i] = i;
    }
}

int significantBits(int segments)
{
    int bits = 0;
    while ((1LL << bits) < segments)
        ++bits;
    return 32 + bits;
}

// Ada-SnapKV: how many of request r's k best pooled scores (sorted, descending) each unit holds.
__global__ void countKernel(const int* sortedUnits, const int* requestBegin, const int* requestK, int units, int* counts)
{
    extern __shared__ int histogram[];
    for (int u = threadIdx.x; u < units; u += blockDim.x)
        histogram[u] = 0;
    __syncthreads();
    const int begin = requestBegin[blockIdx.x], k = requestK[blockIdx.x];
    for (int i = threadIdx.x; i < k; i += blockDim.x)
        atomicAdd(&histogram[sortedUnits[begin + i]], 1);
    __syncthreads();
    for (int u = threadIdx.x; u < units; u += blockDim.x)
        counts[blockIdx.x * units + u] = histogram[u];
}

__global__ void markKernel(const RowDesc* rows, const int* sortedPositions, unsigned char* flags)
{
    const RowDesc row = rows[blockIdx.x];
    for (int i = threadIdx.x; i < row.cap; i += blockDim.x)
        flags[row.pooled + sortedPositions[row.pooled + i]] = 1;
}

// The kept prefix positions in ascending order, then the window, and the window scores they hold.
__global__ void compactKernel(const float* raw, const RowDesc* rows, const unsigned char* flags, int* kept, double* mass)
{
    using Scan = cub::BlockScan<int, kThreads>;
    using Reduce = cub::BlockReduce<double, kThreads>;
    __shared__ union {
        typename Scan::TempStorage scan;
        typename Reduce::TempStorage reduce;
    } temp;
    const RowDesc row = rows[blockIdx.x];
    const float* s = raw + row.raw;
    int* out = kept + row.kept;
    double sum = 0.0;
    int written = 0;
    for (int tile = 0; tile < row.prefix; tile += kThreads) {
        const int i = tile + int(threadIdx.x);
        const int flag = i < row.prefix ? flags[row.pooled + i] : 0;
        int index = 0, total = 0;
        Scan(temp.scan).ExclusiveSum(flag, index, total);
        if (flag) {
            out[written + index] = i;
            sum += s[i];
        }
        written += total;
        __syncthreads();
    }
    for (int i = row.prefix + int(threadIdx.x); i < row.len; i += kThreads) {
        out[row.cap + i - row.prefix] = i;
        sum += s[i];
    }
    const double total = Reduce(temp.reduce).Sum(sum);
    if (threadIdx.x == 0)
        mass[blockIdx.x] = total;
}

} // namespace

DeviceLayerCompressor::DeviceLayerCompressor(int device)
    : m_device(device)
{
    FAIRKV_CUDA(cudaSetDevice(m_device));
    FAIRKV_CUDA(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
}

DeviceLayerCompressor::~DeviceLayerCompressor()
{
    cudaSetDevice(m_device);
    for (Buffer* b : {&m_raw, &m_keys, &m_sortedKeys, &m_ids, &m_sortedIds, &m_rows, &m_offsets, &m_counts, &m_flags,
                      &m_kept, &m_mass, &m_temp})
        cudaFree(b->ptr);
    cudaFreeHost(m_staging);
    if (m_stream)
        cudaStreamDestroy(m_stream);
}

std::string DeviceLayerCompressor::where() const
{
    return "GPU " + std::to_string(m_device);
}

void* DeviceLayerCompressor::grow(Buffer& b, size_t bytes, const char* what)
{
    growBuffer(b.ptr, b.capacity, bytes, what);
    return b.ptr;
}

std::vector<LayerSelection> DeviceLayerCompressor::compress(const CompressionOptions& o, int layer, int numLayers,
                                                            const std::vector<std::vector<std::vector<float>>>& scores)
{
    const size_t batch = scores.size();
    std::vector<LayerSelection> out(batch);
    std::vector<int> active; // requests whose prompt this layer compresses
    const int units = batch ? int(scores[0].size()) : 0;
    for (size_t r = 0; r < batch; ++r) {
        if (int(scores[r].size()) != units)
            throw Error("compression: request " + std::to_string(r) + " has scores for " + std::to_string(scores[r].size())
                        + " units, request 0 for " + std::to_string(units));
        const int len = units ? int(scores[r][0].size()) : 0;
        for (const auto& row : scores[r])
            if (int(row.size()) != len)
                throw Error("compression: the units of request " + std::to_string(r) + " have scores of different lengths");
        if (units && compresses(o, layer, numLayers, len)) {
            active.push_back(int(r));
            continue;
        }
        LayerSelection& sel = out[r];
        sel.kept.assign(size_t(units), std::vector<int>(size_t(len)));
        for (auto& k : sel.kept)
            std::iota(k.begin(), k.end(), 0);
        sel.massRetained.assign(size_t(units), 1.0);
    }
    if (active.empty())
        return out;

    // Rows in request-major, unit-major order: a request's rows form one segment of the global top-k.
    std::vector<RowDesc> rows;
    std::vector<int> requestBegin, requestK;
    long long rawTotal = 0, pooledTotal = 0;
    for (int r : active) {
        const int len = int(scores[size_t(r)][0].size());
        const int prefix = len - std::min(o.window, len);
        const int base = layerBudget(o, layer, numLayers, len) - o.window;
        requestBegin.push_back(int(pooledTotal));
        requestK.push_back(int(std::min<long long>(1LL * units * base, 1LL * units * prefix)));
        for (int u = 0; u < units; ++u) {
            rows.push_back(RowDesc{rawTotal, int(pooledTotal), prefix, len, u, 0, 0});
            rawTotal += len;
            pooledTotal += prefix;
            if (pooledTotal > INT_MAX / 2)
                throw Error("compression on the GPU: " + std::to_string(pooledTotal)
                            + " scores in one layer are more than it indexes; use a smaller batch or shorter prompts");
        }
    }
    requestBegin.push_back(int(pooledTotal));
    const int nRows = int(rows.size()), nRequests = int(active.size());

    FAIRKV_CUDA(cudaSetDevice(m_device));
    // Window scores through pinned memory, packed on all cores.
    if (size_t(rawTotal) * sizeof(float) > m_stagingBytes) {
        cudaFreeHost(m_staging);
        m_staging = nullptr;
        m_stagingBytes = 0;
        FAIRKV_CUDA(cudaHostAlloc(&m_staging, size_t(rawTotal) * sizeof(float), cudaHostAllocDefault));
        m_stagingBytes = size_t(rawTotal) * sizeof(float);
    }
    auto* staged = static_cast<float*>(m_staging);
    parallelFor(rows.size(), [&](size_t i) {
        const auto& src = scores[size_t(active[i / size_t(units)])][i % size_t(units)];
        std::copy(src.begin(), src.end(), staged + rows[i].raw);
    });

    const size_t P = size_t(pooledTotal);
    auto* dRaw = static_cast<float*>(grow(m_raw, size_t(rawTotal) * sizeof(float), "window scores"));
    auto* dKeys = static_cast<unsigned long long*>(grow(m_keys, 2 * P * sizeof(unsigned long long), "sort keys"));
    unsigned long long* dRequestKeys = dKeys;
    unsigned long long* dRowKeys = dKeys + P;
    auto* dSortedKeys = static_cast<unsigned long long*>(grow(m_sortedKeys, P * sizeof(unsigned long long), "sorted keys"));
    auto* dIds = static_cast<int*>(grow(m_ids, 2 * P * sizeof(int), "score indices"));
    int* dUnitIds = dIds;
    int* dPositions = dIds + P;
    auto* dSortedIds = static_cast<int*>(grow(m_sortedIds, P * sizeof(int), "sorted indices"));
    auto* dRows = static_cast<RowDesc*>(grow(m_rows, rows.size() * sizeof(RowDesc), "selection rows"));
    std::vector<int> offsets = requestBegin;
    offsets.insert(offsets.end(), requestK.begin(), requestK.end());
    auto* dOffsets = static_cast<int*>(grow(m_offsets, offsets.size() * sizeof(int), "selection offsets"));
    int* dRequestBegin = dOffsets;
    int* dRequestK = dRequestBegin + requestBegin.size();
    auto* dFlags = static_cast<unsigned char*>(grow(m_flags, P, "selection flags"));
    auto* dMass = static_cast<double*>(grow(m_mass, rows.size() * sizeof(double), "retained mass"));

    const int requestBits = significantBits(nRequests), rowBits = significantBits(nRows);
    size_t tempBytes = 0, bytes = 0;
    FAIRKV_CUDA(cub::DeviceRadixSort::SortPairs(nullptr, bytes, dRowKeys, dSortedKeys, dPositions, dSortedIds, P, 0,
                                                std::max(requestBits, rowBits), m_stream));
    tempBytes = bytes;
    void* dTemp = grow(m_temp, tempBytes, "sort workspace");

    FAIRKV_CUDA(cudaMemcpyAsync(dRaw, staged, size_t(rawTotal) * sizeof(float), cudaMemcpyHostToDevice, m_stream));
    FAIRKV_CUDA(cudaMemcpyAsync(dRows, rows.data(), rows.size() * sizeof(RowDesc), cudaMemcpyHostToDevice, m_stream));
    FAIRKV_CUDA(cudaMemcpyAsync(dOffsets, offsets.data(), offsets.size() * sizeof(int), cudaMemcpyHostToDevice, m_stream));
    poolKernel<<<nRows, kThreads, 0, m_stream>>>(dRaw, dRows, units, o.kernel, o.pooling == Pooling::Max, dRequestKeys,
                                                 dUnitIds, dRowKeys, dPositions);
    FAIRKV_CUDA(cudaGetLastError());

    std::vector<int> counts(size_t(nRequests) * size_t(units), 0);
    if (o.policy == CompressionPolicy::AdaSnapKV) {
        FAIRKV_CUDA(cub::DeviceRadixSort::SortPairs(dTemp, tempBytes, dRequestKeys, dSortedKeys, dUnitIds, dSortedIds, P, 0,
                                                    requestBits, m_stream));
        auto* dCounts = static_cast<int*>(grow(m_counts, counts.size() * sizeof(int), "top-k counts"));
        countKernel<<<nRequests, kThreads, size_t(units) * sizeof(int), m_stream>>>(dSortedIds, dRequestBegin, dRequestK, units,
                                                                                    dCounts);
        FAIRKV_CUDA(cudaGetLastError());
        FAIRKV_CUDA(cudaMemcpyAsync(counts.data(), dCounts, counts.size() * sizeof(int), cudaMemcpyDeviceToHost, m_stream));
        FAIRKV_CUDA(cudaStreamSynchronize(m_stream));
    }

    // Caps on the host (a few numbers per unit), then each unit's own ranking on the device.
    int keptTotal = 0;
    for (int a = 0; a < nRequests; ++a) {
        const int len = rows[size_t(a) * size_t(units)].len;
        const std::vector<long> topCounts(counts.begin() + long(size_t(a) * size_t(units)),
                                          counts.begin() + long(size_t(a + 1) * size_t(units)));
        const std::vector<int> caps = unitCaps(o, layer, numLayers, len, units, topCounts);
        for (int u = 0; u < units; ++u) {
            RowDesc& row = rows[size_t(a) * size_t(units) + size_t(u)];
            row.cap = std::clamp(caps[size_t(u)], 0, row.prefix);
            row.kept = keptTotal;
            keptTotal += row.cap + (row.len - row.prefix);
        }
    }
    auto* dKept = static_cast<int*>(grow(m_kept, size_t(keptTotal) * sizeof(int), "kept positions"));
    FAIRKV_CUDA(cudaMemcpyAsync(dRows, rows.data(), rows.size() * sizeof(RowDesc), cudaMemcpyHostToDevice, m_stream));
    FAIRKV_CUDA(cub::DeviceRadixSort::SortPairs(dTemp, tempBytes, dRowKeys, dSortedKeys, dPositions, dSortedIds, P, 0, rowBits,
                                                m_stream));
    FAIRKV_CUDA(cudaMemsetAsync(dFlags, 0, P, m_stream));
    markKernel<<<nRows, kThreads, 0, m_stream>>>(dRows, dSortedIds, dFlags);
    FAIRKV_CUDA(cudaGetLastError());
    compactKernel<<<nRows, kThreads, 0, m_stream>>>(dRaw, dRows, dFlags, dKept, dMass);
    FAIRKV_CUDA(cudaGetLastError());
    std::vector<int> kept(static_cast<size_t>(keptTotal));
    std::vector<double> mass(rows.size());
    FAIRKV_CUDA(cudaMemcpyAsync(kept.data(), dKept, kept.size() * sizeof(int), cudaMemcpyDeviceToHost, m_stream));
    FAIRKV_CUDA(cudaMemcpyAsync(mass.data(), dMass, mass.size() * sizeof(double), cudaMemcpyDeviceToHost, m_stream));
    FAIRKV_CUDA(cudaStreamSynchronize(m_stream));

    for (int a = 0; a < nRequests; ++a) {
        LayerSelection& sel = out[size_t(active[size_t(a)])];
        sel.kept.resize(size_t(units));
        sel.massRetained.resize(size_t(units));
        for (int u = 0; u < units; ++u) {
            const RowDesc& row = rows[size_t(a) * size_t(units) + size_t(u)];
            const auto first = kept.begin() + row.kept;
            sel.kept[size_t(u)].assign(first, first + row.cap + (row.len - row.prefix));
            sel.massRetained[size_t(u)] = mass[size_t(a) * size_t(units) + size_t(u)];
        }
    }
    return out;
}

} // namespace fairkv::cuda
