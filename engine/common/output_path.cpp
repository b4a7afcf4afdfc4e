#include "common/output_path.h"

#include "common/error.h"

#include <atomic>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace fairkv {

bool isSqliteDatabase(const std::string& path)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        return false;
    std::ifstream in(path, std::ios::binary);
    char header[sizeof kSqliteHeader] = {};
    return in.read(header, sizeof header) && std::memcmp(header, kSqliteHeader, sizeof kSqliteHeader) == 0;
}

namespace {

// The longest file name the folder of `path` takes (255 on the usual file systems).
size_t nameMax(const std::string& path)
{
    const long max = ::pathconf(folderOf(path).c_str(), _PC_NAME_MAX);
    return max > 0 ? size_t(max) : size_t(NAME_MAX);
}

constexpr const char* kPartial = ".partial";

} // namespace

std::string temporaryBeside(const std::string& path, size_t companionBytes)
{
    const std::string name = std::filesystem::path(path).filename().string();
    if (name.size() + std::strlen(kPartial) + companionBytes <= nameMax(path))
        return path + kPartial;
    static std::atomic<unsigned> serial{0}; // two writes of one process into one folder at once
    return (std::filesystem::path(folderOf(path))
            / (".fairkv-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) + kPartial))
        .string();
}

std::string nameTooLong(const std::string& path, size_t companionBytes)
{
    const std::string name = std::filesystem::path(path).filename().string();
    if (const size_t max = nameMax(path); name.size() + companionBytes > max)
        return "its name is " + std::to_string(name.size()) + " bytes long, more than the " + std::to_string(max - companionBytes)
            + " the file system takes in one name" + (companionBytes ? " beside the files SQLite keeps next to it" : "");
    if (path.size() >= PATH_MAX)
        return "the path is " + std::to_string(path.size()) + " bytes long, more than the " + std::to_string(PATH_MAX - 1)
            + " the system takes";
    return {};
}

std::string whyNotOutput(const std::string& path)
{
    namespace fs = std::filesystem;
    if (path == "-") // the usual name of standard output, which carries the command's summary
        return "is '-': outputs are written to files, and standard output carries the summary";
    if (std::string why = nameTooLong(path); !why.empty())
        return why;
    std::error_code ec;
    const auto target = fs::status(path, ec); // through a link: a dangling one is replaced, as before
    if (fs::exists(target) && !fs::is_regular_file(target) && !fs::is_directory(target))
        return "is not a regular file (a pipe, socket or device)";
    if (isSqliteDatabase(path))
        return "is a session database";
    // Written by a rename over it, a file the user may not write would be replaced all the same.
    if (fs::is_regular_file(target) && ::access(path.c_str(), W_OK) != 0)
        return "is read-only";
    for (const char* companion : {"-wal", "-shm", "-journal"}) {
        const std::string suffix = companion;
        if (path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0
            && isSqliteDatabase(path.substr(0, path.size() - suffix.size())))
            return "is the " + suffix.substr(1) + " file SQLite keeps beside the session database "
                + path.substr(0, path.size() - suffix.size());
    }
    return {};
}

void refuseUnsafeOutput(const std::string& path)
{
    if (const std::string why = nameTooLong(path); !why.empty())
        throw Error(path + ": " + why + " (choose a shorter name)");
    if (const std::string why = whyNotOutput(path); !why.empty())
        throw Error(path + ": " + why + "; not writing over it (choose another file)");
}

std::string folderOf(const std::string& path)
{
    const std::filesystem::path p(path);
    return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

std::string missingFolderOf(const std::string& path)
{
    const std::string folder = folderOf(path);
    std::error_code ec;
    return std::filesystem::is_directory(folder, ec) ? std::string() : folder;
}

namespace {

// Where writing `path` lands: through a link, the file it leads to (the link stays a link, as a
// shell's redirection leaves it; a rename over the link had replaced it with a plain file).
std::string writeTarget(const std::string& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(path, ec)))
        return path;
    if (fs::exists(path, ec)) {
        const fs::path real = fs::canonical(path, ec);
        return ec ? path : real.string();
    }
    const fs::path to = fs::read_symlink(path, ec); // dangling: the file it names is created
    if (ec)
        return path;
    return (to.is_absolute() ? to : fs::path(folderOf(path)) / to).string();
}

} // namespace

void writeTextFile(const std::string& given, const std::string& text)
{
    refuseUnsafeOutput(given); // callers may have refused it up front; a session may have appeared since
    const std::string path = writeTarget(given);
    if (path != given)
        refuseUnsafeOutput(path);
    const std::string tmp = temporaryBeside(path);
    std::error_code ec;
    // The file's permission bits stay as they were (a report replaced had become 0644 whatever it was).
    const auto existing = std::filesystem::status(path, ec);
    const bool keepMode = !ec && std::filesystem::is_regular_file(existing);
    ec.clear();
    const auto fail = [&](const std::string& why) {
        std::filesystem::remove(tmp, ec);
        throw Error(given + ": " + why);
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
    if (keepMode)
        std::filesystem::permissions(tmp, existing.permissions(), ec);
    ec.clear();
    std::filesystem::rename(tmp, path, ec);
    if (ec)
        fail("cannot write: " + ec.message());
}

void writeJsonFile(const std::string& path, const nlohmann::json& j, int indent)
{
    writeTextFile(path, j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

} // namespace fairkv
