// The real l5sim binary, run in temporary directories: every exit code of DESIGN.md section 6
// (0 ok, 2 usage or config error, 1 run-time failure), the output directory's contents, the
// --force rule, --set, --seed, validate and info. Configs are tiny (11 cells, 150 ms).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "l5sim/devices.hpp"

namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
  public:
    TempDir() {
        static std::atomic<int> counter{0};
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path_ = fs::temp_directory_path() /
                ("l5sim_cli_" + std::to_string(getpid()) + "_" +
                 (info ? std::string(info->name()) : "x") + "_" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

  private:
    fs::path path_;
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

struct Result {
    int rc = -1;
    std::string out, err;
};

// Runs `l5sim ARGS` with stdout and stderr captured in files of `dir`.
Result l5sim(const TempDir& dir, const std::string& args) {
    const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
    const std::string cmd = std::string("'") + L5SIM_BINARY + "' " + args + " >'" + out.string() +
                            "' 2>'" + err.string() + "'";
    const int status = std::system(cmd.c_str());
    Result r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file(out);
    r.err = read_file(err);
    fs::remove(out);
    fs::remove(err);
    return r;
}

// The path in single quotes for the shell (built by appending: GCC 12 warns on "'" + s + "'").
std::string q(const fs::path& p) {
    std::string s(1, '\'');
    s.append(p.string());
    s.push_back('\'');
    return s;
}

// 8 PYR (a constant 300 pA drive makes them fire) and 3 PV cells, Poisson background, 150 ms.
const char* kTiny =
    "simulation:\n"                                                         // 1
    "  dt_ms: 0.1\n"                                                        // 2
    "  duration_ms: 150\n"                                                  // 3
    "  seed: 3\n"                                                           // 4
    "populations:\n"                                                        // 5
    "  PYR: {type: pyramidal, n: 8}\n"                                      // 6
    "  PV: {type: pv, n: 3}\n"                                              // 7
    "projections:\n"                                                        // 8
    "  PYR_PV: {source: PYR, target: PV, receptors: {ampa: 1, nmda: 1}}\n"  // 9
    "  PV_PYR: {source: PV, target: PYR, receptors: {gaba_a: 1}}\n"         // 10
    "injections:\n"                                                         // 11
    "  - {name: drive, population: PYR, amplitude_pA: 300}\n";              // 12

// kTiny with an unknown key at line 4, column 3.
const char* kBad =
    "simulation:\n"
    "  dt_ms: 0.1\n"
    "  duration_ms: 150\n"
    "  sead: 3\n"
    "populations:\n"
    "  PYR: {n: 8}\n";

fs::path tiny(const TempDir& d) {
    const fs::path p = d / "tiny.yaml";
    write_file(p, kTiny);
    return p;
}

struct Spikes {
    std::vector<double> t;
    std::vector<uint64_t> id;
    bool operator==(const Spikes&) const = default;
};

template <class T>
std::vector<T> read_dataset(hid_t file, const std::string& name, hid_t mem_type) {
    std::vector<T> v;
    const hid_t ds = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
    if (ds < 0) {
        ADD_FAILURE() << "no dataset " << name;
        return v;
    }
    const hid_t space = H5Dget_space(ds);
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    v.resize(static_cast<size_t>(n));
    if (n > 0) {
        EXPECT_GE(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0);
    }
    H5Sclose(space);
    H5Dclose(ds);
    return v;
}

// /spikes/<population>/{timestamps, node_ids} of a SONATA spike report.
Spikes read_spikes(const fs::path& file, const std::string& pop) {
    Spikes s;
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        ADD_FAILURE() << "cannot open " << file;
        return s;
    }
    s.t = read_dataset<double>(f, "/spikes/" + pop + "/timestamps", H5T_NATIVE_DOUBLE);
    s.id = read_dataset<uint64_t>(f, "/spikes/" + pop + "/node_ids", H5T_NATIVE_UINT64);
    H5Fclose(f);
    return s;
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(read_file(p)); }

bool has_part_files(const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".part") return true;
    return false;
}

// ---- run ----

TEST(CliRun, WritesTheOutputDirectory) {
    TempDir d;
    const fs::path out = d / "out";
    const auto r = l5sim(d, "run " + q(tiny(d)) + " --out " + q(out) + " --quiet");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    for (const char* f : {"config.resolved.yaml", "spikes.h5", "summary.json"})
        EXPECT_TRUE(fs::is_regular_file(out / f)) << f;
    EXPECT_FALSE(fs::exists(out / "probes.h5"));  // none asked for
    EXPECT_FALSE(has_part_files(out));

    const std::string resolved = read_file(out / "config.resolved.yaml");
    for (const char* s : {"provenance:", "l5sim_version:", "git_hash:", "engine: cpu",
                          "host:", "seed: 3", "p_bap_pA: 2600", "duration_ms: 150"})
        EXPECT_NE(resolved.find(s), std::string::npos) << s << " missing from\n" << resolved;

    const auto j = read_json(out / "summary.json");
    for (const char* pop : {"PYR", "PV"}) {
        ASSERT_TRUE(j["populations"].contains(pop)) << j.dump(2);
        for (const char* k : {"n", "spikes", "rate_hz", "burst_fraction"})
            EXPECT_TRUE(j["populations"][pop].contains(k)) << pop << "." << k;
    }
    EXPECT_EQ(j["populations"]["PYR"]["n"].get<int>(), 8);
    EXPECT_EQ(j["populations"]["PV"]["n"].get<int>(), 3);
    // Burst and calcium fractions are said of pyramidal populations only: null for PV, whose
    // ISIs under 10 ms at 100+ Hz would say "bursting" about a cell without a dendrite.
    EXPECT_EQ(j["populations"]["PYR"]["type"], "pyramidal");
    EXPECT_EQ(j["populations"]["PV"]["type"], "pv");
    EXPECT_TRUE(j["populations"]["PYR"]["burst_fraction"].is_number());
    EXPECT_TRUE(j["populations"]["PYR"]["calcium_fraction"].is_number());
    EXPECT_TRUE(j["populations"]["PV"]["burst_fraction"].is_null()) << j.dump(2);
    EXPECT_TRUE(j["populations"]["PV"]["calcium_fraction"].is_null()) << j.dump(2);
    const auto pyr_spikes = j["populations"]["PYR"]["spikes"].get<uint64_t>();
    EXPECT_GT(pyr_spikes, 0u);
    EXPECT_NEAR(j["populations"]["PYR"]["rate_hz"].get<double>(), pyr_spikes / (8 * 0.15), 1e-9);
    for (const char* k : {"wall_s", "bio_s", "steps", "synaptic_events", "events_per_s"})
        EXPECT_TRUE(j["timing"].contains(k)) << "timing." << k;
    EXPECT_DOUBLE_EQ(j["timing"]["bio_s"].get<double>(), 0.15);
    EXPECT_EQ(j["timing"]["steps"].get<int64_t>(), 1500);
    EXPECT_EQ(j["seed"].get<int>(), 3);

    const Spikes s = read_spikes(out / "spikes.h5", "PYR");
    ASSERT_EQ(s.t.size(), pyr_spikes);
    ASSERT_EQ(s.id.size(), pyr_spikes);
    for (size_t i = 0; i < s.t.size(); ++i) {
        EXPECT_GE(s.t[i], 0.0);
        EXPECT_LT(s.t[i], 150.0);
        EXPECT_LT(s.id[i], 8u);
        if (i > 0) {
            EXPECT_LE(s.t[i - 1], s.t[i]) << "spikes must be sorted by time";
        }
    }
    EXPECT_EQ(read_spikes(out / "spikes.h5", "PV").t.size(),
              j["populations"]["PV"]["spikes"].get<uint64_t>());
}

