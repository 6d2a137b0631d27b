#include "cpu/spin_team.hpp"

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace l5sim::cpu {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

// Busy-wait politely: pause, and after a while also offer the core to another thread (a
// machine with more runnable threads than cores must not stall a run on a spinning worker).
inline void relax(uint32_t spins) {
    if (spins < 2048) {
        cpu_relax();
    } else {
        std::this_thread::yield();
    }
}

// Spin this long without work before sleeping (a step of a small network is tens of us; the
// gap between two runs, spent in the engine's serial phases, is shorter still).
constexpr auto kSpinFor = std::chrono::milliseconds(5);

std::mutex error_mutex;

}  // namespace

SpinTeam::SpinTeam(int threads) {
    // OMP_WAIT_POLICY=passive asks OpenMP not to busy-wait (many processes on few cores, as
    // under ctest -j): honoured here too.
    if (const char* p = std::getenv("OMP_WAIT_POLICY")) {
        std::string v(p);
        for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        passive_ = v == "passive";
    }
    for (int t = 1; t < threads; ++t)
        workers_.emplace_back([this] {
            uint64_t seen = 0;
            for (;;) {
                work(&seen);
                if (stop_.load(std::memory_order_acquire)) return;
                claim();
                busy_.fetch_sub(1, std::memory_order_acq_rel);
            }
        });
}

SpinTeam::~SpinTeam() {
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
}

// Wait for a generation newer than *seen: spin, checking the clock now and then, and after
// kSpinFor without one, sleep until run() notifies.
void SpinTeam::work(uint64_t* seen) {
    auto since = std::chrono::steady_clock::now();
    for (uint32_t spins = 1;; ++spins) {
        const uint64_t g = generation_.load(std::memory_order_acquire);
        if (g != *seen) {
            *seen = g;
            return;
        }
        if (passive_ ||
            ((spins & 1023u) == 0 && std::chrono::steady_clock::now() - since > kSpinFor)) {
            generation_.wait(g, std::memory_order_acquire);
            since = std::chrono::steady_clock::now();
        } else {
            relax(spins);
        }
    }
}

void SpinTeam::claim() {
    for (;;) {
        const int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
        if (i >= items_) return;
        try {
            (*f_)(i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!failed_.exchange(true)) error_ = std::current_exception();
        }
    }
}

void SpinTeam::run(int64_t items, const std::function<void(int64_t)>& f) {
    if (items <= 0) return;
    if (workers_.empty() || items == 1) {
        for (int64_t i = 0; i < items; ++i) f(i);
        return;
    }
    f_ = &f;
    items_ = items;
    next_.store(0, std::memory_order_relaxed);
    busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);  // publishes f_, items_, next_, busy_
    generation_.notify_all();
    claim();
    for (uint32_t spins = 0; busy_.load(std::memory_order_acquire) != 0; ++spins)
        relax(passive_ ? ~0u : spins);  // passive: yield at once
    f_ = nullptr;
    if (failed_.load(std::memory_order_acquire)) {
        failed_.store(false);
        std::exception_ptr e = std::move(error_);
        error_ = nullptr;
        std::rethrow_exception(e);
    }
}

}  // namespace l5sim::cpu
