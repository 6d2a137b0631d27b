// The `sweep:` block (configs/README.md): conditions x grid x trials, expanded into one validated
// config per replica.
#include "l5sim/sweep.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "config/yaml_reader.hpp"
#include "l5sim/error.hpp"

namespace l5sim {

namespace {

using config_detail::format_number;

constexpr uint32_t kMaxReplicas = 1000000;
// The most config nodes a sweep's grid points and conditions may add up to (each point's config
// is read whole: about 5 us per node), and the most bytes of replica configs it may hold.
constexpr uint64_t kMaxSweepNodes = 2000000;
constexpr uint64_t kMaxSweepConfigBytes = uint64_t(512) << 20;

std::string at(const std::string& file, const YAML::Node& n) {
    if (!n.IsDefined() || n.Mark().is_null()) return file;
    return file + ":" + std::to_string(n.Mark().line + 1) + ":" +
           std::to_string(n.Mark().column + 1);
}

// Where a sweep's text came from: the config file, and the key paths that --set overrode (an
// error in those is located at the override, not at a line of the file).
struct Where {
    const std::string& file;
    const config_detail::Source& src;
};

[[noreturn]] void fail(const Where& file, const YAML::Node& n, const std::string& path,
                       const std::string& expected) {
    const std::string* label = file.src.override_of(path);
    throw ConfigError((label ? *label : at(file.file, n)) + ": " + path + ": expected " + expected);
}

std::string text_of(const YAML::Node& v) {
    if (v.IsScalar()) return v.Scalar();
    YAML::Emitter e;
    e.SetMapFormat(YAML::Flow);
    e.SetSeqFormat(YAML::Flow);
    e << v;
    return e.c_str();
}

double number_at(const Where& file, const YAML::Node& n, const std::string& path) {
    if (!n.IsDefined() || !n.IsScalar()) fail(file, n, path, "a number");
    try {
        size_t used = 0;
        const double v = std::stod(n.Scalar(), &used);
        if (used == n.Scalar().size() && std::isfinite(v)) return v;
    } catch (...) {
    }
    fail(file, n, path, "a number, got '" + n.Scalar() + "'");
}

// Key paths a sweep may not set: the sweep itself, and the seed (trials own it).
void check_key(const Where& file, const YAML::Node& key_node, const std::string& path) {
    const std::string k = key_node.Scalar();
    if (k.empty()) fail(file, key_node, path, "a key path such as populations.PYR.coupling.gamma");
    if (k == "sweep" || k.rfind("sweep.", 0) == 0 || k == "simulation.seed" || k == "simulation")
        fail(file, key_node, path,
             "a model or run key (not '" + k + "': replicas get their seeds from sweep.trials)");
}

struct Axis {
    std::string key;
    YAML::Node key_node;
    std::vector<YAML::Node> values;
};

struct Condition {
    std::string label;
    YAML::Node node;
    std::vector<std::pair<std::string, YAML::Node>> sets;  // key -> value
};

// A grid axis: a list of values, or {from, to, step} (inclusive of `to` within 1e-9 steps).
std::vector<YAML::Node> axis_values(const Where& file, const YAML::Node& v,
                                    const std::string& path) {
    std::vector<YAML::Node> out;
    if (v.IsSequence()) {
        if (v.size() == 0) fail(file, v, path, "a non-empty list of values");
        for (size_t i = 0; i < v.size(); ++i) {
            if (!v[i].IsDefined() || v[i].IsNull())
                fail(file, v[i], path + "." + std::to_string(i), "a value");
            out.push_back(v[i]);
        }
        return out;
    }
    if (v.IsMap()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            const std::string k = it->first.Scalar();
            if (k != "from" && k != "to" && k != "step")
                fail(file, it->first, path + "." + k, "one of from, to, step (unknown key)");
        }
        const double from = number_at(file, v["from"], path + ".from");
        const double to = number_at(file, v["to"], path + ".to");
        const double step = number_at(file, v["step"], path + ".step");
        if (!(step > 0)) fail(file, v["step"], path + ".step", "a step > 0");
        if (to < from) fail(file, v["to"], path + ".to", "a value >= from");
        const double n = std::floor((to - from) / step + 1e-9) + 1;
        if (n > kMaxReplicas) fail(file, v, path, "at most 1000000 values");
        // Values keep 15 significant digits of the range's scale, so that the rounding error of
        // from + i * step does not show (0.3, not 0.30000000000000004; 0, not 5.55e-17).
        const double scale = std::max({std::fabs(from), std::fabs(to), step});
        const int digits = std::clamp(15 - int(std::ceil(std::log10(scale))), 0, 400);
        for (int64_t i = 0; i < int64_t(n); ++i) {
            char buf[1024];
            std::snprintf(buf, sizeof buf, "%.*f", digits, from + double(i) * step);
            double value = std::strtod(buf, nullptr);
            if (value == 0) value = 0;  // no "-0"
            YAML::Node x(format_number(value));
            x.SetStyle(YAML::EmitterStyle::Default);
            out.push_back(x);
        }
        return out;
    }
    fail(file, v, path, "a list of values or a range {from, to, step}");
}

struct SweepSpec {
    uint32_t trials = 1;
    std::vector<Axis> axes;
    std::vector<Condition> conditions;
};

SweepSpec read_sweep(const Where& file, const YAML::Node& s) {
    SweepSpec spec;
    if (!s.IsMap()) fail(file, s, "sweep", "a map with trials, grid and/or conditions");
    for (auto it = s.begin(); it != s.end(); ++it) {
        const std::string k = it->first.Scalar();
        if (k != "trials" && k != "grid" && k != "conditions")
            fail(file, it->first, "sweep." + k, "one of trials, grid, conditions (unknown key)");
    }
    if (s["trials"]) {
        const double t = number_at(file, s["trials"], "sweep.trials");
        if (t != std::floor(t) || t < 1 || t > kMaxReplicas)
            fail(file, s["trials"], "sweep.trials",
                 "an integer in [1, 1000000], got '" + s["trials"].Scalar() + "'");
        spec.trials = static_cast<uint32_t>(t);
    }
    std::map<std::string, std::string> seen;  // key -> where it is swept
    if (const YAML::Node g = s["grid"]) {
        if (!g.IsMap() || g.size() == 0)
            fail(file, g, "sweep.grid", "a map from key path to a list of values");
        for (auto it = g.begin(); it != g.end(); ++it) {
            Axis a;
            a.key = it->first.Scalar();
            a.key_node = it->first;
            check_key(file, it->first, "sweep.grid");
            for (const auto& [g, where] : seen) {
                if (g == a.key || g.rfind(a.key + ".", 0) == 0 || a.key.rfind(g + ".", 0) == 0)
                    fail(file, it->first, "sweep.grid." + a.key,
                         "a key that no other axis sets (" + g + " overlaps it)");
            }
            a.values = axis_values(file, it->second, "sweep.grid." + a.key);
            seen[a.key] = "sweep.grid";
            spec.axes.push_back(a);
        }
    }
    if (const YAML::Node cs = s["conditions"]) {
        if (!cs.IsSequence() || cs.size() == 0)
            fail(file, cs, "sweep.conditions", "a list of {label, set} maps");
        for (size_t i = 0; i < cs.size(); ++i) {
            const std::string path = "sweep.conditions." + std::to_string(i);
            const YAML::Node c = cs[i];
            if (!c.IsMap()) fail(file, c, path, "a map {label: name, set: {key.path: value}}");
            for (auto it = c.begin(); it != c.end(); ++it) {
                const std::string k = it->first.Scalar();
                if (k != "label" && k != "set")
                    fail(file, it->first, path + "." + k, "label or set (unknown key)");
            }
            Condition cond;
            cond.node = c;
            if (!c["label"] || !c["label"].IsScalar() || c["label"].Scalar().empty())
                fail(file, c["label"] ? c["label"] : c, path + ".label", "a name (required)");
            cond.label = c["label"].Scalar();
            for (const auto& other : spec.conditions)
                if (other.label == cond.label)
                    fail(file, c["label"], path + ".label",
                         "a label not used by another condition");
            const YAML::Node set = c["set"];
            if (set) {
                if (!set.IsMap()) fail(file, set, path + ".set", "a map from key path to value");
                for (auto it = set.begin(); it != set.end(); ++it) {
                    check_key(file, it->first, path + ".set");
                    const std::string k = it->first.Scalar();
                    for (const auto& [g, where] : seen) {
                        if (g == k || g.rfind(k + ".", 0) == 0 || k.rfind(g + ".", 0) == 0)
                            fail(file, it->first, path + ".set." + k,
                                 "a key not also swept by sweep.grid (it sweeps " + g + ")");
                    }
                    cond.sets.emplace_back(k, it->second);
                }
            }
            spec.conditions.push_back(cond);
        }
    }
    return spec;
}

}  // namespace