TEST(CliRun, ConfigErrorExitsTwoAndCreatesNoDirectory) {
    TempDir d;
    const fs::path cfg = d / "bad.yaml", out = d / "out";
    write_file(cfg, kBad);
    const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out));
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(cfg.string() + ":4:3: simulation.sead: unknown key"), std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(out));
}

TEST(CliRun, InvalidValueExitsTwoAndCreatesNoDirectory) {
    TempDir d;
    const fs::path cfg = d / "bad.yaml", out = d / "out";
    write_file(cfg, std::string(kTiny) + "  - {population: PV, cells: [3]}\n");
    const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out));
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(cfg.string() + ":13:29: injections.1.cells: expected"), std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(out));
}

TEST(CliRun, MissingConfigFileExitsTwo) {
    TempDir d;
    const auto r = l5sim(d, "run " + q(d / "nope.yaml") + " --out " + q(d / "out"));
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("nope.yaml: cannot open the config file"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(d / "out"));
}

TEST(CliRun, UsageErrorsExitTwo) {
    TempDir d;
    const std::string cfg = q(tiny(d)), out = q(d / "out");
    for (const std::string& args :
         {"run " + cfg + " --out " + out + " --no-such-option", "run " + cfg, "run --out " + out,
          "run " + cfg + " --out " + out + " --backend gpu",
          "run " + cfg + " --out " + out + " --seed -4",
          "run " + cfg + " --out " + out + " --threads 0", std::string(""),
          std::string("frobnicate")}) {
        const auto r = l5sim(d, args);
        EXPECT_EQ(r.rc, 2) << "l5sim " << args << "\n" << r.out << r.err;
        EXPECT_FALSE(fs::exists(d / "out")) << args;
    }
}

TEST(CliRun, HelpExitsZero) {
    TempDir d;
    const auto r = l5sim(d, "run --help");
    EXPECT_EQ(r.rc, 0);
    EXPECT_NE((r.out + r.err).find("--force"), std::string::npos);
}

TEST(CliRun, NonEmptyOutputDirectoryNeedsForce) {
    TempDir d;
    const fs::path cfg = tiny(d), out = d / "out";
    fs::create_directories(out);
    write_file(out / "notes.txt", "mine");
    write_file(out / "summary.json", "{\"old\": true}");

    const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " -q");
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("not empty"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(out / "notes.txt"), "mine");
    EXPECT_EQ(read_file(out / "summary.json"), "{\"old\": true}");
    EXPECT_FALSE(fs::exists(out / "spikes.h5"));
    EXPECT_FALSE(fs::exists(out / "config.resolved.yaml"));

    const auto f = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " -q --force");
    ASSERT_EQ(f.rc, 0) << f.out << f.err;
    EXPECT_EQ(read_file(out / "notes.txt"), "mine");  // --force replaces only l5sim's outputs
    EXPECT_TRUE(read_json(out / "summary.json").contains("populations"));
    EXPECT_TRUE(fs::is_regular_file(out / "spikes.h5"));
    EXPECT_FALSE(has_part_files(out));
}

TEST(CliRun, SecondRunIntoTheSameDirectoryNeedsForce) {
    TempDir d;
    const fs::path cfg = tiny(d), out = d / "out";
    ASSERT_EQ(l5sim(d, "run " + q(cfg) + " --out " + q(out) + " -q").rc, 0);
    const std::string summary = read_file(out / "summary.json");
    const std::string spikes = read_file(out / "spikes.h5");
    const auto again = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " -q --seed 9");
    EXPECT_EQ(again.rc, 2);
    EXPECT_EQ(read_file(out / "summary.json"), summary);
    EXPECT_EQ(read_file(out / "spikes.h5"), spikes);
}

TEST(CliRun, ExistingEmptyDirectoryIsUsed) {
    TempDir d;
    const fs::path out = d / "out";
    fs::create_directories(out);
    const auto r = l5sim(d, "run " + q(tiny(d)) + " --out " + q(out) + " -q");
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_TRUE(fs::is_regular_file(out / "summary.json"));
}

TEST(CliRun, OutputPathThatIsAFileExitsTwo) {
    TempDir d;
    const fs::path out = d / "out";
    write_file(out, "a file");
    const auto r = l5sim(d, "run " + q(tiny(d)) + " --out " + q(out) + " -q --force");
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(out), "a file");
}

// An output path under a file cannot be created: refused before the network is built.
TEST(CliRun, OutputPathUnderAFileExitsTwoBeforeBuilding) {
    TempDir d;
    write_file(d / "afile", "a file");
    const auto r = l5sim(d, "run " + q(tiny(d)) + " --out " + q(d / "afile" / "sub"));
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("cannot be created"), std::string::npos) << r.err;
    EXPECT_EQ((r.out + r.err).find("building network"), std::string::npos) << r.out << r.err;
    EXPECT_EQ(read_file(d / "afile"), "a file");
}

