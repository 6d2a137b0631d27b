#include "l5sim/output.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "io/durable.hpp"
#include "io/h5_file.hpp"
#include "io/output_lock.hpp"
#include "io/summary_json.hpp"
#include "l5sim/build_info.hpp"
#include "l5sim/checkpoint.hpp"
#include "l5sim/error.hpp"
#include "l5sim/spike_stream.hpp"

namespace fs = std::filesystem;

namespace l5sim {

namespace {

// Every file l5sim writes at the top of an output directory, a single run's and a sweep's (so
// that --force leaves nothing of an earlier run of the other kind).
const char* kOutputs[] = {"config.resolved.yaml", "spikes.h5", "probes.h5", "weights.h5",
                          "summary.json", "sweep.json", "checkpoint.l5ck", "spikes.stream",
                          // a sweep over MPI's bookkeeping, left behind when it was killed
                          ".l5sim_ranks_see_this", ".l5sim_sweep_failed"};

using namespace h5io;  // NOLINT: the HDF5 helpers (io/h5_file.hpp)

// The frames (a step, then `width` floats) of a probe or weight record: from its stream (a run
// in progress streams them) or from memory.
struct Frames {
    uint64_t count = 0, width = 0;
    const FrameStream* stream = nullptr;
    const std::vector<int64_t>* steps = nullptr;
    const std::vector<float>* values = nullptr;
    void each(const std::function<void(uint64_t, int64_t, const float*)>& f) const {
        if (stream) {
            for_each_frame(stream->path(), width, count, f);
            return;
        }
        for (uint64_t i = 0; i < count; ++i) f(i, (*steps)[i], values->data() + i * width);
    }
};

Frames frames_of(const FrameStream* s, const std::vector<int64_t>& steps,
                 const std::vector<float>& values, uint64_t width) {
    Frames f;
    f.width = width;
    if (s) {
        f.stream = s;
        f.count = s->frames();
    } else {
        f.steps = &steps;
        f.values = &values;
        f.count = steps.size();
    }
    return f;
}

std::string hostname() {
    char buf[256] = {0};
    gethostname(buf, sizeof buf - 1);
    return buf;
}

// /spikes/<population>/{timestamps, node_ids} (SONATA), written in blocks from the spikes in
// memory or from the run's spike stream: the same bytes either way.
void write_spikes(const fs::path& dir, const Simulation& sim) {
    const auto& cfg = sim.config();
    const SpikeStream* stream = sim.spike_stream();
    write_h5(dir / "spikes.h5", [&](hid_t f) {
        H5 root(create_group(f, "spikes"), H5Gclose, "create /spikes");
        write_attr_string(root, "l5sim_version", build::version);
        for (uint32_t p = 0; p < cfg.populations.size(); ++p) {
            H5 g(create_group(root, cfg.populations[p].name), H5Gclose,
                 "create /spikes/" + cfg.populations[p].name);
            write_sorting(g);
            const uint64_t n = stream ? stream->spikes(p) : sim.spikes()[p].ids.size();
            BlockDataset ts(g, "timestamps", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, n);
            BlockDataset ids(g, "node_ids", H5T_NATIVE_UINT64, H5T_STD_U64LE, n);
            RowWriter<double> t(ts, 0);
            RowWriter<uint64_t> id(ids, 0);
            auto put = [&](int64_t step, uint32_t cell) {
                t.push(step_ms(step, cfg.dt_ms));
                id.push(cell);
            };
            if (stream) {
                for_each_streamed_spike(stream->path(), stream->bytes(),
                                        [&](uint32_t pop, uint32_t cell, int64_t step) {
                                            if (pop == p) put(step, cell);
                                        });
            } else {
                const auto& rec = sim.spikes()[p];
                for (size_t i = 0; i < rec.ids.size(); ++i) put(rec.steps[i], rec.ids[i]);
            }
            t.flush();
            id.flush();
            if (t.rows() != n)
                throw Error("spikes of " + cfg.populations[p].name +
                            ": the stream holds another count than it reported");
            write_attr_string(ts, "units", "ms");
            ts.close();
            ids.close();
            g.close("/spikes/" + cfg.populations[p].name);
        }
        root.close("/spikes");
    });
}

void write_probes(const fs::path& dir, const Simulation& sim) {
    const auto& cfg = sim.config();
    if (cfg.recording.probes.empty()) return;
    write_h5(dir / "probes.h5", [&](hid_t f) {
        H5 root(create_group(f, "probes"), H5Gclose, "create /probes");
        for (size_t k = 0; k < cfg.recording.probes.size(); ++k) {
            const auto& pc = cfg.recording.probes[k];
            const auto& rec = sim.probes()[k];
            const size_t nc = pc.cells.size(), nv = pc.variables.size();
            const Frames fr = frames_of(sim.probe_stream(k), rec.steps, rec.values, nv * nc);
            const std::string name = cfg.populations[pc.population].name + "_" + std::to_string(k);
            H5 g(create_group(root, name), H5Gclose, "create /probes/" + name);
            write_attr_string(g, "population", cfg.populations[pc.population].name);
            BlockDataset time(g, "time_ms", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, fr.count);
            std::vector<uint64_t> ids(pc.cells.begin(), pc.cells.end());
            write_dataset(g, "node_ids", H5T_NATIVE_UINT64, H5T_STD_U64LE, {ids.size()},
                          ids.data());
            std::vector<std::unique_ptr<BlockDataset>> vars;
            for (size_t v = 0; v < nv; ++v)
                vars.push_back(std::make_unique<BlockDataset>(g, pc.variables[v], H5T_NATIVE_FLOAT,
                                                              H5T_IEEE_F32LE, fr.count, nc));
            RowWriter<double> t(time, 0);
            std::vector<RowWriter<float>> rows;
            for (size_t v = 0; v < nv; ++v) rows.emplace_back(*vars[v], nc);
            // A frame is [variable][cell]: one row of each variable's [time, cell] dataset.
            fr.each([&](uint64_t, int64_t step, const float* x) {
                t.push(step_ms(step + 1, cfg.dt_ms));
                for (size_t v = 0; v < nv; ++v) rows[v].push(x + v * nc);
            });
            t.flush();
            for (auto& r : rows) r.flush();
            time.close();
            for (auto& v : vars) v->close();
            g.close("/probes/" + name);
        }
        root.close("/probes");
    });
}

void write_weights(const fs::path& dir, const Simulation& sim) {
    const auto& cfg = sim.config();
    if (cfg.recording.weights.empty()) return;
    write_h5(dir / "weights.h5", [&](hid_t f) {
        H5 root(create_group(f, "weights"), H5Gclose, "create /weights");
        for (size_t k = 0; k < cfg.recording.weights.size(); ++k) {
            const auto& wc = cfg.recording.weights[k];
            const auto& rec = sim.weights()[k];
            const std::string name = cfg.projections[wc.projection].name;
            H5 g(create_group(root, name), H5Gclose, "create /weights/" + name);
            const Frames fr = frames_of(sim.weight_stream(k), rec.steps, rec.values, rec.count);
            const uint64_t snaps = fr.count, n = rec.count;
            BlockDataset time(g, "time_ms", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, snaps);
            std::vector<uint32_t> src(rec.count), tgt(rec.count);
            sim.engine().read_synapses(wc.projection, rec.stride, rec.count, src.data(),
                                       tgt.data());
            write_dataset(g, "source_ids", H5T_NATIVE_UINT32, H5T_STD_U32LE, {rec.count},
                          src.data());
            write_dataset(g, "target_ids", H5T_NATIVE_UINT32, H5T_STD_U32LE, {rec.count},
                          tgt.data());
            BlockDataset w(g, "w", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, snaps, n);
            // Per snapshot: a histogram of the sample over kBins equal bins spanning the smallest
            // to the largest weight of any snapshot (a first pass), and the mean |dw| since the
            // snapshot before.
            constexpr size_t kBins = 50;
            float lo = 0, hi = 0;
            bool any = false;
            fr.each([&](uint64_t, int64_t, const float* x) {
                for (uint64_t i = 0; i < n; ++i) {
                    lo = any ? std::min(lo, x[i]) : x[i];
                    hi = any ? std::max(hi, x[i]) : x[i];
                    any = true;
                }
            });
            if (!(hi > lo)) hi = lo + 1e-6f;
            std::vector<double> edges(kBins + 1);
            for (size_t b = 0; b <= kBins; ++b)
                edges[b] = lo + (static_cast<double>(hi) - lo) * static_cast<double>(b) / kBins;
            write_dataset(g, "histogram_edges", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, {kBins + 1},
                          edges.data());
            BlockDataset hist(g, "histogram", H5T_NATIVE_UINT64, H5T_STD_U64LE, snaps, kBins);
            BlockDataset dws(g, "mean_abs_dw", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, snaps);
            RowWriter<double> t_rows(time, 0), dw_rows(dws, 0);
            RowWriter<float> w_rows(w, n);
            RowWriter<uint64_t> h_rows(hist, kBins);
            std::vector<float> prev(n);
            std::vector<uint64_t> counts(kBins);
            fr.each([&](uint64_t s, int64_t step, const float* x) {
                std::fill(counts.begin(), counts.end(), 0);
                double dw = 0;
                for (uint64_t i = 0; i < n; ++i) {
                    const double u =
                        (static_cast<double>(x[i]) - lo) / (static_cast<double>(hi) - lo);
                    ++counts[std::min<size_t>(kBins - 1, static_cast<size_t>(u * kBins))];
                    if (s > 0) dw += std::fabs(static_cast<double>(x[i]) - prev[i]);
                }
                std::copy(x, x + n, prev.begin());
                t_rows.push(step_ms(step + 1, cfg.dt_ms));
                if (n > 0) w_rows.push(x);
                h_rows.push(counts.data());
                dw_rows.push(s > 0 && n > 0 ? dw / static_cast<double>(n) : 0.0);
            });
            t_rows.flush();
            w_rows.flush();
            h_rows.flush();
            dw_rows.flush();
            write_attr_string(g, "units", "nS");
            write_attr_string(g, "histogram",
                              "per snapshot: synapses of the sample in each bin "
                              "of histogram_edges (equal bins over the smallest "
                              "to the largest sampled weight)");
            write_attr_string(g, "mean_abs_dw",
                              "per snapshot: mean |w - w at the snapshot "
                              "before| over the sample, nS (0 for the first)");
            write_attr_string(g, "sample",
                              rec.stride == 1 ? "all synapses"
                                              : "every " + std::to_string(rec.stride) +
                                                    "th synapse in CSR (source-major) order");
            for (BlockDataset* d : {&time, &w, &hist, &dws}) d->close();
            g.close("/weights/" + name);
        }
        root.close("/weights");
    });
}

}  // namespace

namespace {

// A directory entry that is l5sim's bookkeeping, not an output: a directory holding only these
// counts as empty.
bool bookkeeping(const fs::path& name) { return name == kLockFile || name == kManifestFile; }

bool empty_but_bookkeeping(const fs::path& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (!bookkeeping(e.path().filename())) return false;
    return !ec;
}

// The streams an l5sim older than the manifest wrote (spikes.stream, probes_<k>.stream,
// weights_<k>.stream): removed by --force where no manifest says what a run wrote.
bool legacy_stream_name(const std::string& name) {
    if (name == "spikes.stream") return true;
    for (const std::string prefix : {"probes_", "weights_"}) {
        if (name.rfind(prefix, 0) != 0 || !name.ends_with(".stream")) continue;
        const std::string k = name.substr(prefix.size(), name.size() - prefix.size() - 7);
        if (!k.empty() && k.find_first_not_of("0123456789") == std::string::npos) return true;
    }
    return false;
}

// The names a previous run listed in DIR's manifest.
std::vector<std::string> read_manifest(const fs::path& dir) {
    std::vector<std::string> names;
    std::ifstream in(dir / kManifestFile);
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#' && line.find('/') == std::string::npos && line != "." &&
            line != "..")
            names.push_back(line);
    return names;
}

}  // namespace

