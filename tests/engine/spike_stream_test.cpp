// Spikes streamed to a file during a run (l5sim/spike_stream.hpp): the records, their order, the
// cut a resume makes, and that a streamed run summarises and writes exactly what an in-memory
// run does while its memory stays flat.
#include "l5sim/spike_stream.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "l5sim/error.hpp"
#include "l5sim/output.hpp"
#include "test_util.hpp"

using namespace l5sim;
namespace fs = std::filesystem;

namespace {

fs::path temp_path(const std::string& name) {
    const fs::path p =
        fs::temp_directory_path() / ("l5sim_stream_" + std::to_string(getpid()) + "_" + name);
    fs::remove_all(p);
    return p;
}

std::vector<std::tuple<uint32_t, uint32_t, int64_t>> read_all(const fs::path& p, uint64_t bytes) {
    std::vector<std::tuple<uint32_t, uint32_t, int64_t>> out;
    for_each_streamed_spike(p, bytes, [&](uint32_t pop, uint32_t id, int64_t step) {
        out.emplace_back(pop, id, step);
    });
    return out;
}

std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// The quickstart ring (PYR ~28 Hz, PV ~390 Hz) with its probes, and weight snapshots of 2000
// PYR -> PYR synapses every `weights_ms`.
Config quickstart(const std::string& duration_ms, const std::string& weights_ms = "100",
                  std::vector<Override> more = {}) {
    more.insert(more.begin(), {{"simulation.duration_ms", duration_ms},
                               {"simulation.threads", "1"},
                               {"recording.weights.0.every_ms", weights_ms}});
    return load_config(std::string(L5SIM_SOURCE_DIR) + "/configs/quickstart.yaml", more);
}

}  // namespace

TEST(SpikeStream, RecordsInOrderAndACutOnReopen) {
    const fs::path p = temp_path("records");
    {
        SpikeStream s(p, 0);
        s.append(0, SpikeRecord{{3, 3, 7}, {5, 9, 1}});
        s.append(1, SpikeRecord{{4}, {2}});
        s.flush(true);
        EXPECT_EQ(s.bytes(), 4 * SpikeStream::kRecordBytes);
        EXPECT_EQ(s.spikes(0), 3u);
        EXPECT_EQ(s.spikes(1), 1u);
    }
    EXPECT_EQ(fs::file_size(p), 64u);
    using R = std::tuple<uint32_t, uint32_t, int64_t>;
    EXPECT_EQ(read_all(p, 64), (std::vector<R>{{0, 5, 3}, {0, 9, 3}, {0, 1, 7}, {1, 2, 4}}));
    {
        SpikeStream s(p, 32);  // a resume from a checkpoint taken after two records
        EXPECT_EQ(s.spikes(0), 2u);
        EXPECT_EQ(s.spikes(1), 0u);
        s.append(1, SpikeRecord{{8}, {6}});
        s.flush(false);
    }
    EXPECT_EQ(read_all(p, 48), (std::vector<R>{{0, 5, 3}, {0, 9, 3}, {1, 6, 8}}));
    EXPECT_THROW(SpikeStream(p, 64), Error);  // shorter than the checkpoint says
    EXPECT_THROW(SpikeStream(p, 20), Error);  // not a whole number of records
    EXPECT_THROW(read_all(p, 64), Error);     // ends early
    fs::remove(p);
}

TEST(SpikeStream, FramesInOrderAndACutOnReopen) {
    const fs::path p = temp_path("frames");
    const float a[3] = {1, 2, 3}, b[3] = {4, 5, 6}, c[3] = {7, 8, 9};
    {
        FrameStream s(p, 3, 0);
        s.append(10, a);
        s.append(20, b);
        s.flush(true);
        EXPECT_EQ(s.frames(), 2u);
    }
    EXPECT_EQ(fs::file_size(p), 2u * (8 + 12));
    {
        FrameStream s(p, 3, 1);  // a resume from a checkpoint taken after the first frame
        s.append(30, c);
        s.flush(false);
    }
    std::vector<std::pair<int64_t, std::vector<float>>> got;
    for_each_frame(p, 3, 2, [&](uint64_t, int64_t step, const float* x) {
        got.emplace_back(step, std::vector<float>(x, x + 3));
    });
    using F = std::pair<int64_t, std::vector<float>>;
    EXPECT_EQ(got, (std::vector<F>{{10, {1, 2, 3}}, {30, {7, 8, 9}}}));
    EXPECT_THROW(FrameStream(p, 3, 5), Error);
    EXPECT_THROW(for_each_frame(p, 3, 3, [](uint64_t, int64_t, const float*) {}), Error);
    fs::remove(p);
}

