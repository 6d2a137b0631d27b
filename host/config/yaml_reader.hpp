#pragma once
// Validating reader over a yaml-cpp tree: every read states the expected type and range, records
// the resolved value (defaults included) into a mirror tree, and every map checks at the end
// that no unknown key was left unread. Errors name file:line:column, key path, expectation.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "l5sim/config.hpp"

namespace l5sim::config_detail {

struct Source {
    std::string file;
    /// Key paths set by an override, and where to say they came from ("--set a.b",
    /// "run.yaml:12:5 (sweep.grid a.b = 3)").
    std::map<std::string, std::string> overridden;

    /// Where an override set `key_path` (or a map above or below it): its label, or nullptr.
    const std::string* override_of(const std::string& key_path) const;
};

/// Reads one YAML map. Keys must be read at most once; finish() rejects the rest.
class MapReader {
  public:
    MapReader(YAML::Node node, std::string path, std::shared_ptr<const Source> src, YAML::Node out);

    /// Whether `key` holds a value. A key with no value (null) counts as absent and as read.
    bool has(const std::string& key);
    double number(const std::string& key, double def, double lo, double hi,
                  const char* what = nullptr);
    /// Like number() but the lower bound is exclusive (a value must be > lo).
    double positive(const std::string& key, double def, double hi = 1e300);
    int64_t integer(const std::string& key, int64_t def, int64_t lo, int64_t hi);
    /// A value drawn per cell: a number in [lo, hi] (constant), {uniform: [a, b]} with
    /// lo <= a <= b <= hi, or {normal: [mean, sd]} with mean in [lo, hi] and 0 <= sd <= hi - lo.
    model::InitSpec distribution(const std::string& key, double def, double lo, double hi);
    bool boolean(const std::string& key, bool def);
    std::string choice(const std::string& key, const std::string& def,
                       const std::vector<std::string>& options);
    std::string string(const std::string& key, const std::string& def);
    /// A required string (no default).
    std::string required_string(const std::string& key);
    /// Cell ids below `limit`: a list, a range {from, to}, or 'all'. Empty means all cells
    /// (absent, 'all', or a range over every cell, which is not listed); a range is listed only
    /// when its ids fit in memory (ConfigError otherwise).
    std::vector<uint32_t> id_list(const std::string& key, uint32_t limit);
    std::vector<std::string> string_list(const std::string& key);
    /// A nested map (an absent key reads as an empty map).
    MapReader map(const std::string& key);
    /// A sequence of maps (absent = empty).
    std::vector<MapReader> map_list(const std::string& key);
    /// The keys present, in file order (for maps keyed by user names).
    std::vector<std::string> keys() const;
    /// Accept `key` without reading it or copying it to the resolved tree (informative blocks).
    void skip(const std::string& key) { read_.insert(key); }

    /// Throws for the first key that was never read.
    void finish();

    [[noreturn]] void fail(const std::string& key, const std::string& expected) const;
    [[noreturn]] void fail_here(const std::string& expected) const;
    std::string path(const std::string& key) const;
    /// Where this map is: "file:line:column", or the --set / sweep entry that wrote it.
    std::string location() const { return where(node_, path_); }
    YAML::Node out() const { return out_; }

  private:
    YAML::Node get(const std::string& key);
    std::string where(const YAML::Node& n, const std::string& key_path) const;
    std::string show(const YAML::Node& n) const;

    YAML::Node node_;
    std::string path_;
    std::shared_ptr<const Source> src_;
    YAML::Node out_;
    std::set<std::string> read_;
};

/// The shortest text that reads back as exactly `v` ("0.1", not "0.10000000000000001").
std::string format_number(double v);

/// The most nodes a config may expand to (aliases counted each time they are used) and the
/// deepest nesting: far beyond any real config, far below what exhausts time or stack.
inline constexpr uint64_t kMaxTreeNodes = 1000000;
/// The largest config text, and the most lines plus commas in it (checked before parsing).
inline constexpr size_t kMaxConfigTextBytes = size_t(4) << 20;
inline constexpr size_t kMaxConfigItems = 100000;
inline constexpr int kMaxTreeDepth = 64;

/// Throws ConfigError for a key that appears twice in one map (yaml-cpp keeps the first
/// silently), a key that is not a scalar, and a tree over kMaxTreeNodes nodes or kMaxTreeDepth
/// levels (aliases expanding exponentially, an alias inside its own anchor).
void check_unique_keys(const YAML::Node& node, const std::string& file,
                       const std::string& path = "");
/// The nodes of a tree that check_unique_keys accepted (aliases counted each time).
uint64_t count_nodes(const YAML::Node& node);

/// Apply `a.b.c=value` to the tree (creating maps as needed; numeric parts index sequences).
void apply_override(YAML::Node& root, const std::string& key_path, const std::string& value,
                    const std::string& origin);
/// The same with a parsed value.
void apply_override_node(YAML::Node& root, const std::string& key_path, const YAML::Node& value,
                         const std::string& origin);

/// Parse YAML text (syntax errors and duplicate keys named with file:line:column).
YAML::Node load_tree(const std::string& text, const std::string& name);
/// Apply `--set` overrides to the tree; the returned source remembers them for messages.
std::shared_ptr<Source> apply_overrides(
    YAML::Node& root, const std::string& name,
    const std::vector<std::pair<std::string, std::string>>& overrides);
/// Validate a whole config tree (defined in config.cpp).
Config read_tree(YAML::Node root, std::shared_ptr<const Source> src);

}  // namespace l5sim::config_detail
