#pragma once
#include <string>

namespace fairkv {

// Throws an Error saying that `what` needs about `needBytes` of host memory (`why`) when that is
// more than 90% of what is available, with `advice` on how to need less; silent when unknown.
void requireHostMemory(double needBytes, const std::string& what, const std::string& why, const std::string& advice);

} // namespace fairkv
