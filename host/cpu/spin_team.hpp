#pragma once
// A team of threads that stay awake between the CPU engine's parallel loops. An OpenMP parallel
// region costs ~10 us per step on a small VM once libgomp has put its threads to sleep (its
// default spin is throttled there), which is more than a small network's whole step; the team's
// workers spin between loops instead (and sleep only after a few ms without work), so a loop
// costs two cache-line hand-offs (with OMP_WAIT_POLICY=passive they sleep at once, as OpenMP's
// threads would). Items are claimed one at a time (balanced, any order): the
// caller's results must not depend on which thread ran an item (the engine's do not: every
// block of cells is independent, and spikes are gathered in block order afterwards).
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace l5sim::cpu {

class SpinTeam {
  public:
    /// `threads` in all: the caller of run() and threads - 1 workers.
    explicit SpinTeam(int threads);
    ~SpinTeam();
    SpinTeam(const SpinTeam&) = delete;
    SpinTeam& operator=(const SpinTeam&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }
    /// f(i) for every i in [0, items), on the team (the caller takes part); returns when every
    /// item is done. An exception thrown by f is rethrown here (the first one).
    void run(int64_t items, const std::function<void(int64_t)>& f);

  private:
    void work(uint64_t* seen);
    void claim();

    std::vector<std::thread> workers_;
    std::atomic<uint64_t> generation_{0};  // bumped by run(); workers wait for a new one
    std::atomic<int64_t> next_{0};         // the next unclaimed item
    std::atomic<int> busy_{0};             // workers not yet through this generation
    std::atomic<bool> stop_{false};
    const std::function<void(int64_t)>* f_ = nullptr;
    int64_t items_ = 0;
    std::exception_ptr error_;
    std::atomic<bool> failed_{false};
    bool passive_ = false;  // OMP_WAIT_POLICY=passive: sleep between loops, never spin
};

}  // namespace l5sim::cpu
