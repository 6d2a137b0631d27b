#include "l5sim/output.hpp"

#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "l5sim/build_info.hpp"
#include "l5sim/error.hpp"
#include "l5sim/spike_stream.hpp"
#include "summary_json.hpp"

namespace fs = std::filesystem;

namespace l5sim {

namespace {

// Every file l5sim writes at the top of an output directory, a single run's and a sweep's (so
// that --force leaves nothing of an earlier run of the other kind).
const char* kOutputs[] = {"config.resolved.yaml", "spikes.h5", "probes.h5",     "weights.h5",
                          "summary.json",         "sweep.json", "checkpoint.l5ck", "spikes.stream"};

// RAII for one HDF5 handle.
class H5 {
public:
    H5(hid_t id, herr_t (*close)(hid_t), const std::string& what) : id_(id), close_(close) {
        if (id_ < 0) throw Error("HDF5: cannot " + what);
    }
    ~H5() { close_(id_); }
    H5(const H5&) = delete;
    H5& operator=(const H5&) = delete;
    operator hid_t() const { return id_; }

private:
    hid_t id_;
    herr_t (*close_)(hid_t);
};

hid_t create_group(hid_t parent, const std::string& name) {
    const hid_t plist = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(plist, 0);
    const hid_t g = H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, plist, H5P_DEFAULT);
    H5Pclose(plist);
    return g;
}

// Time of step n in ms: n / (1/dt) when 1/dt is a whole number (0.1 ms -> 39.4, not
// 39.400000000000006), else n * dt.
double step_ms(int64_t n, double dt) {
    const double inv = std::round(1.0 / dt);
    if (std::abs(inv * dt - 1.0) < 1e-12) return static_cast<double>(n) / inv;
    return static_cast<double>(n) * dt;
}

void write_attr_string(hid_t obj, const std::string& name, const std::string& value) {
    H5 type(H5Tcopy(H5T_C_S1), H5Tclose, "copy a string type");
    H5Tset_size(type, value.size() + 1);
    H5 space(H5Screate(H5S_SCALAR), H5Sclose, "create a scalar space");
    H5 attr(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
            "create attribute " + name);
    if (H5Awrite(attr, type, value.c_str()) < 0) throw Error("HDF5: cannot write attribute " + name);
}

// The creation properties of a dataset of `dims`: chunked and compressed when large.
hid_t dataset_plist(const std::vector<hsize_t>& dims) {
    const hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    if (plist < 0) throw Error("HDF5: cannot create a property list");
    H5Pset_obj_track_times(plist, 0);  // no modification times: same run, same bytes
    hsize_t total = 1;
    for (auto d : dims) total *= d;
    if (total >= 4096) {
        std::vector<hsize_t> chunk(dims);
        chunk[0] = std::min<hsize_t>(dims[0], std::max<hsize_t>(1, 65536 / (total / dims[0])));
        H5Pset_chunk(plist, static_cast<int>(chunk.size()), chunk.data());
        H5Pset_deflate(plist, 4);
    }
    return plist;
}

// A dataset of `dims` (1-D or 2-D), chunked and compressed when large.
void write_dataset(hid_t parent, const std::string& name, hid_t mem_type, hid_t file_type,
                   const std::vector<hsize_t>& dims, const void* data) {
    H5 space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose,
             "create a dataspace for " + name);
    H5 plist(dataset_plist(dims), H5Pclose, "create a property list");
    hsize_t total = 1;
    for (auto d : dims) total *= d;
    H5 ds(H5Dcreate2(parent, name.c_str(), file_type, space, H5P_DEFAULT, plist, H5P_DEFAULT),
          H5Dclose, "create dataset " + name);
    if (total > 0 && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        throw Error("HDF5: cannot write dataset " + name);
}

// A dataset of n rows (1-D, or 2-D with `width` columns) written in blocks of rows at increasing
// offsets, so that a source of any length streams through a bounded buffer; the same layout as
// write_dataset's.
class BlockDataset {
public:
    BlockDataset(hid_t parent, const std::string& name, hid_t mem_type, hid_t file_type,
                 hsize_t n, hsize_t width = 0)
        : name_(name), mem_type_(mem_type), n_(n), width_(width),
          space_(H5Screate_simple(width ? 2 : 1, dims(n, width).data(), nullptr), H5Sclose,
                 "create a dataspace for " + name),
          plist_(dataset_plist(dims(n, width)), H5Pclose, "create a property list"),
          ds_(H5Dcreate2(parent, name.c_str(), file_type, space_, H5P_DEFAULT, plist_,
                         H5P_DEFAULT),
              H5Dclose, "create dataset " + name) {}
    void write(hsize_t offset, hsize_t rows, const void* data) {
        if (rows == 0 || (width_ == 0 && n_ == 0)) return;
        if (offset + rows > n_) throw Error("HDF5: block past the end of " + name_);
        const auto count = dims(rows, width_);
        const std::vector<hsize_t> start =
            width_ ? std::vector<hsize_t>{offset, 0} : std::vector<hsize_t>{offset};
        if (width_ && count[1] == 0) return;
        H5 mem(H5Screate_simple(width_ ? 2 : 1, count.data(), nullptr), H5Sclose,
               "create a memory space");
        H5 file(H5Dget_space(ds_), H5Sclose, "get the space of " + name_);
        H5Sselect_hyperslab(file, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
        if (H5Dwrite(ds_, mem_type_, mem, file, H5P_DEFAULT, data) < 0)
            throw Error("HDF5: cannot write dataset " + name_);
    }
    operator hid_t() const { return ds_; }

private:
    static std::vector<hsize_t> dims(hsize_t n, hsize_t width) {
        return width ? std::vector<hsize_t>{n, width} : std::vector<hsize_t>{n};
    }
    std::string name_;
    hid_t mem_type_;
    hsize_t n_, width_;
    H5 space_, plist_, ds_;
};

// Rows appended one at a time to a BlockDataset, written kBlockElements at a time.
constexpr hsize_t kBlockElements = 65536;
template <class T>
class RowWriter {
public:
    RowWriter(BlockDataset& ds, hsize_t width)
        : ds_(ds), width_(width ? width : 1),
          rows_(std::max<hsize_t>(1, kBlockElements / (width ? width : 1))) {}
    void push(const T* row) {
        buf_.insert(buf_.end(), row, row + width_);
        if (buf_.size() == rows_ * width_) flush();
    }
    void push(T x) { push(&x); }
    void flush() {
        const hsize_t rows = buf_.size() / width_;
        ds_.write(at_, rows, buf_.data());
        at_ += rows;
        buf_.clear();
    }
    hsize_t rows() const { return at_ + buf_.size() / width_; }

private:
    BlockDataset& ds_;
    hsize_t width_, rows_, at_ = 0;
    std::vector<T> buf_;
};

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

template <class F>
void write_h5(const fs::path& final_path, F&& body) {
    const fs::path tmp = final_path.string() + ".part";
    {
        H5 file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose,
                "create " + tmp.string());
        body(static_cast<hid_t>(file));
    }
    fs::rename(tmp, final_path);
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
            write_attr_string(g, "sorting", "by_time");
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
        }
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
            write_dataset(g, "node_ids", H5T_NATIVE_UINT64, H5T_STD_U64LE, {ids.size()}, ids.data());
            std::vector<std::unique_ptr<BlockDataset>> vars;
            for (size_t v = 0; v < nv; ++v)
                vars.push_back(std::make_unique<BlockDataset>(
                    g, pc.variables[v], H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, fr.count, nc));
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
        }
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
            sim.engine().read_synapses(wc.projection, rec.stride, rec.count, src.data(), tgt.data());
            write_dataset(g, "source_ids", H5T_NATIVE_UINT32, H5T_STD_U32LE, {rec.count}, src.data());
            write_dataset(g, "target_ids", H5T_NATIVE_UINT32, H5T_STD_U32LE, {rec.count}, tgt.data());
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
            write_attr_string(g, "histogram", "per snapshot: synapses of the sample in each bin "
                                              "of histogram_edges (equal bins over the smallest "
                                              "to the largest sampled weight)");
            write_attr_string(g, "mean_abs_dw", "per snapshot: mean |w - w at the snapshot "
                                                "before| over the sample, nS (0 for the first)");
            write_attr_string(g, "sample", rec.stride == 1 ? "all synapses"
                                               : "every " + std::to_string(rec.stride) +
                                                     "th synapse in CSR (source-major) order");
        }
    });
}

}  // namespace

