#pragma once
#include <string>
#include <vector>

namespace fairkv::cli {

int runCommand(const std::vector<std::string>& args);
int logitsCommand(const std::vector<std::string>& args);
int planCommand(const std::vector<std::string>& args);
int sessionsCommand(const std::vector<std::string>& args);
int compareCommand(const std::vector<std::string>& args);
int exportTraceCommand(const std::vector<std::string>& args);
int checkModelCommand(const std::vector<std::string>& args);
int makeModelCommand(const std::vector<std::string>& args);

// Writes `text` to `path` atomically (temporary file + rename); throws fairkv::Error.
void writeTextFile(const std::string& path, const std::string& text);

} // namespace fairkv::cli
