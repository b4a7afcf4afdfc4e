#include "common/overwrite_guard.h"

#include "common/error.h"

#include <cstring>
#include <fstream>

namespace fairkv {

bool isSqliteDatabase(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    char header[16] = {};
    return in.read(header, sizeof header) && std::memcmp(header, "SQLite format 3", 16) == 0;
}

void refuseToOverwriteDatabase(const std::string& path)
{
    if (isSqliteDatabase(path))
        throw Error(path + ": is a session database; not writing over it (choose another file)");
}

} // namespace fairkv