void check_output_dir(const fs::path& dir, bool force) {
    std::error_code ec;
    if (dir.empty()) throw ConfigError("--out: an empty path");
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
    if (!fs::is_empty(dir, ec) && !force)
        throw ConfigError("--out " + dir.string() +
                          ": directory is not empty (use --force to overwrite its l5sim outputs)");
}

void write_text(const fs::path& final_path, const std::string& text) {
    const fs::path tmp = final_path.string() + ".part";
    {
        std::ofstream out(tmp);
        out << text;
        out.flush();
        if (!out) throw Error("cannot write " + tmp.string());
    }
    fs::rename(tmp, final_path);
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

void prepare_output_dir(const fs::path& dir, bool force) {
    check_output_dir(dir, force);
    fs::create_directories(dir);
    for (const char* name : kOutputs) {
        fs::remove(dir / name);
        fs::remove(dir / (std::string(name) + ".part"));
    }
    fs::remove_all(dir / "replicas");
    remove_streams(dir);
}

void remove_streams(const fs::path& dir) {
    std::error_code ec;
    std::vector<fs::path> streams;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".stream") streams.push_back(e.path());
    for (const auto& p : streams) fs::remove(p, ec);
}

void write_resolved_config(const fs::path& dir, const Config& cfg, const Provenance& prov) {
    std::string yaml = "# l5sim " + std::string(build::version) + " (git " + build::git_hash +
                       "), engine " + prov.engine + ", host " + hostname() + "\n";
    yaml += "# command: " + prov.command_line + "\n";
    yaml += "provenance:\n  l5sim_version: " + std::string(build::version) +
            "\n  git_hash: " + build::git_hash + "\n  engine: " + prov.engine +
            "\n  host: " + hostname() + "\n  seed: " + std::to_string(cfg.seed) +
            "\n  source_config: " + cfg.source_file + "\n";
    yaml += cfg.resolved_yaml + "\n";
    write_text(dir / "config.resolved.yaml", yaml);
}