// A network far beyond this machine's memory is refused before anything is allocated or
// written (run-time failure, exit 1), with the numbers.
TEST(CliRun, TooLargeNetworkIsRefusedBeforeAllocating) {
    TempDir d;
    const fs::path out = d / "out";
    const auto r = l5sim(d, "run " + q(fs::path(L5SIM_SOURCE_DIR) / "configs/sheet.yaml") +
                                " --out " + q(out) +
                                " -q --set populations.PYR.n=200000000"
                                " --set projections.PYR_PYR.connectivity.K=5000");
    EXPECT_EQ(r.rc, 2) << r.out << r.err;  // too large for this machine: bad input
    EXPECT_NE(r.err.find("GiB of memory"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("reduce N or K"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
}

// Without the CUDA engine compiled in, or without a device, --backend cuda is a run-time
// failure (exit 1) that says which, and writes nothing.
TEST(CliRun, CudaBackendWithoutCudaFailsClearly) {
    if (!l5sim::cuda_devices().empty()) GTEST_SKIP() << "a CUDA device is visible";
    TempDir d;
    const fs::path out = d / "out";
    const auto r = l5sim(d, "run " + q(tiny(d)) + " --out " + q(out) + " --backend cuda");
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("--backend cuda"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(l5sim::cuda_built() ? "no usable CUDA device" : "built without CUDA"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(out));
}

// The same for a sweep: one message for the whole sweep, exit 1, no output directory.
TEST(CliSweep, CudaBackendWithoutCudaFailsBeforeWriting) {
    if (!l5sim::cuda_devices().empty()) GTEST_SKIP() << "a CUDA device is visible";
    TempDir d;
    const fs::path cfg = d / "sweep.yaml", out = d / "out";
    write_file(cfg, std::string(kTiny) + "sweep: {trials: 3}\n");
    const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " --backend cuda");
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("--backend cuda"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("replica"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
}

TEST(CliRun, AutoBackendFallsBackToTheCpu) {
    if (!l5sim::cuda_devices().empty()) GTEST_SKIP() << "a CUDA device is visible";
    TempDir d;
    const fs::path out = d / "out";
    const auto r = l5sim(d, "run " + q(tiny(d)) + " --out " + q(out) + " --backend auto -q");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_EQ(read_json(out / "summary.json")["engine"].get<std::string>(), "cpu");
}

TEST(CliRun, SetOverridesAKey) {
    TempDir d;
    const fs::path cfg = tiny(d), out = d / "out";
    const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out) +
                                " -q --set simulation.duration_ms=50 --set populations.PV.n=5");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    const auto j = read_json(out / "summary.json");
    EXPECT_DOUBLE_EQ(j["timing"]["bio_s"].get<double>(), 0.05);
    EXPECT_EQ(j["populations"]["PV"]["n"].get<int>(), 5);
    EXPECT_NE(read_file(out / "config.resolved.yaml").find("duration_ms: 50"), std::string::npos);
}

TEST(CliRun, BadSetExitsTwoNamingTheSet) {
    TempDir d;
    const fs::path cfg = tiny(d), out = d / "out";
    const auto unknown =
        l5sim(d, "run " + q(cfg) + " --out " + q(out) + " --set simulation.step=1");
    EXPECT_EQ(unknown.rc, 2);
    EXPECT_NE(unknown.err.find("--set simulation.step: simulation.step: unknown key"),
              std::string::npos)
        << unknown.err;
    const auto value = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " --set simulation.dt_ms=0");
    EXPECT_EQ(value.rc, 2);
    EXPECT_NE(value.err.find("--set simulation.dt_ms: simulation.dt_ms: expected a number > 0"),
              std::string::npos)
        << value.err;
    const auto malformed = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " --set duration");
    EXPECT_EQ(malformed.rc, 2);
    EXPECT_NE(malformed.err.find("--set duration: expected key.path=value"), std::string::npos)
        << malformed.err;
    EXPECT_FALSE(fs::exists(out));
}

TEST(CliRun, SeedChangesSpikesAndTheSameSeedReproducesThem) {
    TempDir d;
    const fs::path cfg = tiny(d);
    auto run = [&](const std::string& name, const std::string& extra) {
        const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(d / name) + " -q " + extra);
        EXPECT_EQ(r.rc, 0) << r.out << r.err;
        return read_spikes(d / name / "spikes.h5", "PYR");
    };
    const Spikes a = run("a", "--seed 1");
    const Spikes b = run("b", "--seed 1");
    const Spikes c = run("c", "--seed 2");
    const Spikes t1 = run("t1", "--seed 1 --threads 1");
    const Spikes t3 = run("t3", "--seed 1 --threads 3");
    ASSERT_FALSE(a.t.empty());
    EXPECT_EQ(a, b);
    EXPECT_EQ(a, t1);
    EXPECT_EQ(a, t3);
    EXPECT_NE(a, c);
    EXPECT_EQ(read_json(d / "a" / "summary.json")["seed"].get<int>(), 1);
    EXPECT_EQ(read_json(d / "c" / "summary.json")["seed"].get<int>(), 2);
    EXPECT_NE(read_file(d / "c" / "config.resolved.yaml").find("seed: 2"), std::string::npos);
}

// DESIGN.md section 2 promises byte-identical outputs. HDF5 stamps every object with its
// modification time unless told not to (H5Pset_obj_track_times(plist, 0) on the group and
// dataset creation property lists in host/io/output.cpp); enable this test once it does. The runs
// are a second apart so that a time stamp cannot hide.
TEST(CliRun, SameSeedGivesAByteIdenticalSpikeFile) {
    TempDir d;
    const fs::path cfg = tiny(d);
    ASSERT_EQ(l5sim(d, "run " + q(cfg) + " --out " + q(d / "a") + " -q --seed 4").rc, 0);
    std::system("sleep 1.1");
    ASSERT_EQ(l5sim(d, "run " + q(cfg) + " --out " + q(d / "b") + " -q --seed 4 --threads 1").rc,
              0);
    EXPECT_TRUE(read_file(d / "a" / "spikes.h5") == read_file(d / "b" / "spikes.h5"));
}

TEST(CliRun, ResolvedConfigRunsAgainToTheSameSpikes) {
    TempDir d;
    const fs::path cfg = tiny(d);
    ASSERT_EQ(l5sim(d, "run " + q(cfg) + " --out " + q(d / "a") + " -q --seed 5").rc, 0);
    const fs::path resolved = d / "a" / "config.resolved.yaml";
    const auto v = l5sim(d, "validate " + q(resolved));
    EXPECT_EQ(v.rc, 0) << v.out << v.err;
    const auto r = l5sim(d, "run " + q(resolved) + " --out " + q(d / "b") + " -q");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_EQ(read_spikes(d / "a" / "spikes.h5", "PYR"), read_spikes(d / "b" / "spikes.h5", "PYR"));
    EXPECT_EQ(read_json(d / "b" / "summary.json")["seed"].get<int>(), 5);
}

