// GPU benchmark (issue 6, first part): the HBM ceiling measured in the same run (device-to-device
// copy, streaming read) and the ragged decode attention kernel's bandwidth over batch 1/16/64,
// budgets 128-2048, GQA and per-query-head units, with Ada-SnapKV lengths; plus a correctness check
// of the kernel against a float64 reference. Plain program (no Qt): runs on the GPU machine as is.
//   fairkv-bench-gpu [--out FILE.md] [--events-only]
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/decode_attention.h"
#include "gpu_bench_util.cuh"
#include "cupti_tracer.h"
#include "common/dtype.h"
#include "common/rng.h"
#include "kv/synthetic_attention.h"
#include "model/model_config.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace fairkv;
using fairkv::cuda::KvView;
using namespace fairkv::bench;

namespace {

struct Pool
{
    uint16_t* base = nullptr;
    size_t elems = 0;
    ~Pool() { cudaFree(base); }
};

// Kernel time as CUPTI measures it on the GPU (first kernel start to last kernel end of one call),
// and the time between CUDA events recorded around the call, medians of `reps` calls. Before every
// call L2 is evicted by reading a buffer twice its size with the default cache policy (reading, so
// no dirty lines are left for the timed kernel to write back), so K and V come from HBM as in a
// decode step, where the other layers' weights and KV pass through L2 between two visits of a layer.
struct Cold
{
    profiler::TraceBuffer trace;
    std::unique_ptr<profiler::CuptiTracer> tracer; // none under a profiler that holds CUPTI (ncu): events only
    void* evict = nullptr;
    size_t evictBytes = 0;
    uint32_t* sink = nullptr;
    int smCount = 0;
    Cold(const cudaDeviceProp& prop, bool cupti) : evictBytes(std::max<size_t>(size_t(prop.l2CacheSize) * 2, size_t(64) << 20))
    {
        if (cupti)
            tracer = std::make_unique<profiler::CuptiTracer>(&trace);
        FAIRKV_CUDA(cudaMalloc(&evict, evictBytes));
        FAIRKV_CUDA(cudaMalloc(&sink, 4));
        fillBf16<<<1024, 256>>>(static_cast<__nv_bfloat16*>(evict), evictBytes / 2, 7);
        smCount = prop.multiProcessorCount;
    }
    ~Cold()
    {
        cudaFree(evict);
        cudaFree(sink);
    }

