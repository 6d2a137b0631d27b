#include "config/yaml_reader.hpp"

#include <charconv>
#include <cmath>
#include <map>
#include <sstream>

#include "l5sim/error.hpp"
#include "l5sim/network.hpp"

namespace l5sim::config_detail {

std::string format_number(double v) {
    char buf[400];
    // Shortest round-trip digits; plain notation where it stays short ("100000", not "1e+05"),
    // and a mantissa with a '.' otherwise ("1.0e+300"), which YAML 1.1 readers (PyYAML) also
    // take for a float.
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    std::string s(buf, r.ptr);
    if (s.size() <= 20) return s;
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    s.assign(buf, r.ptr);
    const auto e = s.find('e');
    if (e != std::string::npos && s.find('.') == std::string::npos) s.insert(e, ".0");
    return s;
}

namespace {

// One walk over a parsed tree: duplicate keys, and the bounds that keep a hostile file from
// exhausting the stack or the time of every later walk. yaml-cpp shares the node of an alias
// with its anchor, so an alias of an alias of ... expands exponentially when walked ("billion
// laughs"), and an alias inside its own anchor makes the tree infinite.
struct TreeWalk {
    const std::string& file;
    uint64_t nodes = 0;

    [[noreturn]] void fail(const YAML::Node& n, const std::string& path, const std::string& what) {
        const YAML::Mark m = n.Mark();
        const std::string at = m.is_null() ? file
                                           : file + ":" + std::to_string(m.line + 1) + ":" +
                                                 std::to_string(m.column + 1);
        // A path through a recursive alias repeats itself: shown up to its first 80 characters.
        const std::string shown = path.size() > 80 ? path.substr(0, 80) + "..." : path;
        throw ConfigError(at + ": " + (shown.empty() ? "(top level)" : shown) + ": " + what);
    }

    void walk(const YAML::Node& node, const std::string& path, int depth) {
        if (!node.IsDefined()) return;
        if (++nodes > kMaxTreeNodes)
            fail(node, path,
                 "the document expands to more than " + std::to_string(kMaxTreeNodes) +
                     " nodes (aliases of aliases?); a config is far smaller");
        if (depth > kMaxTreeDepth)
            fail(node, path,
                 "nested more than " + std::to_string(kMaxTreeDepth) +
                     " levels deep (an alias inside its own anchor?)");
        if (node.IsSequence()) {
            for (size_t i = 0; i < node.size(); ++i)
                walk(node[i], (path.empty() ? "" : path + ".") + std::to_string(i), depth + 1);
            return;
        }
        if (!node.IsMap()) return;
        std::map<std::string, int> first_line;
        for (auto it = node.begin(); it != node.end(); ++it) {
            if (!it->first.IsScalar()) fail(it->first, path, "a key that is a map or a list");
            const std::string& key = it->first.Scalar();
            const std::string key_path = path.empty() ? key : path + "." + key;
            const YAML::Mark m = it->first.Mark();
            const auto [prev, fresh] = first_line.emplace(key, m.line + 1);
            if (!fresh)
                fail(it->first, key_path,
                     "duplicate key (first at line " + std::to_string(prev->second) + ")");
            walk(it->second, key_path, depth + 1);
        }
    }
};

}  // namespace

void check_unique_keys(const YAML::Node& node, const std::string& file, const std::string& path) {
    TreeWalk{file}.walk(node, path, 0);
}

uint64_t count_nodes(const YAML::Node& node) {
    TreeWalk w{""};
    w.walk(node, "", 0);
    return w.nodes;
}

// yaml-cpp throws on most queries of an absent ("zombie") node: ask IsDefined() first.
static bool is_map(const YAML::Node& n) { return n.IsDefined() && n.IsMap(); }

const std::string* Source::override_of(const std::string& key_path) const {
    for (const auto& [o, label] : overridden) {
        if (key_path == o || key_path.rfind(o + ".", 0) == 0 || o.rfind(key_path + ".", 0) == 0)
            return &label;
    }
    return nullptr;
}

MapReader::MapReader(YAML::Node node, std::string path, std::shared_ptr<const Source> src,
                     YAML::Node out)
    : node_(node), path_(std::move(path)), src_(std::move(src)), out_(out) {
    if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) fail_here("a map of keys");
}

std::string MapReader::path(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
}