// ---- sweeps ----

// Two PYR cells driven to fire (600 pA soma injection, 600 Hz somatic background), 50 ms, seed
// 11, a probe of v; a sweep of 2 injection amplitudes x 2 trials. Lines 1-10.
const char* kSweep =
    "simulation: {dt_ms: 0.1, duration_ms: 50, seed: 11}\n"                 // 1
    "populations:\n"                                                        // 2
    "  PYR: {type: pyramidal, n: 2, background: {soma: {rate_hz: 600}}}\n"  // 3
    "injections:\n"                                                         // 4
    "  - {name: drive, population: PYR, amplitude_pA: 600}\n"               // 5
    "recording: {probes: [{population: PYR, variables: [v, v_d]}]}\n"       // 6
    "sweep:\n"                                                              // 7
    "  trials: 2\n"                                                         // 8
    "  grid:\n"                                                             // 9
    "    injections.0.amplitude_pA: [600, 800]\n";                          // 10

fs::path sweep_config(const TempDir& d) {
    const fs::path p = d / "sweep.yaml";
    write_file(p, kSweep);
    return p;
}

// --force over a run of the other kind leaves nothing of it: a sweep's sweep.json and replicas/
// go when a single run replaces it, and the single run's files when a sweep does.
TEST(CliRun, ForceReplacesARunOfTheOtherKindWhole) {
    TempDir d;
    const fs::path out = d / "out";
    ASSERT_EQ(l5sim(d, "run " + q(sweep_config(d)) + " --out " + q(out) + " -q").rc, 0);
    ASSERT_TRUE(fs::is_directory(out / "replicas"));
    ASSERT_EQ(l5sim(d, "run " + q(tiny(d)) + " --out " + q(out) + " -q --force").rc, 0);
    EXPECT_FALSE(fs::exists(out / "replicas"));
    EXPECT_FALSE(fs::exists(out / "sweep.json"));
    EXPECT_TRUE(fs::is_regular_file(out / "spikes.h5"));
    ASSERT_EQ(l5sim(d, "run " + q(sweep_config(d)) + " --out " + q(out) + " -q --force").rc, 0);
    EXPECT_FALSE(fs::exists(out / "spikes.h5"));
    EXPECT_FALSE(fs::exists(out / "config.resolved.yaml"));
    EXPECT_TRUE(fs::is_regular_file(out / "sweep.json"));
}

// --seed takes decimal integers in the config key's range; CLI11 alone clamped 2^64 to 2^63-1.
TEST(CliRun, SeedOutOfRangeOrGivenTwiceExitsTwo) {
    TempDir d;
    const fs::path cfg = tiny(d), out = d / "out";
    for (const char* seed : {"99999999999999999999", "abc", "-1"}) {
        const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " -q --seed " + seed);
        EXPECT_EQ(r.rc, 2) << seed;
        EXPECT_NE(r.err.find("--seed"), std::string::npos) << r.err;
    }
    const auto both =
        l5sim(d, "run " + q(cfg) + " --out " + q(out) + " -q --seed 3 --set simulation.seed=4");
    EXPECT_EQ(both.rc, 2);
    EXPECT_NE(both.err.find("give the seed once"), std::string::npos) << both.err;
    EXPECT_FALSE(fs::exists(out));
}

TEST(CliSweep, WritesSweepJsonReplicasAndSummary) {
    TempDir d;
    const fs::path cfg = sweep_config(d), out = d / "out";
    const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " -q");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_TRUE(fs::is_regular_file(out / "sweep.json"));
    EXPECT_TRUE(fs::is_regular_file(out / "summary.json"));
    EXPECT_FALSE(has_part_files(out));
    // No single-run outputs at the top level: they are per replica.
    EXPECT_FALSE(fs::exists(out / "spikes.h5"));
    EXPECT_FALSE(fs::exists(out / "config.resolved.yaml"));
    EXPECT_FALSE(fs::exists(out / "replicas" / "r00004"));

    const double amps[] = {600, 600, 800, 800};  // grid point slower, trial faster
    const auto sj = read_json(out / "sweep.json");
    EXPECT_EQ(sj["trials"].get<int>(), 2);
    EXPECT_EQ(sj["axes"], nlohmann::json::array({"injections.0.amplitude_pA"}));
    EXPECT_TRUE(sj["conditions"].empty());
    ASSERT_EQ(sj["replicas"].size(), 4u) << sj.dump(2);

    const auto j = read_json(out / "summary.json");
    EXPECT_EQ(j["trials"].get<int>(), 2);
    ASSERT_EQ(j["replicas"].size(), 4u) << j.dump(2);
    for (int k = 0; k < 4; ++k) {
        SCOPED_TRACE("replica " + std::to_string(k));
        const std::string name = "r0000" + std::to_string(k);
        const fs::path rdir = out / "replicas" / name;
        for (const char* f : {"config.resolved.yaml", "spikes.h5", "probes.h5", "summary.json"})
            EXPECT_TRUE(fs::is_regular_file(rdir / f)) << f;
        for (const auto* doc : {&sj, &j}) {
            const auto& rep = (*doc)["replicas"][k];
            EXPECT_EQ(rep["index"].get<int>(), k);
            EXPECT_EQ(rep["dir"].get<std::string>(), "replicas/" + name);
            EXPECT_EQ(rep["condition"].get<std::string>(), "");
            EXPECT_EQ(rep["point"].get<int>(), k / 2);
            EXPECT_EQ(rep["trial"].get<int>(), k % 2);
            EXPECT_EQ(rep["seed"].get<int>(), 11 + k % 2);
            ASSERT_EQ(rep["params"].size(), 1u) << rep.dump(2);
            EXPECT_DOUBLE_EQ(rep["params"]["injections.0.amplitude_pA"].get<double>(), amps[k]);
        }
        // summary.json carries each replica's population statistics, the replica's own
        // summary.json and spikes.h5 agree with it.
        const auto& pyr = j["replicas"][k]["populations"]["PYR"];
        EXPECT_EQ(pyr["n"].get<int>(), 2);
        const auto spikes = pyr["spikes"].get<uint64_t>();
        EXPECT_GT(spikes, 0u);
        EXPECT_NEAR(pyr["rate_hz"].get<double>(), spikes / (2 * 0.05), 1e-9);
        const auto own = read_json(rdir / "summary.json");
        EXPECT_EQ(own["seed"].get<int>(), 11 + k % 2);
        EXPECT_EQ(own["populations"], j["replicas"][k]["populations"]) << "one writer for both";
        EXPECT_EQ(own["populations"]["PYR"]["spikes"].get<uint64_t>(), spikes);
        EXPECT_EQ(read_spikes(rdir / "spikes.h5", "PYR").t.size(), spikes);
        const std::string resolved = read_file(rdir / "config.resolved.yaml");
        EXPECT_NE(resolved.find("seed: " + std::to_string(11 + k % 2)), std::string::npos);
        EXPECT_NE(resolved.find("amplitude_pA: " + std::to_string(int(amps[k]))), std::string::npos)
            << resolved;
        EXPECT_EQ(resolved.find("\nsweep:"), std::string::npos) << resolved;
    }
}

