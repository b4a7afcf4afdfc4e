#pragma once
#include "common/error.h"

#include <cublas_api.h>

#include <string>

namespace fairkv::cuda {

// Every cuBLAS and cuBLASLt call goes through this: the error names the call and its status
// (cublasGetStatusString's text alongside the number).
inline void check(cublasStatus_t rc, const char* call)
{
    if (rc != CUBLAS_STATUS_SUCCESS)
        throw fairkv::Error(std::string("cuBLAS call ") + call + " failed: " + cublasGetStatusString(rc) + " (status "
                            + std::to_string(int(rc)) + ")");
}

} // namespace fairkv::cuda

#define FAIRKV_CUBLAS(call) ::fairkv::cuda::check((call), #call)
