// What the Ada-SnapKV selection after a prefill layer costs (pooling, the layer-wide top-k, each
// unit's top positions): per request on one host core, for a batch of 16 on all host cores
// (CpuLayerCompressor, what the CPU backend runs), and on the GPU (DeviceLayerCompressor, what the
// CUDA backend runs: upload of the window scores and download of the kept positions included)
// when the bench is built with CUDA and a GPU is present. Writes docs/selection-benchmark.md.
#include "common/rng.h"
#include "kv/compression.h"
#include "kv/layer_compressor.h"
#ifdef FAIRKV_HAVE_CUDA_BACKEND
#include "backend/cuda/kv_selection.h"
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

using namespace fairkv;

namespace {

double medianMs(int reps, const std::function<size_t()>& work)
{
    std::vector<double> ms;
    size_t kept = 0;
    for (int i = 0; i < reps; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        kept += work();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    if (kept == 0)
        throw std::runtime_error("nothing kept"); // keeps the work observable
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

std::string cell(double v)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", v);
    return text;
}

} // namespace

int main(int argc, char** argv)
{
    std::string out = "docs/selection-benchmark.md";
    if (argc == 3 && std::string(argv[1]) == "--out")
        out = argv[2];
    std::unique_ptr<LayerCompressor> gpu;
    std::string gpuName = "no GPU";
#ifdef FAIRKV_HAVE_CUDA_BACKEND
    int devices = 0;
    if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0) {
        cudaDeviceProp prop{};
        cudaGetDeviceProperties(&prop, 0);
        gpuName = prop.name;
        gpu = std::make_unique<cuda::DeviceLayerCompressor>(0);
    }
#endif
    const int batch = 16;
    std::ostringstream md;
    md << "# KV selection after a prefill layer\n\nProduced by `fairkv-bench-selection`: Ada-SnapKV (budget = prompt / 4, "
          "window 32, max pooling over 7) on random window scores, median of 9. Host: "
       << std::thread::hardware_concurrency() << " cores; GPU: " << gpuName
       << ". The GPU column includes the upload of the window scores and the download of the kept positions (the "
          "CUDA backend's path, `DeviceLayerCompressor`); both give the same selections.\n\n"
       << "| units | prompt | host ms, 1 request, 1 core | host ms, " << batch << " requests, all cores | GPU ms, " << batch
       << " requests |\n|---|---|---|---|---|\n";
    for (int units : {8, 32, 64})
        for (int len : {2048, 8192}) {
            Rng rng(uint64_t(units * 100000 + len));
            std::vector<std::vector<std::vector<float>>> scores(
                static_cast<size_t>(batch),
                std::vector<std::vector<float>>(static_cast<size_t>(units), std::vector<float>(static_cast<size_t>(len))));
            for (auto& r : scores)
                for (auto& u : r)
                    for (float& v : u)
                        v = float(rng.uniform());
            CompressionOptions o;
            o.policy = CompressionPolicy::AdaSnapKV;
            o.budget = len / 4;
            const double one = medianMs(9, [&] { return compressLayer(o, 0, 1, scores[0]).kept[0].size(); });
            CpuLayerCompressor host;
            const double all = medianMs(9, [&] { return host.compress(o, 0, 1, scores)[0].kept[0].size(); });
            std::string gpuCell = "—";
            if (gpu) {
                gpu->compress(o, 0, 1, scores); // buffers and sort kernels loaded
                gpuCell = cell(medianMs(9, [&] { return gpu->compress(o, 0, 1, scores)[0].kept[0].size(); }));
            }
            md << "| " << units << " | " << len << " | " << cell(one) << " | " << cell(all) << " | " << gpuCell << " |\n";
        }
    std::ofstream(out) << md.str();
    std::cout << md.str();
    return 0;
}
