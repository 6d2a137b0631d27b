// The cell-type registry (l5sim/cell_types.hpp) against MODEL.md's tables, number by number
// (typed here from docs/MODEL.md sections 2, 3 and 6, not from the registry), the config reader
// against the registry, and configs/README.md's "Cell types" tables against what the reader
// resolves (they are generated: `l5sim info --cell-types`).
#include "l5sim/cell_types.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "l5sim/config.hpp"
#include "l5sim/error.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

void expect_soma(const char* type, std::initializer_list<double> v) {
    const model::IzhParams& s = cell_type(type).soma;
    const double got[] = {s.C, s.k, s.v_r, s.v_t,     s.v_peak, s.a,
                          s.b, s.c, s.d,   s.c_burst, s.d_burst};
    const char* names[] = {"C", "k", "v_r", "v_t",     "v_peak", "a",
                           "b", "c", "d",   "c_burst", "d_burst"};
    size_t i = 0;
    for (double want : v) {
        EXPECT_DOUBLE_EQ(got[i], want) << type << " soma " << names[i];
        ++i;
    }
}

}  // namespace

TEST(CellTypes, RowsAreMODELsNumbers) {
    // MODEL.md section 2 (c_burst, d_burst of interneurons: their c, d).
    expect_soma("pyramidal", {150, 2.5, -75, -45, 50, 0.01, 5, -65, 250, -55, 150});
    expect_soma("pv", {20, 1, -55, -40, 25, 0.15, 8, -55, 200, -55, 200});
    expect_soma("som", {100, 1, -56, -42, 40, 0.03, 8, -53, 20, -53, 20});
    // Section 3.
    const model::DendriteParams& d = cell_type("pyramidal").dendrite;
    EXPECT_DOUBLE_EQ(d.C_d, 170);
    EXPECT_DOUBLE_EQ(d.g_Ld, 170.0 / 7.0);
    EXPECT_DOUBLE_EQ(d.E_Ld, -70);
    EXPECT_DOUBLE_EQ(d.g_Ca, 1200);
    EXPECT_DOUBLE_EQ(d.E_half, -38);
    EXPECT_DOUBLE_EQ(d.D, 6);
    EXPECT_DOUBLE_EQ(d.a_d, 1.0 / 30.0);
    EXPECT_DOUBLE_EQ(d.b_d, -13);
    EXPECT_DOUBLE_EQ(d.p_bap, 2600);
    EXPECT_DOUBLE_EQ(d.theta_ca, -30);
    EXPECT_EQ(d.bap_delay_steps, 5);
    EXPECT_EQ(d.bap_last_steps, 25);
    // Section 2 (adaptation) and 6 (background).
    const CellTypeInfo& pyr = cell_type("pyramidal");
    EXPECT_DOUBLE_EQ(pyr.adaptation.increment_nS, 0.065);
    EXPECT_DOUBLE_EQ(pyr.adaptation.tau_ms, 2000);
    EXPECT_DOUBLE_EQ(pyr.adaptation.E_mV, -80);
    EXPECT_DOUBLE_EQ(pyr.gamma, 0.5);
    EXPECT_TRUE(pyr.stochastic_coupling);
    EXPECT_DOUBLE_EQ(pyr.background_soma.rate_hz, 600);
    EXPECT_DOUBLE_EQ(pyr.background_soma.weight, 1);
    EXPECT_DOUBLE_EQ(pyr.background_dendrite.rate_hz, 50);
    EXPECT_DOUBLE_EQ(pyr.background_dendrite.weight, 1);
    for (const char* t : {"pv", "som"}) {
        EXPECT_DOUBLE_EQ(cell_type(t).background_soma.rate_hz, 600) << t;
        EXPECT_DOUBLE_EQ(cell_type(t).background_soma.weight, 0.02) << t;
    }
    // Capabilities: the paper's cells.
    EXPECT_TRUE(pyr.caps.has_dendrite && pyr.caps.adapts);
    for (const char* t : {"pv", "som"})
        EXPECT_FALSE(cell_type(t).caps.has_dendrite || cell_type(t).caps.adapts) << t;
}

TEST(CellTypes, NamesAreUniqueAndLookupFindsEachRow) {
    for (const auto& t : cell_types()) {
        EXPECT_EQ(find_cell_type(t.name), &t);
        int same = 0;
        for (const auto& u : cell_types()) same += std::string(u.name) == t.name;
        EXPECT_EQ(same, 1) << t.name;
    }
    EXPECT_EQ(find_cell_type("pyramid"), nullptr);
    EXPECT_THROW(cell_type("pyramid"), std::out_of_range);
}

