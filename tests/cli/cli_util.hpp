#pragma once
// What the CLI tests share: a temporary directory, running the real binary with its output
// captured, tiny configs, and readers of the files it writes.
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

namespace l5sim_cli_test {

namespace fs = std::filesystem;

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

inline std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void write_file(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

struct Result {
    int rc = -1;
    std::string out, err;
};

// Runs `l5sim ARGS` with stdout and stderr captured in files of `dir`.
inline Result l5sim(const TempDir& dir, const std::string& args) {
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
inline std::string q(const fs::path& p) {
    std::string s(1, '\'');
    s.append(p.string());
    s.push_back('\'');
    return s;
}

// 8 PYR (a constant 300 pA drive makes them fire) and 3 PV cells, Poisson background, 150 ms.
inline const char* kTiny =
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
inline const char* kBad =
    "simulation:\n"
    "  dt_ms: 0.1\n"
    "  duration_ms: 150\n"
    "  sead: 3\n"
    "populations:\n"
    "  PYR: {n: 8}\n";

inline fs::path tiny(const TempDir& d) {
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
inline std::vector<T> read_dataset(hid_t file, const std::string& name, hid_t mem_type) {
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
inline Spikes read_spikes(const fs::path& file, const std::string& pop) {
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

inline nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(read_file(p)); }

inline bool has_part_files(const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".part") return true;
    return false;
}

// ---- sweeps ----

// Two PYR cells driven to fire (600 pA soma injection, 600 Hz somatic background), 50 ms, seed
// 11, a probe of v; a sweep of 2 injection amplitudes x 2 trials. Lines 1-10.
inline const char* kSweep =
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

inline fs::path sweep_config(const TempDir& d) {
    const fs::path p = d / "sweep.yaml";
    write_file(p, kSweep);
    return p;
}

}  // namespace l5sim_cli_test
