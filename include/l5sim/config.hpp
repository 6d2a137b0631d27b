#pragma once
/// The resolved, validated configuration: every value of MODEL.md, in user units.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "l5sim/cell_types.hpp"
#include "l5sim/model/dendrite.hpp"
#include "l5sim/model/initial.hpp"
#include "l5sim/model/izhikevich.hpp"
#include "l5sim/model/receptors.hpp"
#include "l5sim/model/stdp.hpp"

namespace l5sim {

enum class Compartment { soma, dendrite };
enum class Layout { ring, sheet };
enum class ConnRule { dense, sparse };

struct PopulationConfig {
    std::string name;
    std::string type = "pyramidal";  // a row of the cell-type registry (l5sim/cell_types.hpp)
    CellCaps caps;                   // that row's capabilities
    uint32_t n = 0;
    model::IzhParams soma{};
    model::DendriteParams dendrite{};  // caps.has_dendrite only
    model::Coupling coupling = model::Coupling::stochastic;
    double gamma = 0;  // baseline coupling probability (caps.has_dendrite only)
    double adapt_increment_nS = 0, adapt_tau_ms = 1, adapt_E_mV = -80;  // caps.adapts only
    PoissonSource background_soma, background_dendrite;
    /// Initial values (indexed by model::InitVar): constants (v_r, 0, E_Ld, 0 by default) or
    /// per-cell draws (populations.<name>.init).
    std::array<model::InitSpec, model::kInitVars> init{};
    /// The receptors the population steps (model::receptors_of): all of them when one of its
    /// incoming projections uses a receptor beyond the core ones (GABA_B), else the core ones;
    /// derived from the projections when the config is read.
    bool all_receptors = false;
    /// The registry's row of `type`.
    const CellTypeInfo& type_info() const { return cell_type(type); }
};

struct StdpConfig {
    model::StdpRule rule = model::StdpRule::pair_all;
    model::StdpBounds bounds = model::StdpBounds::hard;
    double tau_plus_ms = 20, tau_minus_ms = 20, tau_x_ms = 101, tau_y_ms = 125;
    double a_plus_rel = 0.005;    // A+ = a_plus_rel * w_max
    double a_minus_ratio = 1.05;  // A- = a_minus_ratio * A+
    double a3_plus_rel = 0.0062;  // A3+ relative to w_max (triplet, Pfister & Gerstner 2006)
    double a3_minus_rel = 0.0;    // A3- relative to w_max (triplet)
    double w_max_factor = 2.0;    // w_max = factor * initial maximum weight (if w_max_nS <= 0)
    double w_max_nS = 0.0;
    double eta = 1.0;
};

struct ProjectionConfig {
    std::string name;
    /// Where the projection is written ("file:line:column", or the --set that made it): errors
    /// that only its drawn connectivity shows name it.
    std::string location;
    uint32_t source = 0, target = 0;  // population indices
    Compartment compartment = Compartment::soma;
    /// Receptor factors (times the weight J), indexed by model::Receptor.
    std::array<double, model::kReceptorCount> receptor{};
    ConnRule rule = ConnRule::dense;
    double A = 1, sigma = 0.5;
    uint32_t K = 100;  // sparse in-degree
    // sparse: w = (total input a target gets in the dense reference ring of this many sources
    // with this sigma) / K, so a sheet cell receives the reference cell's expected input.
    uint32_t dense_equivalent_sources = 200;
    double dense_equivalent_sigma = 0.5;
    bool autapses = false;
    double delay_ms = 0;            // ring: fixed delay
    double delay_min_ms = 1;        // sheet: d_min
    double conduction_speed = 0.1;  // sheet: torus units per ms
    double gain = 1.0;              // strength knob (schedulable)
    std::optional<StdpConfig> stdp;
};

struct InjectionConfig {
    enum class Kind { constant, step, pulse_train };
    std::string name;
    uint32_t population = 0;
    Compartment compartment = Compartment::soma;
    std::vector<uint32_t> cells;  // empty = all cells
    Kind kind = Kind::constant;
    double amplitude_pA = 0, start_ms = 0, stop_ms = -1, period_ms = 100, width_ms = 10;
};

/// A time window that sets or adds a value of one knob (MODEL.md section 9).
struct ScheduleEntry {
    enum class Op { set, add };
    std::string knob;  // as written, e.g. "PYR.gamma", "projections.SOM_PYR.gain"
    Op op = Op::set;
    double value = 0;
    double start_ms = 0, stop_ms = -1;  // stop < 0: until the end
    std::vector<uint32_t> cells;        // for per-cell knobs (gamma); empty = all
};

struct ProbeConfig {
    uint32_t population = 0;
    std::vector<uint32_t> cells;
    std::vector<std::string> variables;
    uint32_t every_steps = 10;
};

struct WeightRecordConfig {
    uint32_t projection = 0;
    double every_ms = 100;
    uint64_t max_synapses = 10000;
};

struct RecordingConfig {
    bool spikes = true;
    std::vector<ProbeConfig> probes;
    std::vector<WeightRecordConfig> weights;
};

/// Health checks on long runs (simulation.health): every check_every_ms of biological time the
/// run stops (HealthError) if a cell's state is NaN or infinite, or a population's mean rate
/// since the last check exceeds max_rate_hz (0: no rate check).
struct HealthConfig {
    double max_rate_hz = 1000;
    double check_every_ms = 100;
};

struct SheetConfig {
    std::string positions = "grid";  // grid | jittered
};

/// synapses.<receptor>: time constant and reversal of each receptor (indexed by model::Receptor;
/// defaults from model::kReceptorTable).
struct SynapseConfig {
    std::array<double, model::kReceptorCount> tau_ms = defaults(&model::ReceptorInfo::tau_ms);
    std::array<double, model::kReceptorCount> E_mV = defaults(&model::ReceptorInfo::E_mV);
    double nmda_soma_cap_nS = 85;

