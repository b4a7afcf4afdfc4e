#include "common/output_path.h"

#include "common/error.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace fairkv {

bool isSqliteDatabase(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    char header[sizeof kSqliteHeader] = {};
    return in.read(header, sizeof header) && std::memcmp(header, kSqliteHeader, sizeof kSqliteHeader) == 0;
}

void refuseToOverwriteDatabase(const std::string& path)
{
    if (isSqliteDatabase(path))
        throw Error(path + ": is a session database; not writing over it (choose another file)");
}

std::string missingFolderOf(const std::string& path)
{
    namespace fs = std::filesystem;
    const fs::path folder = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
    std::error_code ec;
    return fs::is_directory(folder, ec) ? std::string() : folder.string();
}

void writeTextFile(const std::string& path, const std::string& text)
{
    refuseToOverwriteDatabase(path); // callers may have refused it up front; a session may have appeared since
    const std::string tmp = path + ".partial";
    std::error_code ec;
    const auto fail = [&](const std::string& why) {
        std::filesystem::remove(tmp, ec);
        throw Error(path + ": " + why);
    };
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (!out)
            fail("cannot write");
        out << text;
        out.close();
        if (!out)
            fail("write failed");
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec)
        fail("cannot write: " + ec.message());
}

} // namespace fairkv
