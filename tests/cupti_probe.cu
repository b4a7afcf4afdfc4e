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
