#include "cli_args.h"

#include "common/output_path.h"
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <unistd.h>

namespace fairkv::cli {

Args::Args(std::string command, std::vector<OptionSpec> specs, std::vector<std::string> positionalNames)
    : m_command(std::move(command))
    , m_specs(std::move(specs))
    , m_positionalNames(std::move(positionalNames))
{
}

const OptionSpec* Args::spec(const std::string& name) const
{
    for (const auto& s : m_specs)
        if (s.name == name)
            return &s;
    return nullptr;
}

void Args::parse(const std::vector<std::string>& argv)
{
    bool optionsEnded = false; // after "--" every argument is positional ("--" "--odd-name.fkv")
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (optionsEnded) {
            m_positional.push_back(a);
            continue;
        }
        if (a == "--") {
            optionsEnded = true;
            continue;
        }
        if (a == "--help" || a == "-h") {
            m_help = true;
            return;
        }
        if (a.rfind("--", 0) != 0) {
            m_positional.push_back(a);
            continue;
        }
        std::string name = a.substr(2), value;
        bool inlineValue = false;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            inlineValue = true;
        }
        const OptionSpec* s = spec(name);
        if (!s)
            throw UsageError("unknown option '--" + name + "' (see fairkv " + m_command + " --help)");
        if (m_values.count(name))
            throw UsageError("option '--" + name + "' is given twice");
        if (s->value.empty()) {
            if (inlineValue)
                throw UsageError("option '--" + name + "' takes no value");
            m_values[name] = "1";
            continue;
        }
        if (!inlineValue) {
            if (i + 1 >= argv.size())
                throw UsageError("option '--" + name + "' needs a value (" + s->value + ")");
            value = argv[++i];
            // "--label --no-trace" forgot the label's value rather than labelling the run "--no-trace".
            if (value.rfind("--", 0) == 0 && value.size() > 2)
                throw UsageError("option '--" + name + "' needs a value (" + s->value + "), got the option '" + value
                                 + "' (write --" + name + "=" + value + " for a value that starts with --)");
        }
        m_values[name] = value;
    }
    if (m_positional.size() > m_positionalNames.size())
        throw UsageError("unexpected argument '" + m_positional[m_positionalNames.size()] + "'");
    if (m_positional.size() < m_positionalNames.size())
        throw UsageError("missing argument " + m_positionalNames[m_positional.size()]);
}

std::string Args::help(const std::string& summary) const
{
    std::string out = "usage: fairkv " + m_command;
    for (const auto& p : m_positionalNames)
        out += " " + p;
    out += " [options]\n\n" + summary + "\n\noptions:\n";
    for (const auto& s : m_specs) {
        std::string left = "  --" + s.name + (s.value.empty() ? "" : " " + s.value);
        if (left.size() < 28)
            left.resize(28, ' ');
        else
            left += "\n" + std::string(28, ' ');
        out += left + s.help;
        if (!s.fallback.empty())
            out += " (default: " + s.fallback + ")";
        out += "\n";
    }
    out += "  --help                    this text\n";
    return out;
}

bool Args::has(const std::string& name) const
{
    return m_values.count(name) > 0;
}

std::string Args::str(const std::string& name) const
{
    auto it = m_values.find(name);
    if (it != m_values.end())
        return it->second;
    const OptionSpec* s = spec(name);
    return s ? s->fallback : std::string();
}

namespace {

// The whole text as one number in plain decimal notation: no spaces, no sign for unsigned values,
// no hex, as a user reading the option's help would write it.
template <typename T>
bool parseWhole(const std::string& v, T& x)
{
    // One leading '+' as strtol took it ("+2"), not "+-2" or "++2".
    const char* begin = v.data() + (v.size() > 1 && v[0] == '+' && v[1] != '-' && v[1] != '+' ? 1 : 0);
    const char* end = v.data() + v.size();
    const auto [ptr, ec] = std::from_chars(begin, end, x);
    return begin != end && ec == std::errc() && ptr == end;
}

} // namespace

std::optional<long long> wholeInteger(const std::string& text)
{
    long long x = 0;
    return parseWhole(text, x) ? std::optional<long long>(x) : std::nullopt;
}

int Args::integer(const std::string& name, int minValue, int maxValue) const
{
    const std::string v = str(name);
    long x = 0;
    if (!parseWhole(v, x) || x < minValue || x > maxValue)
        throw UsageError("--" + name + " expects an integer from " + std::to_string(minValue) + " to "
                         + std::to_string(maxValue) + ", got '" + v + "'");
    return int(x);
}