// Without recorded spikes the burst fraction is unknown: null in the sweep's summary.json as in
// each replica's own (the two writers once disagreed: 0.0 against null).
TEST(CliSweep, BurstFractionUnknownWithoutSpikesInBothSummaries) {
    TempDir d;
    const fs::path out = d / "out";
    const auto r = l5sim(d, "run " + q(sweep_config(d)) + " --out " + q(out) +
                                " -q --set recording.spikes=false --set sweep.trials=1");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    const auto j = read_json(out / "summary.json");
    ASSERT_EQ(j["replicas"].size(), 2u);
    for (int k = 0; k < 2; ++k) {
        const auto& pyr = j["replicas"][k]["populations"]["PYR"];
        EXPECT_TRUE(pyr["burst_fraction"].is_null()) << pyr.dump();
        EXPECT_TRUE(pyr["calcium_fraction"].is_number()) << pyr.dump();  // counted by the engine
        const auto own =
            read_json(out / "replicas" / ("r0000" + std::to_string(k)) / "summary.json");
        EXPECT_EQ(own["populations"], j["replicas"][k]["populations"]);
    }
}

// Each replica is exactly the run of its own resolved config: the same spike and probe files,
// byte for byte (replicas run in parallel, one per thread; the plain runs on their own).
TEST(CliSweep, ReplicaEqualsAPlainRunOfItsResolvedConfig) {
    TempDir d;
    const fs::path cfg = sweep_config(d), out = d / "out";
    const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " -q");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    for (int k = 0; k < 4; ++k) {
        SCOPED_TRACE("replica " + std::to_string(k));
        const fs::path rdir = out / "replicas" / ("r0000" + std::to_string(k));
        const fs::path plain = d / ("plain" + std::to_string(k));
        const auto p =
            l5sim(d, "run " + q(rdir / "config.resolved.yaml") + " --out " + q(plain) + " -q");
        ASSERT_EQ(p.rc, 0) << p.out << p.err;
        const std::string a = read_file(rdir / "spikes.h5"), b = read_file(plain / "spikes.h5");
        ASSERT_FALSE(a.empty());
        EXPECT_TRUE(a == b) << "spikes.h5 of replica " << k << " differs from a plain run";
        EXPECT_FALSE(read_spikes(plain / "spikes.h5", "PYR").t.empty());
        const std::string pa = read_file(rdir / "probes.h5"), pb = read_file(plain / "probes.h5");
        ASSERT_FALSE(pa.empty());
        EXPECT_TRUE(pa == pb) << "probes.h5 of replica " << k << " differs from a plain run";
    }
    // Trials differ by seed: replica 1 is not replica 0 again.
    EXPECT_FALSE(read_spikes(out / "replicas/r00000/spikes.h5", "PYR") ==
                 read_spikes(out / "replicas/r00001/spikes.h5", "PYR"));
}

// One replica at a time or several at once: the same bytes.
TEST(CliSweep, ReplicasAtOnceDoNotChangeTheOutputs) {
    TempDir d;
    const fs::path cfg = sweep_config(d);
    ASSERT_EQ(l5sim(d, "run " + q(cfg) + " --out " + q(d / "a") + " -q --threads 1").rc, 0);
    ASSERT_EQ(l5sim(d, "run " + q(cfg) + " --out " + q(d / "b") + " -q --threads 4").rc, 0);
    EXPECT_EQ(read_json(d / "b" / "summary.json")["timing"]["replicas_at_once"].get<int>(), 4);
    for (int k = 0; k < 4; ++k) {
        const std::string rel = "replicas/r0000" + std::to_string(k) + "/spikes.h5";
        EXPECT_TRUE(read_file(d / "a" / rel) == read_file(d / "b" / rel)) << rel;
    }
}

// Packed (stepped together as one simulation) or not: the same bytes; summary.json says which.
TEST(CliSweep, PackedReplicasWriteTheSameFiles) {
    TempDir d;
    const fs::path cfg = sweep_config(d);
    ASSERT_EQ(l5sim(d, "run " + q(cfg) + " --out " + q(d / "a") + " -q --pack off").rc, 0);
    const auto r =
        l5sim(d, "run " + q(cfg) + " --out " + q(d / "b") + " -q --pack on --max-pack 3");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    const auto t = read_json(d / "b" / "summary.json")["timing"];
    EXPECT_TRUE(t["packed"].get<bool>());
    EXPECT_EQ(t["packs"].get<int>(), 2);  // 4 replicas, at most 3 per pack
    EXPECT_FALSE(read_json(d / "a" / "summary.json")["timing"]["packed"].get<bool>());
    for (int k = 0; k < 4; ++k) {
        for (const char* f : {"spikes.h5", "probes.h5"}) {
            const std::string rel = "replicas/r0000" + std::to_string(k) + "/" + f;
            EXPECT_TRUE(read_file(d / "a" / rel) == read_file(d / "b" / rel)) << rel;
        }
    }
    const auto bad = l5sim(d, "run " + q(cfg) + " --out " + q(d / "c") + " --pack sometimes");
    EXPECT_NE(bad.rc, 0);
    EXPECT_NE(bad.err.find("--pack"), std::string::npos) << bad.err;
    EXPECT_FALSE(fs::exists(d / "c"));
    // --max-pack with --pack off contradicts itself; --pack on a config without a sweep does
    // nothing: both are refused (exit 2), nothing is written.
    const auto both =
        l5sim(d, "run " + q(cfg) + " --out " + q(d / "e") + " --pack off --max-pack 2");
    EXPECT_EQ(both.rc, 2) << both.err;
    EXPECT_NE(both.err.find("--max-pack"), std::string::npos) << both.err;
    EXPECT_FALSE(fs::exists(d / "e"));
    const fs::path single = d / "single.yaml";
    write_file(single, std::string(kSweep).substr(0, std::string(kSweep).find("sweep:")));
    const auto one = l5sim(d, "run " + q(single) + " --out " + q(d / "f") + " --pack on");
    EXPECT_EQ(one.rc, 2) << one.err;
    EXPECT_NE(one.err.find("packing applies to sweeps"), std::string::npos) << one.err;
    EXPECT_FALSE(fs::exists(d / "f"));
}

