#pragma once
#include <string>

namespace fairkv {

// The first 16 bytes of every SQLite database file (the text and its terminating NUL).
inline constexpr char kSqliteHeader[16] = "SQLite format 3";

// Whether `path` is an SQLite database (a FairKV session, or any other): no output is ever
// written over one, whatever name a dialog or an option gave it.
bool isSqliteDatabase(const std::string& path);

// Throws an Error naming `path` when it is an SQLite database.
void refuseToOverwriteDatabase(const std::string& path);

// Writes `text` to `path` through a temporary file renamed over it, so a failed write leaves what
// was there; never over an SQLite database. An Error names the path.
void writeTextFile(const std::string& path, const std::string& text);

// The folder a new file at `path` would go into, when that folder does not exist; empty otherwise.
std::string missingFolderOf(const std::string& path);

} // namespace fairkv