std::string MapReader::where(const YAML::Node& n, const std::string& key_path) const {
    if (const std::string* label = src_->override_of(key_path)) return *label;
    if (n.IsDefined() && !n.Mark().is_null()) {
        return src_->file + ":" + std::to_string(n.Mark().line + 1) + ":" +
               std::to_string(n.Mark().column + 1);
    }
    if (node_.IsDefined() && !node_.Mark().is_null()) {
        return src_->file + ":" + std::to_string(node_.Mark().line + 1) + ":" +
               std::to_string(node_.Mark().column + 1);
    }
    return src_->file;
}

std::string MapReader::show(const YAML::Node& n) const {
    if (!n.IsDefined()) return "nothing";
    if (n.IsScalar()) return "'" + n.Scalar() + "'";
    if (n.IsMap()) {
        // {uniform: [a, b]} and the like are shown whole.
        if (n.size() == 1 && n.begin()->first.IsScalar())
            return "{" + n.begin()->first.Scalar() + ": " + show(n.begin()->second) + "}";
        return "a map";
    }
    if (n.IsSequence()) {
        // Short lists of scalars are shown, so that the offending element can be seen.
        if (n.size() > 12) return "a list";
        std::string s = "[";
        for (size_t i = 0; i < n.size(); ++i) {
            if (!n[i].IsScalar()) return "a list";
            s += (i ? ", " : "") + n[i].Scalar();
        }
        return s + "]";
    }
    return "null";
}

void MapReader::fail(const std::string& key, const std::string& expected) const {
    const YAML::Node& cn = node_;
    YAML::Node n = (is_map(cn) ? cn[key] : YAML::Node(YAML::NodeType::Undefined));
    throw ConfigError(where(n, path(key)) + ": " + path(key) + ": expected " + expected + ", got " +
                      show(n));
}

void MapReader::fail_here(const std::string& expected) const {
    throw ConfigError(where(node_, path_) + ": " + (path_.empty() ? "(top level)" : path_) +
                      ": expected " + expected + ", got " + show(node_));
}

bool MapReader::has(const std::string& key) {
    const YAML::Node& cn = node_;
    if (!is_map(cn) || !cn[key].IsDefined()) return false;
    // A key with no value is null, which means absent: accepted, and not an unknown key.
    if (cn[key].IsNull()) {
        read_.insert(key);
        return false;
    }
    return true;
}

