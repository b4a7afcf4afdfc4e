#pragma once
#include <stdexcept>
#include <string>

namespace fairkv {

// Every error the engine reports to a user: the message names the file, tensor or option at fault
// and what was expected, so the CLI and GUI can show it as it is.
class Error : public std::runtime_error
{
public:
    explicit Error(const std::string& message)
        : std::runtime_error(message)
    {
    }
};

} // namespace fairkv
