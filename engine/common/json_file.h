#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace fairkv {

// The JSON document in `path`, read as `what` ("placement file", "stats file", ...); an Error
// naming the path when it is missing, a folder, unreadable or not valid JSON.
nlohmann::json readJsonFile(const std::string& path, const std::string& what);

} // namespace fairkv