void check_output_dir(const fs::path& dir, bool force) {
    std::error_code ec;
    if (dir.empty()) throw ConfigError("--out: an empty path");
    const auto status = fs::symlink_status(dir, ec);
    if (fs::is_symlink(status) && !fs::exists(dir, ec))
        throw ConfigError("--out " + dir.string() + ": a symbolic link to " +
                          fs::read_symlink(dir, ec).string() + ", which does not exist");
    if (!fs::exists(dir, ec)) {
        // It will be created: its nearest existing ancestor must be a directory we may write
        // (found now, before the network is built, rather than after).
        fs::path up = fs::absolute(dir, ec).parent_path();
        while (!up.empty() && !fs::exists(up, ec) && up != up.parent_path()) up = up.parent_path();
        if (!fs::is_directory(up, ec))
            throw ConfigError("--out " + dir.string() + ": cannot be created (" + up.string() +
                              " is not a directory)");
        if (::access(up.c_str(), W_OK | X_OK) != 0)
            throw ConfigError("--out " + dir.string() + ": cannot be created (" + up.string() +
                              " is not writable)");
        return;
    }
    if (!fs::is_directory(dir, ec))
        throw ConfigError("--out " + dir.string() + ": exists and is not a directory");
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw ConfigError("--out " + dir.string() + ": the directory is not writable");
    if (!empty_but_bookkeeping(dir) && !force)
        throw ConfigError("--out " + dir.string() +
                          ": directory is not empty (use --force to overwrite its l5sim outputs)");
}

