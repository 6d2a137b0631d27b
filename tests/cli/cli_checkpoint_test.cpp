// The real l5sim binary stopped and resumed: signals, corrupt or mismatched checkpoints, kill -9
// during a run, health stops; and the weight file's contents.
#include "cli/cli_util.hpp"

namespace l5sim_cli_test {

// SIGTERM: the run finishes its step, writes a checkpoint and the recordings so far (no
// summary.json), exits 143; `l5sim resume` completes it with files identical to a run never
// stopped. Then the checkpoint is gone and a second resume says the run is complete.
TEST(CliCheckpoint, SigtermThenResumeGivesTheUninterruptedOutputs) {
    TempDir dir;
    const std::string cfg = q(fs::path(L5SIM_SOURCE_DIR) / "configs" / "quickstart.yaml");
    const std::string set = " --set simulation.duration_ms=30000 --threads 1 -q";
    ASSERT_EQ(0, l5sim(dir, "run " + cfg + " --out " + q(dir / "whole") + set).rc);
    // Built by appending (GCC 12 warns on "'" + s, see q()).
    std::string cmd = q(L5SIM_BINARY);
    cmd += " run " + cfg + " --out " + q(dir / "cut") + set + " >" + q(dir / "cut.err") + " 2>&1" +
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
    std::string cmd = q(L5SIM_BINARY);  // appended to (GCC 12 warns on "'" + s, see q())
    cmd += " run " + cfg + " --out " + q(cut) + set + " --checkpoint-every 2s-bio >" +
           q(dir / "cut.err") + " 2>&1 & p=$!; " + "for i in $(seq 1 600); do [ -f " +
           q(cut / "checkpoint.l5ck") + " ] && [ -f " + q(cut / "spikes.h5") +
           " ] && break; sleep 0.05; done; cp " + q(cut / "spikes.h5") + " " +
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

}  // namespace l5sim_cli_test
