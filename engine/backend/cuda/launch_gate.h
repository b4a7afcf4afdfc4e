#pragma once
#include <cuda_runtime.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace fairkv::cuda {

// Holds a stream's work back until the host has queued a head start of it. A decode step is a
// few hundred launches of a few microseconds of host time each; started on an idle GPU, its first
// layer runs as fast as the host queues it (on the H100 the first layer's attention piece took
// 100-140 us instead of 75, 240 us with CUPTI's callbacks on every launch). Behind the gate the
// GPU starts once the first layer is queued and the host stays ahead from there on.
// The stream waits on a word of mapped host memory (cuStreamWaitValue32, reached through the
// runtime's driver entry points, so nothing links libcuda); where that is unavailable the gate
// does nothing. A host call that waits for the GPU while the gate holds (loading a kernel module
// lazily, a cudaFree inside a library) would wait forever: a watchdog thread opens the gate after
// kMaxHold whatever the host does, so that costs time once and never hangs.
class LaunchGate
{
public:
    explicit LaunchGate(std::chrono::milliseconds maxHold = kMaxHold); // for the current device
    ~LaunchGate();
    LaunchGate(const LaunchGate&) = delete;
    LaunchGate& operator=(const LaunchGate&) = delete;

    void hold(cudaStream_t stream); // the stream's later work waits for release()
    void release();                 // idempotent; must follow every hold() (see Release)
    bool holding() const;
    int takeExpired();            // holds the watchdog ended since the last call
    int64_t openedAtNs() const;   // traceClockNs() when the gate last opened (by release() or the watchdog)

    static constexpr std::chrono::milliseconds kMaxHold{50};

    // Releases on scope exit, also when a launch throws: a held stream never drains otherwise.
    struct Release
    {
        LaunchGate* gate;
        ~Release()
        {
            if (gate)
                gate->release();
        }
    };

private:
    void openLocked(); // m_mutex held
    void watch();

    void* m_wait = nullptr;             // PFN_cuStreamWaitValue32
    volatile uint32_t* m_flag = nullptr; // pinned, mapped
    void* m_deviceFlag = nullptr;        // the same word as the device addresses it
    uint32_t m_seq = 0;
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    bool m_holding = false, m_stop = false;
    int m_expired = 0;
    int64_t m_openedNs = 0;
    std::chrono::milliseconds m_maxHold;
    std::chrono::steady_clock::time_point m_deadline;
    std::thread m_watchdog;
};

} // namespace fairkv::cuda
