// The CPU engine's thread team (host/cpu/spin_team.hpp): every item runs exactly once per run, over
// many runs and team sizes; items really run at the same time on different threads; an
// exception in an item reaches the caller and leaves the team usable.
#include "cpu/spin_team.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

using l5sim::cpu::SpinTeam;

TEST(SpinTeam, EveryItemRunsExactlyOncePerRun) {
    for (int threads : {1, 2, 3, 4}) {
        SpinTeam team(threads);
        EXPECT_EQ(team.size(), threads);
        for (int64_t items : {0, 1, 2, 7, 64, 1000}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(items));
            for (int run = 0; run < 50; ++run)
                team.run(items, [&](int64_t i) { hits[static_cast<size_t>(i)].fetch_add(1); });
            for (int64_t i = 0; i < items; ++i)
                ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 50)
                    << threads << " threads, " << items << " items, item " << i;
        }
    }
}

// Two items that each wait for the other to have started: only a team that runs them on two
// threads at once gets through (a serial one would time out).
TEST(SpinTeam, ItemsRunConcurrently) {
    SpinTeam team(2);
    for (int run = 0; run < 20; ++run) {
        std::atomic<int> started{0};
        std::atomic<bool> timed_out{false};
        team.run(2, [&](int64_t) {
            started.fetch_add(1);
            const auto t0 = std::chrono::steady_clock::now();
            while (started.load() < 2) {
                if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(10)) {
                    timed_out = true;
                    return;
                }
                std::this_thread::yield();
            }
        });
        ASSERT_FALSE(timed_out.load()) << "run " << run << ": the two items did not overlap";
    }
}

// A team that went to sleep (no work for longer than its spin) wakes for the next run.
TEST(SpinTeam, WakesAfterSleeping) {
    SpinTeam team(3);
    std::atomic<int> n{0};
    team.run(100, [&](int64_t) { n.fetch_add(1); });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    team.run(100, [&](int64_t) { n.fetch_add(1); });
    EXPECT_EQ(n.load(), 200);
}

TEST(SpinTeam, ExceptionReachesTheCallerAndTheTeamStaysUsable) {
    SpinTeam team(2);
    EXPECT_THROW(team.run(100,
                          [](int64_t i) {
                              if (i == 37) throw std::runtime_error("item 37");
                          }),
                 std::runtime_error);
    std::atomic<int> n{0};
    team.run(100, [&](int64_t) { n.fetch_add(1); });
    EXPECT_EQ(n.load(), 100);
}
