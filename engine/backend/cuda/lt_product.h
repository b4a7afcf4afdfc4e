#pragma once
// cuBLASLt for the decode products y[rows][n] (fp32) = x[rows][k] . W[n][k]^T (bf16 in, fp32
// accumulation): one product's descriptors, the algorithms its heuristic offers, their
// configurations varied (split-K, reduction scheme, CTA swizzling), and how to describe one. The
// engine chooses among them per shape (gemm_choice.h); the benchmarks sweep them.
#include "cublas_check.h"
#include "cuda_check.h"

#include <cublasLt.h>

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

namespace fairkv::cuda {

// One attribute of an algorithm: its configuration (ConfigGetAttribute) or a capability (CapGetAttribute).
template <typename T, typename Attr>
T algoAttribute(cublasStatus_t (*get)(const cublasLtMatmulAlgo_t*, Attr, void*, size_t, size_t*), const cublasLtMatmulAlgo_t& algo,
                Attr attr)
{
    T v{};
    size_t written = 0;
    FAIRKV_CUBLAS(get(&algo, attr, &v, sizeof v, &written));
    return v;
}

template <typename T>
T algoConfig(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoConfigAttributes_t attr)
{
    return algoAttribute<T>(cublasLtMatmulAlgoConfigGetAttribute, algo, attr);
}

template <typename T>
T algoCap(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoCapAttributes_t attr)
{
    return algoAttribute<T>(cublasLtMatmulAlgoCapGetAttribute, algo, attr);
}

inline std::string describe(const cublasLtMatmulAlgo_t& a)
{
    return "algo " + std::to_string(algoConfig<int32_t>(a, CUBLASLT_ALGO_CONFIG_ID)) + ", tile "
           + std::to_string(algoConfig<uint32_t>(a, CUBLASLT_ALGO_CONFIG_TILE_ID)) + ", stages "
           + std::to_string(algoConfig<uint32_t>(a, CUBLASLT_ALGO_CONFIG_STAGES_ID)) + ", split-K "
           + std::to_string(algoConfig<int32_t>(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM)) + ", reduction "
           + std::to_string(algoConfig<uint32_t>(a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME)) + ", swizzle "
           + std::to_string(algoConfig<uint32_t>(a, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING));
}

// One decode product's shape in cuBLASLt's terms (column-major: y^T[n][rows] = W^T' . x^T), and
// what runs it.
class LtProduct
{
public:
    LtProduct(cublasLtHandle_t lth, int rows, int n, int k, size_t workspaceBytes)
        : rows(rows), n(n), k(k), m_lth(lth), m_wsBytes(workspaceBytes)
    {
        FAIRKV_CUBLAS(cublasLtMatmulDescCreate(&m_desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
        const cublasOperation_t opT = CUBLAS_OP_T;
        FAIRKV_CUBLAS(cublasLtMatmulDescSetAttribute(m_desc, CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof opT));
        FAIRKV_CUBLAS(cublasLtMatrixLayoutCreate(&m_a, CUDA_R_16BF, uint64_t(k), uint64_t(n), int64_t(k)));
        FAIRKV_CUBLAS(cublasLtMatrixLayoutCreate(&m_b, CUDA_R_16BF, uint64_t(k), uint64_t(rows), int64_t(k)));
        FAIRKV_CUBLAS(cublasLtMatrixLayoutCreate(&m_c, CUDA_R_32F, uint64_t(n), uint64_t(rows), int64_t(n)));
        cublasLtMatmulPreference_t pref;
        FAIRKV_CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
        FAIRKV_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &m_wsBytes, sizeof m_wsBytes));
        cublasLtMatmulHeuristicResult_t results[32];
        int found = 0;
        const cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(lth, m_desc, m_a, m_b, m_c, m_c, pref, 32, results, &found);
        cublasLtMatmulPreferenceDestroy(pref);
        FAIRKV_CUBLAS(s);
        for (int i = 0; i < found; ++i)
            if (results[i].state == CUBLAS_STATUS_SUCCESS)
                heuristic.push_back(results[i].algo);
    }
    ~LtProduct()
    {
        cublasLtMatrixLayoutDestroy(m_a);
        cublasLtMatrixLayoutDestroy(m_b);
        cublasLtMatrixLayoutDestroy(m_c);
        cublasLtMatmulDescDestroy(m_desc);
    }
    LtProduct(const LtProduct&) = delete;
    LtProduct& operator=(const LtProduct&) = delete;