uint64_t Args::unsignedInt(const std::string& name) const
{
    const std::string v = str(name);
    unsigned long long x = 0;
    if (!parseWhole(v, x)) {
        const std::string unsignedPart = !v.empty() && v[0] == '+' ? v.substr(1) : v;
        const bool digits = !unsignedPart.empty() && unsignedPart.find_first_not_of("0123456789") == std::string::npos;
        throw UsageError("--" + name + (digits ? " is beyond 2^64 - 1, got '" : " expects a non-negative integer, got '") + v + "'");
    }
    return x;
}

namespace {
// 0, 1, 1e+06: a limit as the help writes it, not 1000000.000000.
std::string fmtg(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}
} // namespace

double Args::number(const std::string& name, double minValue, double maxValue) const
{
    const std::string v = str(name);
    double x = 0;
    if (!parseWhole(v, x) || !std::isfinite(x) || x < minValue || x > maxValue)
        throw UsageError("--" + name + " expects a number from " + fmtg(minValue) + " to " + fmtg(maxValue) + ", got '" + v + "'");
    return x;
}

namespace {

// Options and arguments that name files, and those that may name a folder: their placeholder says so.
bool namesFolder(const std::string& placeholder)
{
    return placeholder.find("DIR") != std::string::npos || placeholder.find("PATH") != std::string::npos;
}
bool namesFile(const std::string& placeholder)
{
    return placeholder.find("FILE") != std::string::npos || namesFolder(placeholder);
}

enum class Overlap { None, Same, Inside };

// Whether writing `out` (already weakly canonical) would replace `input` or write inside the folder
// `input` (over a checkpoint's config.json, say). A new file inside counts too: refusing only what
// exists let a command write its output there once and then refused the same command.
Overlap overwrites(const std::filesystem::path& out, const std::string& input)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto in = fs::weakly_canonical(input, ec);
    if (ec)
        return Overlap::None;
    if (out == in)
        return Overlap::Same;
    if (!fs::is_directory(in, ec))
        return Overlap::None;
    const auto rel = out.lexically_relative(in);
    return !rel.empty() && *rel.begin() != ".." ? Overlap::Inside : Overlap::None;
}

} // namespace

std::string Args::outputPath(const std::string& name, const std::string& fallback) const
{
    namespace fs = std::filesystem;
    const bool given = has(name) || !str(name).empty();
    const std::string v = given ? str(name) : fallback;
    if (v.empty() && !given)
        return v;
    if (v.empty())
        throw UsageError("--" + name + " needs a file name");
    const std::string option = given ? "--" + name + " " + v : "output " + v + " (--" + name + "'s default)";
    std::error_code ec;
    if (fs::is_directory(v, ec))
        throw UsageError(option + ": is a folder, not a file");
    if (const std::string folder = missingFolderOf(v); !folder.empty())
        throw UsageError(option + ": the folder " + folder + " does not exist");
    // Outputs are written beside themselves and renamed into place: the folder must take a file.
    if (const std::string folder = folderOf(v); ::access(folder.c_str(), W_OK) != 0)
        throw UsageError(option + ": the folder " + folder + " is not writable");
    // Every file this command reads (its file options and arguments), with what to call the
    // output when it is that file and when it is inside that folder. Only inputs that take a
    // folder count for the second: a file option given a folder is refused by its own reader,
    // which says so.
    struct Input
    {
        std::string path, same, inside;
        bool folder = false;
    };
    std::vector<Input> inputs;
    for (const auto& [other, value] : m_values)
        if (const OptionSpec* s = spec(other); other != name && s && namesFile(s->value))
            inputs.push_back({value, "that is also --" + other + "'s file", "that is inside --" + other + "'s folder", namesFolder(s->value)});
    for (size_t i = 0; i < m_positional.size() && i < m_positionalNames.size(); ++i)
        if (namesFile(m_positionalNames[i]))
            inputs.push_back({m_positional[i], "that is the " + m_positionalNames[i] + " this command reads",
                              "that is inside the " + m_positionalNames[i] + " this command reads", namesFolder(m_positionalNames[i])});
    const auto out = fs::weakly_canonical(v, ec);
    for (const Input& in : ec ? std::vector<Input>{} : inputs)
        if (const Overlap o = overwrites(out, in.path); o == Overlap::Same || (o == Overlap::Inside && in.folder))
            throw UsageError(option + ": " + (o == Overlap::Same ? in.same : in.inside) + "; choose another output file");
    if (const std::string why = whyNotOutput(v); !why.empty())
        throw UsageError(option + ": " + why + "; choose another output file");
    return v;
}

std::vector<std::string> splitCommas(const std::string& text)
{
    std::vector<std::string> items;
    if (text.empty())
        return items;
    for (size_t from = 0;;) {
        const size_t comma = text.find(',', from);
        std::string item = text.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        items.push_back(std::move(item));
        if (comma == std::string::npos)
            return items;
        from = comma + 1;
    }
}

} // namespace fairkv::cli
