// The config's blocks (config/blocks.hpp): populations and projections, key by key.
#include "config/blocks.hpp"

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

namespace l5sim::config_detail {

namespace {

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

// Names become HDF5 group names and parts of knob and --set key paths: letters, digits, '_'
// and '-' only ('/' would nest HDF5 groups, '.' would split a key path).
}  // namespace

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
            // (the receptors a population steps are known only after its projections; no extra
            // receptor's conductance has an init key)
            if (!v.init_key || !has_var(v, dend, true)) continue;
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
    bool any = false;
    std::string keys;
    for (int i = 0; i < model::kReceptorCount; ++i) {
        const char* key = model::kReceptorTable[i].key;
        p.receptor[i] = rec.number(key, p.receptor[i], 0, kBig);
        any = any || p.receptor[i] > 0;
        keys += (keys.empty() ? "" : ", ") + std::string(key);
    }
    if (!any) rec.fail_here("at least one receptor factor > 0 (" + keys + ")");
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
}  // namespace l5sim::config_detail