void write_text(const fs::path& final_path, const std::string& text) {
    const fs::path tmp = final_path.string() + ".part";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw Error("cannot write " + tmp.string() + ": " + std::strerror(errno));
    size_t done = 0;
    int err = 0;
    while (done < text.size() && !err) {
        const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
        if (w < 0 && errno != EINTR) err = errno;
        if (w > 0) done += static_cast<size_t>(w);
    }
    if (!err && ::fsync(fd) != 0) err = errno;
    if (::close(fd) != 0 && !err) err = errno;
    if (err) {
        std::error_code ec;
        fs::remove(tmp, ec);
        throw Error("cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    commit_file(tmp, final_path);
}

std::string format_duration(double s) {
    char buf[32];
    if (s < 120) {
        snprintf(buf, sizeof buf, "%.0f s", s);
    } else if (s < 7200) {
        snprintf(buf, sizeof buf, "%.1f min", s / 60);
    } else {
        snprintf(buf, sizeof buf, "%.1f h", s / 3600);
    }
    return buf;
}

void prepare_output_dir(const fs::path& dir, bool force, const std::vector<std::string>& names) {
    check_output_dir(dir, force);
    fs::create_directories(dir);
    // What an earlier run wrote here, and only that: its fixed-name outputs, what its manifest
    // lists (streams, replicas/), or, before manifests, the names l5sim's streams have and a
    // sweep's replicas/ next to its sweep.json. A user's own files stay.
    std::error_code ec;
    std::vector<std::string> old = read_manifest(dir);
    const bool had_manifest = fs::exists(dir / kManifestFile, ec);
    for (const char* name : kOutputs) old.emplace_back(name);
    if (!had_manifest) {
        for (const auto& e : fs::directory_iterator(dir, ec))
            if (legacy_stream_name(e.path().filename().string()))
                old.push_back(e.path().filename().string());
        if (fs::exists(dir / "sweep.json", ec)) old.emplace_back("replicas");
    }
    for (const auto& name : old) {
        if (bookkeeping(name)) continue;
        fs::remove_all(dir / name, ec);
        fs::remove(dir / (name + ".part"), ec);
    }
    // This run's list, before it writes any of them.
    std::string text = "# files written by l5sim into this directory (--force removes these)\n";
    for (const auto& n : names) text += n + "\n";
    write_text(dir / kManifestFile, text);
}

std::vector<std::string> run_outputs(const Config& cfg) {
    std::vector<std::string> names = {"config.resolved.yaml", "summary.json", kCheckpointFile};
    if (cfg.recording.spikes) {
        names.emplace_back("spikes.h5");
        names.emplace_back(kSpikeStream);
    }
    if (!cfg.recording.probes.empty()) names.emplace_back("probes.h5");
    if (!cfg.recording.weights.empty()) names.emplace_back("weights.h5");
    for (size_t k = 0; k < cfg.recording.probes.size(); ++k)
        names.push_back("probes_" + std::to_string(k) + ".stream");
    for (size_t k = 0; k < cfg.recording.weights.size(); ++k)
        names.push_back("weights_" + std::to_string(k) + ".stream");
    return names;
}

void remove_streams(const Simulation& sim) {
    std::error_code ec;
    if (const auto* s = sim.spike_stream()) fs::remove(s->path(), ec);
    for (size_t k = 0; k < sim.config().recording.probes.size(); ++k)
        if (const auto* s = sim.probe_stream(k)) fs::remove(s->path(), ec);
    for (size_t k = 0; k < sim.config().recording.weights.size(); ++k)
        if (const auto* s = sim.weight_stream(k)) fs::remove(s->path(), ec);
}

void write_resolved_config(const fs::path& dir, const Config& cfg, const Provenance& prov) {
    // Free text (a command line with a multi-line --set value, a path with ': ' or '#') is
    // written as a double-quoted YAML string, so the file stays a valid config.
    std::string yaml = "# l5sim " + std::string(build::version) + " (git " + build::git_hash +
                       "), engine " + prov.engine + "\n";
    yaml += "provenance:\n  l5sim_version: " + std::string(build::version) +
            "\n  git_hash: " + build::git_hash + "\n  engine: " + prov.engine +
            "\n  host: " + yaml_quoted(hostname()) + "\n  seed: " + std::to_string(cfg.seed) +
            "\n  source_config: " + yaml_quoted(cfg.source_file) +
            "\n  command: " + yaml_quoted(prov.command_line) + "\n";
    yaml += cfg.resolved_yaml + "\n";
    write_text(dir / "config.resolved.yaml", yaml);
}

std::string yaml_quoted(const std::string& text) {
    std::string out = "\"";
    for (const unsigned char ch : text) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += static_cast<char>(ch);
        } else if (ch == '\n') {
            out += "\\n";
        } else if (ch == '\t') {
            out += "\\t";
        } else if (ch < 0x20 || ch == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", ch);
            out += buf;
        } else {
            out += static_cast<char>(ch);
        }
    }
    return out + "\"";
}

