#include "common/json_file.h"

#include "common/error.h"

#include <filesystem>
#include <fstream>

namespace fairkv {

nlohmann::json readJsonFile(const std::string& path, const std::string& what)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw Error(path + ": is a folder, not a " + what);
    std::ifstream in(path);
    if (!in)
        throw Error(path + ": cannot open " + what);
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": " + what + " is not valid JSON (" + e.what() + ")");
    } catch (const std::exception& e) { // a read error of the stream
        throw Error(path + ": cannot read " + what + " (" + e.what() + ")");
    }
}

} // namespace fairkv
