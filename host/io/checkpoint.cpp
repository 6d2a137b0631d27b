// Checkpoint files. Layout (little-endian):
//   "L5SIMCKP" | format version u32 | sections | trailer
//   section: tag length u32 | tag | payload length u64 | payload
//   trailer: "L5CKEND!" | bytes before the trailer u64 | CRC-32 of those bytes u32 | 0 u32
// Sections, in order: "header" (JSON), "config" (resolved YAML), "spikes/<pop>", "probes/<k>",
// "weights/<k>", then "state/<block>" for every block of state_layout(config).
#include "l5sim/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/durable.hpp"
#include "l5sim/build_info.hpp"
#include "l5sim/error.hpp"
#include "l5sim/spike_stream.hpp"
#include "run/controls.hpp"

namespace l5sim {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'L', '5', 'S', 'I', 'M', 'C', 'K', 'P'};
constexpr char kEndMagic[8] = {'L', '5', 'C', 'K', 'E', 'N', 'D', '!'};
// Format 2: delay rings in 32-bit fixed point at each projection's own scale (format 1: 64-bit).
constexpr uint32_t kFormat = 2;
constexpr uint64_t kTrailer = 24;

// Appends to a file, keeping the CRC-32 of everything written.
class Writer {
  public:
    explicit Writer(const fs::path& path)
        : path_(path), out_(path, std::ios::binary | std::ios::trunc) {
        if (!out_) throw Error("cannot write " + path.string());
    }
    void raw(const void* p, uint64_t n) {
        const auto* b = static_cast<const unsigned char*>(p);
        for (uint64_t done = 0; done < n;) {  // zlib takes 32-bit lengths
            const auto chunk = static_cast<uInt>(std::min<uint64_t>(n - done, 1u << 30));
            crc_ = crc32(crc_, b + done, chunk);
            done += chunk;
        }
        out_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
        if (!out_) fail();
        bytes_ += n;
    }
    [[noreturn]] void fail() {
        throw Error("cannot write " + path_.string() + ": " + std::strerror(errno ? errno : EIO));
    }
    template <class T>
    void value(T x) {
        raw(&x, sizeof x);
    }
    void section(const std::string& tag, uint64_t payload) {
        value(static_cast<uint32_t>(tag.size()));
        raw(tag.data(), tag.size());
        value(payload);
    }
    void text(const std::string& tag, const std::string& t) {
        section(tag, t.size());
        raw(t.data(), t.size());
    }
    template <class T>
    void array(const std::vector<T>& v) {
        value(static_cast<uint64_t>(v.size()));
        raw(v.data(), v.size() * sizeof(T));
    }
    void finish() {
        const uint64_t before = bytes_;
        const auto crc = static_cast<uint32_t>(crc_);
        out_.write(kEndMagic, 8);
        out_.write(reinterpret_cast<const char*>(&before), 8);
        out_.write(reinterpret_cast<const char*>(&crc), 4);
        const uint32_t zero = 0;
        out_.write(reinterpret_cast<const char*>(&zero), 4);
        out_.flush();
        if (!out_) fail();
        out_.close();
        if (!out_) fail();
    }

  private:
    fs::path path_;
    std::ofstream out_;
    uLong crc_ = crc32(0L, Z_NULL, 0);
    uint64_t bytes_ = 0;
};

// Reads sections in order, each checked against the tag expected.
class Reader {
  public:
    Reader(const fs::path& path, uint64_t end)
        : path_(path), in_(path, std::ios::binary), end_(end) {
        in_.seekg(static_cast<std::streamoff>(sizeof kMagic + sizeof kFormat));
    }
    void raw(void* p, uint64_t n) {
        if (pos() + n > end_) fail("a section runs past the end of the data");
        in_.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
        if (!in_) fail("read error");
    }
    template <class T>
    T value() {
        T x{};
        raw(&x, sizeof x);
        return x;
    }
    uint64_t section(const std::string& tag) {
        const auto len = value<uint32_t>();
        if (len > 4096) fail("bad section tag (expected '" + tag + "')");
        std::string got(len, '\0');
        raw(got.data(), len);
        if (got != tag) fail("section '" + got + "' where '" + tag + "' was expected");
        return value<uint64_t>();
    }
    std::string text(const std::string& tag) {
        std::string t(section(tag), '\0');
        raw(t.data(), t.size());
        return t;
    }
    template <class T>
    std::vector<T> array(const std::string& what) {
        const auto n = value<uint64_t>();
        if (n > (end_ - pos()) / sizeof(T)) fail(what + ": length past the end of the data");
        std::vector<T> v(n);
        raw(v.data(), n * sizeof(T));
        return v;
    }
    uint64_t pos() { return static_cast<uint64_t>(in_.tellg()); }
    [[noreturn]] void fail(const std::string& why) {
        throw Error("checkpoint " + path_.string() + ": " + why);
    }

