#pragma once
// Helpers of the config tests: YAML text by line, the message of the ConfigError a parse throws,
// and assertions on messages (file:line:column prefix, parts that must occur).
#include <gtest/gtest.h>

#include <exception>
#include <initializer_list>
#include <string>

#include "l5sim/config.hpp"
#include "l5sim/error.hpp"

namespace l5sim::test {

// YAML text from lines, so that line i of the text is element i - 1 of the list.
inline std::string yaml(std::initializer_list<const char*> lines) {
    std::string s;
    for (const char* l : lines) s += std::string(l) + "\n";
    return s;
}

// The message of the ConfigError that `parse()` throws ("" plus a test failure if none, or if
// it throws something else).
template <class Parse>
std::string config_error(Parse&& parse, const std::string& text) {
    try {
        parse();
    } catch (const ConfigError& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not a ConfigError: " << e.what();
        return "";
    }
    ADD_FAILURE() << "no ConfigError for:\n" << text;
    return "";
}

// Every part occurs in the message.
inline ::testing::AssertionResult mentions(const std::string& msg,
                                           std::initializer_list<std::string> parts) {
    for (const auto& p : parts)
        if (msg.find(p) == std::string::npos)
            return ::testing::AssertionFailure() << "'" << p << "' missing from: " << msg;
    return ::testing::AssertionSuccess() << msg;
}

// The message begins with `prefix` (file:line:column).
inline ::testing::AssertionResult starts_with(const std::string& msg, const std::string& prefix) {
    if (msg.rfind(prefix, 0) == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected the prefix '" << prefix << "' in: " << msg;
}

// The message of the ConfigError that parsing throws ("" plus a test failure if none).
inline std::string error_of(const std::string& text, const std::vector<Override>& ov = {}) {
    return config_error([&] { parse_config(text, "test.yaml", ov); }, text);
}

// A valid ring network: PYR (4 cells) and PV (2 cells), one projection. Lines 1-15.
inline std::string base() {
    return yaml({
        "simulation:",               // 1
        "  dt_ms: 0.1",              // 2
        "  duration_ms: 50",         // 3
        "populations:",              // 4
        "  PYR:",                    // 5
        "    type: pyramidal",       // 6
        "    n: 4",                  // 7
        "  PV:",                     // 8
        "    type: pv",              // 9
        "    n: 2",                  // 10
        "projections:",              // 11
        "  PYR_PV:",                 // 12
        "    source: PYR",           // 13
        "    target: PV",            // 14
        "    receptors: {ampa: 1}",  // 15
    });
}

// A sheet network of PYR (16 cells) and PV (4 cells), one projection; `extra` ends it.
inline std::string sheet(const std::string& extra) {
    return yaml({
               "network: {layout: sheet}",  // 1
               "populations:",              // 2
               "  PYR: {n: 16}",            // 3
               "  PV: {type: pv, n: 4}",    // 4
               "projections:",              // 5
               "  PYR_PV:",                 // 6
               "    source: PYR",           // 7
               "    target: PV",            // 8
               "    receptors: {ampa: 1}",  // 9
               "    connectivity: {K: 4}",  // 10
           }) +
           extra;
}

}  // namespace l5sim::test