    struct Times
    {
        double kernelMs = 0, eventMs = 0;
        double firstMs = 0; // the call's first kernel alone (its start to its end)
    };
    template <typename F>
    Times run(F&& body, int reps = 20)
    {
        body(); // warm-up, untagged: CUPTI drops it
        FAIRKV_CUDA(cudaDeviceSynchronize());
        if (tracer)
            tracer->flush();
        trace.records.clear();
        cudaEvent_t a, b;
        FAIRKV_CUDA(cudaEventCreate(&a));
        FAIRKV_CUDA(cudaEventCreate(&b));
        std::vector<double> events;
        for (int i = 0; i < reps; ++i) {
            readAll(evict, evictBytes, sink, smCount); // untagged: not traced
            FAIRKV_CUDA(cudaEventRecord(a));
            if (tracer)
                tracer->push(0, i, 0, -1, profiler::Phase::Attention);
            body();
            if (tracer)
                tracer->pop();
            FAIRKV_CUDA(cudaEventRecord(b));
            FAIRKV_CUDA(cudaEventSynchronize(b));
            float ms = 0;
            FAIRKV_CUDA(cudaEventElapsedTime(&ms, a, b));
            events.push_back(ms);
        }
        cudaEventDestroy(a);
        cudaEventDestroy(b);
        auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        if (!tracer)
            return {median(events), median(events), median(events)};
        FAIRKV_CUDA(cudaDeviceSynchronize());
        tracer->flush();
        std::map<int, std::pair<int64_t, int64_t>> span, first; // call -> first start, last end; first kernel
        for (const auto& r : trace.records) {
            auto [it, fresh] = span.try_emplace(r.step, r.startNs, r.endNs);
            auto [f, freshFirst] = first.try_emplace(r.step, r.startNs, r.endNs);
            if (!fresh) {
                it->second.first = std::min(it->second.first, r.startNs);
                it->second.second = std::max(it->second.second, r.endNs);
            }
            if (!freshFirst && r.startNs < f->second.first)
                f->second = {r.startNs, r.endNs};
        }
        if (int(span.size()) != reps)
            throw Error("CUPTI recorded kernels of " + std::to_string(span.size()) + " of " + std::to_string(reps) + " calls");
        std::vector<double> kernels, firsts;
        for (const auto& [call, se] : span)
            kernels.push_back(double(se.second - se.first) / 1e6);
        for (const auto& [call, se] : first)
            firsts.push_back(double(se.second - se.first) / 1e6);
        trace.records.clear();
        return {median(kernels), median(events), median(firsts)};
    }
};

// Per-pair K and V placed in one pool, each pair in its own region (as ragged blocks are).
std::vector<KvView> placePairs(Pool& pool, const std::vector<int>& lengths, int dim, uint32_t seed)
{
    size_t total = 0;
    for (int len : lengths)
        total += size_t(len) * dim * 2;
    if (pool.elems < total) {
        cudaFree(pool.base);
        FAIRKV_CUDA(cudaMalloc(&pool.base, std::max<size_t>(total, 1) * 2));
        pool.elems = total;
    }
    fillBf16<<<1024, 256>>>(reinterpret_cast<__nv_bfloat16*>(pool.base), total, seed);
    FAIRKV_CUDA(cudaGetLastError());
    std::vector<KvView> views;
    size_t at = 0;
    for (int len : lengths) {
        KvView v;
        v.keys = pool.base + at;
        at += size_t(len) * dim;
        v.values = pool.base + at;
        at += size_t(len) * dim;
        v.length = len;
        views.push_back(v);
    }
    return views;
}

// Float64 reference of the kernel on the same bf16 data; returns max |out - ref| / max |ref|.
double checkAgainstReference(int group, int dim, const std::vector<int>& lengths)
{
    Pool pool;
    const auto views = placePairs(pool, lengths, dim, 99);
    const int pairs = int(lengths.size());
    std::vector<float> q(size_t(pairs) * group * dim);
    Rng rng(5);
    for (float& x : q)
        x = float(rng.normal());
    float *dq = nullptr, *dout = nullptr;
    FAIRKV_CUDA(cudaMalloc(&dq, q.size() * 4));
    FAIRKV_CUDA(cudaMalloc(&dout, q.size() * 4));
    FAIRKV_CUDA(cudaMemcpy(dq, q.data(), q.size() * 4, cudaMemcpyHostToDevice));
    FAIRKV_CUDA(cudaMemset(dout, 0xff, q.size() * 4)); // poison: every output must be written
    cuda::RaggedDecodeAttention attn;
    attn.prepare(views, group, dim);
    const float scale = 1.0f / std::sqrt(float(dim));
    attn.launch(dq, dout, scale);
    FAIRKV_CUDA(cudaDeviceSynchronize());
    std::vector<float> out(q.size());
    FAIRKV_CUDA(cudaMemcpy(out.data(), dout, out.size() * 4, cudaMemcpyDeviceToHost));
    std::vector<uint16_t> host(pool.elems);
    FAIRKV_CUDA(cudaMemcpy(host.data(), pool.base, host.size() * 2, cudaMemcpyDeviceToHost));
    double worst = 0, scaleRef = 0;
    size_t at = 0;
    for (int p = 0; p < pairs; ++p) {
        const size_t len = size_t(lengths[size_t(p)]);
        const uint16_t* K = host.data() + at;
        const uint16_t* V = K + len * dim;
        at += 2 * len * dim;
        for (int g = 0; g < group; ++g) {
            const float* qq = q.data() + (size_t(p) * group + g) * dim;
            std::vector<double> s(len);
            double mx = -1e300;
            for (size_t j = 0; j < len; ++j) {
                double d = 0;
                for (int i = 0; i < dim; ++i)
                    d += double(qq[i]) * bf16ToFloat(K[j * dim + i]);
                s[j] = d * scale;
                mx = std::max(mx, s[j]);
            }
            double sum = 0;
            for (double& x : s)
                sum += x = std::exp(x - mx);
            for (int i = 0; i < dim; ++i) {
                double r = 0;
                for (size_t j = 0; j < len; ++j)
                    r += s[j] / sum * bf16ToFloat(V[j * dim + i]);
                if (len == 0)
                    r = 0;
                const double o = out[(size_t(p) * group + g) * dim + i];
                if (!std::isfinite(o))
                    return INFINITY;
                worst = std::max(worst, std::abs(o - r));
                scaleRef = std::max(scaleRef, std::abs(r));
            }
        }
    }
    cudaFree(dq);
    cudaFree(dout);
    return worst / std::max(scaleRef, 1e-30);
}

} // namespace

