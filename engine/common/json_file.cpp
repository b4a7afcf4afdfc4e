#include "common/json_file.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unordered_set>
#include <vector>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace fairkv {

JsonScan scanJson(std::string_view text, int maxDepth)
{
    constexpr size_t kShortObject = 16, kMaxRepeats = 8, kNamedLevels = 64;
    struct Sax final : nlohmann::json::json_sax_t
    {
        // One open container: its path for messages, the next index of an array, an object's keys
        // (a list while short, a set beside it once long).
        struct Level
        {
            bool object = false;
            int64_t index = 0;
            std::string path;
            std::vector<std::string> keys;
            std::unordered_set<std::string> set;
        };
        JsonScan scan;
        int maxDepth = 0;
        std::vector<Level> open;
        std::string lastKey;
        bool null() override { return value(); }
        bool boolean(bool) override { return value(); }
        bool number_integer(number_integer_t) override { return value(); }
        bool number_unsigned(number_unsigned_t) override { return value(); }
        bool number_float(number_float_t, const string_t&) override { return value(); }
        bool string(string_t&) override { return value(); }
        bool binary(binary_t&) override { return value(); }
        bool start_object(std::size_t) override { return enter(true); }
        bool start_array(std::size_t) override { return enter(false); }
        bool end_object() override { return leave(); }
        bool end_array() override { return leave(); }
        bool key(string_t& k) override
        {
            lastKey = k;
            Level& level = open.back();
            bool repeated = false;
            if (level.keys.size() < kShortObject) {
                repeated = std::find(level.keys.begin(), level.keys.end(), k) != level.keys.end();
                if (!repeated)
                    level.keys.push_back(k);
                if (level.keys.size() == kShortObject)
                    level.set.insert(level.keys.begin(), level.keys.end());
            } else {
                repeated = !level.set.insert(k).second;
            }
            if (!repeated)
                return true;
            if (open.size() == 1 && scan.repeatedKey.empty())
                scan.repeatedKey = k;
            else if (open.size() > 1 && scan.repeatedInner.size() < kMaxRepeats)
                scan.repeatedInner.push_back(level.path + "." + k);
            return true;
        }
        bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception&) override { return false; }
        // A value in an array moves its index on (containers do so when they close).
        bool value()
        {
            if (!open.empty() && !open.back().object)
                ++open.back().index;
            return true;
        }
        bool enter(bool object)
        {
            if (maxDepth > 0 && int(open.size()) >= maxDepth) {
                scan.tooDeep = true;
                return false;
            }
            Level level;
            level.object = object;
            if (open.size() < kNamedLevels && !open.empty())
                level.path = open.back().object ? (open.size() == 1 ? lastKey : open.back().path + "." + lastKey)
                                                : open.back().path + "[" + std::to_string(open.back().index) + "]";
            open.push_back(std::move(level));
            scan.depth = std::max(scan.depth, int(open.size()));
            return true;
        }
        bool leave()
        {
            open.pop_back();
            return value();
        }
    } sax;
    sax.maxDepth = maxDepth;
    sax.scan.valid = nlohmann::json::sax_parse(text.begin(), text.end(), &sax, nlohmann::json::input_format_t::json, true);
    if (sax.scan.tooDeep)
        sax.scan.valid = false;
    return sax.scan;
}

std::string printable(std::string_view text)
{
    std::string out;
    for (const unsigned char c : text) {
        if (c >= 0x20 && c < 0x7f) {
            out.push_back(char(c));
            continue;
        }
        char hex[5];
        std::snprintf(hex, sizeof hex, "\\x%02x", c);
        out += hex;
    }
    return out;
}

size_t utf8At(std::string_view text, size_t at, char32_t& cp)
{
    const auto b = static_cast<unsigned char>(text[at]);
    if (b < 0x80) {
        cp = b;
        return 1;
    }
    const size_t len = (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || at + len > text.size())
        return 0;
    cp = b & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
        const auto c = static_cast<unsigned char>(text[at + k]);
        if ((c & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (c & 0x3F);
    }
    const bool shortest = cp >= (len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u);
    return shortest && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) ? len : 0;
}

std::string withoutControls(std::string text, char with)
{
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        char32_t cp = 0;
        const size_t len = utf8At(text, i, cp);
        if (len == 0) {
            out += "\xef\xbf\xbd"; // U+FFFD for a byte that starts no character
            ++i;
            continue;
        }
        // C0 and C1 controls (CSI among them), DEL, the bidirectional overrides and isolates, which
        // would reorder the rest of the line, and the line and paragraph separators, which break it.
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)
            || cp == 0x2028 || cp == 0x2029)
            out += with;
        else
            out.append(text, i, len);
        i += len;
    }
    return out;
}

std::string cutUtf8(std::string text, size_t maxBytes, const std::string& mark)
{
    if (text.size() <= maxBytes)
        return text;
    size_t cut = maxBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) // a continuation byte
        --cut;
    text.resize(cut);
    return text + mark;
}

