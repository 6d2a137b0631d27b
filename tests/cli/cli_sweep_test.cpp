// The real l5sim binary on sweeps (sweep.json, replicas, packs, conditions), validate and info.
#include "cli/cli_util.hpp"

namespace l5sim_cli_test {

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

// l5sim partition: the per-rank table and its JSON; with the run's own spikes, the exchange;
// usage errors exit 2 naming what was wrong.
TEST(CliPartition, TablesJsonAndExchangeFromARunsSpikes) {
    TempDir d;
    const fs::path cfg = tiny(d);
    ASSERT_EQ(l5sim(d, "run " + q(cfg) + " --out " + q(d / "run") + " -q").rc, 0);
    const auto r = l5sim(d, "partition " + q(cfg) + " --ranks 2 --spikes " +
                                q(d / "run" / "spikes.h5") + " --json " + q(d / "p.json"));
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("over 2 ranks (ring: contiguous ranges of ids)"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("exchange per window"), std::string::npos) << r.out;
    const nlohmann::json j = read_json(d / "p.json");
    ASSERT_EQ(j["rank"].size(), 2u);
    uint64_t cells = 0;
    for (const auto& rank : j["rank"])
        for (const auto& [pop, n] : rank["cells"].items()) cells += n.get<uint64_t>();
    EXPECT_EQ(cells, 11u);  // the tiny config's cells, each on one rank
    EXPECT_EQ(j["exchange"]["sparse_mean_bytes"].size(), 2u);
    EXPECT_EQ(l5sim(d, "partition " + q(cfg) + " --ranks 0").rc, 2);
    const auto missing = l5sim(d, "partition " + q(cfg) + " --ranks 2 --spikes " + q(d / "no.h5"));
    EXPECT_EQ(missing.rc, 2);
    EXPECT_NE(missing.err.find("no.h5: no such file"), std::string::npos) << missing.err;
}

}  // namespace l5sim_cli_test
