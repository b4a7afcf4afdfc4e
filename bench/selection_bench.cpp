// What the Ada-SnapKV selection after a prefill layer costs on the host, per layer and request
// (pooling, the layer-wide top-k, each unit's top positions), on one core. Writes
// docs/selection-benchmark.md.
#include "common/rng.h"
#include "kv/compression.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

using namespace fairkv;

int main(int argc, char** argv)
{
    std::string out = "docs/selection-benchmark.md";
    if (argc == 3 && std::string(argv[1]) == "--out")
        out = argv[2];
    std::ostringstream md;
    md << "# KV selection on the host\n\nProduced by `./build/bench/fairkv-bench-selection`: `compressLayer` with "
          "Ada-SnapKV (budget = prompt / 4, window 32, max pooling over 7) on random window scores, one (layer, request) "
          "on one core, median of 15. The engine runs the requests of a layer on all cores.\n\n"
       << "| units | prompt | ms per layer and request |\n|---|---|---|\n";
    for (int units : {8, 32, 64})
        for (int len : {2048, 8192}) {
            Rng rng(uint64_t(units * 100000 + len));
            std::vector<std::vector<float>> scores(static_cast<size_t>(units), std::vector<float>(static_cast<size_t>(len)));
            for (auto& u : scores)
                for (float& v : u)
                    v = float(rng.uniform());
            CompressionOptions o;
            o.policy = CompressionPolicy::AdaSnapKV;
            o.budget = len / 4;
            std::vector<double> ms;
            size_t kept = 0;
            for (int i = 0; i < 15; ++i) {
                const auto t0 = std::chrono::steady_clock::now();
                kept += compressLayer(o, 0, 1, scores).kept[0].size();
                ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            }
            std::sort(ms.begin(), ms.end());
            char cell[32];
            std::snprintf(cell, sizeof cell, "%.2f", ms[ms.size() / 2]);
            md << "| " << units << " | " << len << " | " << cell << " |\n";
            if (kept == 0)
                return 1; // keeps the work observable
        }
    std::ofstream(out) << md.str();
    std::cout << md.str();
    return 0;
}