// A streamed run summarises (burst fractions) and writes spikes.h5, probes.h5 and weights.h5
// byte for byte as a run that keeps its recordings in memory; its memory does not grow with them.
TEST(SpikeStream, StreamedRunEqualsInMemoryRun) {
    const Config cfg = quickstart("2000");
    Simulation mem(cfg, Simulation::Backend::cpu);
    mem.run();
    const fs::path d1 = temp_path("mem"), d2 = temp_path("streamed");
    fs::create_directories(d1);
    fs::create_directories(d2);
    write_recordings(d1, mem);
    Simulation str(cfg, Simulation::Backend::cpu);
    str.stream_spikes(d2 / "spikes.stream", 0);
    str.stream_frames(d2, {}, {});
    str.run();
    EXPECT_TRUE(str.spikes()[0].ids.empty()) << "streamed spikes stay out of memory";
    EXPECT_TRUE(str.probes().at(0).steps.empty()) << "streamed probe samples too";
    EXPECT_TRUE(str.weights().at(0).steps.empty()) << "streamed weight snapshots too";
    ASSERT_GT(mem.probes().at(0).steps.size(), 100u);
    EXPECT_EQ(str.probe_stream(0)->frames(), mem.probes()[0].steps.size());
    EXPECT_EQ(str.weight_stream(0)->frames(), mem.weights()[0].steps.size());
    ASSERT_GT(mem.spikes()[0].ids.size(), 1000u);
    EXPECT_EQ(str.spike_stream()->spikes(0), mem.spikes()[0].ids.size());
    write_recordings(d2, str);
    for (const char* f : {"spikes.h5", "probes.h5", "weights.h5"})
        EXPECT_EQ(read_file(d1 / f), read_file(d2 / f)) << f;
    const auto a = summarize(mem), b = summarize(str);
    ASSERT_EQ(a.size(), b.size());
    for (size_t p = 0; p < a.size(); ++p) {
        EXPECT_EQ(a[p].spikes, b[p].spikes);
        EXPECT_EQ(a[p].burst_fraction, b[p].burst_fraction) << a[p].name;
    }
    double most = 0;
    for (const auto& x : a) most = std::max(most, x.burst_fraction.value_or(0));
    EXPECT_GT(most, 0.1) << "bursts must occur, or the comparison proves little";
    fs::remove_all(d1);
    fs::remove_all(d2);
}

TEST(SpikeStream, MemoryStaysFlatWithEverySpikeAndManyWeightsRecorded) {
    // MODEL.md's recurrent weights: PV fires at ~340 Hz and PYR at ~25 Hz, ~20000 spikes per
    // second of the run.
    const Config cfg = quickstart("21000", "10",
                                  {{"projections.PYR_PYR.connectivity.A", "3.5"},
                                   {"projections.PYR_PV.connectivity.A", "1"}});
    const fs::path d = temp_path("flat");
    fs::create_directories(d);
    Simulation sim(cfg, Simulation::Backend::cpu);
    sim.stream_spikes(d / "spikes.stream", 0);
    sim.stream_frames(d, {}, {});
    sim.advance(10000);
    const long before = test::resident_kb();
    if (before < 0) GTEST_SKIP() << "no resident-memory figure here (no /proc, or ASan)";
    sim.run();
    const long after = test::resident_kb();
    // Kept in memory they would take 12 bytes each: over 4 MB, twice the bound below.
    const uint64_t streamed = sim.spike_stream()->spikes(0) + sim.spike_stream()->spikes(1);
    ASSERT_GT(streamed * 12, 4u << 20) << streamed << " spikes";
    // ... and the weight snapshots 8 kB each: 2000 of them, 16 MB.
    ASSERT_EQ(sim.weight_stream(0)->frames(), 2100u);
    EXPECT_LT(after - before, 2048) << before << " kB -> " << after << " kB";
    fs::remove_all(d);
}