TEST(CellTypes, ReaderTakesEveryDefaultFromTheRow) {
    for (const auto& t : cell_types()) {
        const Config c =
            test::config_from(std::string("populations: {X: {type: ") + t.name + ", n: 3}}");
        const PopulationConfig& p = c.populations[0];
        EXPECT_EQ(p.type, t.name);
        EXPECT_EQ(p.caps.has_dendrite, t.caps.has_dendrite);
        EXPECT_EQ(p.caps.adapts, t.caps.adapts);
        EXPECT_EQ(p.soma.C, t.soma.C) << t.name;
        EXPECT_EQ(p.soma.d, t.soma.d) << t.name;
        EXPECT_EQ(p.background_soma.rate_hz, t.background_soma.rate_hz) << t.name;
        EXPECT_EQ(p.background_soma.weight, t.background_soma.weight) << t.name;
        if (t.caps.has_dendrite) {
            EXPECT_EQ(p.dendrite.g_Ca, t.dendrite.g_Ca) << t.name;
            EXPECT_EQ(p.gamma, t.gamma) << t.name;
            EXPECT_EQ(p.soma.c_burst, t.soma.c_burst) << t.name;
        } else {
            // Without a dendrite there is no burst mode: its reset is the regular one.
            EXPECT_EQ(p.soma.c_burst, p.soma.c) << t.name;
            EXPECT_EQ(p.soma.d_burst, p.soma.d) << t.name;
        }
        if (t.caps.adapts) {
            EXPECT_EQ(p.adapt_increment_nS, t.adaptation.increment_nS) << t.name;
            EXPECT_EQ(p.adapt_tau_ms, t.adaptation.tau_ms) << t.name;
        } else {
            EXPECT_EQ(p.adapt_increment_nS, 0) << t.name;
        }
    }
}

TEST(CellTypes, KeysOfAMissingCapabilityAreUnknownKeys) {
    for (const auto& t : cell_types()) {
        const std::string head = std::string("populations: {X: {type: ") + t.name + ", n: 3, ";
        auto refused = [&](const std::string& key_yaml) {
            try {
                test::config_from(head + key_yaml + "}}");
                return false;
            } catch (const ConfigError&) {
                return true;
            }
        };
        EXPECT_EQ(refused("dendrite: {C_pF: 100}"), !t.caps.has_dendrite) << t.name;
        EXPECT_EQ(refused("coupling: {gamma: 0.3}"), !t.caps.has_dendrite) << t.name;
        EXPECT_EQ(refused("soma: {c_burst_mV: -50}"), !t.caps.has_dendrite) << t.name;
        EXPECT_EQ(refused("background: {dendrite: {rate_hz: 10}}"), !t.caps.has_dendrite) << t.name;
        EXPECT_EQ(refused("init: {v_d_mV: -60}"), !t.caps.has_dendrite) << t.name;
        EXPECT_EQ(refused("adaptation: {increment_nS: 0.1}"), !t.caps.adapts) << t.name;
        EXPECT_EQ(refused("init: {g_adapt_nS: 1}"), !t.caps.adapts) << t.name;
    }
}

TEST(CellTypes, ConfigsReadmeTablesAreTheGeneratedOnes) {
    std::ifstream f(L5SIM_SOURCE_DIR "/configs/README.md");
    ASSERT_TRUE(f) << "configs/README.md";
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string readme = ss.str();
    const std::string begin = "<!-- cell-types: generated by `l5sim info --cell-types` -->\n";
    const std::string end = "<!-- cell-types: end -->";
    const size_t a = readme.find(begin), b = readme.find(end);
    ASSERT_NE(a, std::string::npos) << "configs/README.md lacks the line " << begin;
    ASSERT_NE(b, std::string::npos) << "configs/README.md lacks the line " << end;
    const std::string written = readme.substr(a + begin.size(), b - a - begin.size());
    const std::string generated = cell_types_markdown();
    EXPECT_EQ(written, generated)
        << "configs/README.md's cell-type tables differ from the registry: replace the lines "
           "between the two markers with the output of `build/l5sim info --cell-types`:\n"
        << generated;
}
