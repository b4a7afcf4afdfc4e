#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace fairkv {

// The first 16 bytes of every SQLite database file (the text and its terminating NUL).
inline constexpr char kSqliteHeader[16] = "SQLite format 3";

// Whether `path` is an SQLite database (a FairKV session, or any other): no output is ever
// written over one, whatever name a dialog or an option gave it. False for what is not a regular
// file (reading a FIFO to find out would block).
bool isSqliteDatabase(const std::string& path);

// Why no file can be made at `path` for its length (a name longer than its folder's file system
// takes, with `companionBytes` to spare for the longest suffix of a file kept beside it, or a path
// longer than the system's limit), or "".
std::string nameTooLong(const std::string& path, size_t companionBytes = 0);

// Where to write `path`'s content before renaming it over `path`: beside it ("PATH.partial"), or a
// short name of its own in the same folder where that name (and a companion suffix of
// `companionBytes`, such as SQLite's "-journal") would be too long.
std::string temporaryBeside(const std::string& path, size_t companionBytes = 0);

// Why writing a file at `path` would destroy something or cannot be done for its name's length
// (nameTooLong()), or "" when neither: an SQLite
// database; the write-ahead log, shared-memory index or rollback journal SQLite keeps beside one
// (DB-wal, DB-shm, DB-journal: replacing one loses the runs not yet in the main file); or
// something other than a regular file (a FIFO, a device: the rename would replace the node).
std::string whyNotOutput(const std::string& path);

// Throws an Error naming `path` when whyNotOutput() objects to it.
void refuseUnsafeOutput(const std::string& path);

// Writes `text` to `path` through a temporary file renamed over it, so a failed write leaves what
// was there; never over an SQLite database. An Error names the path.
void writeTextFile(const std::string& path, const std::string& text);

// `j` as writeTextFile() writes it, with a newline; `indent` as nlohmann's dump() takes it. Text that
// is not UTF-8 (a label or kernel name from a damaged session) is written with U+FFFD in its place
// instead of failing the whole file.
void writeJsonFile(const std::string& path, const nlohmann::json& j, int indent = -1);

// The folder a new file at `path` goes into ("." for a bare name).
std::string folderOf(const std::string& path);
// folderOf(path) when that folder does not exist; empty otherwise.
std::string missingFolderOf(const std::string& path);

} // namespace fairkv
