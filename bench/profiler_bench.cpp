// Profiler benchmark (issue 4): a run of one million trace records written to a session, its
// per-rank aggregates, and opening the session and listing its runs. Writes docs/profiler-benchmark.md.
#include "aggregation.h"
#include "cpu_tracer.h"
#include "runtime/run.h"
#include "session_store.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

using namespace fairkv;
using namespace fairkv::profiler;

namespace {

double msSince(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// One million records shaped like a real trace: 8 ranks, 80 layers, per-unit kernels.
TraceBuffer millionRecords()
{
    TraceBuffer t;
    const uint32_t names[] = {t.intern("qkv_proj"), t.intern("decode_attention"), t.intern("o_proj"), t.intern("mlp_gate_up"),
                              t.intern("mlp_down"), t.intern("all_reduce")};
    int64_t clock = 1'000'000;
    for (int step = 0; t.records.size() < 1'000'000; ++step)
        for (int layer = 0; layer < 80 && t.records.size() < 1'000'000; ++layer) {
            for (int rank = 0; rank < 8; ++rank) {
                int64_t at = clock;
                for (int unit = rank * 8; unit < rank * 8 + 8; ++unit)
                    for (int k = 0; k < 3; ++k) {
                        TraceRecord r;
                        r.rank = rank;
                        r.device = 0;
                        r.stream = rank;
                        r.nameId = names[k];
                        r.startNs = at;
                        r.endNs = at += 2000 + 37 * ((unit * 7 + k + step) % 11);
                        r.step = step;
                        r.layer = layer;
                        r.unit = unit;
                        r.phase = Phase::Attention;
                        r.kind = RecordKind::Kernel;
                        t.records.push_back(r);
                    }
                for (int k = 3; k < 5; ++k) {
                    TraceRecord r;
                    r.rank = rank;
                    r.device = 0;
                    r.nameId = names[k];
                    r.startNs = at;
                    r.endNs = at += 20000;
                    r.step = step;
                    r.layer = layer;
                    r.phase = Phase::Mlp;
                    r.kind = RecordKind::Kernel;
                    t.records.push_back(r);
                }
            }
            TraceRecord c;
            c.nameId = names[5];
            c.startNs = clock + 200000;
            c.endNs = clock + 215000;
            c.step = step;
            c.layer = layer;
            c.phase = Phase::Collective;
            c.kind = RecordKind::Kernel;
            t.records.push_back(c);
            clock += 220000;
        }
    return t;
}

} // namespace

int main(int argc, char** argv)
{
    std::string out = "docs/profiler-benchmark.md";
    if (argc == 3 && std::string(argv[1]) == "--out")
        out = argv[2];
    const std::string file = (std::filesystem::temp_directory_path() / "fairkv-profiler-bench.fkv").string();
    for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(file + suffix);

    RunConfig cfg;
    cfg.ranks = 8;
    cfg.layers = 1;
    cfg.promptLen = 64;
    cfg.decode = 2;
    const RunResult run = runInference(cfg);
    const TraceBuffer trace = millionRecords();
    std::cerr << trace.records.size() << " records\n";

    auto t0 = std::chrono::steady_clock::now();
    const RunAggregate agg = aggregate(trace, 8);
    const double aggregateMs = msSince(t0);

    double insertMs = 0;
    int64_t id = 0;
    {
        auto s = SessionStore::open(file, SessionStore::Mode::ReadWrite);
        s->appendRun(run, TraceBuffer{}, Environment::detect()); // an earlier, small run
        t0 = std::chrono::steady_clock::now();
        id = s->appendRun(run, trace, Environment::detect());
        insertMs = msSince(t0);
    }
    t0 = std::chrono::steady_clock::now();
    auto view = SessionStore::open(file, SessionStore::Mode::ReadOnly);
    const auto runs = view->listRuns();
    const double openListMs = msSince(t0);
    t0 = std::chrono::steady_clock::now();
    const auto stored = view->loadLayerTimes(id);
    const double storedMs = msSince(t0);
    t0 = std::chrono::steady_clock::now();
    const TraceBuffer back = view->loadTrace(id);
    const double loadMs = msSince(t0);
    const auto bytes = std::filesystem::file_size(file);

    std::ostringstream md;
    md << "# Profiler benchmark\n\nProduced by `./build/bench/fairkv-bench-profiler` on this project's 2-core machine (issue 4). "
          "One run of " << trace.records.size() << " kernel records (8 ranks, 80 layers, 8 units per rank, "
       << agg.decodeSteps << " decode steps) written to a fresh session file that already holds one run.\n\n"
       << "| measure | time | target |\n|---|---|---|\n"
       << "| write the run: 1M records, per-layer aggregates, unit stats, metrics, one transaction | "
       << std::to_string(int(insertMs)) << " ms | < 2000 ms " << (insertMs < 2000 ? "**pass**" : "**fail**") << " |\n"
       << "| per-rank aggregates of the 1M-record run, from the records in memory | " << std::to_string(int(aggregateMs))
       << " ms | < 100 ms " << (aggregateMs < 100 ? "**pass**" : "**fail**") << " |\n"
       << "| per-rank aggregates of the run, read from the session (stored when written) | " << std::to_string(int(storedMs))
       << " ms | < 100 ms " << (storedMs < 100 ? "**pass**" : "**fail**") << " |\n"
       << "| open the session read-only and list its runs | " << std::to_string(int(openListMs)) << " ms | < 1000 ms "
       << (openListMs < 1000 ? "**pass**" : "**fail**") << " |\n"
       << "| load all 1M records of the run (for the timeline) | " << std::to_string(int(loadMs)) << " ms | — |\n\n"
       << "Session file: " << (bytes >> 20) << " MiB; " << runs.size() << " runs listed; " << back.records.size()
       << " records read back; " << stored.size() << " (step, layer) aggregates.\n";
    std::ofstream(out) << md.str();
    std::cout << md.str();
    for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(file + suffix);
    return 0;
}