// Conditions label the replicas, and their values reach the run: no drive, no spikes.
TEST(CliSweep, ConditionsLabelTheReplicas) {
    TempDir d;
    const fs::path cfg = d / "cond.yaml", out = d / "out";
    const std::string model = std::string(kSweep).substr(0, std::string(kSweep).find("sweep:"));
    write_file(cfg, model +
                        "sweep:\n"
                        "  conditions:\n"
                        "    - label: silent\n"
                        "      set: {injections.0.amplitude_pA: 0,"
                        " populations.PYR.background.soma.rate_hz: 0,"
                        " populations.PYR.background.dendrite.rate_hz: 0}\n"
                        "    - {label: driven}\n");
    const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " -q");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    const auto j = read_json(out / "summary.json");
    EXPECT_EQ(j["conditions"], nlohmann::json::array({"silent", "driven"}));
    ASSERT_EQ(j["replicas"].size(), 2u) << j.dump(2);
    EXPECT_EQ(j["replicas"][0]["condition"].get<std::string>(), "silent");
    EXPECT_EQ(j["replicas"][1]["condition"].get<std::string>(), "driven");
    EXPECT_EQ(j["replicas"][0]["seed"].get<int>(), 11);
    EXPECT_EQ(j["replicas"][1]["seed"].get<int>(), 11);
    EXPECT_EQ(j["replicas"][0]["populations"]["PYR"]["spikes"].get<uint64_t>(), 0u);
    EXPECT_GT(j["replicas"][1]["populations"]["PYR"]["spikes"].get<uint64_t>(), 0u);
}

