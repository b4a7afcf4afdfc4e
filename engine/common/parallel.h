#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace fairkv {

// Runs work(i) for i in [0, n) on up to all cores, each index once, in no particular order; the
// caller's thread takes part. The first exception thrown by any work(i) is rethrown here, after
// every thread has stopped (the indices not yet started are skipped).
template <typename Work>
void parallelFor(size_t n, const Work& work)
{
    const size_t threads = std::min<size_t>(n, std::max(1u, std::thread::hardware_concurrency()));
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex errorMutex;
    auto run = [&] {
        for (size_t i = next++; i < n && !failed.load(); i = next++) {
            try {
                work(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(errorMutex);
                if (!error)
                    error = std::current_exception();
                failed = true;
            }
        }
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) {
        try {
            pool.emplace_back(run);
        } catch (const std::system_error&) { // no more threads: the ones started and this one do the rest
            break;
        }
    }
    run();
    for (auto& th : pool)
        th.join();
    if (error)
        std::rethrow_exception(error);
}

} // namespace fairkv
