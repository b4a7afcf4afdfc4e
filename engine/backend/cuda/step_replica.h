#pragma once
// Internal to the CUDA step executor (cuda_step.cu, cuda_prefill.cu): what it keeps per device.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_step.h"
#include "backend/cuda/gemm_choice.h"
#include "backend/cuda/launch_gate.h"
#include "runtime/trace_sink.h"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#ifdef FAIRKV_HAVE_NCCL
#include <nccl.h>
#endif

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace fairkv::cuda {

#ifdef FAIRKV_HAVE_NCCL
inline void ncclCheck(ncclResult_t rc, const char* call)
{
    if (rc != ncclSuccess)
        throw fairkv::Error(std::string("NCCL call ") + call + " failed: " + ncclGetErrorString(rc));
}
#define FAIRKV_NCCL(call) ::fairkv::cuda::ncclCheck((call), #call)
#endif

struct CudaStepExecutor::Replica
{
    int device = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    std::unique_ptr<GemmChoice> gemms; // each decode product's routine on this device: its ranks' and lm_head's (on `blas`)
    uint16_t* embed = nullptr;
    uint16_t* head = nullptr; // == embed when tied
    float* norms = nullptr;   // [2 * layers + 1][hidden]: input and post norm of each layer, then the final one
    int batch = 0;
    int* tokens = nullptr;
    float* x = nullptr;
    __nv_bfloat16* normed = nullptr;
    float* partial = nullptr;
    float* logits = nullptr;
    // Timed intervals of this step on this device, from a reusable pool of events.
    struct Mark
    {
        cudaEvent_t a, b;
        TracePhase phase;
        const char* name;
        int layer;
    };
    std::vector<cudaEvent_t> pool;
    size_t used = 0;
    std::vector<Mark> marks;
    cudaEvent_t begin = nullptr, end = nullptr;
    int64_t hostBeginNs = 0;
    std::unique_ptr<LaunchGate> gate; // the step's kernels start once its first layer is queued

    cudaEvent_t nextEvent()
    {
        if (used == pool.size()) {
            cudaEvent_t e;
            FAIRKV_CUDA(cudaEventCreate(&e));
            pool.push_back(e);
        }
        return pool[used++];
    }
    // Every timed piece of a step begins where the one before it ended, so one event marks each
    // boundary (a timing event costs the stream about 2 us on the H100: the GPU drains before it
    // writes the timestamp) and untimed work queued between two pieces (the residual adds) falls
    // into the next one. The pieces tile the step.
    cudaEvent_t last = nullptr; // where the last piece ended (begin at the start of a step)
    cudaEvent_t open() const { return last; }
    void close(cudaEvent_t a, TracePhase phase, const char* name, int layer)
    {
        cudaEvent_t b = nextEvent();
        FAIRKV_CUDA(cudaEventRecord(b, stream));
        marks.push_back({a, b, phase, name, layer});
        last = b;
    }
    void follow(void* rankPieceEnd) { last = static_cast<cudaEvent_t>(rankPieceEnd); } // a rank's piece ended there
    // Before startStep(): the step's work waits until releaseGate(), called once a layer is queued.
    // Only where the step's kernels are loaded already (`warm`): loading a kernel lazily waits for
    // the GPU, which would wait for the gate until the watchdog opens it.
    void holdGate(bool warm)
    {
        if (warm)
            gate->hold(stream);
    }
    void releaseGate()
    {
        gate->release();
        // Opened in this step (by release() or the watchdog): the GPU's begin is then, on the trace
        // clock, not when the host queued it.
        hostBeginNs = std::max(hostBeginNs, gate->openedAtNs());
    }
    void startStep()
    {
        used = 0;
        marks.clear();
        begin = nextEvent();
        FAIRKV_CUDA(cudaEventRecord(begin, stream));
        hostBeginNs = traceClockNs();
        last = begin;
    }

    ~Replica()
    {
        cudaSetDevice(device);
        for (cudaEvent_t e : pool)
            cudaEventDestroy(e);
        if (head != embed)
            cudaFree(head);
        for (void* p : {static_cast<void*>(embed), static_cast<void*>(norms), static_cast<void*>(tokens), static_cast<void*>(x),
                        static_cast<void*>(normed), static_cast<void*>(partial), static_cast<void*>(logits)})
            cudaFree(p);
        gemms.reset(); // before the handle it runs cublasGemmEx on
        if (blas)
            cublasDestroy(blas);
        if (stream)
            cudaStreamDestroy(stream);
    }
};

} // namespace fairkv::cuda
