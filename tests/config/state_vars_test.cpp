// The state table (l5sim/state_vars.hpp) against what other parts fix independently: the
// checkpoint's block order and sizes (the format: typed here, not derived), the InitVar numbers
// that key the random draws, the health check's variables; and configs/README.md's generated
// tables against `l5sim info --state-vars`.
#include "l5sim/state_vars.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "l5sim/engine.hpp"
#include "l5sim/error.hpp"
#include "l5sim/model/initial.hpp"
#include "test_util.hpp"

using namespace l5sim;

TEST(StateVars, CheckpointBlocksKeepTheirOrderAndSizes) {
    const Config c = test::config_from(
        "populations: {P: {type: pyramidal, n: 3}, I: {type: pv, n: 2}, V: {type: vip, n: 2}}");
    std::vector<std::string> names;
    std::vector<uint32_t> elems;
    for (const auto& b : state_layout(c)) {
        if (b.kind != StateBlock::Kind::population) continue;
        names.push_back(b.name);
        elems.push_back(b.elem_bytes);
    }
    const std::vector<std::string> soma = {"v",      "u",       "g_ampa", "g_nmda",  "g_nmda_bg",
                                           "g_gaba", "g_adapt", "i_ext",  "rem_soma"};
    const std::vector<std::string> dend = {"v_d",     "u_d",   "g_ampa_d", "g_nmda_d", "g_gaba_d",
                                           "i_ext_d", "gamma", "rem_dend", "history",  "burst"};
    std::vector<std::string> want;
    std::vector<uint32_t> want_elems;
    for (const char* pop : {"P", "I", "V"}) {
        for (const auto& v : soma)
            want.push_back(std::string(pop) + "/" + v), want_elems.push_back(4);
        if (std::string(pop) == "P")
            for (const auto& v : dend)
                want.push_back("P/" + v), want_elems.push_back(v == "burst" ? 1 : 4);
        want.push_back(std::string(pop) + "/spikes"), want_elems.push_back(8);
        want.push_back(std::string(pop) + "/calcium_spikes"), want_elems.push_back(8);
    }
    EXPECT_EQ(names, want);
    EXPECT_EQ(elems, want_elems);
}

TEST(StateVars, InitNumbersAreTheRandomStreamsOnes) {
    using model::InitVar;
    const std::pair<Var, InitVar> pairs[] = {{Var::v, InitVar::v},
                                             {Var::u, InitVar::u},
                                             {Var::g_ampa, InitVar::g_ampa},
                                             {Var::g_nmda, InitVar::g_nmda},
                                             {Var::g_nmda_bg, InitVar::g_nmda_bg},
                                             {Var::g_gaba, InitVar::g_gaba},
                                             {Var::g_adapt, InitVar::g_adapt},
                                             {Var::v_d, InitVar::v_d},
                                             {Var::u_d, InitVar::u_d},
                                             {Var::g_ampa_d, InitVar::g_ampa_d},
                                             {Var::g_nmda_d, InitVar::g_nmda_d},
                                             {Var::g_gaba_d, InitVar::g_gaba_d}};
    for (const auto& [v, i] : pairs) {
        EXPECT_EQ(var_info(v).init_var, static_cast<int>(i)) << var_info(v).name;
        EXPECT_EQ(var_info(v).start, VarInfo::Start::init) << var_info(v).name;
    }
    int with_init = 0;
    for (const VarInfo& r : kVarTable) with_init += r.init_key != nullptr;
    EXPECT_EQ(with_init, model::kInitVars);
}

TEST(StateVars, HealthCheckScansTheDynamicVariables) {
    std::vector<std::string> health;
    for (const VarInfo& r : kVarTable)
        if (r.health) health.push_back(r.name);
    EXPECT_EQ(health, (std::vector<std::string>{"v", "u", "g_ampa", "g_nmda", "g_nmda_bg", "g_gaba",
                                                "g_adapt", "v_d", "u_d", "g_ampa_d", "g_nmda_d",
                                                "g_gaba_d", "g_gaba_b", "g_gaba_b_d"}));
}

TEST(StateVars, ProbeNamesFollowTheType) {
    // A dendrite variable on an interneuron is refused, naming what it has.
    EXPECT_NO_THROW(test::config_from(
        "populations: {P: {type: pyramidal, n: 3}}\n"
        "recording: {probes: [{population: P, variables: [v, v_d, burst_mode, gamma]}]}"));
    try {
        test::config_from(
            "populations: {I: {type: pv, n: 3}}\n"
            "recording: {probes: [{population: I, variables: [v, v_d]}]}");
        ADD_FAILURE() << "v_d on a PV population accepted";
    } catch (const ConfigError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("'v_d' is not one"), std::string::npos) << m;
        EXPECT_NE(m.find("g_adapt, i_ext)"), std::string::npos) << m;
    }
}

TEST(StateVars, ConfigsReadmeTablesAreTheGeneratedOnes) {
    std::ifstream f(L5SIM_SOURCE_DIR "/configs/README.md");
    ASSERT_TRUE(f);
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string readme = ss.str();
    const std::string gen = state_vars_markdown();
    auto block = [&](const std::string& which) {
        const std::string begin =
            "<!-- state-vars " + which + ": generated by `l5sim info --state-vars` -->\n";
        const std::string end = "<!-- state-vars " + which + ": end -->";
        const size_t a = readme.find(begin), b = readme.find(end);
        EXPECT_NE(a, std::string::npos) << "configs/README.md lacks " << begin;
        EXPECT_NE(b, std::string::npos) << "configs/README.md lacks " << end;
        if (a == std::string::npos || b == std::string::npos) return std::string();
        return readme.substr(a + begin.size(), b - a - begin.size());
    };
    const std::string probes = block("probes"), init = block("init"),
                      receptors = block("receptors");
    EXPECT_FALSE(probes.empty());
    EXPECT_FALSE(init.empty());
    EXPECT_FALSE(receptors.empty());
    EXPECT_NE(gen.find(receptors), std::string::npos)
        << "configs/README.md's receptor table differs from `l5sim info --state-vars`:\n"
        << gen;
    EXPECT_NE(gen.find(probes), std::string::npos)
        << "configs/README.md's probe-variable table differs from `l5sim info --state-vars`:\n"
        << gen;
    EXPECT_NE(gen.find(init), std::string::npos)
        << "configs/README.md's init table differs from `l5sim info --state-vars`:\n"
        << gen;
}
