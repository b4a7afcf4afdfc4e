#include "trace_record.h"

#include <cxxabi.h>

#include <cstdlib>

namespace fairkv::profiler {

std::string readableKernelName(const std::string& name)
{
    if (name.rfind("_Z", 0) != 0)
        return name;
    int status = 0;
    char* text = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
    std::string out = status == 0 && text ? text : name;
    std::free(text);
    return out;
}

const char* phaseName(Phase p)
{
    static const char* const names[] = {"prefill", "compression", "decode", "attention", "mlp", "collective", "replicated", "other"};
    const auto i = size_t(p);
    return i < sizeof(names) / sizeof(names[0]) ? names[i] : "other";
}

uint32_t TraceBuffer::intern(const std::string& name)
{
    auto it = m_index.find(name);
    if (it != m_index.end())
        return it->second;
    const auto id = uint32_t(m_names.size());
    m_names.push_back(name);
    m_index.emplace(name, id);
    return id;
}

void TraceBuffer::setNames(std::vector<std::string> names)
{
    m_names = std::move(names);
    m_index.clear();
    for (uint32_t i = 0; i < m_names.size(); ++i)
        m_index.emplace(m_names[i], i);
}

} // namespace fairkv::profiler