YAML::Node MapReader::get(const std::string& key) {
    read_.insert(key);
    const YAML::Node& cn = node_;
    if (!is_map(cn)) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node n = cn[key];
    if (n.IsDefined() && n.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
    return n;
}

// An integer written in decimal ("017" is 17; yaml-cpp would read it as octal 15, and "08"
// not at all). Only digits with an optional sign: "2e2", "0x10", "1_000" are no integers here.
static bool decimal_integer(const YAML::Node& n, int64_t* v) {
    if (!n.IsDefined() || !n.IsScalar()) return false;
    const std::string& t = n.Scalar();
    const char* b = t.data();
    const char* e = b + t.size();
    if (b != e && *b == '+') ++b;
    if (b == e) return false;
    const auto r = std::from_chars(b, e, *v, 10);
    return r.ec == std::errc() && r.ptr == e;
}

// A number or boolean written as a string ("200", '0.5', !!str 4) or with a custom tag: YAML
// says it is a string, so it is no number here (yaml-cpp alone would convert it).
static bool string_typed(const YAML::Node& n) {
    const std::string& t = n.Tag();
    if (t.empty() || t == "?") return false;  // plain scalar, or made by l5sim itself
    return t == "!" || t.rfind("tag:yaml.org,2002:", 0) != 0 || t == "tag:yaml.org,2002:str";
}

static std::string range_text(double lo, double hi) {
    if (hi >= 1e300) return ">= " + format_number(lo);
    return "in [" + format_number(lo) + ", " + format_number(hi) + "]";
}

double MapReader::number(const std::string& key, double def, double lo, double hi,
                         const char* what) {
    YAML::Node n = get(key);
    double v = def;
    const std::string expected = what ? std::string(what) : "a number " + range_text(lo, hi);
    if (n.IsDefined()) {
        if (!n.IsScalar()) fail(key, expected);
        if (string_typed(n)) fail(key, expected + " (unquoted; this is a string)");
        try {
            v = n.as<double>();
        } catch (const YAML::Exception&) {
            fail(key, expected);
        }
        if (!std::isfinite(v)) fail(key, expected);
    }
    if (v < lo || v > hi) fail(key, expected);
    out_[key] = format_number(v);
    return v;
}

double MapReader::positive(const std::string& key, double def, double hi) {
    const std::string expected =
        hi >= 1e300 ? "a number > 0" : "a number > 0 and <= " + format_number(hi);
    const double v = number(key, def, -1e300, hi, expected.c_str());
    if (!(v > 0)) fail(key, expected);
    return v;
}

int64_t MapReader::integer(const std::string& key, int64_t def, int64_t lo, int64_t hi) {
    YAML::Node n = get(key);
    int64_t v = def;
    std::ostringstream e;
    e << "an integer in [" << lo << ", " << hi << "]";
    if (n.IsDefined()) {
        if (!decimal_integer(n, &v)) fail(key, e.str());
        if (string_typed(n)) fail(key, e.str() + " (unquoted; this is a string)");
    }
    if (v < lo || v > hi) fail(key, e.str());
    out_[key] = v;
    return v;
}

model::InitSpec MapReader::distribution(const std::string& key, double def, double lo, double hi) {
    YAML::Node n = get(key);
    const std::string range = range_text(lo, hi);
    const std::string expected = "a number " + range +
                                 ", {uniform: [low, high]} or {normal: "
                                 "[mean, sd]} (low <= high, mean " +
                                 range + ", sd >= 0)";
    model::InitSpec spec;
    spec.a = def;
    spec.lo = lo;
    spec.hi = hi;
    if (!n.IsDefined()) {
        out_[key] = format_number(def);
        return spec;
    }
    // One number of a pair, or the constant itself.
    auto number_of = [&](const YAML::Node& v) {
        double x = 0;
        if (!v.IsScalar() || string_typed(v)) fail(key, expected);
        try {
            x = v.as<double>();
        } catch (const YAML::Exception&) {
            fail(key, expected);
        }
        if (!std::isfinite(x)) fail(key, expected);
        return x;
    };
    if (n.IsScalar()) {
        spec.a = number_of(n);
        if (spec.a < lo || spec.a > hi) fail(key, expected);
        out_[key] = format_number(spec.a);
        return spec;
    }
    if (!n.IsMap() || n.size() != 1) fail(key, expected);
    const std::string kind = n.begin()->first.Scalar();
    const YAML::Node pair = n.begin()->second;
    const bool uniform = kind == "uniform";
    if (!uniform && kind != "normal") fail(key, expected + " (not '" + kind + "')");
    const std::string form =
        uniform ? "{uniform: [low, high]}, two numbers " + range + " with low <= high"
                : "{normal: [mean, sd]}, a mean " + range + " and an sd in [0, " +
                      format_number(hi - lo) + "]";
    if (!pair.IsSequence() || pair.size() != 2) fail(key, form);
    spec.a = number_of(pair[0]);
    spec.b = number_of(pair[1]);
    spec.kind = uniform ? model::InitSpec::Kind::uniform : model::InitSpec::Kind::normal;
    const bool ok = uniform ? spec.a >= lo && spec.b <= hi && spec.a <= spec.b
                            : spec.a >= lo && spec.a <= hi && spec.b >= 0 && spec.b <= hi - lo;
    if (!ok) fail(key, form);
    YAML::Node list(YAML::NodeType::Sequence);
    list.SetStyle(YAML::EmitterStyle::Flow);
    list.push_back(format_number(spec.a));
    list.push_back(format_number(spec.b));
    YAML::Node m(YAML::NodeType::Map);
    m.SetStyle(YAML::EmitterStyle::Flow);
    m[kind] = list;
    out_[key] = m;
    return spec;
}

bool MapReader::boolean(const std::string& key, bool def) {
    YAML::Node n = get(key);
    bool v = def;
    if (n.IsDefined()) {
        if (!n.IsScalar() || string_typed(n)) fail(key, "true or false (unquoted)");
        try {
            v = n.as<bool>();
        } catch (const YAML::Exception&) {
            fail(key, "true or false");
        }
    }
    out_[key] = v;
    return v;
}

std::string MapReader::choice(const std::string& key, const std::string& def,
                              const std::vector<std::string>& options) {
    YAML::Node n = get(key);
    std::string v = def;
    std::string expected = "one of";
    for (size_t i = 0; i < options.size(); ++i) expected += (i ? ", " : " ") + options[i];
    if (n.IsDefined()) {
        if (!n.IsScalar()) fail(key, expected);
        v = n.Scalar();
    }
    bool ok = false;
    for (const auto& o : options) ok = ok || o == v;
    if (!ok) fail(key, expected);
    out_[key] = v;
    return v;
}

std::string MapReader::string(const std::string& key, const std::string& def) {
    YAML::Node n = get(key);
    std::string v = def;
    if (n.IsDefined()) {
        if (!n.IsScalar()) fail(key, "a string");
        v = n.Scalar();
    }
    out_[key] = v;
    return v;
}

std::string MapReader::required_string(const std::string& key) {
    YAML::Node n = get(key);
    if (!n.IsDefined() || !n.IsScalar() || n.Scalar().empty()) fail(key, "a name (required)");
    out_[key] = n.Scalar();
    return n.Scalar();
}

std::vector<uint32_t> MapReader::id_list(const std::string& key, uint32_t limit) {
    YAML::Node n = get(key);
    std::vector<uint32_t> ids;
    const std::string expected =
        "'all', a list of cell ids in [0, " + std::to_string(limit) + "), or {from: i, to: j}";
    if (!n.IsDefined() || (n.IsScalar() && n.Scalar() == "all")) {
        out_[key] = "all";
        return ids;
    }
    if (n.IsMap()) {
        out_[key] = YAML::Node(YAML::NodeType::Map);
        MapReader r(n, path(key), src_, out_[key]);
        const int64_t from = r.integer("from", 0, 0, int64_t(limit) - 1);
        const int64_t to = r.integer("to", int64_t(limit), from + 1, int64_t(limit));
        r.finish();
        if (from == 0 && to == int64_t(limit)) return ids;  // every cell: 'all', not a list
        // The ids are listed (4 bytes each): refused here, before the list is made, when they
        // would not fit (a range over most of a population of 2 billion cells is 8 GB).
        const uint64_t bytes = uint64_t(to - from) * 4, have = host_available_bytes();
        if (have > 0 && bytes > have / 2)
            fail(key, "a range whose list of cell ids fits in memory (" +
                          std::to_string(to - from) + " ids need " +
                          format_number(std::round(bytes / 1048576.0)) +
                          " MiB; this process may "
                          "use " +
                          format_number(std::round(have / 1048576.0)) + " MiB)");
        ids.reserve(static_cast<size_t>(to - from));
        for (int64_t i = from; i < to; ++i) ids.push_back(static_cast<uint32_t>(i));
        return ids;
    }
    if (!n.IsSequence() || n.size() == 0) fail(key, expected);
    YAML::Node list(YAML::NodeType::Sequence);
    list.SetStyle(YAML::EmitterStyle::Flow);
    for (size_t i = 0; i < n.size(); ++i) {
        int64_t v = -1;
        if (!decimal_integer(n[i], &v) || string_typed(n[i])) fail(key, expected);
        if (v < 0 || v >= int64_t(limit)) fail(key, expected);
        ids.push_back(static_cast<uint32_t>(v));
        list.push_back(v);
    }
    out_[key] = list;
    return ids;
}

std::vector<std::string> MapReader::string_list(const std::string& key) {
    YAML::Node n = get(key);
    std::vector<std::string> v;
    if (!n.IsDefined()) return v;
    if (!n.IsSequence()) fail(key, "a list of names");
    YAML::Node list(YAML::NodeType::Sequence);
    list.SetStyle(YAML::EmitterStyle::Flow);
    for (size_t i = 0; i < n.size(); ++i) {
        if (!n[i].IsScalar()) fail(key, "a list of names");
        v.push_back(n[i].Scalar());
        list.push_back(v.back());
    }
    out_[key] = list;
    return v;
}

MapReader MapReader::map(const std::string& key) {
    YAML::Node n = get(key);
    if (n.IsDefined() && !n.IsMap()) fail(key, "a map of keys");
    if (!is_map(out_[key])) out_[key] = YAML::Node(YAML::NodeType::Map);
    return MapReader(n, path(key), src_, out_[key]);
}

std::vector<MapReader> MapReader::map_list(const std::string& key) {
    YAML::Node n = get(key);
    std::vector<MapReader> v;
    if (!n.IsDefined()) return v;
    if (!n.IsSequence()) fail(key, "a list of maps");
    out_[key] = YAML::Node(YAML::NodeType::Sequence);
    for (size_t i = 0; i < n.size(); ++i) {
        if (!n[i].IsMap()) {
            MapReader(n[i], path(key) + "." + std::to_string(i), src_, YAML::Node())
                .fail_here("a map of keys");
        }
        out_[key].push_back(YAML::Node(YAML::NodeType::Map));
        v.emplace_back(n[i], path(key) + "." + std::to_string(i), src_, out_[key][i]);
    }
    return v;
}

std::vector<std::string> MapReader::keys() const {
    std::vector<std::string> k;
    if (!is_map(node_)) return k;
    for (auto it = node_.begin(); it != node_.end(); ++it) k.push_back(it->first.Scalar());
    return k;
}

void MapReader::finish() {
    if (!is_map(node_)) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
        const std::string k = it->first.Scalar();
        if (read_.count(k)) continue;
        std::string known;
        for (const auto& r : read_) known += (known.empty() ? "" : ", ") + r;
        throw ConfigError(where(it->first, path(k)) + ": " + path(k) + ": unknown key" +
                          (known.empty() ? "" : " (known here: " + known + ")"));
    }
}

