#pragma once
#include "backend/cuda/cuda_check.h"
#include "common/dtype.h"
#include "common/parallel.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace fairkv::cuda {

// cudaMalloc with the message a user needs when the GPU is full: what, bytes needed and free.
inline void* deviceMalloc(size_t bytes, const char* what)
{
    void* p = nullptr;
    bytes = std::max<size_t>(bytes, 1);
    const cudaError_t rc = cudaMalloc(&p, bytes);
    if (rc == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        size_t freeBytes = 0, total = 0;
        cudaMemGetInfo(&freeBytes, &total);
        throw fairkv::Error(std::string("GPU out of memory for ") + what + ": needs " + std::to_string(bytes >> 20) + " MiB, "
                            + std::to_string(freeBytes >> 20) + " MiB of " + std::to_string(total >> 20) + " MiB free");
    }
    check(rc, "cudaMalloc");
    return p;
}

template <typename T>
T* deviceAlloc(size_t count, const char* what)
{
    return static_cast<T*>(deviceMalloc(count * sizeof(T), what));
}

// A grow-only buffer: reallocated (contents dropped) by `acquire` when `bytes` exceeds `capacity`,
// the old one given to `release`. After a failed allocation it is empty, never a freed pointer
// with its old capacity.
template <typename Release, typename Acquire>
void regrow(void*& ptr, size_t& capacity, size_t bytes, Release release, Acquire acquire)
{
    if (bytes <= capacity && ptr)
        return;
    release(ptr);
    ptr = nullptr;
    capacity = 0;
    ptr = acquire(bytes);
    capacity = bytes;
}

// A grow-only device buffer.
inline void growBuffer(void*& ptr, size_t& capacity, size_t bytes, const char* what)
{
    regrow(ptr, capacity, bytes, cudaFree, [what](size_t n) { return deviceMalloc(n, what); });
}

// A grow-only page-locked host buffer (device-to-host copies into it run at PCIe speed, about
// three times a pageable copy's).
inline void growPinned(void*& ptr, size_t& capacity, size_t bytes, const char* what)
{
    regrow(ptr, capacity, bytes, cudaFreeHost, [what](size_t n) {
        void* p = nullptr;
        const cudaError_t rc = cudaMallocHost(&p, std::max<size_t>(n, 1));
        if (rc != cudaSuccess) {
            cudaGetLastError();
            throw fairkv::Error(std::string("cannot page-lock ") + std::to_string(n >> 20) + " MiB of host memory for " + what
                                + ": " + cudaGetErrorString(rc));
        }
        return p;
    });
}

// Round to the next 256 bytes: the alignment of sub-buffers carved from one allocation.
inline size_t align256(size_t n)
{
    return (n + 255) & ~size_t(255);
}

// `n` floats at `src`: one piece of what toBf16 gathers.
struct FloatSpan
{
    const float* src;
    size_t n;
};

// The spans' values as bf16 bits, one span after another, converted on all cores in pieces of
// 1 Mi values (one core took about a second for the weights of one layer of the 8B shape, and as
// long for its embedding table). A single piece runs on the calling thread.
inline std::vector<uint16_t> toBf16(const std::vector<FloatSpan>& spans)
{
    struct Piece
    {
        const float* src;
        size_t n, at;
    };
    constexpr size_t kPiece = size_t(1) << 20;
    std::vector<Piece> pieces;
    size_t total = 0;
    for (const FloatSpan& s : spans) {
        for (size_t i = 0; i < s.n; i += kPiece)
            pieces.push_back({s.src + i, std::min(kPiece, s.n - i), total + i});
        total += s.n;
    }
    std::vector<uint16_t> out(total);
    parallelFor(pieces.size(), [&](size_t p) {
        const Piece& w = pieces[p];
        for (size_t i = 0; i < w.n; ++i)
            out[w.at + i] = floatToBf16(w.src[i]);
    });
    return out;
}

inline std::vector<uint16_t> toBf16(const float* src, size_t n)
{
    return toBf16(std::vector<FloatSpan>{{src, n}});
}

// A new device buffer holding `host` (bf16 bits).
inline uint16_t* uploadBf16(const std::vector<uint16_t>& host, const char* what)
{
    auto* p = deviceAlloc<uint16_t>(host.size(), what);
    FAIRKV_CUDA(cudaMemcpy(p, host.data(), host.size() * 2, cudaMemcpyHostToDevice));
    return p;
}

} // namespace fairkv::cuda