  private:
    fs::path path_;
    std::ifstream in_;
    uint64_t end_;
};

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

// Checks size, trailer and CRC; returns the number of bytes before the trailer.
uint64_t verify(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw Error("checkpoint " + path.string() + ": no such file");
    const uint64_t size = fs::file_size(path, ec);
    const std::string where = "checkpoint " + path.string() + ": ";
    if (ec || size < sizeof kMagic + sizeof kFormat + kTrailer)
        throw Error(where + "truncated (" + std::to_string(size) + " bytes)");
    std::ifstream in(path, std::ios::binary);
    char magic[8];
    uint32_t format = 0;
    in.read(magic, 8);
    in.read(reinterpret_cast<char*>(&format), 4);
    if (!in || std::memcmp(magic, kMagic, 8) != 0) throw Error(where + "not an l5sim checkpoint");
    if (format != kFormat)
        throw Error(where + "format version " + std::to_string(format) + ", this l5sim reads " +
                    std::to_string(kFormat) +
                    (format < kFormat
                         ? " (written by an earlier l5sim: resume it with that version)"
                         : " (written by a newer l5sim)"));
    char end_magic[8];
    uint64_t before = 0;
    uint32_t crc_file = 0;
    in.seekg(static_cast<std::streamoff>(size - kTrailer));
    in.read(end_magic, 8);
    in.read(reinterpret_cast<char*>(&before), 8);
    in.read(reinterpret_cast<char*>(&crc_file), 4);
    if (!in || std::memcmp(end_magic, kEndMagic, 8) != 0 || before != size - kTrailer)
        throw Error(where + "truncated or incomplete (no valid end marker; " +
                    std::to_string(size) + " bytes)");
    in.seekg(0);
    uLong crc = crc32(0L, Z_NULL, 0);
    std::vector<unsigned char> buf(1 << 22);
    for (uint64_t left = before; left > 0;) {
        const auto n = static_cast<std::streamsize>(std::min<uint64_t>(left, buf.size()));
        in.read(reinterpret_cast<char*>(buf.data()), n);
        if (!in) throw Error(where + "read error");
        crc = crc32(crc, buf.data(), static_cast<uInt>(n));
        left -= static_cast<uint64_t>(n);
    }
    if (static_cast<uint32_t>(crc) != crc_file)
        throw Error(where + "corrupt (CRC-32 mismatch: the file was changed or damaged)");
    return before;
}

}  // namespace