static void set_path(YAML::Node node, const std::vector<std::string>& parts, size_t i,
                     const YAML::Node& value, const std::string& origin) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();
    if (node.IsSequence()) {
        size_t idx = 0;
        try {
            idx = std::stoul(part);
        } catch (...) {
            throw ConfigError(origin + ": '" + part + "' must be a list index here");
        }
        if (idx >= node.size())
            throw ConfigError(origin + ": list index " + part + " is out of range");
        if (last) {
            node[idx] = value;
        } else {
            set_path(node[idx], parts, i + 1, value, origin);
        }
        return;
    }
    if (node.IsDefined() && !node.IsNull() && !node.IsMap())
        throw ConfigError(origin + ": cannot set a key inside the value '" + node.Scalar() + "'");
    if (last) {
        node[part] = value;
    } else {
        if (!node[part].IsDefined() || node[part].IsNull()) {
            node[part] = YAML::Node(YAML::NodeType::Map);
        }
        set_path(node[part], parts, i + 1, value, origin);
    }
}

void apply_override(YAML::Node& root, const std::string& key_path, const std::string& value,
                    const std::string& origin) {
    YAML::Node v;
    try {
        v = YAML::Load(value);
    } catch (const YAML::Exception& e) {
        throw ConfigError(origin + ": value is not valid YAML: " + e.msg);
    }
    check_unique_keys(v, origin);
    apply_override_node(root, key_path, v, origin);
}