namespace {

// `text` with the number literals Python's json writes beyond JSON (NaN, Infinity, -Infinity)
// quoted where they stand as values, outside strings; everything else as it was.
std::string pythonLiteralsQuoted(const std::string& text)
{
    static const char* const kLiterals[] = {"-Infinity", "Infinity", "NaN"};
    std::string out;
    out.reserve(text.size());
    bool inString = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (inString) {
            out += c;
            if (c == '\\' && i + 1 < text.size())
                out += text[++i];
            else if (c == '"')
                inString = false;
            continue;
        }
        if (c == '"') {
            inString = true;
            out += c;
            continue;
        }
        bool quoted = false;
        for (const char* literal : kLiterals)
            if (text.compare(i, std::strlen(literal), literal) == 0) {
                (out += '"').append(literal) += '"';
                i += std::strlen(literal) - 1;
                quoted = true;
                break;
            }
        if (!quoted)
            out += c;
    }
    return out;
}

} // namespace

nlohmann::json readJsonFile(const std::string& path, const std::string& what, uint64_t maxBytes, JsonDialect dialect)
{
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec); // follows links, as the read does
    if (std::filesystem::is_directory(status))
        throw Error(path + ": is a folder, not a " + what);
    if (std::filesystem::is_socket(status))
        throw Error(path + ": is a socket, not a " + what);
    // One parse for both sources below, with the same messages.
    const auto parse = [&](const std::string& input) {
        // Windows editors save "Unicode" as UTF-16, which the parser reads as one stray byte; a
        // tool may write it without the byte-order mark, whose NUL bytes beside the first ASCII
        // characters tell it (UTF-8 JSON holds no NUL byte; RFC 4627 section 3).
        const bool bom = input.size() >= 2 && ((input[0] == '\xff' && input[1] == '\xfe') || (input[0] == '\xfe' && input[1] == '\xff'));
        const bool nulBeside = input.size() >= 2 && (input[0] == '\0') != (input[1] == '\0')
                               && static_cast<unsigned char>(input[0] | input[1]) < 0x80;
        if (bom || nulBeside)
            throw Error(path + ": " + what + " is UTF-16 text; JSON files are read as UTF-8 (save it as UTF-8)");
        if (dialect == JsonDialect::Strict) {
            // Our own formats nest a few levels; the cap keeps the scan's memory to that.
            constexpr int kMaxDepth = 256;
            const JsonScan scan = scanJson(input, kMaxDepth);
            if (scan.tooDeep)
                throw Error(path + ": " + what + " nests deeper than " + std::to_string(kMaxDepth) + " levels, as no " + what + " does");
            if (scan.valid && !scan.repeatedKey.empty())
                throw Error(path + ": " + what + " names \"" + printable(scan.repeatedKey)
                            + "\" twice (which one is meant?)");
            if (scan.valid && !scan.repeatedInner.empty())
                throw Error(path + ": " + what + " says \"" + printable(scan.repeatedInner.front())
                            + "\" twice in one object (which one is meant?)");
        }
        try {
            return nlohmann::json::parse(dialect == JsonDialect::Python ? pythonLiteralsQuoted(input) : input);
        } catch (const nlohmann::json::exception& e) {
            throw Error(path + ": " + what + " is not valid JSON (" + printable(e.what()) + ")");
        } catch (const std::exception& e) { // a read error of the stream
            throw Error(path + ": cannot read " + what + " (" + e.what() + ")");
        }
    };
    if (std::filesystem::is_fifo(status)) {
        // A pipe (`--stats /dev/stdin`, `<(...)`) is read to its end. Opening one that no process
        // writes would wait for a writer forever: opened without waiting, it reads as empty.
        const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            throw Error(path + ": cannot open " + what + " (" + std::strerror(errno) + ")");
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        std::string text;
        char buf[65536];
        ssize_t n = 0;
        while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() <= maxBytes)
            text.append(buf, size_t(n));
        ::close(fd);
        if (text.size() > maxBytes)
            throw Error(path + ": gave more than " + std::to_string(maxBytes >> 20) + " MiB, more than any " + what + " holds");
        if (n < 0)
            throw Error(path + ": cannot read " + what + " (" + std::strerror(errno) + ")");
        if (text.empty())
            throw Error(path + ": a pipe that gave no " + what + " (no process writes to it)");
        return parse(text);
    }
    std::ifstream in(path);
    if (!in)
        throw Error(path + ": cannot open " + what + " (" + std::strerror(errno) + ")");
    const uint64_t size = std::filesystem::is_regular_file(status) ? std::filesystem::file_size(path, ec) : 0;
    if (!ec && size > maxBytes)
        throw Error(path + ": is " + std::to_string(size >> 20) + " MiB, more than any " + what + " holds ("
                    + std::to_string(maxBytes >> 20) + " MiB at most)");
    // Read in pieces up to the limit: a device (/dev/zero, /dev/urandom) has no size to check first.
    std::string text;
    try {
        char buf[65536];
        while (text.size() <= maxBytes && in.read(buf, sizeof buf).gcount() > 0)
            text.append(buf, size_t(in.gcount()));
    } catch (const std::exception& e) {
        throw Error(path + ": cannot read " + what + " (" + e.what() + ")");
    }
    if (text.size() > maxBytes)
        throw Error(path + ": gave more than " + std::to_string(maxBytes >> 20) + " MiB, more than any " + what + " holds");
    if (in.bad())
        throw Error(path + ": cannot read " + what + " (" + std::strerror(errno) + ")");
    return parse(text);
}