void write_checkpoint(const fs::path& path, Simulation& sim, const std::string& health_stop,
                      const std::vector<std::string>& health_ignored, double run_ms) {
    const Config& cfg = sim.cfg_;
    sim.collect_spikes();
    sim.engine_->synchronize();
    if (sim.stream_) sim.stream_->flush(true);  // durable up to the length the header names
    for (auto& s : sim.probe_streams_) s->flush(true);
    for (auto& s : sim.weight_streams_) s->flush(true);
    const int64_t step = sim.step_;
    if (sim.discard_) {
        // A rank other than 0 of a run over MPI (Simulation::discard_records): its share of
        // every block goes to rank 0, which writes the checkpoint; nothing is written here.
        for (const auto& b : state_layout(cfg))
            sim.engine_->read_block_to(b, step, [](const void*, uint64_t) {});
        return;
    }
    const fs::path tmp = path.string() + ".part";
    try {
        Writer w(tmp);
        w.raw(kMagic, 8);
        w.value(kFormat);
        nlohmann::ordered_json h;
        h["l5sim_version"] = build::version;
        h["git_hash"] = build::git_hash;
        h["created"] = utc_now();
        h["engine"] = sim.engine_->name();
        h["source_config"] = cfg.source_file;
        h["step"] = step;
        h["steps"] = cfg.steps();
        h["wall_s"] = sim.timing_.wall_s;
        // Spikes streamed to a file (the CLI's runs): the checkpoint holds the stream's length
        // (its spike sections are empty); resuming cuts the stream there.
        if (sim.stream_) {
            h["spike_stream_bytes"] = sim.stream_->bytes();
            h["spike_stream_crc"] = sim.stream_->crc();
        }
        if (!sim.probe_streams_.empty() || !sim.weight_streams_.empty()) {
            std::vector<uint64_t> p, w;
            std::vector<uint32_t> pc, wc;
            for (const auto& s : sim.probe_streams_) {
                p.push_back(s->frames());
                pc.push_back(s->crc());
            }
            for (const auto& s : sim.weight_streams_) {
                w.push_back(s->frames());
                wc.push_back(s->crc());
            }
            h["probe_frames"] = p;
            h["weight_frames"] = w;
            h["probe_crcs"] = pc;
            h["weight_crcs"] = wc;
            h["frames_streamed"] = true;
        }
        h["stream_crcs"] = true;
        if (!health_stop.empty()) h["health_stop"] = health_stop;
        if (!health_ignored.empty()) h["health_ignored"] = health_ignored;
        if (run_ms >= 0) h["run_ms"] = run_ms;
        w.text("header", h.dump());
        w.text("config", cfg.resolved_yaml);
        for (size_t p = 0; p < sim.spikes_.size(); ++p) {
            const auto& r = sim.spikes_[p];
            w.section("spikes/" + cfg.populations[p].name,
                      16 + r.steps.size() * 8 + r.ids.size() * 4);
            w.array(r.steps);
            w.array(r.ids);
        }
        for (size_t k = 0; k < sim.probes_.size(); ++k) {
            const auto& r = sim.probes_[k];
            w.section("probes/" + std::to_string(k), 16 + r.steps.size() * 8 + r.values.size() * 4);
            w.array(r.steps);
            w.array(r.values);
        }
        for (size_t k = 0; k < sim.weights_.size(); ++k) {
            const auto& r = sim.weights_[k];
            w.section("weights/" + std::to_string(k),
                      32 + r.steps.size() * 8 + r.values.size() * 4);
            w.value(static_cast<uint64_t>(r.stride));
            w.value(static_cast<uint64_t>(r.count));
            w.array(r.steps);
            w.array(r.values);
        }
        // Each block straight from the engine, piece by piece (never a second whole copy).
        for (const auto& b : state_layout(cfg)) {
            w.section("state/" + b.name, b.bytes());
            uint64_t written = 0;
            sim.engine_->read_block_to(b, step, [&](const void* p, uint64_t n) {
                if (written + n > b.bytes())
                    throw Error("checkpoint block " + b.name + ": the engine gave more than its " +
                                std::to_string(b.bytes()) + " bytes");
                w.raw(p, n);
                written += n;
            });
            if (written != b.bytes())
                throw Error("checkpoint block " + b.name + ": the engine gave " +
                            std::to_string(written) + " of its " + std::to_string(b.bytes()) +
                            " bytes");
        }
        w.finish();
        sync_file(tmp);
    } catch (...) {  // an Error, or anything else (std::bad_alloc): no half-written file stays
        std::error_code ec;
        fs::remove(tmp, ec);  // the previous checkpoint, if any, stays
        throw;
    }
    commit_file(tmp, path);
}

CheckpointInfo read_checkpoint_info(const fs::path& path) {
    const uint64_t end = verify(path);
    Reader r(path, end);
    CheckpointInfo info;
    info.bytes = end + kTrailer;
    nlohmann::json h;
    try {
        h = nlohmann::json::parse(r.text("header"));
        info.engine = h.at("engine").get<std::string>();
        info.source_config = h.value("source_config", "");
        info.step = h.at("step").get<int64_t>();
        info.steps = h.at("steps").get<int64_t>();
        info.wall_s = h.value("wall_s", 0.0);
        info.spike_stream_bytes = h.value("spike_stream_bytes", int64_t{-1});
        info.frames_streamed = h.value("frames_streamed", false);
        if (info.frames_streamed) {
            info.probe_frames = h.at("probe_frames").get<std::vector<uint64_t>>();
            info.weight_frames = h.at("weight_frames").get<std::vector<uint64_t>>();
        }
        info.stream_crcs = h.value("stream_crcs", false);
        if (info.stream_crcs) {
            if (info.spike_stream_bytes >= 0)
                info.spike_stream_crc = h.at("spike_stream_crc").get<uint32_t>();
            if (info.frames_streamed) {
                info.probe_crcs = h.at("probe_crcs").get<std::vector<uint32_t>>();
                info.weight_crcs = h.at("weight_crcs").get<std::vector<uint32_t>>();
            }
        }
        info.health_stop = h.value("health_stop", std::string());
        info.health_ignored = h.value("health_ignored", std::vector<std::string>{});
        if (h.contains("run_ms")) {
            const auto& v = h.at("run_ms");
            if (!v.is_number() || !(v.get<double>() >= 0) || !std::isfinite(v.get<double>()))
                r.fail("bad header: run_ms " + v.dump());
            info.run_ms = v.get<double>();
        }
    } catch (const nlohmann::json::exception& e) {
        r.fail(std::string("bad header: ") + e.what());
    }
    if (info.spike_stream_bytes < -1 ||
        (info.spike_stream_bytes > 0 && info.spike_stream_bytes % SpikeStream::kRecordBytes != 0))
        r.fail("bad header: spike_stream_bytes " + std::to_string(info.spike_stream_bytes));
    if (info.probe_crcs.size() != (info.stream_crcs ? info.probe_frames.size() : 0) ||
        info.weight_crcs.size() != (info.stream_crcs ? info.weight_frames.size() : 0))
        r.fail("bad header: a stream's CRC is missing");
    info.config_yaml = r.text("config");
    return info;
}

