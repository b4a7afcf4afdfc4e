#pragma once
#include <string>

namespace fairkv {

// Whether `path` is an SQLite database (a FairKV session, or any other): no output is ever
// written over one, whatever name a dialog or an option gave it.
bool isSqliteDatabase(const std::string& path);

// Throws an Error naming `path` when it is an SQLite database.
void refuseToOverwriteDatabase(const std::string& path);

// The folder a new file at `path` would go into, when that folder does not exist; empty otherwise.
std::string missingFolderOf(const std::string& path);

} // namespace fairkv
