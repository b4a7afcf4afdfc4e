#include "gemm_choice.h"

#include "cublas_check.h"
#include "cuda_check.h"
#include "cuda_kernels.h"
#include "device_memory.h"
#include "lt_product.h"

#include <algorithm>
#include <optional>

namespace fairkv::cuda {

namespace {
// Split-K configurations need it; 32 MiB is what the heuristic's offers for these shapes fit in.
constexpr size_t kWorkspaceBytes = size_t(32) << 20;
// A configuration replaces cublasGemmEx only when it is this much faster: the rounds' medians of
// one shape vary by a few tenths of a percent, and a choice on noise would be a coin toss.
constexpr double kMargin = 0.01;
constexpr int kRounds = 3;

// Device buffers that live for one choice.
struct Scratch
{
    void* p = nullptr;
    explicit Scratch(size_t bytes, const char* what) : p(deviceMalloc(bytes, what)) {}
    ~Scratch() { cudaFree(p); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
};

struct Events
{
    cudaEvent_t start = nullptr, end = nullptr;
    Events()
    {
        FAIRKV_CUDA(cudaEventCreate(&start));
        FAIRKV_CUDA(cudaEventCreate(&end));
    }
    ~Events()
    {
        cudaEventDestroy(start);
        cudaEventDestroy(end);
    }
    Events(const Events&) = delete;
    Events& operator=(const Events&) = delete;
};
} // namespace

struct GemmChoice::Entry
{
    std::unique_ptr<LtProduct> product;
    std::optional<cublasLtMatmulAlgo_t> algo; // none: cublasGemmEx
    Chosen summary;
};

GemmChoice::GemmChoice(cublasHandle_t blas)
    : m_blas(blas)
{
}

GemmChoice::~GemmChoice()
{
    m_entries.clear(); // descriptors before the handle they were made with
    if (m_workspace)
        cudaFree(m_workspace);
    if (m_lt)
        cublasLtDestroy(static_cast<cublasLtHandle_t>(m_lt));
}

void GemmChoice::choose(int rows, int n, int k, const std::vector<const void*>& weights, cudaStream_t stream)
{
    const auto key = std::make_tuple(rows, n, k);
    if (weights.empty() || rows <= 0 || n <= 0 || k <= 0 || m_entries.count(key))
        return;
    if (!m_lt) {
        cublasLtHandle_t lt = nullptr;
        FAIRKV_CUBLAS(cublasLtCreate(&lt));
        m_lt = lt;
        m_workspace = deviceMalloc(kWorkspaceBytes, "cuBLASLt's workspace");
    }
    auto entry = std::make_unique<Entry>();
    entry->product = std::make_unique<LtProduct>(static_cast<cublasLtHandle_t>(m_lt), rows, n, k, kWorkspaceBytes);
    const std::vector<cublasLtMatmulAlgo_t> candidates = entry->product->candidates({1, 2, 4});
    Scratch x(size_t(rows) * k * 2, "the GEMM choice's input"), y(size_t(rows) * n * 4, "the GEMM choice's output");
    FAIRKV_CUDA(cudaMemsetAsync(x.p, 0, size_t(rows) * k * 2, stream));
    // Candidate -1 is cublasGemmEx; each runs the product over every weight of the shape in turn,
    // as a step reads them (so none finds its weights in L2).
    const auto runAll = [&](int c) {
        for (const void* w : weights)
            if (c < 0)
                gemmBf16(m_blas, x.p, w, static_cast<float*>(y.p), rows, n, k, stream);
            else
                entry->product->run(candidates[size_t(c)], x.p, w, static_cast<float*>(y.p), m_workspace, stream);
    };
    const int count = int(candidates.size());
    std::vector<std::vector<float>> ms(size_t(count) + 1);
    std::vector<bool> usable(size_t(count) + 1, true);
    Events ev;
    for (int c = -1; c < count; ++c) { // loads every kernel before anything is timed
        if (c < 0) {
            runAll(c);
            continue;
        }
        try { // a configuration cublasLtMatmulAlgoCheck accepted may still refuse to run: not a candidate
            runAll(c);
        } catch (const fairkv::Error&) {
            usable[size_t(c + 1)] = false;
        }
    }
    FAIRKV_CUDA(cudaStreamSynchronize(stream)); // a kernel that failed is reported here, not in a step
    for (int round = 0; round < kRounds; ++round)
        for (int c = -1; c < count; ++c) { // rounds alternate over the candidates: drift hits all alike
            if (!usable[size_t(c + 1)])
                continue;
            FAIRKV_CUDA(cudaEventRecord(ev.start, stream));
            runAll(c);
            FAIRKV_CUDA(cudaEventRecord(ev.end, stream));
            FAIRKV_CUDA(cudaEventSynchronize(ev.end));
            float t = 0;
            FAIRKV_CUDA(cudaEventElapsedTime(&t, ev.start, ev.end));
            ms[size_t(c + 1)].push_back(t);
        }
    const auto median = [](std::vector<float> v) {
        std::sort(v.begin(), v.end());
        return double(v[v.size() / 2]);
    };
    Chosen& s = entry->summary;
    s.rows = rows;
    s.n = n;
    s.k = k;
    s.gemmExMs = s.chosenMs = median(ms[0]);
    s.routine = "cublasGemmEx";
    int best = -1;
    for (int c = 0; c < count; ++c)
        if (const double t = usable[size_t(c + 1)] ? median(ms[size_t(c + 1)]) : s.gemmExMs; t < s.chosenMs)
            s.chosenMs = t, best = c;
    if (best >= 0 && s.chosenMs < (1.0 - kMargin) * s.gemmExMs) {
        entry->algo = candidates[size_t(best)];
        s.routine = describe(*entry->algo);
    } else {
        s.chosenMs = s.gemmExMs;
    }
    m_entries.emplace(key, std::move(entry));
}

void GemmChoice::run(const void* x, const void* w, float* y, int rows, int n, int k, cudaStream_t stream) const
{
    const auto it = m_entries.find(std::make_tuple(rows, n, k));
    if (it == m_entries.end() || !it->second->algo) {
        gemmBf16(m_blas, x, w, y, rows, n, k, stream);
        return;
    }
    it->second->product->run(*it->second->algo, x, w, y, m_workspace, stream);
}

std::vector<GemmChoice::Chosen> GemmChoice::chosen() const
{
    std::vector<Chosen> out;
    for (const auto& [key, e] : m_entries)
        out.push_back(e->summary);
    return out;
}

} // namespace fairkv::cuda
