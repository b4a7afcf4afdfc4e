#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fairkv::cli {

int runCommand(const std::vector<std::string>& args);
int logitsCommand(const std::vector<std::string>& args);
int planCommand(const std::vector<std::string>& args);
int sessionsCommand(const std::vector<std::string>& args);
int compareCommand(const std::vector<std::string>& args);
int exportTraceCommand(const std::vector<std::string>& args);
int reportCommand(const std::vector<std::string>& args);
int checkModelCommand(const std::vector<std::string>& args);
int makeModelCommand(const std::vector<std::string>& args);

// Ends a progress line left open on the terminal, so that a warning or an error starts a line of
// its own (a no-op when none is open).
void endProgressLine();

// A run number from the command line; `what` names the option in the error.
int64_t runId(const std::string& text, const char* what);

} // namespace fairkv::cli
