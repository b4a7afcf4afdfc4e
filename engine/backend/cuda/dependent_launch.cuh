#pragma once
// Hopper's programmatic dependent launch, for the decode step's own kernels: a kernel may start
// while the one queued before it on its stream still runs, and waits for it only where it reads
// what that one writes. Between the small kernels of a step this hides a launch's ramp; the decode
// attention streams the retained K/V (which the kernel before it does not write) meanwhile.
#include "backend/cuda/cuda_check.h"

#include <cuda_runtime.h>

namespace fairkv::cuda {

// The kernel queued after this one (launched by launchDependent()) may start now.
__device__ __forceinline__ void launchDependents()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// Returns once the kernel queued before this one has finished and its writes are visible. A kernel
// launched by launchDependent() calls it before it reads anything the kernel before it may write,
// and on every path (so that its own completion still implies its predecessors'). A no-op in a
// kernel launched the ordinary way and before sm_90.
__device__ __forceinline__ void waitForPrerequisites()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Whether `kernel` was built for sm_90 or later on the current device: a kernel JIT-compiled from
// older PTX carries no wait and must not start early.
bool carriesGridDependency(const void* kernel);

// On by default (FAIRKV_EARLY_STARTS=0 in the environment turns them off). The benchmark turns them
// off to measure what they save; kernels launched while they are off (or captured into a graph
// then) run one after another.
void allowEarlyStarts(bool allowed);
bool earlyStartsAllowed();

// Launches `kernel`, allowed to start once the kernel before it on `stream` calls
// launchDependents() (or its blocks have exited), where `early`, it carriesGridDependency() and
// earlyStartsAllowed(); an ordinary launch otherwise (also after a copy or memset, which CUDA never
// overlaps). Inside a stream capture the early start becomes a programmatic edge of the graph.
template <typename... Params, typename... Args>
void launchDependent(void (*kernel)(Params...), dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t stream, bool early,
                     Args... args)
{
    cudaLaunchConfig_t config{};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = sharedBytes;
    config.stream = stream;
    cudaLaunchAttribute attribute{};
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    config.attrs = &attribute;
    config.numAttrs = early && earlyStartsAllowed() && carriesGridDependency(reinterpret_cast<const void*>(kernel)) ? 1 : 0;
    FAIRKV_CUDA(cudaLaunchKernelEx(&config, kernel, Params(args)...));
}

} // namespace fairkv::cuda
