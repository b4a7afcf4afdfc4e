// Small kernels for the CUPTI tracer test: something real for CUPTI to record.
#include <cuda_runtime.h>

namespace {
__global__ void scale(float* x, int n, float f)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = x[i] * f + 1.0f;
}
} // namespace

// Launches `count` kernels over n floats on the current device; returns the CUDA error of the last call.
int fairkvLaunchProbeKernels(float* device, int n, int count)
{
    for (int k = 0; k < count; ++k)
        scale<<<(n + 255) / 256, 256>>>(device, n, 1.0001f);
    return int(cudaGetLastError());
}

// Capture and launch apart, as a serving loop does: `capture` builds the graph (no tag active
// then), `launch` runs it; returns the CUDA error.
int fairkvProbeGraphCapture(float* device, int n, int count, void** execOut, void** streamOut)
{
    cudaStream_t stream = nullptr;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    cudaError_t rc = cudaStreamCreate(&stream);
    if (rc == cudaSuccess)
        rc = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    if (rc == cudaSuccess) {
        for (int k = 0; k < count; ++k)
            scale<<<(n + 255) / 256, 256, 0, stream>>>(device, n, 1.0001f);
        rc = cudaStreamEndCapture(stream, &graph);
    }
    if (rc == cudaSuccess)
        rc = cudaGraphInstantiate(&exec, graph, 0);
    if (graph)
        cudaGraphDestroy(graph);
    *execOut = exec;
    *streamOut = stream;
    return int(rc);
}

int fairkvProbeGraphLaunch(void* exec, void* stream)
{
    cudaError_t rc = cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec), static_cast<cudaStream_t>(stream));
    if (rc == cudaSuccess)
        rc = cudaStreamSynchronize(static_cast<cudaStream_t>(stream));
    return int(rc);
}

void fairkvProbeGraphDestroy(void* exec, void* stream)
{
    if (exec)
        cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec));
    if (stream)
        cudaStreamDestroy(static_cast<cudaStream_t>(stream));
}

// The same kernels captured into a CUDA graph and launched once: one API call for all of them.
int fairkvLaunchProbeGraph(float* device, int n, int count)
{
    void *exec = nullptr, *stream = nullptr;
    int rc = fairkvProbeGraphCapture(device, n, count, &exec, &stream);
    if (rc == 0)
        rc = fairkvProbeGraphLaunch(exec, stream);
    fairkvProbeGraphDestroy(exec, stream);
    return rc;
}