void check_streams(const fs::path& dir, const CheckpointInfo& info, const Simulation& sim) {
    if (!info.stream_crcs) return;  // an l5sim before 2026-12-06 wrote it
    // Read only: a stream is cut to the checkpoint's length only after this check passed.
    auto check = [&](const fs::path& path, uint64_t bytes, uint32_t want) {
        uint32_t have = 0;
        try {
            have = crc_of_prefix(path, bytes);
        } catch (const Error& e) {
            throw ConfigError(std::string(e.what()) + " (the checkpoint " +
                              (dir / kCheckpointFile).string() + " needs " + std::to_string(bytes) +
                              " bytes of it); refusing to resume");
        }
        if (have != want)
            throw ConfigError(path.string() + " does not hold the recordings the checkpoint " +
                              (dir / kCheckpointFile).string() +
                              " was written with (another run's stream, or an edited one); "
                              "refusing to resume");
    };
    const Config& cfg = sim.config();
    if (info.spike_stream_bytes >= 0) {
        const fs::path path = dir / kSpikeStream;
        const auto bytes = static_cast<uint64_t>(info.spike_stream_bytes);
        check(path, bytes, info.spike_stream_crc);
        // The last spike kept was fired before the checkpoint's step.
        int64_t last = -1;
        if (bytes >= SpikeStream::kRecordBytes) {
            std::FILE* in = std::fopen(path.c_str(), "rb");
            const bool read = in && std::fseek(in, static_cast<long>(bytes - 8), SEEK_SET) == 0 &&
                              std::fread(&last, 8, 1, in) == 1;
            if (in) std::fclose(in);
            if (read && last >= info.step)
                throw ConfigError(path.string() + ": a spike at step " + std::to_string(last) +
                                  ", after the checkpoint's step " + std::to_string(info.step) +
                                  "; refusing to resume");
        }
    }
    for (size_t k = 0; k < info.probe_crcs.size() && k < cfg.recording.probes.size(); ++k) {
        const auto& pc = cfg.recording.probes[k];
        const uint64_t width = pc.variables.size() * pc.cells.size();
        check(dir / ("probes_" + std::to_string(k) + ".stream"),
              info.probe_frames[k] * (8 + 4 * width), info.probe_crcs[k]);
    }
    for (size_t k = 0; k < info.weight_crcs.size() && k < sim.weights().size(); ++k)
        check(dir / ("weights_" + std::to_string(k) + ".stream"),
              info.weight_frames[k] * (8 + 4 * sim.weights()[k].count), info.weight_crcs[k]);
}

