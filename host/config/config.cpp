// The config schema: every key of configs/README.md, its default (MODEL.md), type and range.
#include "l5sim/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "config/yaml_reader.hpp"
#include "l5sim/error.hpp"
#include "l5sim/state_vars.hpp"

namespace l5sim {

using config_detail::MapReader;

// Saturating: a time beyond any run (start_ms: 1e300, say) is kMaxStepCount, never a wrapped
// negative count. Durations are refused above kMaxRunSteps, far below it.
int64_t Config::to_steps(double ms) const {
    const double s = ms / dt_ms;
    return s < double(kMaxStepCount) ? std::llround(s) : kMaxStepCount;
}
int64_t Config::steps() const { return to_steps(duration_ms); }

int Config::population_index(const std::string& name) const {
    for (size_t i = 0; i < populations.size(); ++i)
        if (populations[i].name == name) return static_cast<int>(i);
    return -1;
}

Override parse_override(const std::string& text) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw ConfigError("--set " + text + ": expected key.path=value");
    return {text.substr(0, eq), text.substr(eq + 1)};
}

namespace {

constexpr double kBig = 1e300;
constexpr double kMaxRateHz = 1e6;       // background rate_hz, and its schedule knob
constexpr double kMaxAmplitudePa = 1e7;  // injection amplitude_pA, and its schedule knob

void read_soma(MapReader r, model::IzhParams& p, bool has_dendrite) {
    p.C = r.positive("C_pF", p.C);
    p.k = r.positive("k_nS_per_mV", p.k);
    p.v_r = r.number("v_r_mV", p.v_r, -200, 100);
    p.v_t = r.number("v_t_mV", p.v_t, -200, 100);
    p.v_peak = r.number("v_peak_mV", p.v_peak, -100, 200);
    p.a = r.positive("a_per_ms", p.a);
    p.b = r.number("b_nS", p.b, -kBig, kBig, "a number");
    p.c = r.number("c_mV", p.c, -200, 100);
    p.d = r.number("d_pA", p.d, -kBig, kBig, "a number");
    if (has_dendrite) {
        p.c_burst = r.number("c_burst_mV", p.c_burst, -200, 100);
        p.d_burst = r.number("d_burst_pA", p.d_burst, -kBig, kBig, "a number");
    } else {
        p.c_burst = p.c;
        p.d_burst = p.d;
    }
    if (!(p.v_peak > p.v_t)) r.fail("v_peak_mV", "a value above v_t_mV");
    if (!(p.c < p.v_peak)) r.fail("c_mV", "a reset below v_peak_mV");
    r.finish();
}

void read_dendrite(MapReader r, model::DendriteParams& p) {
    p.C_d = r.positive("C_pF", p.C_d);
    p.g_Ld = r.positive("g_L_nS", p.g_Ld);
    p.E_Ld = r.number("E_L_mV", p.E_Ld, -200, 100);
    p.g_Ca = r.number("g_Ca_pA", p.g_Ca, 0, kBig);
    p.E_half = r.number("E_half_mV", p.E_half, -200, 100);
    p.D = r.positive("D_mV", p.D);
    p.a_d = r.positive("a_per_ms", p.a_d);
    p.b_d = r.number("b_nS", p.b_d, -kBig, kBig, "a number");
    p.p_bap = r.number("p_bap_pA", p.p_bap, 0, kBig);
    p.theta_ca = r.number("theta_Ca_mV", p.theta_ca, -200, 100);
    p.bap_delay_steps = static_cast<int>(r.integer("bap_delay_steps", p.bap_delay_steps, 1, 31));
    p.bap_last_steps =
        static_cast<int>(r.integer("bap_last_steps", p.bap_last_steps, p.bap_delay_steps, 31));
    r.finish();
}

PoissonSource read_poisson(MapReader r, PoissonSource def) {
    def.rate_hz = r.number("rate_hz", def.rate_hz, 0, kMaxRateHz);
    def.weight = r.number("weight", def.weight, 0, 1e6);
    r.finish();
    return def;
}

PopulationConfig read_population(MapReader r, const std::string& name, double dt) {
    PopulationConfig p;
    p.name = name;
    // The type's row of the registry (l5sim/cell_types.hpp) gives every default and says which
    // keys exist: a key of a capability the type lacks is an unknown key.
    std::vector<std::string> types;
    for (const auto& t : cell_types()) types.push_back(t.name);
    p.type = r.choice("type", types.front(), types);
    const CellTypeInfo& t = cell_type(p.type);
    p.caps = t.caps;
    p.n = static_cast<uint32_t>(r.integer("n", p.n, 1, 2000000000));
    const bool dend = t.caps.has_dendrite;
    p.soma = t.soma;
    read_soma(r.map("soma"), p.soma, dend);
    p.dendrite = t.dendrite;
    if (dend) {
        read_dendrite(r.map("dendrite"), p.dendrite);
        MapReader c = r.map("coupling");
        const char* mode_def = t.stochastic_coupling ? "stochastic" : "scaled";
        p.coupling = c.choice("mode", mode_def, {"stochastic", "scaled"}) == "scaled"
                         ? model::Coupling::scaled
                         : model::Coupling::stochastic;
        p.gamma = c.number("gamma", t.gamma, 0, 1, "a probability in [0, 1]");
        c.finish();
    }
    if (t.caps.adapts) {
        MapReader a = r.map("adaptation");
        p.adapt_increment_nS = a.number("increment_nS", t.adaptation.increment_nS, 0, kBig);
        p.adapt_tau_ms =
            a.number("tau_ms", t.adaptation.tau_ms, dt, kBig, "a time constant >= dt_ms");
        p.adapt_E_mV = a.number("E_mV", t.adaptation.E_mV, -200, 100);
        a.finish();
    } else {
        p.adapt_increment_nS = 0;
        p.adapt_tau_ms = 2000;  // g_adapt stays 0: its decay changes nothing
    }
    {
        // The init keys of the state table (l5sim/state_vars.hpp), for the variables the type
        // has; after soma and dendrite: their v_r and E_L are the default starting potentials.
        MapReader in = r.map("init");
        for (const VarInfo& v : kVarTable) {
            if (!v.init_key || !has_var(v, dend)) continue;
            if (v.init_needs_adapts && !t.caps.adapts) continue;
            const double def = v.var == Var::v     ? p.soma.v_r
                               : v.var == Var::v_d ? p.dendrite.E_Ld
                                                   : 0.0;
            p.init[v.init_var] = in.distribution(v.init_key, def, v.init_lo, v.init_hi);
        }
        in.finish();
    }
    MapReader bg = r.map("background");
    p.background_soma = read_poisson(bg.map("soma"), t.background_soma);
    if (dend) p.background_dendrite = read_poisson(bg.map("dendrite"), t.background_dendrite);
    bg.finish();
    r.finish();
    return p;
}

uint32_t find_population(MapReader& r, const std::string& key, const Config& c) {
    const std::string name = r.required_string(key);
    const int i = c.population_index(name);
    if (i < 0) {
        std::string known;
        for (const auto& p : c.populations) known += (known.empty() ? "" : ", ") + p.name;
        r.fail(key, "a population name (one of " + known + ")");
    }
    return static_cast<uint32_t>(i);
}

StdpConfig read_stdp(MapReader r) {
    StdpConfig s;
    const std::string rule = r.choice("rule", "pair_all", {"pair_all", "nearest", "triplet"});
    s.rule = rule == "nearest"   ? model::StdpRule::nearest
             : rule == "triplet" ? model::StdpRule::triplet
                                 : model::StdpRule::pair_all;
    s.bounds = r.choice("bounds", "hard", {"hard", "soft"}) == "soft" ? model::StdpBounds::soft
                                                                      : model::StdpBounds::hard;
    s.tau_plus_ms = r.positive("tau_plus_ms", s.tau_plus_ms);
    s.tau_minus_ms = r.positive("tau_minus_ms", s.tau_minus_ms);
    s.tau_x_ms = r.positive("tau_x_ms", s.tau_x_ms);
    s.tau_y_ms = r.positive("tau_y_ms", s.tau_y_ms);
    s.a_plus_rel = r.number("A_plus", s.a_plus_rel, 0, 1, "a fraction of w_max in [0, 1]");
    s.a_minus_ratio = r.number("A_minus_ratio", s.a_minus_ratio, 0, 100);
    s.a3_plus_rel = r.number("A3_plus", s.a3_plus_rel, 0, 1, "a fraction of w_max in [0, 1]");
    s.a3_minus_rel = r.number("A3_minus", s.a3_minus_rel, 0, 1, "a fraction of w_max in [0, 1]");
    s.w_max_nS =
        r.number("w_max_nS", s.w_max_nS, 0, kBig, "a weight >= 0 (0: w_max_factor x initial max)");
    s.w_max_factor = r.positive("w_max_factor", s.w_max_factor);
    s.eta = r.number("eta", s.eta, 0, kBig);
    r.finish();
    return s;
}

double read_delay(MapReader& r, const std::string& key, double def, double dt, bool allow_zero) {
    const double v = r.number(key, def, 0, 255 * dt, "a delay in ms within 255 steps of dt_ms");
    if (v == 0 && allow_zero) return v;
    if (v < dt * (1 - 1e-9))
        r.fail(key, "a delay >= dt_ms (" + config_detail::format_number(dt) + " ms)" +
                        (allow_zero ? " or exactly 0" : ""));
    return v;
}

ProjectionConfig read_projection(MapReader r, const std::string& name, const Config& c) {
    ProjectionConfig p;
    p.name = name;
    p.location = r.location() + ": projections." + name;
    p.source = find_population(r, "source", c);
    p.target = find_population(r, "target", c);
    const auto& tgt = c.populations[p.target];
    const std::string comp = r.choice("compartment", "soma", {"soma", "dendrite"});
    p.compartment = comp == "dendrite" ? Compartment::dendrite : Compartment::soma;
    if (p.compartment == Compartment::dendrite && !tgt.caps.has_dendrite)
        r.fail("compartment", "soma (target population " + tgt.name + " has no dendrite)");
    MapReader rec = r.map("receptors");
    p.ampa = rec.number("ampa", p.ampa, 0, kBig);
    p.nmda = rec.number("nmda", p.nmda, 0, kBig);
    p.gaba = rec.number("gaba_a", p.gaba, 0, kBig);
    if (p.ampa == 0 && p.nmda == 0 && p.gaba == 0)
        rec.fail_here("at least one receptor factor > 0 (ampa, nmda, gaba_a)");
    rec.finish();
    MapReader con = r.map("connectivity");
    const bool sheet = c.layout == Layout::sheet;
    p.rule = con.choice("rule", sheet ? "sparse" : "dense", {"dense", "sparse"}) == "sparse"
                 ? ConnRule::sparse
                 : ConnRule::dense;
    if (p.rule == ConnRule::dense && sheet)
        con.fail("rule", "sparse (layout sheet uses sparse fixed in-degree)");
    if (p.rule == ConnRule::sparse && !sheet)
        con.fail("rule", "dense (sparse connectivity needs network.layout: sheet)");
    p.A = con.number("A", p.A, 0, kBig);
    p.sigma = con.positive("sigma", sheet ? 0.05 : 0.5);
    // The dense ring keeps each cell's connection to itself by default, as the reference
    // implementation does (its Gaussian weight matrices keep their diagonal; MODEL.md section
    // 7); sparse draws leave it out unless asked.
    p.autapses = con.boolean("autapses", p.rule == ConnRule::dense);
    // Sparse rules draw K sources per cell: a population of one cell onto itself, autapses off,
    // has none to draw (the draw would fall back to the cell itself).
    if (p.rule == ConnRule::sparse && p.source == p.target && !p.autapses && tgt.n == 1)
        con.fail("autapses", "true: population " + tgt.name +
                                 " has one cell, and no source but itself to draw");
    if (p.rule == ConnRule::sparse) {
        p.K = static_cast<uint32_t>(con.integer("K", p.K, 1, 1000000));
        p.dense_equivalent_sources =
            static_cast<uint32_t>(con.integer("dense_equivalent_sources", 200, 1, 100000000));
        p.dense_equivalent_sigma = con.positive("dense_equivalent_sigma", p.dense_equivalent_sigma);
    }
    con.finish();
    MapReader d = r.map("delay");
    if (sheet) {
        p.delay_min_ms = read_delay(d, "min_ms", 1.0, c.dt_ms, false);
        p.conduction_speed = d.positive("speed_per_ms", p.conduction_speed);
        // The farthest torus point is sqrt(2)/2 away; its delay must fit 8 bits of steps.
        const double max_steps = std::round(p.delay_min_ms / c.dt_ms) +
                                 std::ceil(0.70711 / (p.conduction_speed * c.dt_ms));
        if (max_steps > 255)
            d.fail("speed_per_ms", "a speed at which the longest delay (" +
                                       config_detail::format_number(max_steps * c.dt_ms) +
                                       " ms here) stays within 255 steps");
    } else {
        p.delay_ms = read_delay(d, "ms", 0.0, c.dt_ms, true);
    }
    d.finish();
    p.gain = r.number("gain", p.gain, 0, kBig);
    if (r.has("stdp")) p.stdp = read_stdp(r.map("stdp"));
    r.finish();
    return p;
}

// Names become HDF5 group names and parts of knob and --set key paths: letters, digits, '_'
// and '-' only ('/' would nest HDF5 groups, '.' would split a key path).
bool plain_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (const char ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') return false;
    return true;
}

// `key`: where the name stands (the map key itself, or an injection's `name`).
void check_name(MapReader& r, const std::string& key, const std::string& name, const char* what) {
    if (!plain_name(name))
        r.fail(key, std::string(what) +
                        " name of letters, digits, '_' and '-' (at most 64), not '" + name + "'");
}

std::vector<std::string> knob_names(const Config& c) {
    std::vector<std::string> k;
    for (const auto& p : c.populations) {
        if (p.caps.has_dendrite) {
            k.push_back(p.name + ".gamma");
            k.push_back(p.name + ".background.dendrite.rate_hz");
        }
        k.push_back(p.name + ".background.soma.rate_hz");
    }
    for (const auto& p : c.projections) {
        k.push_back("projections." + p.name + ".gain");
        if (p.stdp) k.push_back("projections." + p.name + ".eta");
    }
    for (const auto& i : c.injections) k.push_back("injections." + i.name + ".amplitude_pA");
    return k;
}

Config read_root(YAML::Node root, std::shared_ptr<const config_detail::Source> src) {
    Config c;
    c.source_file = src->file;
    YAML::Node out(YAML::NodeType::Map);
    MapReader r(root, "", src, out);
    r.skip("provenance");  // written by `l5sim run` into config.resolved.yaml; informative only
    {
        MapReader s = r.map("simulation");
        c.dt_ms = s.positive("dt_ms", c.dt_ms, 1.0);
        c.duration_ms = s.positive("duration_ms", c.duration_ms);
        if (c.duration_ms < c.dt_ms)
            s.fail("duration_ms",
                   "a duration >= dt_ms (" + config_detail::format_number(c.dt_ms) + " ms)");
        if (c.duration_ms / c.dt_ms > double(kMaxRunSteps))
            s.fail("duration_ms", "at most 10^13 steps of dt_ms (" +
                                      config_detail::format_number(c.dt_ms * 1e13) + " ms)");
        c.seed = static_cast<uint64_t>(s.integer("seed", c.seed, 0, INT64_MAX));
        c.threads = static_cast<int>(s.integer("threads", c.threads, 0, 4096));
        {
            MapReader h = s.map("health");
            c.health.max_rate_hz = h.number("max_rate_hz", c.health.max_rate_hz, 0, 1e6);
            c.health.check_every_ms =
                h.number("check_every_ms", 100, c.dt_ms, kBig, "an interval >= dt_ms");
            h.finish();
        }
        s.finish();
    }
    {
        MapReader n = r.map("network");
        c.layout =
            n.choice("layout", "ring", {"ring", "sheet"}) == "sheet" ? Layout::sheet : Layout::ring;
        c.sheet.positions = n.choice("positions", "grid", {"grid", "jittered"});
        n.finish();
    }
    {
        MapReader s = r.map("synapses");
        MapReader a = s.map("ampa");
        c.synapses.tau_ampa_ms =
            a.number("tau_ms", c.synapses.tau_ampa_ms, c.dt_ms, kBig, "a time constant >= dt_ms");
        c.synapses.E_ampa_mV = a.number("E_mV", c.synapses.E_ampa_mV, -200, 100);
        a.finish();
        MapReader n = s.map("nmda");
        c.synapses.tau_nmda_ms =
            n.number("tau_ms", c.synapses.tau_nmda_ms, c.dt_ms, kBig, "a time constant >= dt_ms");
        c.synapses.E_nmda_mV = n.number("E_mV", c.synapses.E_nmda_mV, -200, 100);
        c.synapses.nmda_soma_cap_nS = n.number("soma_cap_nS", c.synapses.nmda_soma_cap_nS, 0, kBig);
        n.finish();
        MapReader g = s.map("gaba_a");
        c.synapses.tau_gaba_ms =
            g.number("tau_ms", c.synapses.tau_gaba_ms, c.dt_ms, kBig, "a time constant >= dt_ms");
        c.synapses.E_gaba_mV = g.number("E_mV", c.synapses.E_gaba_mV, -200, 100);
        g.finish();
        s.finish();
    }
    {
        MapReader pops = r.map("populations");
        const auto names = pops.keys();
        if (names.empty()) pops.fail_here("at least one population (a map name -> {type, n, ...})");
        for (const auto& name : names) {
            check_name(pops, name, name, "a population");
            c.populations.push_back(read_population(pops.map(name), name, c.dt_ms));
        }
        pops.finish();
    }
    {
        MapReader projs = r.map("projections");
        for (const auto& name : projs.keys()) {
            check_name(projs, name, name, "a projection");
            c.projections.push_back(read_projection(projs.map(name), name, c));
        }
        projs.finish();
    }
    {
        int idx = 0;
        for (auto& ir : r.map_list("injections")) {
            InjectionConfig inj;
            inj.name = ir.string("name", "injection" + std::to_string(idx++));
            check_name(ir, "name", inj.name, "an injection");
            inj.population = find_population(ir, "population", c);
            const auto& pop = c.populations[inj.population];
            inj.compartment = ir.choice("compartment", "soma", {"soma", "dendrite"}) == "dendrite"
                                  ? Compartment::dendrite
                                  : Compartment::soma;
            if (inj.compartment == Compartment::dendrite && !pop.caps.has_dendrite)
                ir.fail("compartment", "soma (population " + pop.name + " has no dendrite)");
            inj.cells = ir.id_list("cells", pop.n);
            const std::string kind =
                ir.choice("kind", "constant", {"constant", "step", "pulse_train"});
            inj.kind = kind == "step"          ? InjectionConfig::Kind::step
                       : kind == "pulse_train" ? InjectionConfig::Kind::pulse_train
                                               : InjectionConfig::Kind::constant;
            inj.amplitude_pA =
                ir.number("amplitude_pA", inj.amplitude_pA, -kMaxAmplitudePa, kMaxAmplitudePa);
            const bool timed = inj.kind != InjectionConfig::Kind::constant;
            inj.start_ms = timed ? ir.number("start_ms", 0, 0, kBig) : 0;
            inj.stop_ms =
                timed ? ir.number("stop_ms", -1, -1, kBig, "a time in ms (-1: until the end)") : -1;
            if (inj.stop_ms >= 0 && inj.stop_ms <= inj.start_ms)
                ir.fail("stop_ms", "a time after start_ms, or -1");
            if (inj.kind == InjectionConfig::Kind::pulse_train) {
                inj.period_ms =
                    ir.number("period_ms", inj.period_ms, c.dt_ms, kBig, "a period >= dt_ms");
                inj.width_ms = ir.number("width_ms", inj.width_ms, c.dt_ms, inj.period_ms,
                                         "a width >= dt_ms and <= period_ms");
            }
            for (const auto& other : c.injections)
                if (other.name == inj.name) ir.fail("name", "a name not used by another injection");
            c.injections.push_back(inj);
            ir.finish();
        }
    }
    {
        const auto knobs = knob_names(c);
        for (auto& sr : r.map_list("schedule")) {
            ScheduleEntry e;
            std::string list;
            for (const auto& k : knobs) list += (list.empty() ? "" : ", ") + k;
            e.knob = sr.required_string("knob");
            bool known = false;
            for (const auto& k : knobs) known = known || k == e.knob;
            if (!known) sr.fail("knob", "a knob name (one of " + list + ")");
            e.op = sr.choice("op", "set", {"set", "add"}) == "add" ? ScheduleEntry::Op::add
                                                                   : ScheduleEntry::Op::set;
            // A window without a value would silently set the knob to 0.
            if (!sr.has("value")) sr.fail("value", "a value (required)");
            const bool is_gamma = e.knob.ends_with(".gamma");
            if (is_gamma && e.op == ScheduleEntry::Op::set) {
                e.value = sr.number("value", 0, 0, 1, "a probability in [0, 1]");
            } else if (is_gamma) {
                e.value = sr.number("value", 0, -1, 1, "a change of probability in [-1, 1]");
            } else if (e.knob.ends_with(".rate_hz")) {
                // The range of the config key (a rate of 10^300 Hz would draw forever).
                e.value = e.op == ScheduleEntry::Op::set
                              ? sr.number("value", 0, 0, kMaxRateHz, "a rate in [0, 1000000] Hz")
                              : sr.number("value", 0, -kMaxRateHz, kMaxRateHz,
                                          "a change of rate in [-1000000, 1000000] Hz");
            } else if (e.knob.starts_with("injections.")) {
                e.value = e.op == ScheduleEntry::Op::set
                              ? sr.number("value", 0, -kMaxAmplitudePa, kMaxAmplitudePa,
                                          "an amplitude in [-1e7, 1e7] pA")
                              : sr.number("value", 0, -2 * kMaxAmplitudePa, 2 * kMaxAmplitudePa,
                                          "a change of amplitude in [-2e7, 2e7] pA");
            } else {
                e.value = sr.number("value", 0, -kBig, kBig, "a number");
                if (e.op == ScheduleEntry::Op::set && e.value < 0 &&
                    e.knob.rfind("injections.", 0) != 0)
                    sr.fail("value", "a value >= 0 for this knob");
            }
            e.start_ms = sr.number("start_ms", e.start_ms, 0, kBig);
            e.stop_ms =
                sr.number("stop_ms", e.stop_ms, -1, kBig, "a time in ms (-1: until the end)");
            if (e.stop_ms >= 0 && e.stop_ms <= e.start_ms)
                sr.fail("stop_ms", "a time after start_ms, or -1");
            if (is_gamma) {
                const auto pop = c.population_index(e.knob.substr(0, e.knob.size() - 6));
                e.cells = sr.id_list("cells", c.populations[pop].n);
            }
            c.schedule.push_back(e);
            sr.finish();
        }
    }
    {
        MapReader rec = r.map("recording");
        c.recording.spikes = rec.boolean("spikes", true);
        for (auto& pr : rec.map_list("probes")) {
            ProbeConfig p;
            p.population = find_population(pr, "population", c);
            const auto& pop = c.populations[p.population];
            p.cells = pr.id_list("cells", pop.n);
            if (p.cells.empty()) {
                if (pop.n > 1000) pr.fail("cells", "a list of cells (at most 1000 when 'all')");
                for (uint32_t i = 0; i < pop.n; ++i) p.cells.push_back(i);
            }
            const bool listed = pr.has("variables");
            p.variables = pr.string_list("variables");
            if (listed && p.variables.empty())
                pr.fail("variables", "a non-empty list of variables (or no key: [v])");
            for (size_t i = 0; i < p.variables.size(); ++i)
                for (size_t j = 0; j < i; ++j)
                    if (p.variables[i] == p.variables[j])
                        pr.fail("variables",
                                "each variable once ('" + p.variables[i] + "' is listed twice)");
            // The probe-able variables of the population's type (l5sim/state_vars.hpp).
            std::vector<std::string> allowed;
            for (const VarInfo& r : kVarTable)
                if (r.probe && has_var(r, pop.caps.has_dendrite)) allowed.push_back(r.probe);
            if (p.variables.empty()) p.variables = {"v"};
            for (const auto& v : p.variables) {
                bool ok = false;
                for (const auto& a : allowed) ok = ok || a == v;
                if (!ok) {
                    std::string list;
                    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
                    pr.fail("variables",
                            "variables of " + pop.name + " (" + list + "); '" + v + "' is not one");
                }
            }
            p.every_steps =
                static_cast<uint32_t>(pr.integer("every_steps", p.every_steps, 1, 1000000000));
            c.recording.probes.push_back(p);
            pr.finish();
        }
        for (auto& wr : rec.map_list("weights")) {
            WeightRecordConfig w;
            const std::string name = wr.required_string("projection");
            int idx = -1;
            for (size_t i = 0; i < c.projections.size(); ++i)
                if (c.projections[i].name == name) idx = static_cast<int>(i);
            if (idx < 0) wr.fail("projection", "the name of a projection");
            for (const auto& other : c.recording.weights)
                if (other.projection == uint32_t(idx))
                    wr.fail("projection",
                            "a projection not recorded by another weights entry (" + name + " is)");
            w.projection = static_cast<uint32_t>(idx);
            w.every_ms = wr.number("every_ms", w.every_ms, c.dt_ms, kBig, "an interval >= dt_ms");
            w.max_synapses =
                static_cast<uint64_t>(wr.integer("max_synapses", w.max_synapses, 1, 100000000));
            c.recording.weights.push_back(w);
            wr.finish();
        }
        rec.finish();
    }
    r.finish();
    std::ostringstream os;
    os << out;
    c.resolved_yaml = os.str();
    return c;
}

}  // namespace

