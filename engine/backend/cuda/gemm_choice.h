#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace fairkv::cuda {

class LtProduct;

// Which routine runs each decode product y[rows][n] (fp32) = x[rows][k] . W[n][k]^T of a rank:
// cublasGemmEx, or the cuBLASLt configuration (an algorithm the heuristic offers, with split-K 1, 2
// or 4, a reduction scheme, CTA swizzling) that was fastest over the rank's own weights of that
// shape, timed one after another as a decode step reads them. Chosen inside the whole step graph
// (the bench, on the H100), choices like these saved 1.1-3.9% of the 8B step
// (docs/gpu-decode-benchmark.md, session 15): cublasGemmEx's own choice for these thin products is
// not the fastest. This per-shape choice over the weights alone (the engine's default, --gemm auto)
// made the engine's 8B step 2.6-3.3% faster there (session 16). A shape keeps cublasGemmEx unless a
// configuration beats it by more than the timing's noise. Choosing runs kernels and waits for them:
// call it off the timed path (the step executor does, before a warm-up pass).
class GemmChoice
{
public:
    // `blas`: the handle cublasGemmEx runs on (its stream is set per call).
    explicit GemmChoice(cublasHandle_t blas);
    ~GemmChoice();
    GemmChoice(const GemmChoice&) = delete;
    GemmChoice& operator=(const GemmChoice&) = delete;

    // Chooses for (rows, n, k) unless already chosen: times cublasGemmEx and each configuration over
    // `weights` (every [n][k] matrix of that shape the step reads, in step order) on `stream`, each
    // timed run with L2 evicted and queued whole before it starts; three alternating rounds pick
    // the fastest median, which then meets cublasGemmEx in seven fresh rounds and must beat it by
    // 1% there. A shape without cuBLASLt algorithms keeps cublasGemmEx. Synchronises `stream`.
    void choose(int rows, int n, int k, const std::vector<const void*>& weights, cudaStream_t stream);
    // y = x . W^T by the shape's choice; a shape never chosen runs cublasGemmEx.
    void run(const void* x, const void* w, float* y, int rows, int n, int k, cudaStream_t stream) const;

    struct Chosen
    {
        int rows = 0, n = 0, k = 0;
        std::string routine;       // "cublasGemmEx" or the cuBLASLt configuration (describe())
        double gemmExMs = 0.0;     // over the shape's weights, median of the rounds
        double chosenMs = 0.0;
        double chooseWallMs = 0.0; // what choosing this shape took, on the host clock
        bool onCublasLt() const { return routine != "cublasGemmEx"; }
    };
    std::vector<Chosen> chosen() const;

private:
    struct Entry;
    cublasHandle_t m_blas;
    void* m_lt = nullptr;        // cublasLtHandle_t
    void* m_workspace = nullptr; // device bytes for split-K configurations
    std::map<std::tuple<int, int, int>, std::unique_ptr<Entry>> m_entries;
};

} // namespace fairkv::cuda
