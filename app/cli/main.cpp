#include "cli_args.h"
#include "commands.h"
#include "common/error.h"
#include "common/json_file.h"
#ifdef FAIRKV_HAVE_CUDA_BACKEND
#include "backend/cuda/cuda_rank.h"
#endif

#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>

namespace {

const char* kUsage = R"(usage: fairkv <command> [options]

FairKV Studio's headless engine: decode with per-head compressed KV over tensor-parallel ranks.

commands:
  run          prefill, compress, decode and measure (design §5 JSON with --json)
  plan         plan a placement from per-unit KV statistics (uniform, fairkv-assign, fairkv-copy)
  sessions     list the runs of a session file (.fkv)
  compare      two runs of a session side by side
  export-trace a run's trace as Chrome/Perfetto JSON
  report       a comparison report of stored runs (HTML, PDF, CSV, JSON)
  logits       reference forward of a token sequence, logits of every position
  check-model  validate an HF checkpoint folder and print its shape
  make-model   write a built-in shape with synthetic weights as an HF checkpoint

'fairkv <command> --help' lists a command's options.
)";

// An error is one line on the terminal: messages quote names from the user's files (a placement's
// name, a model_type), whose newlines or escape sequences would break it or restyle the terminal.
std::string oneLine(const char* what)
{
    return fairkv::withoutControls(what, '?');
}
} // namespace

int main(int argc, char** argv)
{
    using namespace fairkv::cli;
    // Over a file-size limit (ulimit -f) a write then fails, and the command says which file, instead
    // of being killed half way through writing it.
    std::signal(SIGXFSZ, SIG_IGN);
#ifdef FAIRKV_HAVE_CUDA_BACKEND
    fairkv::cuda::CudaRank::registerBackend();
#endif
    const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
        {"run", runCommand},
        {"plan", planCommand},
        {"sessions", sessionsCommand},
        {"compare", compareCommand},
        {"export-trace", exportTraceCommand},
        {"report", reportCommand},
        {"logits", logitsCommand},
        {"check-model", checkModelCommand},
        {"make-model", makeModelCommand},
    };
    std::string names; // for the one-line refusals below
    for (const auto& entry : commands)
        names += (names.empty() ? "" : ", ") + entry.first;
    if (argc < 2) { // the usage to read, and the one line on stderr that every refusal gives
        std::fputs(kUsage, stdout);
        std::cerr << "fairkv: no command given (" << names << ")\n";
        return 2;
    }
    std::string name = argv[1];
    std::vector<std::string> args(argv + 2, argv + argc);
    if (name == "help" && argc == 3) { // "fairkv help run": the command's help
        name = argv[2];
        args = {"--help"};
    } else if (name == "--help" || name == "-h" || name == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    auto it = commands.find(name);
    if (it == commands.end()) {
        std::cerr << "fairkv: unknown command '" << name << "' (" << names << ")\n";
        return 2;
    }
    try {
        return it->second(args);
    } catch (const UsageError& e) {
        fairkv::cli::endProgressLine();
        std::cerr << "fairkv " << name << ": " << oneLine(e.what()) << "\n";
        return 2;
    } catch (const fairkv::Error& e) {
        fairkv::cli::endProgressLine();
        std::cerr << "fairkv " << name << ": " << oneLine(e.what()) << "\n";
        return 1;
    } catch (const std::bad_alloc&) {
        fairkv::cli::endProgressLine();
        std::cerr << "fairkv " << name << ": out of memory\n";
        return 1;
    } catch (const std::exception& e) {
        fairkv::cli::endProgressLine();
        std::cerr << "fairkv " << name << ": " << oneLine(e.what()) << "\n";
        return 1;
    }
}
