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

}  // namespace l5sim