void write_recordings(const fs::path& dir, const Simulation& sim) {
    if (sim.config().recording.spikes) write_spikes(dir, sim);
    write_probes(dir, sim);
    write_weights(dir, sim);
}

void write_results(const fs::path& dir, const Simulation& sim, const Provenance& prov) {
    const auto& cfg = sim.config();
    write_recordings(dir, sim);

    nlohmann::ordered_json j;
    j["l5sim_version"] = build::version;
    j["git_hash"] = build::git_hash;
    j["engine"] = prov.engine;
    j["seed"] = cfg.seed;
    for (const auto& s : summarize(sim)) j["populations"][s.name] = population_json(s);
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
        j["timing"]["phases_s"] = {{"controls", ph.controls},   {"detect", ph.detect},
                                   {"propagate", ph.propagate}, {"deliver", ph.deliver},
                                   {"dendrites", ph.dendrites}, {"somata", ph.somata},
                                   {"plasticity", ph.plasticity}, {"record", ph.record}};
    }
    const uint64_t syn = sim.synapses();
    j["network"] = {{"synapses", syn},
                    {"device_bytes", sim.engine().device_bytes()},
                    {"connectivity_bytes", t.connectivity_bytes},
                    {"bytes_per_synapse", syn ? double(t.connectivity_bytes) / syn : 0.0}};
    // The resolution of each projection's 32-bit fixed-point input (ring_fixed_exponent).
    for (uint32_t k = 0; k < sim.config().projections.size(); ++k)
        j["network"]["ring_resolution_nS"][sim.config().projections[k].name] =
            std::ldexp(1.0, -sim.engine().ring_fixed_exponent(k));
    write_text(dir / "summary.json", j.dump(2) + "\n");
}

}  // namespace l5sim