    static constexpr std::array<double, model::kReceptorCount> defaults(
        double model::ReceptorInfo::*field) {
        std::array<double, model::kReceptorCount> a{};
        for (int r = 0; r < model::kReceptorCount; ++r) a[r] = model::kReceptorTable[r].*field;
        return a;
    }
};

/// The longest run, in steps (10^13: 31 years of biological time at dt = 0.1 ms).
inline constexpr int64_t kMaxRunSteps = 10'000'000'000'000;
/// Config::to_steps of a time beyond any run (2^62).
inline constexpr int64_t kMaxStepCount = int64_t(1) << 62;

struct Config {
    std::string source_file;
    double dt_ms = 0.1;
    double duration_ms = 1000;
    uint64_t seed = 1;
    int threads = 0;  // 0: OpenMP default
    HealthConfig health;
    Layout layout = Layout::ring;
    SheetConfig sheet;
    SynapseConfig synapses;
    std::vector<PopulationConfig> populations;
    std::vector<ProjectionConfig> projections;
    std::vector<InjectionConfig> injections;
    std::vector<ScheduleEntry> schedule;
    RecordingConfig recording;
    std::string resolved_yaml;  // every value, defaults filled in, as YAML

    int64_t steps() const;
    /// ms -> whole steps (rounded), saturating at kMaxStepCount.
    int64_t to_steps(double ms) const;
    int population_index(const std::string& name) const;  // -1 if none
};

/// One `--set a.b.c=value` override.
using Override = std::pair<std::string, std::string>;

/// Load, apply overrides, validate. Throws ConfigError naming file:line, key path, expectation.
Config load_config(const std::string& path, const std::vector<Override>& overrides = {});
/// The same from YAML text (tests); `name` stands for the file in messages.
Config parse_config(const std::string& yaml_text, const std::string& name,
                    const std::vector<Override>& overrides = {});
/// The text of a config file (ConfigError naming the path if it cannot be read).
std::string read_config_file(const std::string& path);
/// Parse "a.b.c=value".
Override parse_override(const std::string& text);

}  // namespace l5sim