void apply_override_node(YAML::Node& root, const std::string& key_path, const YAML::Node& value,
                         const std::string& origin) {
    std::vector<std::string> parts;
    std::stringstream ss(key_path);
    for (std::string p; std::getline(ss, p, '.');) {
        if (p.empty()) throw ConfigError(origin + ": empty part in key path '" + key_path + "'");
        parts.push_back(p);
    }
    if (parts.empty()) throw ConfigError(origin + ": empty key path");
    if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    // A key inside a population or projection that does not exist is a misspelt name far more
    // often than a new entry (populations.PRY.n would add a population PRY with every other
    // value its default): refused; a new entry is set whole.
    const YAML::Node& croot = root;
    if (parts.size() > 2 && (parts[0] == "populations" || parts[0] == "projections") &&
        croot.IsMap() && croot[parts[0]].IsDefined() && croot[parts[0]].IsMap() &&
        !croot[parts[0]][parts[1]].IsDefined()) {
        std::string known;
        for (auto it = croot[parts[0]].begin(); it != croot[parts[0]].end(); ++it)
            known += (known.empty() ? "" : ", ") + it->first.Scalar();
        const std::string what = parts[0] == "populations" ? "population" : "projection";
        throw ConfigError(origin + ": " + parts[0] + "." + parts[1] + ": no " + what + " '" +
                          parts[1] + "' (known: " + known + "); to add one, set it whole (" +
                          parts[0] + "." + parts[1] + "={...})");
    }
    set_path(root, parts, 0, value, origin);
}

}  // namespace l5sim::config_detail
