#pragma once
/// Exceptions of l5sim (never exit() inside the library).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace l5sim {

/// Run-time failure (exit code 1 from the CLI).
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Invalid configuration or usage (exit code 2): the message names file:line, key and expectation.
class ConfigError : public Error {
  public:
    using Error::Error;
};

/// A run stopped by its health checks (simulation.health: a NaN or infinite state, or runaway
/// activity); the simulation is left at a step boundary (exit code 3 from the CLI, after a
/// final checkpoint).
class HealthError : public Error {
  public:
    using Error::Error;
    HealthError(const std::string& what, std::string pop, int64_t cell_id, std::string var,
                int64_t at_step)
        : Error(what),
          population(std::move(pop)),
          variable(std::move(var)),
          cell(cell_id),
          step(at_step) {}
    /// What stopped the run: the population; the variable that went NaN or infinite
    /// ("rate_hz" for runaway activity) and its cell (-1: the whole population); the step.
    std::string population, variable;
    int64_t cell = -1, step = -1;
};

}  // namespace l5sim
