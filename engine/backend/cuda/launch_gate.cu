#include "backend/cuda/launch_gate.h"

#include "backend/cuda/cuda_check.h"
#include "runtime/trace_sink.h"

#include <cuda.h>
#include <cudaTypedefs.h>

#include <atomic>
#include <string>

namespace fairkv::cuda {

LaunchGate::LaunchGate(std::chrono::milliseconds maxHold)
    : m_maxHold(maxHold)
{
    void* fn = nullptr;
#if CUDART_VERSION >= 12050
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuStreamWaitValue32", &fn, 11070, cudaEnableDefault, &found) != cudaSuccess
        || found != cudaDriverEntryPointSuccess || fn == nullptr) {
        cudaGetLastError(); // no gate: the step runs as its launches arrive
        return;
    }
#else
    return; // the versioned entry point query needs CUDA 12.5: no gate
#endif
    void* flag = nullptr;
    if (cudaHostAlloc(&flag, sizeof(uint32_t), cudaHostAllocMapped | cudaHostAllocPortable) != cudaSuccess) {
        cudaGetLastError(); // no page-locked word to wait on: no gate, the step runs as before
        return;
    }
    m_flag = static_cast<volatile uint32_t*>(flag);
    *m_flag = 0;
    if (cudaHostGetDevicePointer(&m_deviceFlag, flag, 0) != cudaSuccess) {
        cudaGetLastError(); // not mapped for this device: no gate
        return;
    }
    try {
        m_watchdog = std::thread([this] { watch(); });
    } catch (const std::exception&) { // no watchdog, no gate
        return;
    }
    m_wait = fn;
}

LaunchGate::~LaunchGate()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        openLocked();
        m_stop = true;
    }
    m_changed.notify_all();
    if (m_watchdog.joinable())
        m_watchdog.join();
    if (m_flag)
        cudaFreeHost(const_cast<uint32_t*>(m_flag));
}

void LaunchGate::watch()
{
    std::unique_lock<std::mutex> lock(m_mutex);
    while (!m_stop) {
        if (!m_holding) {
            m_changed.wait(lock);
            continue;
        }
        const auto deadline = m_deadline;
        if (!m_changed.wait_until(lock, deadline, [&] { return m_stop || !m_holding || m_deadline != deadline; })) {
            openLocked();
            ++m_expired;
        }
    }
}

bool LaunchGate::holding() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_holding;
}

int LaunchGate::takeExpired()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const int n = m_expired;
    m_expired = 0;
    return n;
}

int64_t LaunchGate::openedAtNs() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_openedNs;
}

void LaunchGate::openLocked()
{
    if (!m_holding)
        return;
    std::atomic_thread_fence(std::memory_order_release);
    *m_flag = m_seq;
    m_holding = false;
    m_openedNs = traceClockNs();
}

void LaunchGate::hold(cudaStream_t stream)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_wait || m_holding)
        return;
    auto wait = reinterpret_cast<PFN_cuStreamWaitValue32_v11070>(m_wait);
    const CUresult rc = wait(reinterpret_cast<CUstream>(stream), reinterpret_cast<CUdeviceptr>(m_deviceFlag), m_seq + 1,
                             CU_STREAM_WAIT_VALUE_GEQ);
    if (rc != CUDA_SUCCESS) { // e.g. stream memory operations disabled: run ungated from now on
        m_wait = nullptr;
        return;
    }
    ++m_seq;
    m_holding = true;
    m_deadline = std::chrono::steady_clock::now() + m_maxHold;
    m_changed.notify_all();
}

void LaunchGate::release()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    openLocked();
}

} // namespace fairkv::cuda
