// The decode step's matrix products against the HBM read ceiling: for the llama-3.1-8b shapes at
// batch 1, 16 and 64, what cublasGemmEx (the engine's with --gemm cublas) and each cuBLASLt algorithm its
// heuristic offers reach, as weight bytes over time. Weights rotate over copies that together
// exceed twice the L2, so every product reads its weight from HBM as in a real step, and the
// products of a pass are one CUDA graph, so launch gaps are not counted (the step is a graph too).
#include "gpu_bench_util.cuh"

#include "backend/cuda/cublas_check.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/lt_product.h"

#include <cublasLt.h>
#include <cublas_v2.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <sstream>

using namespace fairkv;
using namespace fairkv::bench;
using fairkv::cuda::LtProduct;
using fairkv::cuda::describe;

namespace {

struct Shape
{
    const char* name;
    int n, k;
    int perStep; // products of this shape in one decode step of the 32-layer model
};

} // namespace

int main(int argc, char** argv)
{
    std::string outPath;
    bool sweep = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--out") && i + 1 < argc)
            outPath = argv[++i];
        else if (!std::strcmp(argv[i], "--sweep"))
            sweep = true;
        else if (!std::strcmp(argv[i], "--help")) {
            std::cout << "usage: fairkv-bench-gemm [--sweep] [--out FILE.md]\n"
                         "  --sweep: also every heuristic algorithm with split-K 1-32, each reduction scheme and CTA swizzling\n";
            return 0;
        } else {
            std::cerr << "fairkv-bench-gemm: unknown option " << argv[i] << "\n";
            return 2;
        }
    }
    try {
        cudaDeviceProp prop{};
        FAIRKV_CUDA(cudaGetDeviceProperties(&prop, 0));
        const double readGBs = measureReadGBs(size_t(1) << 30, prop.multiProcessorCount);
        const Shape shapes[] = {{"q/k/v", 6144, 4096, 32}, {"o_proj", 4096, 4096, 32}, {"gate/up", 28672, 4096, 32},
                                {"down", 4096, 14336, 32}, {"lm_head", 128256, 4096, 1}};
        const int batches[] = {1, 16, 64};
        // Per batch, a whole step's products: weight bytes over the read bandwidth, and the time at
        // cublasGemmEx's and at the best algorithm's bandwidth.
        double floorMs[3] = {}, exMs[3] = {}, bestMs[3] = {}, sweptMs[3] = {};
        cublasHandle_t blas;
        cublasLtHandle_t lth;
        FAIRKV_CUBLAS(cublasCreate(&blas));
        FAIRKV_CUBLAS(cublasLtCreate(&lth));
        const size_t wsBytes = size_t(32) << 20;
        void *ws = nullptr, *blasWs = nullptr;
        FAIRKV_CUDA(cudaMalloc(&ws, wsBytes));
        FAIRKV_CUDA(cudaMalloc(&blasWs, wsBytes));
        cudaStream_t stream;
        FAIRKV_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
        FAIRKV_CUBLAS(cublasSetWorkspace(blas, blasWs, wsBytes));
        std::ostringstream md;
        md << "# Decode GEMMs against the HBM read ceiling\n\nDevice: " << prop.name
           << ". Command: `fairkv-bench-gemm`. y[batch][n] (fp32) = x[batch][k] . W[n][k]^T, bf16 inputs, fp32 "
              "accumulation, the llama-3.1-8b decode shapes. Weight bytes over time (median of 10 passes over copies of "
              "W that together exceed twice the L2, so each product reads W from HBM; each pass is one CUDA graph, "
              "timed by events around its launch). Streaming read measured in the same run: "
           << fmt(readGBs, 0)
           << " GB/s. Columns: cublasGemmEx with CUBLAS_GEMM_DEFAULT (the engine's with --gemm cublas), cuBLASLt's first heuristic "
              "choice, and the fastest of up to 32 algorithms the heuristic offers (32 MiB workspace)"
           << (sweep ? "; swept: the fastest of those algorithms with split-K 1-32, every reduction scheme and CTA swizzling "
                       "(each configuration cublasLtMatmulAlgoCheck accepts), its output checked against cublasGemmEx's"
                     : "")
           << ".\n\n| product | batch | W MiB | GemmEx GB/s | Lt first GB/s | Lt best GB/s (of n) | best / read |"
           << (sweep ? " swept GB/s (of n) | swept / read | swept configuration | max rel. diff |" : "") << "\n|---|---|---|---|---|---|---|"
           << (sweep ? "---|---|---|---|" : "") << "\n";
        for (const Shape& s : shapes)
            for (int bi = 0; bi < 3; ++bi) {
                const int m = batches[bi];
                const size_t wBytes = size_t(s.n) * s.k * 2;
                const int copies = int(std::max<size_t>(2, (size_t(200) << 20) / wBytes + 1));
                std::vector<void*> w(static_cast<size_t>(copies));
                for (void*& p : w) {
                    FAIRKV_CUDA(cudaMalloc(&p, wBytes));
                    fillBf16<<<1024, 256>>>(static_cast<__nv_bfloat16*>(p), wBytes / 2, 7, 0.05f);
                }
                void* x = nullptr;
                float* y = nullptr;
                FAIRKV_CUDA(cudaMalloc(&x, size_t(m) * s.k * 2));
                FAIRKV_CUDA(cudaMalloc(&y, size_t(m) * s.n * 4));
                fillBf16<<<64, 256>>>(static_cast<__nv_bfloat16*>(x), size_t(m) * s.k, 9);
                auto gbs = [&](auto&& one) {
                    cudaGraphExec_t pass = captureGraph(stream, [&] {
                        for (int c = 0; c < copies; ++c)
                            one(w[size_t(c)]);
                    });
                    const double ms = medianMs([&] { FAIRKV_CUDA(cudaGraphLaunch(pass, stream)); }, 10, stream);
                    cudaGraphExecDestroy(pass);
                    return double(wBytes) * copies / (ms * 1e6);
                };
                const double ex = gbs([&](void* wp) { cuda::gemmBf16(blas, x, wp, y, m, s.n, s.k, stream); });
                const LtProduct lp(lth, m, s.n, s.k, wsBytes);
                double first = 0, best = 0;
                int tried = 0;
                for (const cublasLtMatmulAlgo_t& a : lp.heuristic) {
                    ++tried;
                    const double g = gbs([&](void* wp) { lp.run(a, x, wp, y, ws, stream); });
                    if (tried == 1)
                        first = g;
                    best = std::max(best, g);
                }
                const double stepBytes = double(wBytes) * s.perStep;
                floorMs[bi] += stepBytes / (readGBs * 1e6);
                exMs[bi] += stepBytes / (ex * 1e6);
                bestMs[bi] += stepBytes / (best * 1e6);
                md << "| " << s.name << " | " << m << " | " << fmt(double(wBytes) / (1 << 20), 0) << " | " << fmt(ex, 0)
                   << " | " << fmt(first, 0) << " | " << fmt(best, 0) << " (" << tried << ") | "
                   << fmt(100.0 * best / readGBs, 1) << "% |";
                if (sweep) {
                    const auto configs = lp.configs({1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32});
                    double swept = 0;
                    const cublasLtMatmulAlgo_t* winner = nullptr;
                    for (const cublasLtMatmulAlgo_t& a : configs) {
                        const double g = gbs([&](void* wp) { lp.run(a, x, wp, y, ws, stream); });
                        if (g > swept)
                            swept = g, winner = &a;
                    }
                    if (!winner) { // nothing the check accepted ran: no row to claim, no step total
                        md << " – (" << configs.size() << ") | – | – | – |";
                        sweptMs[bi] = NAN;
                    } else {
                        // The winner computes what cublasGemmEx computes (fp32 sums in another order).
                        std::vector<float> ref(size_t(m) * s.n), got(size_t(m) * s.n);
                        cuda::gemmBf16(blas, x, w[0], y, m, s.n, s.k, stream);
                        FAIRKV_CUDA(cudaMemcpyAsync(ref.data(), y, ref.size() * 4, cudaMemcpyDeviceToHost, stream));
                        FAIRKV_CUDA(cudaMemsetAsync(y, 0xff, ref.size() * 4, stream));
                        lp.run(*winner, x, w[0], y, ws, stream);
                        FAIRKV_CUDA(cudaMemcpyAsync(got.data(), y, got.size() * 4, cudaMemcpyDeviceToHost, stream));
                        FAIRKV_CUDA(cudaStreamSynchronize(stream));
                        double maxRef = 0, maxDiff = 0;
                        for (size_t i = 0; i < ref.size(); ++i) {
                            maxRef = std::max(maxRef, double(std::fabs(ref[i])));
                            const double d = std::fabs(double(ref[i]) - double(got[i]));
                            maxDiff = std::isnan(d) ? INFINITY : std::max(maxDiff, d);
                        }
                        sweptMs[bi] += stepBytes / (swept * 1e6);
                        md << " " << fmt(swept, 0) << " (" << configs.size() << ") | " << fmt(100.0 * swept / readGBs, 1) << "% | "
                           << describe(*winner) << " | " << maxDiff / std::max(maxRef, 1e-30) << " |";
                    }
                }
                md << "\n";
                std::cerr << s.name << " batch " << m << " done\n";
                for (void* p : w)
                    cudaFree(p);
                cudaFree(x);
                cudaFree(y);
            }
        md << "\nA whole decode step's products (32 layers of q/k/v, o_proj, gate/up and down, then lm_head), "
              "from the rates above: weight bytes over the read bandwidth (floor), and the time at each column's rate.\n\n"
              "| batch | floor ms | GemmEx ms (x floor) | Lt best ms (x floor) | best saves |"
           << (sweep ? " swept ms (x floor) | swept saves |\n|---|---|---|---|---|---|---|\n" : "\n|---|---|---|---|---|\n");
        for (int bi = 0; bi < 3; ++bi) {
            md << "| " << batches[bi] << " | " << fmt(floorMs[bi], 3) << " | " << fmt(exMs[bi], 3) << " ("
               << fmt(exMs[bi] / floorMs[bi], 3) << ") | " << fmt(bestMs[bi], 3) << " (" << fmt(bestMs[bi] / floorMs[bi], 3)
               << ") | " << fmt(100.0 * (exMs[bi] - bestMs[bi]) / exMs[bi], 1) << "% |";
            if (sweep)
                md << " " << fmt(sweptMs[bi], 3) << " (" << fmt(sweptMs[bi] / floorMs[bi], 3) << ") | "
                   << fmt(100.0 * (exMs[bi] - sweptMs[bi]) / exMs[bi], 1) << "% |";
            md << "\n";
        }
        emitTable(md.str(), outPath);
    } catch (const std::exception& e) {
        std::cerr << "fairkv-bench-gemm: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
