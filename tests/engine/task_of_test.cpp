// Packed replicas: a fused launch's block finds its task by binary search over the tasks'
// first blocks (cuda::task_of, shared with the kernels). Every block of random layouts, tasks
// of one block and of many, a single task, and tasks of no blocks (never chosen).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "engine_views.hpp"

using l5sim::cuda::task_of;

namespace {

// first[] of tasks with the given block counts (first[0] = 0, first[n] = total).
std::vector<uint32_t> firsts(const std::vector<uint32_t>& blocks) {
    std::vector<uint32_t> f{0};
    for (uint32_t b : blocks) f.push_back(f.back() + b);
    return f;
}

// Every block maps to the task whose range holds it.
void expect_every_block_found(const std::vector<uint32_t>& blocks) {
    const auto f = firsts(blocks);
    const auto n = static_cast<uint32_t>(blocks.size());
    for (uint32_t b = 0; b < f.back(); ++b) {
        const uint32_t t = task_of(f.data(), n, b);
        ASSERT_LT(t, n);
        ASSERT_LE(f[t], b) << "block " << b;
        ASSERT_LT(b, f[t + 1]) << "block " << b << " given task " << t;
    }
}

}  // namespace

TEST(TaskOf, HandPickedLayouts) {
    expect_every_block_found({1});
    expect_every_block_found({7});
    expect_every_block_found({1, 1, 1, 1, 1});
    expect_every_block_found({3, 1, 4, 1, 5, 9, 2, 6});
    expect_every_block_found({2, 0, 0, 3, 0, 1});  // tasks of no blocks in between
    const auto f = firsts({2, 0, 3});
    EXPECT_EQ(task_of(f.data(), 3, 1), 0u);
    EXPECT_EQ(task_of(f.data(), 3, 2), 2u);  // block 2 starts task 2, not the empty task 1
}

TEST(TaskOf, RandomLayouts) {
    std::mt19937 rng(5);
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<uint32_t> blocks(1 + rng() % 700);
        for (auto& b : blocks) b = 1 + rng() % (trial % 2 ? 3 : 40);
        expect_every_block_found(blocks);
    }
}
