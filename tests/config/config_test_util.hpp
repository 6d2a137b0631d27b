#pragma once
// Helpers of the config tests: YAML text by line, the message of the ConfigError a parse throws,
// and assertions on messages (file:line:column prefix, parts that must occur).
#include <gtest/gtest.h>

#include <exception>
#include <initializer_list>
#include <string>

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

}  // namespace l5sim::test
