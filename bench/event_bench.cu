// What a CUDA timing event costs a stream, and how fast the host queues launches: 400 launches of
// a busy kernel (132 blocks, a dependent chain of 200 or 2000 multiply-adds per thread) back to
// back, with one or two timing events between them, one event without timing, and one timing event
// every 8th launch. GPU time per launch from events around the whole sequence, host time per
// launch from the host clock around the queueing. The decode step executor times its pieces with
// events; this is why it shares one event per boundary (docs/gpu-decode-benchmark.md).
//   fairkv-bench-events [--out FILE.md]
#include "gpu_bench_util.cuh"

#include "backend/cuda/cuda_check.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <vector>

namespace {

__global__ void spin(float* p, int iters)
{
    float a = p[threadIdx.x];
    for (int i = 0; i < iters; ++i)
        a = a * 0.999f + 0.001f;
    if (a == 12345.f)
        p[threadIdx.x] = a;
}

const char* const kModes[] = {"back to back", "1 timing event between", "2 timing events between", "1 event without timing between",
                              "1 timing event after every 8th"};

} // namespace

using fairkv::bench::emitTable;

int main(int argc, char** argv)
{
    std::string outPath;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--out") && i + 1 < argc) {
            outPath = argv[++i];
        } else {
            std::cerr << "usage: fairkv-bench-events [--out FILE.md]\n";
            return 2;
        }
    }
    try {
        float* p = nullptr;
        FAIRKV_CUDA(cudaMalloc(&p, 4096));
        FAIRKV_CUDA(cudaMemset(p, 0, 4096));
        cudaStream_t s;
        FAIRKV_CUDA(cudaStreamCreate(&s));
        const int n = 400;
        std::vector<cudaEvent_t> ev(2 * n + 2), evn(2 * n + 2);
        for (auto& e : ev)
            FAIRKV_CUDA(cudaEventCreate(&e));
        for (auto& e : evn)
            FAIRKV_CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
        cudaDeviceProp prop{};
        FAIRKV_CUDA(cudaGetDeviceProperties(&prop, 0));
        std::ostringstream md;
        md << "# The cost of a timing event\n\nDevice: " << prop.name
           << ". Command: `fairkv-bench-events`. 400 launches of a busy kernel (132 blocks of 128 threads, a dependent "
              "chain of multiply-adds), third of three repetitions. GPU µs per launch from events around the sequence; "
              "host µs per launch from the host clock around the queueing.\n\n"
              "| chain | between launches | GPU µs per launch | host µs per launch |\n|---|---|---|---|\n";
        for (int iters : {200, 2000}) {
            for (int mode = 0; mode < 5; ++mode) {
                for (int rep = 0; rep < 3; ++rep) {
                    FAIRKV_CUDA(cudaDeviceSynchronize());
                    const auto t0 = std::chrono::steady_clock::now();
                    FAIRKV_CUDA(cudaEventRecord(ev[0], s));
                    for (int i = 0; i < n; ++i) {
                        spin<<<132, 128, 0, s>>>(p, iters);
                        if (mode == 1)
                            FAIRKV_CUDA(cudaEventRecord(ev[size_t(1 + i)], s));
                        if (mode == 2) {
                            FAIRKV_CUDA(cudaEventRecord(ev[size_t(1 + 2 * i)], s));
                            FAIRKV_CUDA(cudaEventRecord(ev[size_t(2 + 2 * i)], s));
                        }
                        if (mode == 3)
                            FAIRKV_CUDA(cudaEventRecord(evn[size_t(1 + i)], s));
                        if (mode == 4 && i % 8 == 7)
                            FAIRKV_CUDA(cudaEventRecord(ev[size_t(1 + i)], s));
                    }
                    FAIRKV_CUDA(cudaEventRecord(ev[size_t(2 * n + 1)], s));
                    const auto t1 = std::chrono::steady_clock::now();
                    FAIRKV_CUDA(cudaGetLastError());
                    FAIRKV_CUDA(cudaEventSynchronize(ev[size_t(2 * n + 1)]));
                    float ms = 0;
                    FAIRKV_CUDA(cudaEventElapsedTime(&ms, ev[0], ev[size_t(2 * n + 1)]));
                    if (rep == 2) {
                        char row[200];
                        std::snprintf(row, sizeof row, "| %d | %s | %.1f | %.1f |\n", iters, kModes[mode], 1000.0 * ms / n,
                                      std::chrono::duration<double, std::micro>(t1 - t0).count() / n);
                        md << row;
                    }
                }
            }
        }
        emitTable(md.str(), outPath);
    } catch (const std::exception& e) {
        std::cerr << "fairkv-bench-events: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
