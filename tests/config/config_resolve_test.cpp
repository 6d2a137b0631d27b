// --set overrides (parse_override and their errors), defaults, and the resolved YAML: every value
// with its default filled in, itself a valid config that resolves to the same text.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "config_test_util.hpp"
#include "l5sim/config.hpp"
#include "l5sim/error.hpp"
#include "l5sim/sweep.hpp"

namespace {

using l5sim::ConfigError;
using l5sim::Override;
using l5sim::test::mentions;

const char* kBase =
    "simulation:\n"                                                // 1
    "  dt_ms: 0.1\n"                                               // 2
    "  duration_ms: 50\n"                                          // 3
    "populations:\n"                                               // 4
    "  PYR: {n: 4}\n"                                              // 5
    "  PV: {type: pv, n: 2}\n"                                     // 6
    "projections:\n"                                               // 7
    "  PYR_PV: {source: PYR, target: PV, receptors: {ampa: 1}}\n"  // 8
    "injections:\n"                                                // 9
    "  - {name: drive, population: PYR, amplitude_pA: 50}\n";      // 10

l5sim::Config parse(const std::string& text, const std::vector<Override>& ov = {}) {
    return l5sim::parse_config(text, "test.yaml", ov);
}

std::string error_of(const std::string& text, const std::vector<Override>& ov) {
    return l5sim::test::config_error([&] { parse(text, ov); }, text);
}

// ---- parse_override ----

TEST(ConfigOverride, ParsesKeyAndValue) {
    EXPECT_EQ(l5sim::parse_override("simulation.dt_ms=0.05"), Override("simulation.dt_ms", "0.05"));
    // Only the first '=' separates: the value may contain more.
    EXPECT_EQ(l5sim::parse_override("a.b=c=d"), Override("a.b", "c=d"));
    EXPECT_EQ(l5sim::parse_override("a={x: 1}"), Override("a", "{x: 1}"));
}

TEST(ConfigOverride, MalformedOverrideIsAConfigError) {
    for (const char* bad : {"simulation.dt_ms", "=0.1", ""}) {
        try {
            l5sim::parse_override(bad);
            ADD_FAILURE() << "no ConfigError for '" << bad << "'";
        } catch (const ConfigError& e) {
            EXPECT_TRUE(
                mentions(e.what(), {std::string("--set ") + bad, "expected key.path=value"}));
        }
    }
}

// ---- overrides applied to a config ----

TEST(ConfigOverride, ValidValueChangesTheResolvedConfig) {
    const auto c = parse(kBase, {{"simulation.dt_ms", "0.05"},
                                 {"populations.PYR.coupling.gamma", "0.9"},
                                 {"injections.0.amplitude_pA", "120"},
                                 {"projections.PYR_PV.delay.ms", "1.5"}});
    EXPECT_DOUBLE_EQ(c.dt_ms, 0.05);
    EXPECT_DOUBLE_EQ(c.populations[0].gamma, 0.9);
    EXPECT_DOUBLE_EQ(c.injections[0].amplitude_pA, 120);
    EXPECT_DOUBLE_EQ(c.projections[0].delay_ms, 1.5);
    const YAML::Node r = YAML::Load(c.resolved_yaml);
    EXPECT_DOUBLE_EQ(r["simulation"]["dt_ms"].as<double>(), 0.05);
    EXPECT_DOUBLE_EQ(r["populations"]["PYR"]["coupling"]["gamma"].as<double>(), 0.9);
    EXPECT_DOUBLE_EQ(r["injections"][0]["amplitude_pA"].as<double>(), 120);
}

TEST(ConfigOverride, LaterOverrideWins) {
    const auto c = parse(kBase, {{"simulation.seed", "5"}, {"simulation.seed", "9"}});
    EXPECT_EQ(c.seed, 9u);
}

TEST(ConfigOverride, OverrideCanReplaceAWholeMap) {
    const auto c = parse(kBase, {{"populations.PYR.coupling", "{mode: scaled, gamma: 0.25}"}});
    EXPECT_EQ(c.populations[0].coupling, l5sim::model::Coupling::scaled);
    EXPECT_DOUBLE_EQ(c.populations[0].gamma, 0.25);
}

TEST(ConfigOverride, OverrideOnEmptyTextBuildsAConfig) {
    const auto c = parse("", {{"populations.PYR.n", "3"}});
    ASSERT_EQ(c.populations.size(), 1u);
    EXPECT_EQ(c.populations[0].n, 3u);
}

TEST(ConfigOverride, UnknownKeyIsRejectedNamingTheSet) {
    const auto m = error_of(kBase, {{"simulation.dt", "0.05"}});
    EXPECT_EQ(m.rfind("--set simulation.dt: ", 0), 0u) << m;
    EXPECT_TRUE(mentions(m, {"simulation.dt: unknown key", "dt_ms"}));
    const auto deep = error_of(kBase, {{"populations.PYR.dendrite.p_bap", "100"}});
    EXPECT_TRUE(mentions(deep, {"--set populations.PYR.dendrite.p_bap: ",
                                "populations.PYR.dendrite.p_bap: unknown key"}));
}

TEST(ConfigOverride, BadValueNamesTheSet) {
    const auto m = error_of(kBase, {{"simulation.dt_ms", "-1"}});
    EXPECT_EQ(m.rfind("--set simulation.dt_ms: ", 0), 0u) << m;
    EXPECT_TRUE(mentions(m, {"simulation.dt_ms: expected a number > 0 and <= 1", "got '-1'"}));
    const auto type = error_of(kBase, {{"populations.PYR.n", "many"}});
    EXPECT_TRUE(mentions(type, {"--set populations.PYR.n: ",
                                "populations.PYR.n: expected an integer", "got 'many'"}));
    const auto gamma = error_of(kBase, {{"populations.PYR.coupling", "{gamma: 2}"}});
    EXPECT_TRUE(
        mentions(gamma, {"--set populations.PYR.coupling: ",
                         "populations.PYR.coupling.gamma: expected a probability in [0, 1]"}));
    const auto pop = error_of(kBase, {{"projections.PYR_PV.target", "SOM"}});
    EXPECT_TRUE(mentions(pop, {"--set projections.PYR_PV.target: ", "expected a population name"}));
}

TEST(ConfigOverride, FileErrorsStillNameTheFileWhenOtherKeysAreSet) {
    const std::string text = std::string(kBase) + "  - {population: PYR, amplitude: 5}\n";
    const auto m = error_of(text, {{"simulation.seed", "3"}});
    EXPECT_TRUE(mentions(m, {"test.yaml:11:23: ", "injections.1.amplitude: unknown key"}));
}

TEST(ConfigOverride, ValueThatIsNotYaml) {
    const auto m = error_of(kBase, {{"simulation.dt_ms", "[0.1"}});
    EXPECT_TRUE(mentions(m, {"--set simulation.dt_ms=[0.1", "value is not valid YAML"}));
}

TEST(ConfigOverride, KeyInsideAScalar) {
    const auto m = error_of(kBase, {{"simulation.dt_ms.x", "1"}});
    EXPECT_TRUE(
        mentions(m, {"--set simulation.dt_ms.x=1", "cannot set a key inside the value '0.1'"}));
}

TEST(ConfigOverride, EmptyKeyPathPart) {
    const auto m = error_of(kBase, {{"simulation..dt_ms", "1"}});
    EXPECT_TRUE(mentions(m, {"--set simulation..dt_ms=1", "empty part in key path"}));
}

TEST(ConfigOverride, ListIndex) {
    const auto bad = error_of(kBase, {{"injections.3.amplitude_pA", "1"}});
    EXPECT_TRUE(
        mentions(bad, {"--set injections.3.amplitude_pA=1", "list index 3 is out of range"}));
    const auto word = error_of(kBase, {{"injections.first.amplitude_pA", "1"}});
    EXPECT_TRUE(
        mentions(word, {"--set injections.first.amplitude_pA=1", "'first' must be a list index"}));
}

// ---- resolved YAML ----

TEST(ConfigResolved, DefaultsAreFilledIn) {
    const auto c = parse(kBase);
    const auto& y = c.resolved_yaml;
    EXPECT_NE(y.find("p_bap_pA: 2600"), std::string::npos) << y;
    const YAML::Node r = YAML::Load(y);
    const YAML::Node pyr = r["populations"]["PYR"];
    EXPECT_EQ(pyr["type"].as<std::string>(), "pyramidal");
    EXPECT_DOUBLE_EQ(pyr["dendrite"]["p_bap_pA"].as<double>(), 2600);
    EXPECT_DOUBLE_EQ(pyr["dendrite"]["g_Ca_pA"].as<double>(), 1200);
    EXPECT_DOUBLE_EQ(pyr["dendrite"]["g_L_nS"].as<double>(), 170.0 / 7.0);
    EXPECT_DOUBLE_EQ(pyr["soma"]["C_pF"].as<double>(), 150);
    EXPECT_DOUBLE_EQ(pyr["soma"]["c_burst_mV"].as<double>(), -55);
    EXPECT_DOUBLE_EQ(pyr["coupling"]["gamma"].as<double>(), 0.5);
    EXPECT_EQ(pyr["coupling"]["mode"].as<std::string>(), "stochastic");
    EXPECT_DOUBLE_EQ(pyr["adaptation"]["tau_ms"].as<double>(), 2000);
    EXPECT_DOUBLE_EQ(pyr["background"]["soma"]["rate_hz"].as<double>(), 600);
    EXPECT_DOUBLE_EQ(pyr["background"]["dendrite"]["rate_hz"].as<double>(), 50);
    const YAML::Node pv = r["populations"]["PV"];
    EXPECT_DOUBLE_EQ(pv["soma"]["C_pF"].as<double>(), 20);
    EXPECT_DOUBLE_EQ(pv["background"]["soma"]["weight"].as<double>(), 0.02);
    EXPECT_FALSE(pv["dendrite"].IsDefined());
    EXPECT_DOUBLE_EQ(r["synapses"]["nmda"]["tau_ms"].as<double>(), 100);
    EXPECT_DOUBLE_EQ(r["synapses"]["nmda"]["soma_cap_nS"].as<double>(), 85);
    EXPECT_DOUBLE_EQ(r["synapses"]["gaba_a"]["E_mV"].as<double>(), -75);
    EXPECT_EQ(r["network"]["layout"].as<std::string>(), "ring");
    EXPECT_EQ(r["simulation"]["seed"].as<int>(), 1);
    const YAML::Node pr = r["projections"]["PYR_PV"];
    EXPECT_EQ(pr["compartment"].as<std::string>(), "soma");
    EXPECT_EQ(pr["connectivity"]["rule"].as<std::string>(), "dense");
    EXPECT_DOUBLE_EQ(pr["connectivity"]["sigma"].as<double>(), 0.5);
    EXPECT_DOUBLE_EQ(pr["delay"]["ms"].as<double>(), 0);
    EXPECT_DOUBLE_EQ(pr["gain"].as<double>(), 1);
    EXPECT_EQ(r["injections"][0]["cells"].as<std::string>(), "all");
    EXPECT_EQ(r["injections"][0]["kind"].as<std::string>(), "constant");
    EXPECT_TRUE(r["recording"]["spikes"].as<bool>());
}

TEST(ConfigResolved, NumbersAreWrittenShortest) {
    const auto c = parse(kBase);
    EXPECT_NE(c.resolved_yaml.find("dt_ms: 0.1\n"), std::string::npos) << c.resolved_yaml;
    EXPECT_NE(c.resolved_yaml.find("increment_nS: 0.065\n"), std::string::npos) << c.resolved_yaml;
}

TEST(ConfigResolved, StdpDefaultsAppearWhenStdpIsOn) {
    const auto c = parse(std::string(kBase), {{"projections.PYR_PV.stdp", "{}"}});
    ASSERT_TRUE(c.projections[0].stdp.has_value());
    const YAML::Node s = YAML::Load(c.resolved_yaml)["projections"]["PYR_PV"]["stdp"];
    EXPECT_EQ(s["rule"].as<std::string>(), "pair_all");
    EXPECT_EQ(s["bounds"].as<std::string>(), "hard");
    EXPECT_DOUBLE_EQ(s["tau_plus_ms"].as<double>(), 20);
    EXPECT_DOUBLE_EQ(s["A_plus"].as<double>(), 0.005);
    EXPECT_DOUBLE_EQ(s["A_minus_ratio"].as<double>(), 1.05);
    EXPECT_DOUBLE_EQ(s["w_max_factor"].as<double>(), 2);
    EXPECT_DOUBLE_EQ(s["eta"].as<double>(), 1);
}

TEST(ConfigResolved, IsItselfAConfigThatResolvesToTheSameText) {
    const auto c =
        parse(kBase, {{"simulation.seed", "17"}, {"populations.PYR.coupling.gamma", "0.3"}});
    const auto again = parse(c.resolved_yaml);
    EXPECT_EQ(again.resolved_yaml, c.resolved_yaml);
    EXPECT_EQ(again.seed, 17u);
    EXPECT_DOUBLE_EQ(again.populations[0].gamma, 0.3);
    EXPECT_DOUBLE_EQ(again.populations[0].dendrite.g_Ld, 170.0 / 7.0);
}

TEST(ConfigResolved, ProvenanceBlockOfAnOutputDirectoryIsAccepted) {
    // l5sim run writes config.resolved.yaml = provenance + resolved config; it must run again.
    const auto c = parse(kBase);
    const std::string text = "provenance:\n  l5sim_version: 0.1.0\n  seed: 1\n" + c.resolved_yaml;
    const auto again = parse(text);
    EXPECT_EQ(again.resolved_yaml, c.resolved_yaml);
    EXPECT_EQ(again.resolved_yaml.find("provenance"), std::string::npos);
}

TEST(ConfigResolved, QuickstartLoadsAndRoundTrips) {
    const auto c = l5sim::load_config(L5SIM_SOURCE_DIR "/configs/quickstart.yaml");
    EXPECT_EQ(c.populations.size(), 3u);
    EXPECT_EQ(c.projections.size(), 5u);
    ASSERT_GE(c.population_index("SOM"), 0);
    EXPECT_EQ(c.populations[c.population_index("SOM")].type, "som");
    EXPECT_EQ(parse(c.resolved_yaml).resolved_yaml, c.resolved_yaml);
}

TEST(ConfigResolved, NullValueMeansTheDefault) {
    const auto c = parse("simulation:\n  dt_ms:\npopulations:\n  PYR: {n: 2}\n");
    EXPECT_DOUBLE_EQ(c.dt_ms, 0.1);
}

// A key with no value is absent, also where absence means "off" (configs/README.md): a bare
// `stdp:` makes the projection static, and is no unknown key.
TEST(ConfigResolved, NullStdpMeansNotPlastic) {
    const std::string net =
        "populations:\n  PYR: {n: 2}\nprojections:\n  PP:\n    source: PYR\n    target: PYR\n"
        "    receptors: {ampa: 1}\n";
    const auto c = parse(net + "    stdp:\n");
    ASSERT_EQ(c.projections.size(), 1u);
    EXPECT_FALSE(c.projections[0].stdp.has_value());
    EXPECT_TRUE(parse(net + "    stdp: {}\n").projections[0].stdp.has_value());
}

// ---- configs/README.md stays true to the schema ----

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Every leaf key of a resolved config, as (parent key, leaf key), skipping user-chosen names.
void leaf_keys(const YAML::Node& n, const std::string& parent, bool names_below,
               std::vector<std::pair<std::string, std::string>>& out) {
    if (n.IsSequence()) {
        for (const auto& item : n) leaf_keys(item, parent, false, out);
        return;
    }
    if (!n.IsMap()) return;
    for (auto it = n.begin(); it != n.end(); ++it) {
        const std::string k = it->first.Scalar();
        if (names_below) {  // k is a population or projection name
            leaf_keys(it->second, parent, false, out);
            continue;
        }
        if (it->second.IsMap() || it->second.IsSequence()) {
            if (!it->second.IsSequence() || it->second.size() == 0 || it->second[0].IsMap()) {
                leaf_keys(it->second, k, k == "populations" || k == "projections", out);
                continue;
            }
        }
        out.emplace_back(parent, k);
    }
}

// configs/quickstart.yaml without its schedule block, to which a test adds its own.
std::string quickstart_without_schedule() {
    std::string q = read_text(L5SIM_SOURCE_DIR "/configs/quickstart.yaml");
    const size_t a = q.find("\nschedule:\n"), b = q.find("\nrecording:\n");
    EXPECT_NE(a, std::string::npos);
    EXPECT_LT(a, b);
    if (a != std::string::npos && b != std::string::npos && a < b) q.erase(a + 1, b - a);
    return q;
}

TEST(ConfigReadme, DocumentsEveryKey) {
    const std::string readme = read_text(L5SIM_SOURCE_DIR "/configs/README.md");
    ASSERT_FALSE(readme.empty());
    // A config that uses every section: the quickstart ring plus injections, a schedule and a
    // sheet variant (sparse keys, sheet delays).
    const std::string extra =
        "injections:\n"
        "  - {name: p, population: PYR, kind: pulse_train, amplitude_pA: 10}\n"
        "schedule:\n"
        "  - {knob: PYR.gamma, value: 0.9, start_ms: 10, stop_ms: 20}\n";
    const auto ring = l5sim::load_config(L5SIM_SOURCE_DIR "/configs/quickstart.yaml");
    const auto with = parse(quickstart_without_schedule() + extra);
    const auto sheet = parse(
        "network: {layout: sheet}\npopulations:\n  PYR: {n: 16}\nprojections:\n"
        "  P: {source: PYR, target: PYR, receptors: {ampa: 1}, stdp: {}}\n");
    std::vector<std::pair<std::string, std::string>> keys;
    for (const auto* c : {&ring, &with, &sheet})
        leaf_keys(YAML::Load(c->resolved_yaml), "", false, keys);
    ASSERT_GT(keys.size(), 100u);
    for (const auto& [parent, leaf] : keys) {
        const bool found = readme.find("`" + leaf + "`") != std::string::npos ||
                           readme.find("`" + parent + "." + leaf + "`") != std::string::npos;
        EXPECT_TRUE(found) << parent << "." << leaf << " is not in configs/README.md";
    }
}

// The ```yaml examples of configs/README.md are valid when added to the quickstart config (a
// sweep example: every replica).
TEST(ConfigReadme, ExamplesAreValid) {
    const std::string readme = read_text(L5SIM_SOURCE_DIR "/configs/README.md");
    const std::string quickstart = quickstart_without_schedule();
    int examples = 0;
    for (size_t at = readme.find("```yaml\n"); at != std::string::npos;
         at = readme.find("```yaml\n", at + 1)) {
        const size_t begin = at + 8, end = readme.find("```", begin);
        ASSERT_NE(end, std::string::npos);
        const std::string example = readme.substr(begin, end - begin);
        EXPECT_NO_THROW(l5sim::parse_batch(quickstart + example, "quickstart+example.yaml"))
            << example;
        ++examples;
    }
    EXPECT_GE(examples, 2);
}

// The initial state in the resolved YAML: the defaults as numbers (v_r, E_L, 0), the spreads as
// written; and it reads back to the same specification.
TEST(ConfigResolved, InitialStateIsWrittenAndReadsBack) {
    const auto c = parse(kBase, {{"populations.PYR.init.v_mV", "{uniform: [-75, -55]}"},
                                 {"populations.PV.init.u_pA", "{normal: [1.5, 0.25]}"}});
    const auto& pyr = c.populations[0].init;
    EXPECT_EQ(pyr[0].kind, l5sim::model::InitSpec::Kind::uniform);
    EXPECT_EQ(pyr[0].a, -75);
    EXPECT_EQ(pyr[0].b, -55);
    EXPECT_EQ(pyr[1].kind, l5sim::model::InitSpec::Kind::constant);
    EXPECT_EQ(pyr[2].a, -70);                    // E_L
    EXPECT_EQ(c.populations[1].init[0].a, -55);  // PV's v_r
    EXPECT_TRUE(mentions(
        c.resolved_yaml,
        {"v_mV: {uniform: [-75, -55]}", "u_pA: {normal: [1.5, 0.25]}", "v_d_mV: -70", "u_d_pA: 0"}))
        << c.resolved_yaml;
    const auto again = parse(c.resolved_yaml);
    EXPECT_EQ(again.resolved_yaml, c.resolved_yaml);
    EXPECT_EQ(again.populations[1].init[1].kind, l5sim::model::InitSpec::Kind::normal);
    EXPECT_EQ(again.populations[1].init[1].b, 0.25);
}

}  // namespace
