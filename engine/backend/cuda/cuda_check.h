#pragma once
#include "common/error.h"

#include <cuda_runtime.h>

#include <string>

namespace fairkv::cuda {

// Every CUDA call goes through this: the error names the call and what CUDA said.
inline void check(cudaError_t rc, const char* call)
{
    if (rc != cudaSuccess)
        throw fairkv::Error(std::string("CUDA call ") + call + " failed: " + cudaGetErrorString(rc));
}

} // namespace fairkv::cuda

#define FAIRKV_CUDA(call) ::fairkv::cuda::check((call), #call)
