// PopulationStore (l5sim/population_store.hpp), the one owner of the per-cell state, on host
// storage: which variables a type gets and how they start, name lookup for checkpoint blocks
// and probes, the size checks, and the health scan's order (table order, then cell).
#include "l5sim/population_store.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "l5sim/engine.hpp"
#include "l5sim/error.hpp"
#include "l5sim/model/poisson.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

const HostStorage kHost{};

Config two_types() {
    return test::config_from(
        "populations:\n"
        "  P: {type: pyramidal, n: 4, coupling: {gamma: 0.25}, init: {v_mV: -61.5, g_gaba_d_nS: "
        "2}}\n"
        "  I: {type: pv, n: 3}\n");
}

StateBlock block_of(const Config& c, const std::string& name) {
    for (const auto& b : state_layout(c))
        if (b.name == name) return b;
    throw Error("no block " + name);
}

}  // namespace

TEST(PopulationStore, ATypeGetsItsRowsOfTheTableAtTheirStart) {
    const Config c = two_types();
    const PopulationStore<HostStorage> p(c, 0, &kHost), i(c, 1, &kHost);
    // (no GABA_B input: neither has the extra receptors' rows)
    for (const VarInfo& r : kVarTable) {
        EXPECT_EQ(p.has(r.var), !r.extra_receptor) << r.name;
        const bool in_i = !r.dendrite && !r.extra_receptor;
        EXPECT_EQ(i.has(r.var), in_i) << r.name;
        uint64_t bytes = 1;
        EXPECT_EQ(i.memory(r.var, &bytes) != nullptr, in_i) << r.name;
        EXPECT_EQ(bytes, in_i ? 3 * var_bytes(r) : 0u) << r.name;
    }
    // Starts: the init entries, the coupling gamma, "never" for the background, 0 elsewhere.
    EXPECT_EQ(p.array(Var::v), std::vector<float>(4, -61.5f));
    EXPECT_EQ(p.array(Var::g_gaba_d), std::vector<float>(4, 2.0f));
    EXPECT_EQ(p.array(Var::gamma), std::vector<float>(4, 0.25f));
    EXPECT_EQ(p.array(Var::rem_dend), std::vector<float>(4, model::poisson_never()));
    EXPECT_EQ(p.array(Var::i_ext), std::vector<float>(4, 0.0f));
    EXPECT_EQ(std::vector<uint8_t>(p.burst(), p.burst() + 4), std::vector<uint8_t>(4, 0));
    EXPECT_EQ(i.floats(Var::v_d), nullptr);
    EXPECT_EQ(i.history(), nullptr);
    EXPECT_EQ(i.burst(), nullptr);
}

TEST(PopulationStore, CheckpointBlocksRoundTripAndRefuseOtherSizes) {
    const Config c = two_types();
    PopulationStore<HostStorage> p(c, 0, &kHost);
    const StateBlock u = block_of(c, "P/u");
    const std::vector<float> in = {1, 2, 3, 4};
    ASSERT_TRUE(p.write_block(u, in.data()));
    std::vector<float> out(4);
    ASSERT_TRUE(p.read_block(u, out.data()));
    EXPECT_EQ(out, in);
    // Not a table variable: the engine's own counter, left to the engine.
    EXPECT_FALSE(p.read_block(block_of(c, "P/spikes"), out.data()));
    // A block of the wrong size (a layout for 5 cells) is an error naming the block.
    StateBlock wrong = u;
    wrong.count = 5;
    try {
        p.read_block(wrong, out.data());
        FAIL() << "a 5-cell block was read from a 4-cell store";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("P/u"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("16 bytes"), std::string::npos) << e.what();
    }
    // A dendritic block on a type without a dendrite.
    PopulationStore<HostStorage> i(c, 1, &kHost);
    StateBlock vd = block_of(c, "P/v_d");
    vd.count = 3;
    EXPECT_THROW(i.read_block(vd, out.data()), Error);
}

TEST(PopulationStore, KnobsReplaceWholeArraysOfTheRightLength) {
    const Config c = two_types();
    PopulationStore<HostStorage> p(c, 0, &kHost), i(c, 1, &kHost);
    p.set(Var::gamma, {0.1f, 0.2f, 0.3f, 0.4f});
    EXPECT_EQ(p.array(Var::gamma), (std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f}));
    EXPECT_THROW(p.set(Var::gamma, {0.1f}), Error);
    EXPECT_THROW(i.set(Var::i_ext_d, {1, 2, 3}), Error);
}

TEST(PopulationStore, HealthScanFindsTheFirstVariableInTableOrderThenTheLowestCell) {
    const Config c = two_types();
    PopulationStore<HostStorage> p(c, 0, &kHost);
    std::string var;
    uint32_t cell = 99;
    EXPECT_FALSE(p.find_nonfinite(&var, &cell));
    p.array(Var::g_gaba_d)[1] = std::numeric_limits<float>::infinity();
    p.array(Var::u)[3] = std::nanf("");
    p.array(Var::u)[2] = -std::numeric_limits<float>::infinity();
    // rem_soma is not health-checked ("never" is a large finite number, but a NaN there is
    // not the health check's business).
    p.array(Var::rem_soma)[0] = std::nanf("");
    ASSERT_TRUE(p.find_nonfinite(&var, &cell));
    EXPECT_EQ(var, "u");
    EXPECT_EQ(cell, 2u);
    p.array(Var::u)[2] = p.array(Var::u)[3] = 0;
    ASSERT_TRUE(p.find_nonfinite(&var, &cell));
    EXPECT_EQ(var, "g_gaba_d");
    EXPECT_EQ(cell, 1u);
}

TEST(PopulationStore, ProbesGatherCellsAndBurstModeIsZeroWithoutADendrite) {
    const Config c = two_types();
    PopulationStore<HostStorage> p(c, 0, &kHost), i(c, 1, &kHost);
    p.array(Var::v) = {10, 11, 12, 13};
    p.burst()[2] = 1;
    std::vector<float> out(3);
    p.read_probe("v", {3, 0, 3}, out.data());
    EXPECT_EQ(out, (std::vector<float>{13, 10, 13}));
    p.read_probe("burst_mode", {2, 1, 2}, out.data());
    EXPECT_EQ(out, (std::vector<float>{1, 0, 1}));
    out.assign(3, 7);
    i.read_probe("burst_mode", {0, 1, 2}, out.data());
    EXPECT_EQ(out, (std::vector<float>{0, 0, 0}));
    EXPECT_THROW(i.read_probe("v_d", {0}, out.data()), Error);
    EXPECT_THROW(p.read_probe("rem_soma", {0}, out.data()), Error);  // not a probe name
}