int main(int argc, char** argv)
{
    std::string out = "gpu-benchmark.md";
    bool cupti = true;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--out" && i + 1 < argc)
            out = argv[++i];
        else if (std::string(argv[i]) == "--events-only") // under ncu, which holds CUPTI itself
            cupti = false;
    }
    cudaDeviceProp prop{};
    FAIRKV_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::ostringstream md;
    md << "# GPU benchmark\n\nDevice: " << prop.name << ", " << prop.multiProcessorCount << " SMs, "
       << (prop.totalGlobalMem >> 30) << " GiB. Command: `fairkv-bench-gpu --out docs/gpu-benchmark.md` (built here with "
          "CUDA 13.0 for sm_90, run on the lent GPU machine). Kernel times are measured by CUPTI (kernel activity: the "
          "kernel's start and end on the GPU), with L2 evicted before every call so the data come from HBM, medians of "
          "20 after a warm-up (L2 is evicted by reading a buffer twice its size, which leaves no dirty lines to write back). "
          "Beside them, the time between CUDA events recorded around each call: the kernel plus the gap between it and the "
          "eviction kernel queued before it.\n\n";

    // Correctness first.
    const std::vector<int> ragged = {1, 7, 64, 65, 300, 0, 1023, 2500, 129, 3};
    // fp32 path (G = 1): fp32 q and softmax, 2e-3. Tensor-core path (G >= 2): q and P rounded to
    // bf16 for the MMAs, fp32 accumulation: the bf16 band of 1e-2.
    double worstErr = 0, worstFp32 = 0, worstMma = 0;
    std::ostringstream perConfig;
    for (int g : {1, 2, 4, 8})
        for (int d : {64, 128}) {
            const double e = checkAgainstReference(g, d, ragged);
            (g == 1 ? worstFp32 : worstMma) = std::max(g == 1 ? worstFp32 : worstMma, e);
            perConfig << "G=" << g << " D=" << d << ": " << fmt(e, 6) << "; ";
            std::printf("decode attention G=%d D=%d vs float64 reference: max error %.3g\n", g, d, e);
        }
    const bool correct = worstFp32 < 2e-3 && worstMma < 1e-2;
    worstErr = correct ? 0.0 : 1.0;
    md << "## Correctness\n\nRagged decode attention against a float64 reference on the same bf16 K/V, lengths "
          "{1, 7, 64, 65, 300, 0, 1023, 2500, 129, 3}, output poisoned before the run; max error relative to the largest "
          "output: " << perConfig.str() << "**" << (correct ? "pass" : "FAIL") << "** (G = 1: fp32 path, limit 2e-3; "
          "G >= 2: tensor cores with q and P in bf16, limit 1e-2).\n\n";

    // HBM ceiling.
    const size_t bytes = size_t(2) << 30;
    void *a = nullptr, *b = nullptr;
    FAIRKV_CUDA(cudaMalloc(&a, bytes));
    FAIRKV_CUDA(cudaMalloc(&b, bytes));
    fillBf16<<<1024, 256>>>(static_cast<__nv_bfloat16*>(a), bytes / 2, 1);
    const double copyMs = medianMs([&] { FAIRKV_CUDA(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice)); });
    const double copyGBs = 2.0 * bytes / (copyMs * 1e6);
    const double readGBs = measureReadGBs(bytes, prop.multiProcessorCount);
    std::printf("HBM: device-to-device copy %.0f GB/s (read + write), streaming read %.0f GB/s\n", copyGBs, readGBs);
    md << "## HBM ceiling (same run)\n\n| measure | GB/s |\n|---|---|\n| device-to-device copy of 2 GiB, bytes read + written | "
       << fmt(copyGBs, 0) << " |\n| streaming read of 2 GiB (16-byte loads, up to four in flight per thread) | " << fmt(readGBs, 0) << " |\n\n";

    // What one kernel can read at the sizes of the attention cells: the ramp-up and drain of a
    // short kernel cost a fixed few microseconds that a 2 GiB copy does not see.
    Cold cold(prop, cupti);
    md << "Streaming read of smaller buffers (the same kernel: one wave of 8 blocks of 256 threads per SM, up to four independent "
          "16-byte loads per thread, cold L2, CUPTI "
          "kernel time): what a kernel reading that many bytes reaches.\n\n"
          "| MiB | kernel µs | GB/s | % of copy |\n|---|---|---|---|\n";
    uint32_t* sink = nullptr;
    FAIRKV_CUDA(cudaMalloc(&sink, 4));
    for (size_t mib : {8, 32, 64, 128, 512}) {
        const size_t n = mib << 20;
        const auto t = cold.run([&] { readAll(a, n, sink, prop.multiProcessorCount); });
        const double gbs = double(n) / (t.kernelMs * 1e6);
        md << "| " << mib << " | " << fmt(t.kernelMs * 1000, 1) << " | " << fmt(gbs, 0) << " | " << fmt(100 * gbs / copyGBs, 1) << "% |\n";
        std::printf("streaming read %4zu MiB: %7.1f us  %6.0f GB/s\n", mib, t.kernelMs * 1000, gbs);
    }
    md << "\n";
    cudaFree(sink);
    cudaFree(a);
    cudaFree(b);

    // Attention grid.
    md << "## Ragged decode attention\n\nOne rank holding all units of one layer of the llama-3.3-70b shape (8 KV heads, "
          "64 query heads, head_dim 128): GQA units (8 pairs per request, 8 query heads each) or per-query-head units (64 "
          "pairs per request, one head each, each with its own KV). Lengths per (request, unit) from Ada-SnapKV on synthetic "
          "attention (`syntheticKvLengths`, prompt 2 x budget, at least 1024). Bandwidth = (K + V of every retained token + q "
          "+ out) / CUPTI kernel time, from the split-KV kernel's start to the end of the kernel that merges the pairs cut "
          "over several blocks (started by programmatic dependent launch while the first still runs; split-KV µs is the "
          "first alone). Target: at least 85% of the measured copy bandwidth for batch >= 16 and budget >= 512. "
          "Blocks: one wave, each with an equal share of the rows; items: the pieces of pairs those shares make.\n\n"
          "| units | batch | budget | KV MiB | blocks | items | kernel µs | split-KV µs | GB/s | % of copy | target | events µs |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    const ModelConfig shape = ModelConfig::builtin("llama-3.3-70b", 1);
    Pool pool;
    int pass = 0, cells = 0;
    for (const char* modeName : {"gqa", "per-query-head"}) {
        const UnitMode mode = unitModeFromName(modeName);
        const int group = mode == UnitMode::Gqa ? shape.groupSize() : 1;
        for (int budget : {128, 256, 512, 1024, 2048}) {
            CompressionOptions c;
            c.policy = CompressionPolicy::AdaSnapKV;
            c.budget = budget;
            const auto len64 = syntheticKvLengths(shape, mode, c, 64, std::clamp(2 * budget, 1024, 4096), 3);
            for (int batch : {1, 16, 64}) {
                std::vector<int> lengths;
                for (int r = 0; r < batch; ++r)
                    for (double l : len64[size_t(r)][0])
                        lengths.push_back(int(l));
                const auto views = placePairs(pool, lengths, 128, uint32_t(budget * 7 + batch));
                const size_t qElems = lengths.size() * size_t(group) * 128;
                float *dq = nullptr, *dout = nullptr;
                FAIRKV_CUDA(cudaMalloc(&dq, qElems * 4));
                FAIRKV_CUDA(cudaMalloc(&dout, qElems * 4));
                FAIRKV_CUDA(cudaMemset(dq, 0, qElems * 4));
                cuda::RaggedDecodeAttention attn;
                attn.prepare(views, group, 128);
                const auto t = cold.run([&] { attn.launch(dq, dout, 0.088f); });
                const double ms = t.kernelMs;
                const double gbs = double(attn.minimumBytes()) / (ms * 1e6);
                const bool target = batch >= 16 && budget >= 512;
                const bool ok = gbs >= 0.85 * copyGBs;
                cells += target;
                pass += target && ok;
                double kvMiB = 0;
                for (int l : lengths)
                    kvMiB += double(l) * 512 / (1 << 20);
                md << "| " << modeName << " | " << batch << " | " << budget << " | " << fmt(kvMiB, 1) << " | " << attn.blocks()
                   << " | " << attn.items() << " | " << fmt(ms * 1000, 1) << " | " << fmt(t.firstMs * 1000, 1) << " | " << fmt(gbs, 0) << " | "
                   << fmt(100 * gbs / copyGBs, 1) << "% | " << (target ? (ok ? "pass" : "**miss**") : "—") << " | "
                   << fmt(t.eventMs * 1000, 1) << " |\n";
                std::printf("%-15s batch %2d budget %4d: %8.1f us  %6.0f GB/s  %5.1f%% of copy\n", modeName, batch, budget,
                            ms * 1000, gbs, 100 * gbs / copyGBs);
                cudaFree(dq);
                cudaFree(dout);
            }
        }
    }
    md << "\nCells at the target: " << pass << " / " << cells << ".\n";
    std::ofstream(out) << md.str();
    std::printf("attention target cells passed: %d / %d\nwrote %s\n", pass, cells, out.c_str());
    return worstErr == 0.0 ? 0 : 1;
}
