#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace fairkv {

// How a file is read. Python: as Python's json reads it, so a config.json or safetensors index reads
// as transformers reads it: a repeated key's last value wins, and the literals NaN, Infinity and
// -Infinity that json.dump writes are accepted (as the strings "NaN", "Infinity", "-Infinity": a
// key nothing reads may hold them, a key read as a number names them). Strict: our own formats, where
// a repeated key is an error (a stats or placement file that says c_tok_ms twice is ambiguous).
enum class JsonDialect { Python, Strict };

// The JSON document in `path`, read as `what` ("placement file", "stats file", ...); an Error
// naming the path when it is missing, a folder, unreadable, larger than maxBytes or not valid JSON.
nlohmann::json readJsonFile(const std::string& path, const std::string& what, uint64_t maxBytes = uint64_t(256) << 20,
                            JsonDialect dialect = JsonDialect::Strict);

// One pass over JSON text: whether it is valid, how deep it nests, the first key its top-level
// object repeats and the keys nested objects repeat (the DOM parser keeps the last silently).
// Linear in the text, unlike nlohmann's parser callbacks, which walk an object's parent every time
// the object ends; it keeps the keys of the open objects only. With maxDepth, text nested deeper
// stops the scan there: not valid, and `tooDeep`.
struct JsonScan
{
    bool valid = false;
    bool tooDeep = false;
    int depth = 0;
    std::string repeatedKey;                // of the top-level object
    std::vector<std::string> repeatedInner; // of nested objects, as paths ("layers[0][1].unit"); the first 8
};
JsonScan scanJson(std::string_view text, int maxDepth = 0);

// `text` with control bytes and bytes beyond ASCII written as \xNN: a parser's message quotes
// what it last read, which may be binary and must not reach a terminal raw.
std::string printable(std::string_view text);
// `text` with every control character (C0, DEL, and C1 as UTF-8, CSI among them), every
// bidirectional override or isolate and the Unicode line and paragraph separators replaced by
// `with`, and each byte that is not UTF-8 by U+FFFD: a line a terminal (or a report) shows as
// written, which cannot restyle, reorder or break it.
std::string withoutControls(std::string text, char with);
// The UTF-8 character at text[at]: its length in bytes and its code point, or length 0 where the
// bytes there start no character (a stray or cut sequence, an overlong form, a surrogate).
size_t utf8At(std::string_view text, size_t at, char32_t& codePoint);
// `text` cut to at most `maxBytes` bytes at a character's start (UTF-8), then `mark` where it was
// cut: names, labels and legends that must fit, never ending half way through a character.
std::string cutUtf8(std::string text, size_t maxBytes, const std::string& mark = {});

// Whether `v` is an integer within [least, most] (non-negative integers parse as unsigned and are
// compared unsigned, so 2^64 - 1 never reads as -1), and whether it is a finite number within
// [least, most]: the tests the keyed reads below apply, for values in arrays.
bool jsonIsIntIn(const nlohmann::json& v, int64_t least, int64_t most);
// `v` as an error message quotes it: a number, true/false/null or a string (cut at 64 characters)
// as written; an array or object by its kind and size only, so a value nested a million levels
// deep or megabytes long never becomes the message (dumping it would recurse that deep).
std::string jsonBrief(const nlohmann::json& v);
bool jsonIsNumberIn(const nlohmann::json& v, double least, double most);

// Typed reads of one key of a JSON object. Each failure is one Error "SOURCE: 'key' ..." that
// names the key, what it must be and the value found. A key that is absent or null takes the
// fallback of the ...Or() reads.
int jsonInt(const nlohmann::json& j, const char* key, const std::string& source, int64_t least = 1,
            int64_t most = int64_t(1) << 30); // required; null is "must be an integer"; most <= INT_MAX
int jsonIntOr(const nlohmann::json& j, const char* key, int fallback, const std::string& source, int64_t least = 1,
              int64_t most = int64_t(1) << 30);
double jsonNumberOr(const nlohmann::json& j, const char* key, double fallback, const std::string& source,
                    double least = -std::numeric_limits<double>::infinity(),
                    double most = std::numeric_limits<double>::infinity()); // finite, within [least, most]
std::string jsonStringOr(const nlohmann::json& j, const char* key, const std::string& fallback, const std::string& source);
bool jsonBoolOr(const nlohmann::json& j, const char* key, bool fallback, const std::string& source);

} // namespace fairkv