namespace config_detail {

namespace {

// The place where each document's first node starts (nothing is built).
struct DocumentStarts final : YAML::EventHandler {
    std::vector<YAML::Mark> marks;
    bool open = false;
    void first(const YAML::Mark& m) {
        if (!open) marks.push_back(m);
        open = true;
    }
    void OnDocumentStart(const YAML::Mark&) override { open = false; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t) override { first(m); }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { first(m); }
    void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        first(m);
    }
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        first(m);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        first(m);
    }
    void OnMapEnd() override {}
};

}  // namespace

YAML::Node load_tree(const std::string& text, const std::string& name) {
    // Bounds checked on the text, before yaml-cpp parses it (at 2-14 MB/s): a config is a few
    // kB; these admit lists of 10^5 cell ids and refuse in milliseconds what would take the
    // parser seconds (measured: 4 MiB of one string 0.6 s, 10^5 small maps 1 s).
    if (text.size() > kMaxConfigTextBytes)
        throw ConfigError(name + ": " + fmt::format("{:.1f}", text.size() / 1048576.0) +
                          " MiB; a config is at most " + std::to_string(kMaxConfigTextBytes >> 20) +
                          " MiB (long lists of cell ids can be written {from: i, to: j})");
    size_t items = 0;
    for (const char ch : text) items += ch == '\n' || ch == ',';
    if (items > kMaxConfigItems)
        throw ConfigError(name + ": " + std::to_string(items) +
                          " lines and list items; a config has at most " +
                          std::to_string(kMaxConfigItems) +
                          " (long lists of cell ids can be written {from: i, to: j})");
    YAML::Node root;
    try {
        // A second document (after '---') would be ignored by YAML::Load: refused instead. The
        // documents are counted with a bounded loop over the parser, not with YAML::LoadAll,
        // which yaml-cpp 0.7 runs forever on a stray ',' outside a flow collection (yaml-cpp
        // issue 1040, fixed upstream after 0.8): there the parser makes no progress, reporting
        // an empty document at the same place again and again.
        std::istringstream in(text);
        YAML::Parser parser(in);
        DocumentStarts starts;
        for (int docs = 0; docs < 3 && parser.HandleNextDocument(starts); ++docs) {
        }
        const auto& m = starts.marks;
        for (size_t d = 1; d < m.size(); ++d)
            if (m[d].pos == m[d - 1].pos)
                throw ConfigError(name + ":" + std::to_string(m[d].line + 1) + ":" +
                                  std::to_string(m[d].column + 1) +
                                  ": YAML syntax error: unexpected character here");
        if (starts.marks.size() > 1) {
            const YAML::Mark& m = starts.marks[1];
            throw ConfigError(name + ":" + std::to_string(m.line + 1) +
                              ": a second YAML document (after '---'); a config is one document");
        }
        root = YAML::Load(text);
    } catch (const YAML::DeepRecursion& e) {
        throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                          std::to_string(e.mark.column + 1) +
                          ": nested too deeply for the YAML parser (hundreds of levels); a "
                          "config is a few levels deep");
    } catch (const YAML::ParserException& e) {
        throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                          std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
    }
    check_unique_keys(root, name);
    return root;
}

