#pragma once
/// Exceptions of l5sim (never exit() inside the library).
#include <stdexcept>
#include <string>

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
};

}  // namespace l5sim