// `cfg` with another seed: the value and its line in the resolved YAML (which read_tree wrote
// as "simulation:" ... "  seed: N" before any other section).
Config with_seed(const Config& cfg, uint64_t seed) {
    Config c = cfg;
    const std::string from = "\n  seed: " + std::to_string(cfg.seed) + "\n";
    const auto at = c.resolved_yaml.find(from);
    const auto section_end = c.resolved_yaml.find("\n", c.resolved_yaml.find("\nsimulation:") + 1);
    if (at == std::string::npos || c.resolved_yaml.rfind("simulation:", 0) != 0 ||
        section_end == std::string::npos)
        throw Error("sweep: the resolved config has no simulation.seed line");
    c.resolved_yaml.replace(at, from.size(), "\n  seed: " + std::to_string(seed) + "\n");
    c.seed = seed;
    return c;
}

Batch parse_batch(const std::string& text, const std::string& name,
                  const std::vector<Override>& overrides) {
    YAML::Node probe = config_detail::load_tree(text, name);
    auto src0 = config_detail::apply_overrides(probe, name, overrides);
    Batch b;
    // `sweep:` with no value is null, which means absent (configs/README.md).
    if (probe.IsMap() && probe["sweep"] && probe["sweep"].IsNull()) probe.remove("sweep");
    if (!probe.IsMap() || !probe["sweep"]) {
        b.configs.push_back(config_detail::read_tree(probe, src0));
        return b;
    }
    const SweepSpec spec = read_sweep(Where{name, *src0}, probe["sweep"]);
    probe.remove("sweep");
    // The base config on its own first, so that its own errors are reported as such.
    const Config base = config_detail::read_tree(probe, src0);

    b.is_sweep = true;
    b.trials = spec.trials;
    for (const auto& a : spec.axes) b.axes.push_back(a.key);
    for (const auto& c : spec.conditions) b.conditions.push_back(c.label);
    // Saturating: many axes of many values must not wrap to a small count.
    uint64_t points = std::max<size_t>(spec.conditions.size(), 1);
    for (const auto& a : spec.axes)
        points = points > kMaxReplicas ? points : points * a.values.size();
    if (points > kMaxReplicas || points * spec.trials > kMaxReplicas)
        throw ConfigError(
            at(name, probe) + ": sweep: " +
            (points > kMaxReplicas ? "more than 1000000" : std::to_string(points * spec.trials)) +
            " replicas; at most 1000000");
    // Each grid point's config is read and checked whole; its trials differ only in the seed
    // and are copies. The work and memory this takes is bounded, so that a config of a few
    // lines cannot ask for hours of checking or gigabytes of configs: split such a sweep.
    const uint64_t nodes = config_detail::count_nodes(probe);
    if (points * nodes > kMaxSweepNodes)
        throw ConfigError(at(name, probe) + ": sweep: " + std::to_string(points) +
                          " grid points and conditions of a " + std::to_string(nodes) +
                          "-node config are more than l5sim checks at once (" +
                          std::to_string(kMaxSweepNodes) +
                          " nodes in all); split the sweep into several runs");
    if (points * spec.trials * base.resolved_yaml.size() > kMaxSweepConfigBytes)
        throw ConfigError(at(name, probe) + ": sweep: " + std::to_string(points * spec.trials) +
                          " replicas of a " + std::to_string(base.resolved_yaml.size() / 1024) +
                          " kB config are more than l5sim holds at once (" +
                          std::to_string(kMaxSweepConfigBytes >> 20) +
                          " MiB of configs); split the sweep into several runs");

    const size_t n_cond = std::max<size_t>(spec.conditions.size(), 1);
    for (uint32_t point = 0; point < points; ++point) {
        // Mixed-radix decomposition: condition slowest, then axes in file order.
        std::vector<size_t> pick(spec.axes.size());
        uint64_t rest = point;
        for (size_t a = spec.axes.size(); a-- > 0;) {
            pick[a] = rest % spec.axes[a].values.size();
            rest /= spec.axes[a].values.size();
        }
        const size_t cond = rest % n_cond;
        for (uint32_t t = 0; t < spec.trials; ++t) {
            ReplicaSpec r;
            r.index = static_cast<uint32_t>(b.replicas.size());
            r.trial = t;
            r.point = point;
            r.seed = base.seed + t;
            if (t > 0) {
                // Trial t: trial 0's config with its own seed.
                const ReplicaSpec& first = b.replicas[b.replicas.size() - t];
                r.condition = first.condition;
                r.params = first.params;
                b.configs.push_back(with_seed(b.configs[b.configs.size() - t], r.seed));
                b.replicas.push_back(std::move(r));
                continue;
            }
            // A copy of the file's tree with the --set overrides (parsed once, not per replica).
            YAML::Node root = YAML::Clone(probe);
            auto src = std::make_shared<config_detail::Source>(*src0);
            if (!spec.conditions.empty()) {
                const auto& c = spec.conditions[cond];
                r.condition = c.label;
                for (const auto& [k, v] : c.sets) {
                    const std::string label =
                        at(name, v) + " (sweep condition '" + c.label + "' sets " + k + ")";
                    config_detail::apply_override_node(root, k, YAML::Clone(v), label);
                    src->overridden[k] = label;
                }
            }
            for (size_t a = 0; a < spec.axes.size(); ++a) {
                const auto& ax = spec.axes[a];
                const YAML::Node& v = ax.values[pick[a]];
                const std::string label =
                    at(name, ax.key_node) + " (sweep.grid " + ax.key + " = " + text_of(v) + ")";
                config_detail::apply_override_node(root, ax.key, YAML::Clone(v), label);
                src->overridden[ax.key] = label;
                r.params.emplace_back(ax.key, text_of(v));
            }
            config_detail::apply_override(root, "simulation.seed", std::to_string(r.seed),
                                          "sweep.trials");
            src->overridden["simulation.seed"] =
                "sweep.trials (seed of trial " + std::to_string(t) + ")";
            b.configs.push_back(config_detail::read_tree(root, src));
            b.replicas.push_back(std::move(r));
        }
    }
    return b;
}

Batch load_batch(const std::string& path, const std::vector<Override>& overrides) {
    return parse_batch(read_config_file(path), path, overrides);
}

}  // namespace l5sim