void restore_checkpoint(const fs::path& path, const CheckpointInfo& info, Simulation& sim) {
    const Config& cfg = sim.cfg_;
    if (sim.step_ != 0) throw Error("restore_checkpoint: the simulation has already run");
    if (info.config_yaml != cfg.resolved_yaml)
        throw Error("checkpoint " + path.string() + ": written for another config");
    const uint64_t end = info.bytes - kTrailer;
    Reader r(path, end);
    r.text("header");
    r.text("config");
    // Everything read is checked against the config before it is used: a checkpoint whose CRC
    // was recomputed after an edit is refused, not trusted.
    if (info.step < 0 || info.step > cfg.steps() || info.steps != cfg.steps())
        r.fail("the header's step " + std::to_string(info.step) + " of " +
               std::to_string(info.steps) + " does not fit the config");
    if (info.frames_streamed && (info.probe_frames.size() != cfg.recording.probes.size() ||
                                 info.weight_frames.size() != cfg.recording.weights.size()))
        r.fail("the header's stream counts do not fit the config's recordings");
    // A record every `every` steps from step 0: by the checkpoint's step, this many.
    auto expected = [&](int64_t every) {
        return info.step > 0 ? static_cast<uint64_t>((info.step - 1) / every + 1) : uint64_t{0};
    };
    if (info.frames_streamed) {
        for (size_t k = 0; k < info.probe_frames.size(); ++k)
            if (info.probe_frames[k] != expected(cfg.recording.probes[k].every_steps))
                r.fail("the header's probe frames do not fit its step");
        for (size_t k = 0; k < info.weight_frames.size(); ++k)
            if (info.weight_frames[k] != expected(sim.weight_every_[k]))
                r.fail("the header's weight snapshots do not fit its step");
    }
    // Records are sorted: by step (and id within a step) and before the checkpoint's step.
    auto check_steps = [&](const std::vector<int64_t>& steps, const std::string& what) {
        for (size_t i = 0; i < steps.size(); ++i)
            if (steps[i] < 0 || steps[i] > info.step || (i > 0 && steps[i] < steps[i - 1]))
                r.fail(what + ": records out of order or past the checkpoint's step");
    };
    for (size_t p = 0; p < sim.spikes_.size(); ++p) {
        r.section("spikes/" + cfg.populations[p].name);
        auto& rec = sim.spikes_[p];
        rec.steps = r.array<int64_t>("spikes");
        rec.ids = r.array<uint32_t>("spikes");
        if (rec.steps.size() != rec.ids.size()) r.fail("spike steps and ids differ in number");
        check_steps(rec.steps, "spikes of " + cfg.populations[p].name);
        for (const uint32_t id : rec.ids)
            if (id >= cfg.populations[p].n) r.fail("a spike of a cell that does not exist");
    }
    for (size_t k = 0; k < sim.probes_.size(); ++k) {
        r.section("probes/" + std::to_string(k));
        const auto& pc = cfg.recording.probes[k];
        auto& rec = sim.probes_[k];
        rec.steps = r.array<int64_t>("probes");
        rec.values = r.array<float>("probes");
        if (rec.values.size() / (pc.variables.size() * pc.cells.size()) != rec.steps.size() ||
            rec.values.size() % (pc.variables.size() * pc.cells.size()) != 0 ||
            (!info.frames_streamed && rec.steps.size() != expected(pc.every_steps)))
            r.fail("probe " + std::to_string(k) + ": samples do not fit the config's probe");
        check_steps(rec.steps, "probe " + std::to_string(k));
    }
    for (size_t k = 0; k < sim.weights_.size(); ++k) {
        r.section("weights/" + std::to_string(k));
        auto& rec = sim.weights_[k];
        const auto stride = r.value<uint64_t>(), count = r.value<uint64_t>();
        if (stride != rec.stride || count != rec.count)
            r.fail("weight sample differs from the config's");
        rec.steps = r.array<int64_t>("weights");
        rec.values = r.array<float>("weights");
        if ((rec.count == 0 ? !rec.values.empty()
                            : rec.values.size() != rec.steps.size() * rec.count) ||
            (!info.frames_streamed && rec.steps.size() != expected(sim.weight_every_[k])))
            r.fail("weights " + std::to_string(k) + ": snapshots do not fit the config's record");
        check_steps(rec.steps, "weights " + std::to_string(k));
    }
    // The knobs as they were after the last step, then every state block (which also
    // overwrites what pushing the knobs changed: background timers, currents, gamma).
    sim.controls_->resume_at(info.step);
    for (const auto& b : state_layout(cfg)) {
        const uint64_t n = r.section("state/" + b.name);
        if (n != b.bytes())
            r.fail("state block " + b.name + " holds " + std::to_string(n) + " bytes, expected " +
                   std::to_string(b.bytes()));
        uint64_t given = 0;
        sim.engine_->write_block_from(b, info.step, [&](void* dst, uint64_t bytes) {
            if (given + bytes > n) r.fail("state block " + b.name + " read past its end");
            r.raw(dst, bytes);
            given += bytes;
        });
        if (given != n) r.fail("state block " + b.name + " not read to its end");
    }
    if (r.pos() != end) r.fail("unexpected data after the last state block");
    sim.engine_->synchronize();
    sim.step_ = info.step;
    sim.timing_.wall_s = info.wall_s;
    sim.timing_.steps = info.step;
}

}  // namespace l5sim
