// Weight conversion benchmark: the host side of installing one decoder layer of a shape on the GPU
// (q/k/v rows, o_proj columns, gate/up rows, down columns of one rank's shard, to bf16). The engine
// gathers them straight into bf16 on all cores (cuda::toBf16 over spans, as CudaRank::uploadLayer
// builds them); beside it the way session 5 did it, reproduced here: fp32 copies of the shard,
// then one core converting. No GPU needed; the upload itself (PCIe) is not timed.
//   fairkv-bench-upload [--model NAME] [--ranks N] [--out FILE.md]
#include "backend/cuda/device_memory.h"
#include "model/model_config.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

using namespace fairkv;

namespace {

double msSince(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct Layer // one layer's fp32 weights, row-major as the model holds them
{
    size_t H, qRows, kvRows, inter;
    std::vector<float> wq, wk, wv, wo, wg, wu, wd;
};

// Session 5's path: the shard gathered into fp32 vectors, then converted by one core.
size_t serialWithCopies(const Layer& l, size_t begin, size_t end)
{
    const size_t H = l.H, n = end - begin;
    std::vector<float> qkv(l.wq.begin(), l.wq.end());
    qkv.insert(qkv.end(), l.wk.begin(), l.wk.end());
    qkv.insert(qkv.end(), l.wv.begin(), l.wv.end());
    std::vector<float> o(l.wo.begin(), l.wo.end());
    std::vector<float> gu(l.wg.begin() + long(begin * H), l.wg.begin() + long(end * H));
    gu.insert(gu.end(), l.wu.begin() + long(begin * H), l.wu.begin() + long(end * H));
    std::vector<float> down(H * n);
    for (size_t r = 0; r < H; ++r)
        std::copy_n(l.wd.data() + r * l.inter + begin, n, down.begin() + long(r * n));
    size_t check = 0;
    for (const std::vector<float>* v : {&qkv, &o, &gu, &down}) {
        std::vector<uint16_t> out(v->size());
        for (size_t i = 0; i < v->size(); ++i)
            out[i] = floatToBf16((*v)[i]);
        check += out[out.size() / 2];
    }
    return check;
}

// The engine's path: spans of the model's rows, converted in parallel pieces.
size_t spansOnAllCores(const Layer& l, size_t begin, size_t end)
{
    const size_t H = l.H, n = end - begin;
    using cuda::FloatSpan;
    std::vector<FloatSpan> qkv = {{l.wq.data(), l.wq.size()}, {l.wk.data(), l.wk.size()}, {l.wv.data(), l.wv.size()}}, o, down;
    for (size_t r = 0; r < H; ++r)
        o.push_back({l.wo.data() + r * l.qRows, l.qRows});
    std::vector<FloatSpan> gu = {{l.wg.data() + begin * H, n * H}, {l.wu.data() + begin * H, n * H}};
    for (size_t r = 0; r < H; ++r)
        down.push_back({l.wd.data() + r * l.inter + begin, n});
    size_t check = 0;
    for (const std::vector<FloatSpan>* s : {&qkv, &o, &gu, &down}) {
        const auto out = cuda::toBf16(*s);
        check += out[out.size() / 2];
    }
    return check;
}

} // namespace

int main(int argc, char** argv)
{
    std::string model = "llama-3.1-8b", out;
    int ranks = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--model" && i + 1 < argc)
            model = argv[++i];
        else if (a == "--ranks" && i + 1 < argc)
            ranks = std::max(1, std::atoi(argv[++i]));
        else if (a == "--out" && i + 1 < argc)
            out = argv[++i];
        else {
            std::cerr << "usage: fairkv-bench-upload [--model NAME] [--ranks N] [--out FILE.md]\n";
            return 2;
        }
    }
    const ModelConfig c = ModelConfig::builtin(model, 1);
    Layer l;
    l.H = size_t(c.hiddenSize);
    l.inter = size_t(c.intermediateSize);
    // One rank's share of the heads (whole KV heads with their query heads) and of the MLP.
    const size_t kvHeads = std::max<size_t>(1, size_t(c.numKvHeads) / size_t(ranks));
    l.kvRows = kvHeads * size_t(c.headDim);
    l.qRows = l.kvRows * size_t(c.groupSize());
    auto fill = [](std::vector<float>& v, size_t n, float scale) {
        v.resize(n);
        for (size_t i = 0; i < n; ++i)
            v[i] = scale * float(int(i % 2003) - 1001);
    };
    fill(l.wq, l.qRows * l.H, 1e-3f);
    fill(l.wk, l.kvRows * l.H, 2e-3f);
    fill(l.wv, l.kvRows * l.H, 3e-3f);
    fill(l.wo, l.H * l.qRows, 4e-3f);
    fill(l.wg, l.inter * l.H, 5e-3f);
    fill(l.wu, l.inter * l.H, 6e-3f);
    fill(l.wd, l.H * l.inter, 7e-3f);
    const size_t begin = 0, end = l.inter / size_t(ranks);
    const double shardMiB = double(l.qRows + 2 * l.kvRows + 3 * (end - begin)) * l.H * 4 / (1 << 20) + double(l.H * l.qRows) * 4 / (1 << 20);

    // Median of 3 after a pass that is not counted (the first pays for fresh pages, which depends on
    // what ran before it in the process).
    auto time = [&](auto&& f) {
        std::vector<double> ms;
        size_t check = 0;
        for (int i = 0; i < 4; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            check += f(l, begin, end);
            ms.push_back(msSince(t0));
        }
        std::vector<double> warm(ms.begin() + 1, ms.end());
        std::sort(warm.begin(), warm.end());
        if (check == 1)
            std::cerr << "";
        return warm[1];
    };
    const auto before = time(serialWithCopies);
    const auto now = time(spansOnAllCores);
    std::ostringstream md;
    md << "# Weight conversion on the host\n\n"
       << "Command: `fairkv-bench-upload --model " << model << " --ranks " << ranks
       << "`. One decoder layer's shard of rank 0 (" << ranks << " rank" << (ranks > 1 ? "s" : "") << ", "
       << std::to_string(int(shardMiB)) << " MiB of fp32) converted to bf16 on the host, as the CUDA backend does before "
       << "uploading it; the PCIe copy is not timed. " << std::thread::hardware_concurrency()
       << " cores. Median of three passes after one not counted.\n\n"
       << "| path | ms |\n|---|---|\n";
    char row[200];
    std::snprintf(row, sizeof row, "| fp32 copies of the shard, then one core (session 5) | %.0f |\n", before);
    md << row;
    std::snprintf(row, sizeof row, "| spans of the model's rows, all cores (cuda::toBf16) | %.0f |\n", now);
    md << row;
    std::cout << md.str();
    if (!out.empty())
        std::ofstream(out) << md.str();
    return 0;
}