TEST(CliSweep, BadGridValueExitsTwoAndCreatesNoDirectory) {
    TempDir d;
    const fs::path cfg = d / "bad.yaml", out = d / "out";
    write_file(cfg, std::string(kSweep) + "    populations.PYR.coupling.gamma: [0.5, 1.5]\n");
    const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out));
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(cfg.string() + ":11:5 (sweep.grid populations.PYR.coupling.gamma = 1.5)"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("expected a probability in [0, 1]"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
    const auto v = l5sim(d, "validate " + q(cfg));
    EXPECT_EQ(v.rc, 2) << v.out << v.err;
}

TEST(CliSweep, SetChangesTheTrials) {
    TempDir d;
    const fs::path cfg = sweep_config(d), out = d / "out";
    const auto r = l5sim(d, "run " + q(cfg) + " --out " + q(out) + " -q --set sweep.trials=3");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    const auto j = read_json(out / "summary.json");
    EXPECT_EQ(j["trials"].get<int>(), 3);
    EXPECT_EQ(j["replicas"].size(), 6u);
    EXPECT_TRUE(fs::is_directory(out / "replicas" / "r00005"));
}

TEST(CliValidate, SweepCountsTheReplicas) {
    TempDir d;
    const auto r = l5sim(d, "validate " + q(sweep_config(d)));
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("valid"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("4 replicas"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("2 grid points x 2 trials"), std::string::npos) << r.out;
}

// ---- validate and info ----

TEST(CliValidate, GoodConfigExitsZero) {
    TempDir d;
    const auto r = l5sim(d, "validate " + q(tiny(d)));
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("valid"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("11 cells"), std::string::npos) << r.out;
}

TEST(CliValidate, BadConfigExitsTwoWithFileAndLine) {
    TempDir d;
    const fs::path cfg = d / "bad.yaml";
    write_file(cfg, kBad);
    const auto r = l5sim(d, "validate " + q(cfg));
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find(cfg.string() + ":4:3: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("simulation.sead"), std::string::npos) << r.err;
}

TEST(CliValidate, SyntaxErrorExitsTwoWithTheLine) {
    TempDir d;
    const fs::path cfg = d / "broken.yaml";
    write_file(cfg, "simulation:\n  dt_ms: 0.1\npopulations:\n  PYR: {n: [8}\n");
    const auto r = l5sim(d, "validate " + q(cfg));
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find(cfg.string() + ":4:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("YAML syntax error"), std::string::npos) << r.err;
}

TEST(CliValidate, SetIsValidatedToo) {
    TempDir d;
    const fs::path cfg = tiny(d);
    EXPECT_EQ(l5sim(d, "validate " + q(cfg) + " --set populations.PYR.coupling.gamma=0.8").rc, 0);
    const auto r = l5sim(d, "validate " + q(cfg) + " --set populations.PYR.coupling.gamma=1.8");
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("--set populations.PYR.coupling.gamma: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("expected a probability in [0, 1]"), std::string::npos) << r.err;
}

// validate builds networks up to 1 GiB, so it finds what only the connectivity shows: here a
// projection whose one-step input cannot fit the delay ring (a config error, exit 2).
TEST(CliValidate, RingOverflowIsFoundByValidate) {
    TempDir d;
    const auto r =
        l5sim(d, "validate " + q(fs::path(L5SIM_SOURCE_DIR) / "configs/quickstart.yaml") +
                     " --set projections.PYR_PYR.connectivity.A=1e30");
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    // Named where it is written (here by the --set that made it so), like every config error.
    EXPECT_NE(r.err.find("--set projections.PYR_PYR.connectivity.A: projections.PYR_PYR: up to"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.out.find("valid"), std::string::npos) << r.out;
}

TEST(CliValidate, ShippedConfigsAreValid) {
    TempDir d;
    for (const auto& e : fs::directory_iterator(fs::path(L5SIM_SOURCE_DIR) / "configs")) {
        if (e.path().extension() != ".yaml") continue;
        const auto r = l5sim(d, "validate " + q(e.path()));
        EXPECT_EQ(r.rc, 0) << e.path() << "\n" << r.out << r.err;
    }
}

TEST(CliValidate, MissingFileExitsTwo) {
    TempDir d;
    const auto r = l5sim(d, "validate " + q(d / "nope.yaml"));
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
}

TEST(CliInfo, ExitsZeroAndNamesTheEngines) {
    TempDir d;
    const auto r = l5sim(d, "info");
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("l5sim "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("engines: cpu"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("cuda"), std::string::npos) << r.out;
}

// SIGTERM: the run finishes its step, writes a checkpoint and the recordings so far (no
// summary.json), exits 143; `l5sim resume` completes it with files identical to a run never
// stopped. Then the checkpoint is gone and a second resume says the run is complete.
TEST(CliCheckpoint, SigtermThenResumeGivesTheUninterruptedOutputs) {
    TempDir dir;
    const std::string cfg = q(fs::path(L5SIM_SOURCE_DIR) / "configs" / "quickstart.yaml");
    const std::string set = " --set simulation.duration_ms=30000 --threads 1 -q";
    ASSERT_EQ(0, l5sim(dir, "run " + cfg + " --out " + q(dir / "whole") + set).rc);
    const std::string cmd = "'" + std::string(L5SIM_BINARY) + "' run " + cfg + " --out " +
                            q(dir / "cut") + set + " >" + q(dir / "cut.err") + " 2>&1" +
                            " & p=$!; sleep 1; kill -TERM $p; wait $p; echo $? > " + q(dir / "rc");
    ASSERT_EQ(0, std::system(cmd.c_str()));
    EXPECT_EQ("143\n", read_file(dir / "rc"));
    EXPECT_TRUE(fs::exists(dir / "cut" / "checkpoint.l5ck"));
    EXPECT_TRUE(fs::exists(dir / "cut" / "spikes.h5"));
    EXPECT_FALSE(fs::exists(dir / "cut" / "summary.json"));
    EXPECT_NE(read_file(dir / "cut.err").find("stopped by SIGTERM"), std::string::npos);
    const Result r = l5sim(dir, "resume " + q(dir / "cut") + " -q");
    ASSERT_EQ(0, r.rc) << r.err;
    for (const char* f : {"spikes.h5", "probes.h5", "weights.h5"})
        EXPECT_EQ(read_file(dir / "whole" / f), read_file(dir / "cut" / f)) << f;
    EXPECT_FALSE(fs::exists(dir / "cut" / "checkpoint.l5ck"));
    const Result again = l5sim(dir, "resume " + q(dir / "cut"));
    EXPECT_EQ(2, again.rc);
    EXPECT_NE(again.err.find("the run is complete"), std::string::npos) << again.err;
}

TEST(CliCheckpoint, CorruptCheckpointIsRefusedAndBadIntervalsTooExitTwo) {
    TempDir dir;
    const std::string cfg = q(fs::path(L5SIM_SOURCE_DIR) / "configs" / "quickstart.yaml");
    // --checkpoint-every 50ms-bio on a 200 ms run: checkpoints written (and removed at the end).
    const Result ok =
        l5sim(dir, "run " + cfg + " --out " + q(dir / "a") +
                       " --set simulation.duration_ms=200 --checkpoint-every 50ms-bio");
    ASSERT_EQ(0, ok.rc) << ok.err;
    EXPECT_NE(ok.out.find("checkpoint at step 1500"), std::string::npos) << ok.out;
    EXPECT_FALSE(fs::exists(dir / "a" / "checkpoint.l5ck"));
    const Result bad =
        l5sim(dir, "run " + cfg + " --out " + q(dir / "b") + " --checkpoint-every 10parsecs");
    EXPECT_EQ(2, bad.rc);
    EXPECT_NE(bad.err.find("--checkpoint-every '10parsecs'"), std::string::npos) << bad.err;
    fs::create_directories(dir / "c");
    {
        std::ofstream f(dir / "c" / "checkpoint.l5ck");
        f << std::string(100, 'z');
    }
    const Result refused = l5sim(dir, "resume " + q(dir / "c"));
    EXPECT_EQ(2, refused.rc);
    EXPECT_NE(refused.err.find("not an l5sim checkpoint; refusing to resume"), std::string::npos)
        << refused.err;
    const Result none = l5sim(dir, "resume " + q(dir / "b"));
    EXPECT_EQ(2, none.rc);
    EXPECT_NE(none.err.find("no checkpoint.l5ck"), std::string::npos) << none.err;
}

// A checkpoint whose header does not fit its own config (edited, with a valid CRC) is refused:
// the CRC alone catches damage, not an edit.
TEST(CliCheckpoint, HeaderThatDoesNotFitItsConfigIsRefused) {
    TempDir dir;
    const std::string cfg = q(fs::path(L5SIM_SOURCE_DIR) / "configs" / "quickstart.yaml");
    // A health stop (PV fires at ~30 Hz) leaves a checkpoint at step 1000 of 20000.
    const Result stop = l5sim(dir, "run " + cfg + " --out " + q(dir / "a") +
                                       " -q --set simulation.health.max_rate_hz=20");
    ASSERT_EQ(3, stop.rc) << stop.err;
    std::string body = read_file(dir / "a" / "checkpoint.l5ck");
    const size_t end = body.rfind("L5CKEND!");
    ASSERT_NE(end, std::string::npos);
    body.resize(end);
    const std::string from = "\"step\":1000,\"steps\":20000", to = "\"step\":1000,\"steps\":90000";
    const size_t at = body.find(from);
    ASSERT_NE(at, std::string::npos);
    body.replace(at, from.size(), to);
    const uint64_t n = body.size();
    const uint32_t crc = static_cast<uint32_t>(
        crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()), uInt(n)));
    std::string trailer = "L5CKEND!";
    trailer.append(reinterpret_cast<const char*>(&n), 8);
    trailer.append(reinterpret_cast<const char*>(&crc), 4);
    trailer.append(4, '\0');
    write_file(dir / "a" / "checkpoint.l5ck", body + trailer);
    const Result r = l5sim(dir, "resume " + q(dir / "a") + " -q");
    EXPECT_EQ(2, r.rc) << r.err;
    EXPECT_NE(r.err.find("does not fit its config (20000 steps)"), std::string::npos) << r.err;
}

// weights.h5 carries, per snapshot, a histogram of the sample and the mean |dw| since the
// snapshot before: both recomputed here from the stored weights; and STDP moved them.
TEST(CliRun, WeightFileHasHistogramsAndMeanAbsDw) {
    TempDir dir;
    const std::string cfg = q(fs::path(L5SIM_SOURCE_DIR) / "configs" / "quickstart.yaml");
    const Result r = l5sim(dir, "run " + cfg + " --out " + q(dir / "w") +
                                    " --set simulation.duration_ms=1000 --threads 1 -q");
    ASSERT_EQ(0, r.rc) << r.err;
    const hid_t f = H5Fopen((dir / "w" / "weights.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const std::string g = "/weights/PYR_PYR/";
    const auto w = read_dataset<float>(f, g + "w", H5T_NATIVE_FLOAT);
    const auto t = read_dataset<double>(f, g + "time_ms", H5T_NATIVE_DOUBLE);
    const auto edges = read_dataset<double>(f, g + "histogram_edges", H5T_NATIVE_DOUBLE);
    const auto hist = read_dataset<uint64_t>(f, g + "histogram", H5T_NATIVE_UINT64);
    const auto dw = read_dataset<double>(f, g + "mean_abs_dw", H5T_NATIVE_DOUBLE);
    H5Fclose(f);
    const size_t snaps = t.size(), bins = edges.size() - 1;
    ASSERT_EQ(snaps, 10u);
    ASSERT_EQ(bins, 50u);
    ASSERT_EQ(hist.size(), snaps * bins);
    ASSERT_EQ(dw.size(), snaps);
    const size_t n = w.size() / snaps;
    ASSERT_GT(n, 1000u);  // an evenly spaced sample of at most max_synapses = 2000
    ASSERT_LE(n, 2000u);
    EXPECT_EQ(dw[0], 0.0);
    double moved = 0;
    for (size_t s = 0; s < snaps; ++s) {
        std::vector<uint64_t> mine(bins, 0);
        double sum = 0;
        for (size_t i = 0; i < n; ++i) {
            const double x = w[s * n + i];
            ASSERT_GE(x, edges.front());
            ASSERT_LE(x, edges.back());
            size_t b = 0;
            while (b + 1 < bins && x >= edges[b + 1]) ++b;
            ++mine[b];
            if (s > 0) sum += std::fabs(x - w[(s - 1) * n + i]);
        }
        for (size_t b = 0; b < bins; ++b) EXPECT_EQ(hist[s * bins + b], mine[b]) << s << " " << b;
        if (s > 0) {
            EXPECT_NEAR(dw[s], sum / n, 1e-9);
        }
        moved += dw[s];
    }
    EXPECT_GT(moved, 0.0) << "STDP changed no sampled weight";
}

// With --checkpoint-every the recordings so far are written at every checkpoint (each file
// replaced atomically): a copy taken while the run goes on is a complete, readable file; and a
// kill -9 loses only the work since the last checkpoint: resume finishes the run with the
// outputs of an uninterrupted one.
TEST(CliCheckpoint, RecordingsReadableDuringTheRunAndKillNineResumes) {
    TempDir dir;
    const std::string cfg = q(fs::path(L5SIM_SOURCE_DIR) / "configs" / "quickstart.yaml");
    const std::string set = " --set simulation.duration_ms=60000 --threads 1 -q";
    ASSERT_EQ(0, l5sim(dir, "run " + cfg + " --out " + q(dir / "whole") + set).rc);
    const fs::path cut = dir / "cut";
    const std::string cmd =
        "'" + std::string(L5SIM_BINARY) + "' run " + cfg + " --out " + q(cut) + set +
        " --checkpoint-every 2s-bio >" + q(dir / "cut.err") + " 2>&1 & p=$!; " +
        "for i in $(seq 1 600); do [ -f " + q(cut / "checkpoint.l5ck") + " ] && [ -f " +
        q(cut / "spikes.h5") + " ] && break; sleep 0.05; done; cp " + q(cut / "spikes.h5") + " " +
        q(dir / "snapshot.h5") + "; kill -9 $p; wait $p; echo $? > " + q(dir / "rc");
    ASSERT_EQ(0, std::system(cmd.c_str()));
    ASSERT_EQ("137\n", read_file(dir / "rc")) << "the run ended before the kill";
    EXPECT_FALSE(fs::exists(cut / "summary.json"));
    // The spikes of the run in progress: whole 16-byte records, longer than the checkpoint's.
    ASSERT_TRUE(fs::exists(cut / "spikes.stream"));
    EXPECT_EQ(fs::file_size(cut / "spikes.stream") % 16, 0u);
    const Spikes snap = read_spikes(dir / "snapshot.h5", "PYR");
    ASSERT_GT(snap.t.size(), 100u);
    EXPECT_TRUE(std::is_sorted(snap.t.begin(), snap.t.end()));
    const Spikes whole = read_spikes(dir / "whole" / "spikes.h5", "PYR");
    ASSERT_GT(whole.t.size(), snap.t.size());
    // The snapshot is the uninterrupted run's beginning.
    EXPECT_TRUE(std::equal(snap.t.begin(), snap.t.end(), whole.t.begin()));
    EXPECT_TRUE(std::equal(snap.id.begin(), snap.id.end(), whole.id.begin()));
    const Result r = l5sim(dir, "resume " + q(cut) + " -q");
    ASSERT_EQ(0, r.rc) << r.err;
    for (const char* f : {"spikes.h5", "probes.h5", "weights.h5"})
        EXPECT_EQ(read_file(dir / "whole" / f), read_file(cut / f)) << f;
    EXPECT_FALSE(fs::exists(cut / "spikes.stream")) << "removed once spikes.h5 is final";
}

// A health stop (simulation.health) exits 3 after writing the checkpoint and the recordings so
// far, and says why; no summary.json (the run did not finish).
TEST(CliCheckpoint, HealthStopExitsThreeWithACheckpoint) {
    TempDir dir;
    const std::string cfg = q(fs::path(L5SIM_SOURCE_DIR) / "configs" / "quickstart.yaml");
    const Result r =
        l5sim(dir, "run " + cfg + " --out " + q(dir / "h") + " --set simulation.duration_ms=1000" +
                       " --set simulation.health.max_rate_hz=0.5 --threads 1");
    EXPECT_EQ(3, r.rc) << r.out << r.err;
    const std::string log = r.out + r.err;
    EXPECT_NE(log.find("00.0 ms): population PYR fired at"), std::string::npos) << log;
    EXPECT_NE(log.find("runaway activity"), std::string::npos) << log;
    EXPECT_TRUE(fs::exists(dir / "h" / "checkpoint.l5ck"));
    EXPECT_TRUE(fs::exists(dir / "h" / "spikes.h5"));
    EXPECT_FALSE(fs::exists(dir / "h" / "summary.json"));
    const Result bad = l5sim(
        dir, "run " + cfg + " --out " + q(dir / "b") + " --set simulation.health.max_rate_hz=-1");
    EXPECT_EQ(2, bad.rc);
    EXPECT_NE((bad.out + bad.err).find("simulation.health.max_rate_hz"), std::string::npos)
        << bad.err;
}

}  // namespace