void write_recordings(const fs::path& dir, const Simulation& sim) {
    if (sim.config().recording.spikes) write_spikes(dir, sim);
    write_probes(dir, sim);
    write_weights(dir, sim);
}

std::vector<PopulationSummary> write_results(const fs::path& dir, const Simulation& sim,
                                             const Provenance& prov) {
    const auto& cfg = sim.config();
    write_recordings(dir, sim);

    nlohmann::ordered_json j;
    j["l5sim_version"] = build::version;
    j["git_hash"] = build::git_hash;
    j["engine"] = prov.engine;
    j["seed"] = cfg.seed;
    const auto summaries = summarize(sim);
    for (const auto& s : summaries) j["populations"][s.name] = population_json(s);
    const auto& t = sim.timing();
    const double bio_s = static_cast<double>(t.steps) * cfg.dt_ms * 1e-3;
    j["timing"] = {{"wall_s", t.wall_s},
                   {"build_s", t.build_s},
                   {"bio_s", bio_s},
                   {"steps", t.steps},
                   {"synaptic_events", t.synaptic_events},
                   {"events_per_s", t.wall_s > 0 ? t.synaptic_events / t.wall_s : 0.0},
                   {"wall_per_bio_s", bio_s > 0 ? t.wall_s / bio_s : 0.0}};
    if (sim.profiling()) {
        const auto& ph = t.phases;
        j["timing"]["phases_s"] = {{"controls", ph.controls},     {"detect", ph.detect},
                                   {"propagate", ph.propagate},   {"deliver", ph.deliver},
                                   {"dendrites", ph.dendrites},   {"somata", ph.somata},
                                   {"plasticity", ph.plasticity}, {"record", ph.record}};
    }
    // Health checks (simulation.health): off only after `l5sim resume --ignore-health`, which
    // names the stops it went past.
    j["health"] = {{"checks", prov.health_checks}, {"ignored_stops", prov.health_ignored}};
    const uint64_t syn = sim.synapses();
    j["network"] = {{"synapses", syn},
                    {"device_bytes", sim.engine().device_bytes()},
                    {"connectivity_bytes", t.connectivity_bytes},
                    {"bytes_per_synapse", syn ? double(t.connectivity_bytes) / syn : 0.0}};
    // The resolution of each projection's 32-bit fixed-point input (ring_fixed_exponent).
    for (uint32_t k = 0; k < sim.config().projections.size(); ++k)
        j["network"]["ring_resolution_nS"][sim.config().projections[k].name] =
            std::ldexp(1.0, -sim.engine().ring_fixed_exponent(k));
    // A run over MPI: the ranks, what each held, what the exchange sent and took.
    const std::string mpi = sim.engine().mpi_summary();
    if (!mpi.empty()) j["mpi"] = nlohmann::ordered_json::parse(mpi);
    write_text(dir / "summary.json", j.dump(2) + "\n");
    return summaries;
}

}  // namespace l5sim
