#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fairkv::cli {

// A bad command line: printed as "fairkv <command>: <message>", exit code 2.
class UsageError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

struct OptionSpec
{
    std::string name;  // without the leading dashes
    std::string value; // placeholder shown in help; empty for a flag
    std::string help;
    std::string fallback; // default value shown in help and used when absent
};

// Parses `--name value`, `--name=value` and flags; rejects unknown, repeated and value-less options.
class Args
{
public:
    Args(std::string command, std::vector<OptionSpec> specs, std::vector<std::string> positionalNames = {});
    void parse(const std::vector<std::string>& argv);

    bool helpRequested() const { return m_help; }
    std::string help(const std::string& summary) const;

    bool has(const std::string& name) const;
    std::string str(const std::string& name) const;
    int integer(const std::string& name, int minValue, int maxValue) const;
    uint64_t unsignedInt(const std::string& name) const;
    double number(const std::string& name, double minValue, double maxValue) const;
    // The value of an output-file option, checked before any work: not a folder, in a folder
    // that exists, not another file of this command (its inputs, its session) and not a session
    // database, so a mistyped path never replaces what the user has. `fallback` is the path when
    // the option is not given (and gets the same checks); empty when neither is there.
    std::string outputPath(const std::string& name, const std::string& fallback = "") const;
    const std::vector<std::string>& positional() const { return m_positional; }

private:
    const OptionSpec* spec(const std::string& name) const;
    std::string m_command;
    std::vector<OptionSpec> m_specs;
    std::vector<std::string> m_positionalNames;
    std::map<std::string, std::string> m_values;
    std::vector<std::string> m_positional;
    bool m_help = false;
};

// The whole text as one decimal integer, as the options read theirs: no spaces, no hex.
std::optional<long long> wholeInteger(const std::string& text);

// The items of a comma-separated list, without the spaces around them ("1, 2" as "1,2"), empty
// ones included ("1,,2," has four), so a stray comma is refused by whatever checks the items; none
// for an empty text.
std::vector<std::string> splitCommas(const std::string& text);

} // namespace fairkv::cli