    // Every heuristic result with its split-K count, reduction scheme and CTA swizzling varied:
    // the configurations cublasLtMatmulAlgoCheck accepts within the workspace, each once.
    std::vector<cublasLtMatmulAlgo_t> configs(std::initializer_list<int32_t> splitKs) const
    {
        std::vector<cublasLtMatmulAlgo_t> out;
        std::set<std::string> seen;
        for (const cublasLtMatmulAlgo_t& base : heuristic)
            addVariants(base, splitKs, true, out, seen);
        return out;
    }
    // Beyond the heuristic: every algorithm cuBLASLt lists for these types and every heuristic
    // result, each with every tile size it lists (at its stages) and every stage count (at its tile),
    // each split-K count and each reduction scheme it supports: the configurations cublasLtMatmulAlgoCheck
    // accepts within the workspace (the benchmark's --every-algo screens them; hundreds to thousands).
    std::vector<cublasLtMatmulAlgo_t> everyAlgorithm(std::initializer_list<int32_t> splitKs) const
    {
        // Bases: each algorithm cublasLtMatmulAlgoGetIds lists (on the H100 it lists the older
        // ones, not the sm90 algorithm the heuristic picks), and each heuristic result.
        std::vector<cublasLtMatmulAlgo_t> bases = heuristic;
        int ids[512];
        int count = 0;
        FAIRKV_CUBLAS(cublasLtMatmulAlgoGetIds(m_lth, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16BF, CUDA_R_16BF, CUDA_R_32F, CUDA_R_32F,
                                               512, ids, &count));
        for (int i = 0; i < count; ++i) {
            cublasLtMatmulAlgo_t base;
            if (cublasLtMatmulAlgoInit(m_lth, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16BF, CUDA_R_16BF, CUDA_R_32F, CUDA_R_32F, ids[i], &base)
                == CUBLAS_STATUS_SUCCESS)
                bases.push_back(base);
        }
        const auto listed = [](const cublasLtMatmulAlgo_t& a, cublasLtMatmulAlgoCapAttributes_t attr, uint32_t none) {
            size_t bytes = 0;
            std::vector<uint32_t> v;
            if (cublasLtMatmulAlgoCapGetAttribute(&a, attr, nullptr, 0, &bytes) == CUBLAS_STATUS_SUCCESS && bytes >= sizeof(uint32_t)) {
                v.resize(bytes / sizeof(uint32_t));
                cublasLtMatmulAlgoCapGetAttribute(&a, attr, v.data(), bytes, &bytes);
            }
            if (v.empty())
                v.push_back(none);
            return v;
        };
        std::vector<cublasLtMatmulAlgo_t> out;
        std::set<std::string> seen;
        for (const cublasLtMatmulAlgo_t& base : bases) {
            const uint32_t baseTile = algoConfig<uint32_t>(base, CUBLASLT_ALGO_CONFIG_TILE_ID);
            const uint32_t baseStages = algoConfig<uint32_t>(base, CUBLASLT_ALGO_CONFIG_STAGES_ID);
            // Every tile at the base's stages, and every stage count at the base's tile.
            std::vector<std::pair<uint32_t, uint32_t>> shapes;
            for (uint32_t tile : listed(base, CUBLASLT_ALGO_CAP_TILE_IDS, CUBLASLT_MATMUL_TILE_UNDEFINED))
                shapes.push_back({tile, baseStages});
            for (uint32_t stages : listed(base, CUBLASLT_ALGO_CAP_STAGES_IDS, CUBLASLT_MATMUL_STAGES_UNDEFINED))
                shapes.push_back({baseTile, stages});
            for (const auto& [tile, stages] : shapes) {
                cublasLtMatmulAlgo_t a = base;
                cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile);
                cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof stages);
                addVariants(a, splitKs, false, out, seen);
            }
        }
        return out;
    }

    // The heuristic's results as they are and each configuration above, the heuristic's own first.
    std::vector<cublasLtMatmulAlgo_t> candidates(std::initializer_list<int32_t> splitKs) const
    {
        std::vector<cublasLtMatmulAlgo_t> out;
        std::set<std::string> seen;
        for (const cublasLtMatmulAlgo_t& a : heuristic)
            if (seen.insert(describe(a)).second)
                out.push_back(a);
        for (const cublasLtMatmulAlgo_t& a : configs(splitKs))
            if (seen.insert(describe(a)).second)
                out.push_back(a);
        return out;
    }

    void run(const cublasLtMatmulAlgo_t& algo, const void* x, const void* w, float* y, void* workspace, cudaStream_t stream) const
    {
        const float one = 1.0f, zero = 0.0f;
        FAIRKV_CUBLAS(cublasLtMatmul(m_lth, m_desc, &one, w, m_a, x, m_b, &zero, y, m_c, y, m_c, &algo, workspace, m_wsBytes, stream));
    }

    const int rows, n, k; // the shape the descriptors describe
    std::vector<cublasLtMatmulAlgo_t> heuristic; // what cublasLtMatmulAlgoGetHeuristic offers (up to 32), first choice first

private:
    // `base` with each split-K count, each reduction scheme it supports (none without split-K) and,
    // with `swizzle`, each CTA swizzling: those accepted within the workspace and not yet `seen`.
    void addVariants(const cublasLtMatmulAlgo_t& base, std::initializer_list<int32_t> splitKs, bool swizzle,
                     std::vector<cublasLtMatmulAlgo_t>& out, std::set<std::string>& seen) const
    {
        const bool splitK = algoCap<int32_t>(base, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT) != 0;
        const uint32_t reductions = algoCap<uint32_t>(base, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK);
        const uint32_t swizzles = swizzle && algoCap<uint32_t>(base, CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT) ? 2 : 1;
        for (int32_t k : splitKs)
            for (uint32_t red : {0u, 1u, 2u, 4u}) { // none, in place, compute type, output type
                if ((k > 1 && !splitK) || (k == 1) != (red == 0) || (red && !(reductions & red)))
                    continue;
                for (uint32_t sw = 0; sw < swizzles; ++sw) {
                    cublasLtMatmulAlgo_t a = base;
                    cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &k, sizeof k);
                    cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red, sizeof red);
                    if (swizzle)
                        cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &sw, sizeof sw);
                    if (accepts(a) && seen.insert(describe(a)).second)
                        out.push_back(a);
                }
            }
    }

    bool accepts(const cublasLtMatmulAlgo_t& a) const
    {
        cublasLtMatmulHeuristicResult_t check{};
        return cublasLtMatmulAlgoCheck(m_lth, m_desc, m_a, m_b, m_c, m_c, &a, &check) == CUBLAS_STATUS_SUCCESS
               && check.workspaceSize <= m_wsBytes;
    }

    cublasLtHandle_t m_lth;
    size_t m_wsBytes;
    cublasLtMatmulDesc_t m_desc = nullptr;
    cublasLtMatrixLayout_t m_a = nullptr, m_b = nullptr, m_c = nullptr;
};

} // namespace fairkv::cuda