std::shared_ptr<Source> apply_overrides(YAML::Node& root, const std::string& name,
                                        const std::vector<Override>& overrides) {
    auto src = std::make_shared<Source>();
    src->file = name;
    for (const auto& [k, v] : overrides) {
        apply_override(root, k, v, "--set " + k + "=" + v);
        src->overridden[k] = "--set " + k;
    }
    return src;
}

Config read_tree(YAML::Node root, std::shared_ptr<const Source> src) {
    if (!root.IsMap()) throw ConfigError(src->file + ": expected a YAML map at the top level");
    return read_root(root, std::move(src));
}

}  // namespace config_detail

Config parse_config(const std::string& text, const std::string& name,
                    const std::vector<Override>& overrides) {
    YAML::Node root = config_detail::load_tree(text, name);
    auto src = config_detail::apply_overrides(root, name, overrides);
    if (root.IsMap() && root["sweep"] && root["sweep"].IsNull()) root.remove("sweep");
    if (root.IsMap() && root["sweep"])
        throw ConfigError(name +
                          ": this config holds a sweep (a batch of replicas); load it with "
                          "load_batch()");
    return config_detail::read_tree(root, src);
}

std::string read_config_file(const std::string& path) {
    // A directory is refused by name; any file (a pipe from <(...) too) is read up to just over
    // the largest config, so that /dev/zero or a wrong huge file ends with a message, not with
    // the memory exhausted.
    constexpr size_t kMaxConfigBytes = config_detail::kMaxConfigTextBytes;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw ConfigError(path + ": is a directory, not a config file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(path + ": cannot open the config file (does it exist?)");
    std::string text;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<size_t>(in.gcount()));
        if (text.size() > kMaxConfigBytes)
            throw ConfigError(path + ": over " + std::to_string(kMaxConfigBytes >> 20) +
                              " MiB; a config is a small YAML file");
    }
    return text;
}

Config load_config(const std::string& path, const std::vector<Override>& overrides) {
    return parse_config(read_config_file(path), path, overrides);
}

}  // namespace l5sim
