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

#include "config/blocks.hpp"
#include "config/yaml_reader.hpp"
#include "l5sim/error.hpp"
#include "l5sim/state_vars.hpp"

namespace l5sim {

using config_detail::find_population;
using config_detail::kBig;
using config_detail::kMaxAmplitudePa;
using config_detail::kMaxRateHz;
using config_detail::MapReader;
using config_detail::read_population;
using config_detail::read_projection;

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
        // One block per receptor (model/receptors.hpp), the magnesium-gated one with its cap.
        MapReader s = r.map("synapses");
        for (int i = 0; i < model::kReceptorCount; ++i) {
            const model::ReceptorInfo& info = model::kReceptorTable[i];
            MapReader m = s.map(info.key);
            c.synapses.tau_ms[i] =
                m.number("tau_ms", c.synapses.tau_ms[i], c.dt_ms, kBig, "a time constant >= dt_ms");
            c.synapses.E_mV[i] = m.number("E_mV", c.synapses.E_mV[i], -200, 100);
            if (info.gate == model::Gate::magnesium)
                c.synapses.nmda_soma_cap_nS =
                    m.number("soma_cap_nS", c.synapses.nmda_soma_cap_nS, 0, kBig);
            m.finish();
        }
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
        // A population steps every receptor when an input uses one beyond the core ones.
        for (const auto& p : c.projections)
            for (int i = model::kCoreReceptors; i < model::kReceptorCount; ++i)
                if (p.receptor[i] != 0) c.populations[p.target].all_receptors = true;
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
                if (r.probe && has_var(r, pop.caps.has_dendrite, pop.all_receptors))
                    allowed.push_back(r.probe);
            if (p.variables.empty()) p.variables = {"v"};
            for (const auto& v : p.variables) {
                bool ok = false;
                for (const auto& a : allowed) ok = ok || a == v;
                if (!ok) {
                    std::string list;
                    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
                    const VarInfo* row = find_probe_var(v);
                    pr.fail("variables", "variables of " + pop.name + " (" + list + "); '" + v +
                                             "' is not one" +
                                             (row ? extra_receptor_hint(*row, pop.name) : ""));
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
                          ": this config holds a sweep (a batch of replicas): run it with "
                          "`l5sim run` or, in Python, l5sim.run_sweep() (load_batch() in C++)");
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