std::string jsonBrief(const nlohmann::json& v)
{
    constexpr size_t kMaxChars = 64;
    if (v.is_array())
        return "an array of " + std::to_string(v.size()) + (v.size() == 1 ? " item" : " items");
    if (v.is_object())
        return "an object of " + std::to_string(v.size()) + (v.size() == 1 ? " key" : " keys");
    if (v.is_string() && v.get_ref<const std::string&>().size() > kMaxChars)
        return nlohmann::json(v.get_ref<const std::string&>().substr(0, kMaxChars))
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) // a cut may split a character
            + "...";
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

[[noreturn]] void failKey(const std::string& source, const char* key, const std::string& what)
{
    throw Error(source + ": '" + key + "' " + what);
}

// The value of `key`, or null when it is absent.
const nlohmann::json& valueOf(const nlohmann::json& j, const char* key)
{
    static const nlohmann::json null;
    return j.is_object() && j.contains(key) ? j.at(key) : null;
}

} // namespace

bool jsonIsIntIn(const nlohmann::json& v, int64_t least, int64_t most)
{
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        return (least <= 0 || u >= uint64_t(least)) && most >= 0 && u <= uint64_t(most);
    }
    return v.is_number_integer() && v.get<int64_t>() >= least && v.get<int64_t>() <= most;
}

bool jsonIsNumberIn(const nlohmann::json& v, double least, double most)
{
    return v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() >= least && v.get<double>() <= most;
}

int jsonInt(const nlohmann::json& j, const char* key, const std::string& source, int64_t least, int64_t most)
{
    most = std::min<int64_t>(most, std::numeric_limits<int>::max()); // the result is an int
    if (!j.is_object() || !j.contains(key))
        throw Error(source + ": missing key '" + key + "'");
    nlohmann::json v = j.at(key);
    // 8192.0 is an integer too: Python writes a float where a script computed the value.
    if (v.is_number_float() && std::isfinite(v.get<double>()) && std::nearbyint(v.get<double>()) == v.get<double>()
        && std::fabs(v.get<double>()) < 9.0e18)
        v = int64_t(v.get<double>());
    if (!v.is_number_integer())
        failKey(source, key, "must be an integer, got " + jsonBrief(j.at(key)));
    if (!jsonIsIntIn(v, least, most))
        failKey(source, key, "= " + jsonBrief(j.at(key)) + " is out of range (" + std::to_string(least) + " to " + std::to_string(most) + ")");
    return int(v.get<int64_t>());
}

int jsonIntOr(const nlohmann::json& j, const char* key, int fallback, const std::string& source, int64_t least, int64_t most)
{
    return valueOf(j, key).is_null() ? fallback : jsonInt(j, key, source, least, most);
}

double jsonNumberOr(const nlohmann::json& j, const char* key, double fallback, const std::string& source, double least, double most)
{
    const nlohmann::json& v = valueOf(j, key);
    if (v.is_null())
        return fallback;
    const bool bounded = std::isfinite(least) || std::isfinite(most);
    if (!jsonIsNumberIn(v, least, most)) {
        if (!bounded)
            failKey(source, key, "must be a finite number, got " + jsonBrief(v));
        char range[128];
        if (std::isfinite(least) && std::isfinite(most))
            std::snprintf(range, sizeof range, "must be a number from %.0f to %.0f, got ", least, most);
        else if (std::isfinite(least))
            std::snprintf(range, sizeof range, "must be a finite number of at least %.0f, got ", least);
        else
            std::snprintf(range, sizeof range, "must be a finite number of at most %.0f, got ", most);
        failKey(source, key, range + jsonBrief(v));
    }
    return v.get<double>();
}

std::string jsonStringOr(const nlohmann::json& j, const char* key, const std::string& fallback, const std::string& source)
{
    const nlohmann::json& v = valueOf(j, key);
    if (v.is_null())
        return fallback;
    if (!v.is_string())
        failKey(source, key, "must be a string, got " + jsonBrief(v));
    return v.get<std::string>();
}

bool jsonBoolOr(const nlohmann::json& j, const char* key, bool fallback, const std::string& source)
{
    const nlohmann::json& v = valueOf(j, key);
    if (v.is_null())
        return fallback;
    if (!v.is_boolean())
        failKey(source, key, "must be true or false, got " + jsonBrief(v));
    return v.get<bool>();
}

} // namespace fairkv
